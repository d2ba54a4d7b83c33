"""Study definitions: objectives, constraints, the simulation, and loading ``studies/*.py``.

A simulation is ``simulate(params, choices, n_samples, generator) -> dict``. ``params`` maps
each differentiable parameter to a 0-d tensor (in its unit), ``choices`` maps each outer
parameter to its value, ``n_samples`` is the Monte Carlo sample size and ``generator`` the
``torch.Generator`` to draw it with (on the simulation's device). For every objective and
constraint the returned dict holds one of two first-class forms:

* a **per-sample tensor** of shape ``(n,)`` (one value per event or muon): the figure is its
  mean and the standard error is ``std / sqrt(n)``;
* an :class:`Estimate` of a **set-level figure** (a resolution is a width over many events,
  not a per-event mean) with its own standard error, e.g. from a bootstrap or the
  asymptotic error of an RMS.

A 0-d tensor or a float is taken as an exact (deterministic) value with zero error; the
analytic benchmark studies use it. If ``simulate`` is a ``torch.nn.Module`` the inner loop
switches it to ``.train()`` while optimising (soft relaxations) and ``.eval()`` for the final
evaluation (hard physical behaviour).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from paretoopt.exceptions import SimulationError, StudyDefinitionError
from paretoopt.space import DesignSpace

Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class Objective:
    """One figure of merit: its name, whether smaller or larger is better, and its unit."""

    name: str
    direction: Direction = "minimize"
    unit: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise StudyDefinitionError(
                f"Objective {self.name!r}: direction must be 'minimize' or 'maximize', got {self.direction!r}"
            )

    @property
    def sign(self) -> float:
        """+1 for minimise, -1 for maximise: ``sign * value`` is always to be minimised."""
        return 1.0 if self.direction == "minimize" else -1.0

    @property
    def label(self) -> str:
        """Column header with the unit, e.g. ``"cost [kEUR]"``."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name


@dataclass(frozen=True)
class Constraint:
    """A quantity returned by the simulation that must stay within ``[lower, upper]``.

    The inner loop adds a smooth quadratic penalty ``penalty * (violation / scale)^2``;
    a final design violating a bound by more than ``tolerance * scale`` is infeasible.
    ``scale`` (same unit as the quantity) sets what counts as a large violation.
    """

    name: str
    upper: float | None = None
    lower: float | None = None
    unit: str | None = None
    scale: float = 1.0
    tolerance: float = 1e-3

    def __post_init__(self) -> None:
        if self.upper is None and self.lower is None:
            raise StudyDefinitionError(f"Constraint {self.name!r} needs an upper or lower bound")
        if self.upper is not None and self.lower is not None and self.lower > self.upper:
            raise StudyDefinitionError(
                f"Constraint {self.name!r}: lower={self.lower} exceeds upper={self.upper}"
            )
        if not self.scale > 0:
            raise StudyDefinitionError(f"Constraint {self.name!r}: scale must be > 0")

    def violation(self, value: torch.Tensor) -> torch.Tensor:
        """Amount by which ``value`` lies outside the bounds (0 inside), in the unit."""
        v = torch.zeros_like(value)
        if self.upper is not None:
            v = v + torch.relu(value - self.upper)
        if self.lower is not None:
            v = v + torch.relu(self.lower - value)
        return v

    def satisfied(self, value: float) -> bool:
        return float(self.violation(torch.tensor(float(value)))) <= self.tolerance * self.scale


@dataclass(frozen=True)
class Estimate:
    """A set-level figure and its standard error (e.g. an energy resolution from many events).

    ``value`` is a 0-d tensor that carries gradients; ``stderr`` is its standard error in the
    same unit (used for reporting and the surrogate's noise, never differentiated).
    """

    value: torch.Tensor
    stderr: torch.Tensor | float = 0.0


