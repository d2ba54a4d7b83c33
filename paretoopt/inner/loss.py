"""What every inner-loop step shares: seeds, train/eval mode, constraint penalty, gradient check,
the Monte Carlo error of the loss.

Used by both optimisers and by the final evaluation of :mod:`paretoopt.inner.loop`.

This module is the only place that switches a simulation module between ``.train()`` (soft,
differentiable relaxations) and ``.eval()`` (hard physical behaviour).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch

from paretoopt.problem import Evaluation, StudyDefinition, warn_no_gradient
from paretoopt.scalarize import Scalarization

T = TypeVar("T")


def required(value: T | None, name: str) -> T:
    """A setting that the plan has set (:mod:`paretoopt.inner.plan` fills every number)."""
    if value is None:
        raise ValueError(f"InnerSettings.{name} is unset; resolve the settings first")
    return value


def step_seed(seed: int, step: int) -> int:
    """A 63-bit seed for step ``step`` of an inner loop seeded ``seed`` (independent streams)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step) & 0xFFFFFFFF]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


def set_mode(definition: StudyDefinition, training: bool) -> None:
    """Switch a ``torch.nn.Module`` simulation to training (soft) or evaluation (hard) mode."""
    sim = definition.simulate
    if isinstance(sim, torch.nn.Module):
        sim.train(training)


def penalty(definition: StudyDefinition, ev: Evaluation, weight: float) -> torch.Tensor:
    """The quadratic constraint penalty ``weight * sum (violation / scale)^2`` of ``ev``."""
    total = torch.zeros((), dtype=ev.objectives.dtype, device=ev.objectives.device)
    for i, c in enumerate(definition.constraints):
        total = total + weight * (c.violation(ev.constraints[i]) / c.scale) ** 2
    return total


def slacks(definition: StudyDefinition, ev: Evaluation) -> torch.Tensor:
    """The scaled slacks of every constraint bound of ``ev``, ``(upper - value) / scale`` and
    ``(value - lower) / scale``: >= 0 where the bound holds (the hard constraints of the
    fixed-sample solvers, :mod:`paretoopt.inner.trust`)."""
    rows = []
    for i, c in enumerate(definition.constraints):
        if c.upper is not None:
            rows.append((c.upper - ev.constraints[i]) / c.scale)
        if c.lower is not None:
            rows.append((ev.constraints[i] - c.lower) / c.scale)
    if not rows:
        return torch.zeros(0, dtype=ev.objectives.dtype, device=ev.objectives.device)
    return torch.stack(rows)


def objective_list(ev: Evaluation) -> list[float]:
    """The objective means of ``ev`` as floats (for a trajectory step)."""
    return [float(v) for v in ev.objectives.detach().cpu()]


def step_figures(ev: Evaluation, n_samples: int, exact: bool = False) -> dict[str, Any]:
    """What a trajectory step records of ``ev`` besides its objective means: the standard errors,
    constraint values and errors (floats), the sample size and whether it was exact."""
    return {
        "stderr": [float(v) for v in ev.objective_stderr.detach().cpu()],
        "constraints": [float(v) for v in ev.constraints.detach().cpu()],
        "constraint_stderr": [float(v) for v in ev.constraint_stderr.detach().cpu()],
        "n_samples": int(n_samples),
        "exact": bool(exact),
    }


def check_first_gradient(
    definition: StudyDefinition, params: dict[str, torch.Tensor], loss: torch.Tensor
) -> None:
    """Warn about differentiable parameters the first loss does not depend on."""
    names = list(params)
    if not names or not loss.requires_grad:
        warn_no_gradient(names)
        return
    grads = torch.autograd.grad(loss, [params[n] for n in names], retain_graph=True, allow_unused=True)
    warn_no_gradient([n for n, g in zip(names, grads, strict=True) if g is None])


def loss_stderr(
    definition: StudyDefinition, scalarization: Scalarization, ev: Evaluation, weight: float
) -> float:
    """The Monte Carlo standard error of the penalised scalarised loss of ``ev``, linearised
    through the scalarisation and the penalty from the objectives' and constraints' standard
    errors (correlations between outputs neglected); 0 for an exact evaluation."""
    errors = torch.cat([ev.objective_stderr, ev.constraint_stderr]).detach()
    if not bool(torch.any(errors > 0)):
        return 0.0
    f = ev.objectives.detach().clone().requires_grad_(True)
    c = ev.constraints.detach().clone().requires_grad_(True)
    probe = Evaluation(f, ev.objective_stderr, c, ev.constraint_stderr)
    loss = scalarization(f) + penalty(definition, probe, weight)
    grads = torch.autograd.grad(loss, [f, c], allow_unused=True)
    parts = [g if g is not None else torch.zeros_like(x) for g, x in zip(grads, (f, c), strict=True)]
    return float(torch.sqrt(torch.sum((torch.cat(parts) * errors) ** 2)))
