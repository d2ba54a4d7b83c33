"""Study definitions: objectives, constraints, inner settings and the simulation of a problem.

A definition loaded from a study file is rebuilt from that file's text after pickling
(:func:`definition_from_source`).

A simulation is ``simulate(params, choices, n_samples, generator) -> dict``
(:mod:`paretoopt.problem.evaluation` describes and checks what it returns). If ``simulate`` is
a ``torch.nn.Module`` the inner loop switches it to ``.train()`` while optimising (soft
relaxations) and ``.eval()`` for the final evaluation (hard physical behaviour).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from paretoopt.exceptions import StudyDefinitionError
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

    The inner loop adds a smooth quadratic penalty ``penalty * (violation / scale)^2``, and
    the fixed-sample solvers (``exact`` and ``lbfgs`` modes) also hold the bounds as hard
    constraints; a final design violating a bound by more than ``tolerance * scale`` is
    infeasible.
    ``scale`` (same unit as the quantity) sets what counts as a large violation; by default it
    is the size of the allowed range (``upper - lower``) or of the one bound (``|bound|``, 1 for
    a bound at 0), so the same constraint written in another unit behaves the same.
    """

    name: str
    upper: float | None = None
    lower: float | None = None
    unit: str | None = None
    scale: float = None  # type: ignore[assignment]  # None: set in __post_init__ (default_scale)
    tolerance: float = 1e-3

    def __post_init__(self) -> None:
        if self.upper is None and self.lower is None:
            raise StudyDefinitionError(f"Constraint {self.name!r} needs an upper or lower bound")
        if self.upper is not None and self.lower is not None and self.lower > self.upper:
            raise StudyDefinitionError(
                f"Constraint {self.name!r}: lower={self.lower} exceeds upper={self.upper}"
            )
        if self.scale is None:
            object.__setattr__(self, "scale", self.default_scale())
        if not self.scale > 0:
            raise StudyDefinitionError(f"Constraint {self.name!r}: scale must be > 0")

    def default_scale(self) -> float:
        """The scale a constraint gets when it states none: its range, or its bound's size."""
        if self.upper is not None and self.lower is not None and self.upper > self.lower:
            return float(self.upper - self.lower)
        bound = self.upper if self.upper is not None else self.lower
        return abs(float(bound)) if bound else 1.0  # type: ignore[arg-type]

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


InnerMode = Literal["auto", "exact", "adam", "lbfgs", "surrogate"]

#: What an unset setting means for a study that names its ``optimizer`` (the behaviour of every
#: study written before ``mode`` existed, kept exactly).
LEGACY_DEFAULTS: dict[str, Any] = {
    "max_steps": 300,
    "lr": 0.05,
    "n_samples": 1000,
    "n_eval_samples": 10000,
    "patience": 40,
    "tol": 1e-5,
}


