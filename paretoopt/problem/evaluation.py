"""One simulation call, checked and reduced to objective / constraint figures with errors.

A simulation is ``simulate(params, choices, n_samples, generator) -> dict``. ``params`` maps
each differentiable parameter to a 0-d tensor (in its unit), ``choices`` maps each outer
parameter to its value, ``n_samples`` is the Monte Carlo sample size and ``generator`` the
``torch.Generator`` to draw it with (on the simulation's device). For every objective and
constraint the returned dict holds one of two first-class forms:

* a **per-sample tensor** of shape ``(n,)`` (one value per event or muon): the figure is its
  mean and the standard error is ``std / sqrt(n)``;
* an :class:`~paretoopt.problem.definition.Estimate` of a **set-level figure** (a resolution
  is a width over many events, not a per-event mean) with its own standard error, e.g. from a
  bootstrap or the asymptotic error of an RMS.

A 0-d tensor or a float is taken as an exact (deterministic) value with zero error; the
analytic benchmark studies use it. ``evaluate(..., exact=True)`` (the inner loop's exact mode,
for simulations found deterministic) also takes a per-sample tensor of one sample as exact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from paretoopt.exceptions import NonFiniteError, SimulationError
from paretoopt.problem.definition import Estimate, StudyDefinition


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


def _reduce_output(
    name: str, value: Any, dtype: torch.dtype, exact: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """One returned figure to (value, stderr), checking form, shape and finiteness; with
    ``exact`` a per-sample tensor of one sample is an exact value."""
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
            if exact and n == 1:
                v = value.to(dtype).reshape(())
                se_t = torch.zeros((), dtype=dtype, device=v.device)
            elif n < 2:
                raise SimulationError(
                    f"output {name!r}: a per-sample tensor needs at least 2 samples, got {n}"
                )
            else:
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
        raise NonFiniteError(f"output {name!r} is not finite ({float(v.detach())})")
    if not torch.isfinite(se_t):
        raise NonFiniteError(f"standard error of output {name!r} is not finite ({float(se_t)})")
    return v, se_t


def evaluate(
    definition: StudyDefinition,
    params: Mapping[str, torch.Tensor],
    choices: Mapping[str, Any],
    n_samples: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float64,
    exact: bool = False,
) -> Evaluation:
    """Call the simulation once and validate what it returns (see the module docstring);
    ``exact``: a per-sample tensor of one sample is an exact value (zero error).

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
        v, se = _reduce_output(o.name, out[o.name], dtype, exact)
        values.append(v)
        errors.append(se)
    cvals, cerrs = [], []
    for c in definition.constraints:
        if c.name not in out:
            raise SimulationError(f"simulate did not return constraint {c.name!r}; it returned {sorted(out)}")
        v, se = _reduce_output(c.name, out[c.name], dtype, exact)
        cvals.append(v)
        cerrs.append(se)
    device = values[0].device
    known = set(definition.objective_names) | set(definition.constraint_names)
    extras: dict[str, float] = {}
    for key, val in out.items():
        if key in known:
            continue
        try:
            extras[key] = float(_reduce_output(key, val, dtype, exact)[0].detach())
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