@dataclass(frozen=True)
class InnerSettings:
    """How the gradient inner loop runs (see :func:`paretoopt.inner.optimize_inner`).

    ``optimizer="adam"``: Adam on a fresh Monte Carlo sample of ``n_samples`` each step, a
    cosine learning-rate decay, stop after ``max_steps`` or when the smoothed loss has not
    improved by ``tol`` for ``patience`` steps. ``optimizer="lbfgs"``: scipy's L-BFGS-B with
    box bounds on one fixed sample (common random numbers), at most ``max_steps`` simulator
    calls (line-search evaluations included). The final evaluation always uses a fresh sample
    of ``n_eval_samples``.
    """

    optimizer: Literal["adam", "lbfgs"] = "adam"
    max_steps: int = 300
    lr: float = 0.05
    lr_final_fraction: float = 0.02
    n_samples: int = 1000
    n_eval_samples: int = 10000
    patience: int = 40
    tol: float = 1e-5
    constraint_penalty: float = 1e3
    record_every: int = 1
    dtype: Literal["float32", "float64"] = "float64"

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "lbfgs"):
            raise StudyDefinitionError(
                f"InnerSettings.optimizer must be 'adam' or 'lbfgs', got {self.optimizer!r}"
            )
        for name in ("max_steps", "n_samples", "n_eval_samples", "patience", "record_every"):
            if int(getattr(self, name)) < 1:
                raise StudyDefinitionError(f"InnerSettings.{name} must be >= 1")
        if not self.lr > 0:
            raise StudyDefinitionError("InnerSettings.lr must be > 0")
        if self.dtype not in ("float32", "float64"):
            raise StudyDefinitionError("InnerSettings.dtype must be 'float32' or 'float64'")

    def replace(self, **changes: Any) -> InnerSettings:
        """A copy with some settings changed; unknown names raise (no silent typos)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise StudyDefinitionError(f"unknown inner settings {sorted(unknown)}; known: {sorted(known)}")
        return InnerSettings(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


Simulate = Callable[[dict[str, torch.Tensor], dict[str, Any], int, torch.Generator], Mapping[str, Any]]


class StudyDefinition:
    """One optimisation problem: design space, objectives, constraints and the simulation.

    ``ideal`` / ``nadir`` (per objective, natural units) fix the normalisation of the
    scalarisations; when omitted they are estimated from anchor runs. ``true_front(n)``, for
    analytic studies, returns ``n`` points of the known Pareto front (``n x m`` array).
    """

    def __init__(
        self,
        name: str,
        space: DesignSpace,
        objectives: Sequence[Objective],
        simulate: Simulate,
        constraints: Sequence[Constraint] = (),
        inner: InnerSettings | None = None,
        *,
        description: str = "",
        ideal: Sequence[float] | None = None,
        nadir: Sequence[float] | None = None,
        true_front: Callable[[int], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise StudyDefinitionError(f"a study needs a non-empty name, got {name!r}")
        if not isinstance(space, DesignSpace):
            raise StudyDefinitionError(f"space must be a DesignSpace, got {type(space).__name__}")
        objectives = tuple(objectives)
        if len(objectives) < 1:
            raise StudyDefinitionError(f"study {name!r} needs at least one objective")
        for o in objectives:
            if not isinstance(o, Objective):
                raise StudyDefinitionError(f"{o!r} is not an Objective")
        constraints = tuple(constraints)
        for c in constraints:
            if not isinstance(c, Constraint):
                raise StudyDefinitionError(f"{c!r} is not a Constraint")
        names = [o.name for o in objectives] + [c.name for c in constraints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise StudyDefinitionError(f"study {name!r}: duplicate objective/constraint names {dupes}")
        clash = sorted(set(names) & set(space.names))
        if clash:
            raise StudyDefinitionError(f"study {name!r}: names used both as parameters and outputs: {clash}")
        if not callable(simulate):
            raise StudyDefinitionError(f"study {name!r}: simulate must be callable")
        for label, vec in (("ideal", ideal), ("nadir", nadir)):
            if vec is not None and len(vec) != len(objectives):
                raise StudyDefinitionError(
                    f"study {name!r}: {label} has {len(vec)} values for {len(objectives)} objectives"
                )
        self.name = name
        self.space = space
        self.objectives: tuple[Objective, ...] = objectives
        self.constraints: tuple[Constraint, ...] = constraints
        self.simulate = simulate
        self.inner = inner if inner is not None else InnerSettings()
        self.description = description
        self.ideal = None if ideal is None else tuple(float(v) for v in ideal)
        self.nadir = None if nadir is None else tuple(float(v) for v in nadir)
        self.true_front = true_front
        self.source: str | None = None
        self.path: str | None = None

    def __repr__(self) -> str:
        objs = ", ".join(o.name for o in self.objectives)
        return f"StudyDefinition({self.name!r}, objectives=[{objs}], space={self.space.names})"

    def __reduce__(self) -> Any:
        # A definition loaded from a file travels (to Dask workers, subprocesses) as its
        # source text and is re-executed there: closures in study files need not pickle.
        if self.source is not None:
            return (_load_from_source, (self.source, self.path or f"<{self.name}>"))
        return object.__reduce__(self)

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def constraint_names(self) -> list[str]:
        return [c.name for c in self.constraints]

    @property
    def signs(self) -> torch.Tensor:
        """``m``-vector of +1 (minimise) / -1 (maximise)."""
        return torch.tensor([o.sign for o in self.objectives], dtype=torch.float64)

    @property
    def source_hash(self) -> str:
        """SHA-256 of the study file's text (or of the definition's repr if built in code)."""
        text = self.source
        if text is None:
            try:
                text = inspect.getsource(self.simulate)  # type: ignore[arg-type]
            except (OSError, TypeError):
                text = ""
            text = repr(self) + repr(self.space) + repr(self.objectives) + text
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Evaluation:
    """What one simulation call gave, validated: objective and constraint figures.

    ``objectives`` / ``constraints``: ``m`` / ``c``-vectors (differentiable, natural units);
    ``objective_stderr`` / ``constraint_stderr``: their standard errors (detached).
    """

    objectives: torch.Tensor
    objective_stderr: torch.Tensor
    constraints: torch.Tensor
    constraint_stderr: torch.Tensor
    extras: dict[str, float] = field(default_factory=dict)


def _reduce_output(name: str, value: Any, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """One returned figure to (value, stderr), checking form, shape and finiteness."""
    if isinstance(value, Estimate):
        v = value.value if isinstance(value.value, torch.Tensor) else torch.tensor(float(value.value))
        if v.numel() != 1:
            raise SimulationError(
                f"output {name!r}: Estimate.value must be a scalar, got shape {tuple(v.shape)}"
            )
        v = v.reshape(()).to(dtype)
        se = value.stderr
        se_t = se.detach() if isinstance(se, torch.Tensor) else torch.tensor(float(se))
        se_t = se_t.reshape(()).to(device=v.device, dtype=dtype)
    elif isinstance(value, torch.Tensor):
        if value.dim() == 0:
            v = value.to(dtype)
            se_t = torch.zeros((), dtype=dtype, device=v.device)
        elif value.dim() == 1:
            n = value.shape[0]
            if n < 2:
                raise SimulationError(
                    f"output {name!r}: a per-sample tensor needs at least 2 samples, got {n}"
                )
            x = value.to(dtype)
            v = x.mean()
            se_t = x.detach().std() / math.sqrt(n)
        else:
            raise SimulationError(
                f"output {name!r}: expected a per-sample tensor of shape (n,), a 0-d tensor "
                f"or an Estimate, got a tensor of shape {tuple(value.shape)}"
            )
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        v = torch.tensor(float(value), dtype=dtype)
        se_t = torch.zeros((), dtype=dtype)
    else:
        raise SimulationError(
            f"output {name!r}: expected a tensor, float or Estimate, got {type(value).__name__}"
        )
    if not torch.isfinite(v.detach()):
        raise SimulationError(f"output {name!r} is not finite ({float(v.detach())})")
    if not torch.isfinite(se_t):
        raise SimulationError(f"standard error of output {name!r} is not finite ({float(se_t)})")
    return v, se_t


def evaluate(
    definition: StudyDefinition,
    params: Mapping[str, torch.Tensor],
    choices: Mapping[str, Any],
    n_samples: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float64,
) -> Evaluation:
    """Call the simulation once and validate what it returns (see the module docstring).

    Raises :class:`SimulationError` naming the output that is missing, malformed or
    non-finite, or wrapping any exception the simulation raised.
    """
    try:
        out = definition.simulate(dict(params), dict(choices), int(n_samples), generator)
    except SimulationError:
        raise
    except Exception as exc:  # the user's simulation failed: keep its message
        raise SimulationError(f"simulate raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(out, Mapping):
        raise SimulationError(
            f"simulate must return a dict of objective/constraint values, got {type(out).__name__}"
        )
    values, errors = [], []
    for o in definition.objectives:
        if o.name not in out:
            raise SimulationError(f"simulate did not return objective {o.name!r}; it returned {sorted(out)}")
        v, se = _reduce_output(o.name, out[o.name], dtype)
        values.append(v)
        errors.append(se)
    cvals, cerrs = [], []
    for c in definition.constraints:
        if c.name not in out:
            raise SimulationError(f"simulate did not return constraint {c.name!r}; it returned {sorted(out)}")
        v, se = _reduce_output(c.name, out[c.name], dtype)
        cvals.append(v)
        cerrs.append(se)
    device = values[0].device
    known = set(definition.objective_names) | set(definition.constraint_names)
    extras: dict[str, float] = {}
    for key, val in out.items():
        if key in known:
            continue
        try:
            extras[key] = float(_reduce_output(key, val, dtype)[0].detach())
        except SimulationError:
            continue
    empty = torch.zeros(0, dtype=dtype, device=device)
    return Evaluation(
        objectives=torch.stack([v.to(device) for v in values]),
        objective_stderr=torch.stack([e.to(device) for e in errors]),
        constraints=torch.stack([v.to(device) for v in cvals]) if cvals else empty,
        constraint_stderr=torch.stack([e.to(device) for e in cerrs]) if cerrs else empty,
        extras=extras,
    )


_loaded_counter = 0


def _load_from_source(source: str, path: str) -> StudyDefinition:
    global _loaded_counter
    _loaded_counter += 1
    stem = Path(path).stem.replace("-", "_") or "study"
    mod_name = f"paretoopt_study_{stem}_{_loaded_counter}"
    spec = importlib.util.spec_from_loader(mod_name, loader=None, origin=path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up here
    try:
        code = compile(source, path, "exec")
        exec(code, module.__dict__)  # noqa: S102 - executing the user's own study file
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise StudyDefinitionError(
            f"error while executing study file {path}: {type(exc).__name__}: {exc}"
        ) from exc
    definition = getattr(module, "study", None)
    if definition is None:
        raise StudyDefinitionError(f"study file {path} defines no variable named 'study' (a StudyDefinition)")
    if not isinstance(definition, StudyDefinition):
        raise StudyDefinitionError(
            f"'study' in {path} is a {type(definition).__name__}, not a StudyDefinition"
        )
    definition.source = source
    definition.path = path
    return definition


def load_study_definition(path: str | Path) -> StudyDefinition:
    """Load a study file (e.g. ``studies/zdt1.py``) that defines a variable ``study``.

    Raises :class:`StudyDefinitionError` when the file is missing, fails to execute, defines
    no ``study``, or ``study`` is not a :class:`StudyDefinition`.
    """
    p = Path(path)
    if not p.is_file():
        raise StudyDefinitionError(f"study file not found: {p}")
    try:
        source = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyDefinitionError(f"cannot read study file {p}: {exc}") from exc
    return _load_from_source(source, str(p.resolve()))


def warn_no_gradient(names: Sequence[str]) -> None:
    """Warn that differentiable parameters received no gradient from the simulation."""
    if names:
        warnings.warn(
            f"differentiable parameters {list(names)} got no gradient from simulate(): the "
            "simulation does not depend on them differentiably. Mark them "
            "Real(..., differentiable=False) to move them to the outer loop.",
            UserWarning,
            stacklevel=3,
        )