@dataclass(frozen=True)
class InnerSettings:
    """How the gradient inner loop runs (see :func:`paretoopt.inner.optimize_inner` and
    docs/design.md, "Inner loop decisions").

    ``mode`` picks the method. ``"auto"`` (the default) probes the simulation and picks
    ``"exact"`` for a deterministic one (one sample, trust-region L-BFGS-B, one evaluation
    sample), and for a Monte Carlo one ``"lbfgs"`` (L-BFGS-B on a fixed sample, common random
    numbers, the sample grown 4x per stage until the stage's step no longer beats the noise)
    when the fixed-sample loss is smooth, else ``"adam"`` (Adam on fresh samples, step halved and
    sample doubled when the loss stops falling significantly). These three stop on a
    convergence test (projected gradient or step size in the unit box of the inner parameters,
    relative to the Monte Carlo noise of the loss) with ``max_steps`` simulator calls as a cap,
    and record why they stopped.

    ``"surrogate"`` (chosen by ``"auto"`` for a simulation without gradients, an
    :class:`~paretoopt.ExternalSimulator`) is a trust region on a local quadratic surrogate fitted
    to simulations around the design (:mod:`paretoopt.inner.local`).

    ``optimizer="adam" | "lbfgs"`` without ``mode`` is the method of studies written before
    ``mode`` existed, kept exactly: Adam with a cosine learning-rate decay and a plateau stop
    (``patience`` steps without a ``tol`` improvement), or trust-region L-BFGS-B on one fixed
    sample; unset numbers take :data:`LEGACY_DEFAULTS`.

    Every number left ``None`` is chosen for the method at run time; a number a study sets is
    used as given (``n_samples`` set: a fixed sample size, no growth). ``max_steps``: most
    simulator calls of the optimisation (the final evaluation and the auto probe aside);
    ``n_eval_samples``: the fresh sample of the final evaluation; ``tol``: the convergence
    tolerance (new modes: projected gradient of the normalised loss per unit of the box;
    legacy: relative plateau / ftol); ``patience``: steps per Adam window.
    """

    optimizer: Literal["adam", "lbfgs"] | None = None
    max_steps: int | None = None
    lr: float | None = None
    lr_final_fraction: float = 0.02
    n_samples: int | None = None
    n_eval_samples: int | None = None
    patience: int | None = None
    tol: float | None = None
    constraint_penalty: float = 1e3
    record_every: int = 1
    dtype: Literal["float32", "float64"] = "float64"
    mode: InnerMode = "auto"

    def __post_init__(self) -> None:
        if self.optimizer not in (None, "adam", "lbfgs"):
            raise StudyDefinitionError(
                f"InnerSettings.optimizer must be 'adam' or 'lbfgs', got {self.optimizer!r}"
            )
        if self.mode not in ("auto", "exact", "adam", "lbfgs", "surrogate"):
            raise StudyDefinitionError(
                "InnerSettings.mode must be 'auto', 'exact', 'adam', 'lbfgs' or 'surrogate', "
                f"got {self.mode!r}"
            )
        if self.optimizer is not None and self.mode != "auto":
            if (self.mode == "adam") != (self.optimizer == "adam"):
                raise StudyDefinitionError(
                    f"InnerSettings: mode={self.mode!r} contradicts optimizer={self.optimizer!r}; set one"
                )
        for name in ("max_steps", "n_samples", "n_eval_samples", "patience", "record_every"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise StudyDefinitionError(f"InnerSettings.{name} must be >= 1")
        if self.lr is not None and not self.lr > 0:
            raise StudyDefinitionError("InnerSettings.lr must be > 0")
        if self.tol is not None and not self.tol > 0:
            raise StudyDefinitionError("InnerSettings.tol must be > 0")
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
    def legacy(self) -> bool:
        """True when the study names its ``optimizer`` and no ``mode``: the method as it was."""
        return self.mode == "auto" and self.optimizer is not None

    def with_defaults(self, defaults: Mapping[str, Any]) -> InnerSettings:
        """A copy whose unset (``None``) numbers take ``defaults``; set ones are kept."""
        return self.replace(**{k: v for k, v in defaults.items() if getattr(self, k) is None})

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
        bind = getattr(simulate, "bind_study", None)
        if callable(bind):  # an ExternalSimulator learns the units and the outputs to read
            simulate = bind(space, names)
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
        # source text and is re-executed there: closures in study files need not pickle. The
        # plain-data attributes a script may change after loading travel beside it (they were
        # lost: a worker ran the file's InnerSettings, not the ones the script had set).
        if self.source is not None:
            state = {k: self.__dict__[k] for k in _CARRIED if k in self.__dict__}
            return (definition_from_source, (self.source, self.path or f"<{self.name}>"), state)
        return object.__reduce__(self)

    def __copy__(self) -> StudyDefinition:
        """A shallow copy in this process, every attribute kept (through :meth:`__reduce__` a
        loaded definition's copy re-executed its file and lost what had been set since: a
        benchmark's copy of an RE study lost the ideal, nadir and reference front it had set)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

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


#: The plain-data attributes of a loaded definition that pickling carries beside its source
#: (``simulate`` and ``true_front`` are code: they come from the source).
_CARRIED = ("name", "inner", "description", "ideal", "nadir")

_loaded_counter = 0


def definition_from_source(source: str, path: str) -> StudyDefinition:
    """Execute a study file's text (``path`` names it in tracebacks) and return its ``study``;
    how a loaded definition is rebuilt after pickling (see :meth:`StudyDefinition.__reduce__`).

    Raises :class:`StudyDefinitionError` when the text fails to execute, defines no ``study``,
    or ``study`` is not a :class:`StudyDefinition`.
    """
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
