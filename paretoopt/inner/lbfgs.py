"""The legacy L-BFGS-B inner optimiser (``InnerSettings(optimizer="lbfgs")``): one fixed Monte
Carlo sample, kept exactly as studies written before ``InnerSettings.mode`` ran it (the
``"exact"`` and ``"lbfgs"`` modes, with a convergence test, are :mod:`paretoopt.inner.trust`).

scipy's L-BFGS-B on one fixed sample (common random numbers, the sample-average
approximation), torch gradients passed with ``jac=True`` as botorch's ``gen_candidates_scipy``
does, with box bounds (optima on a bound are reached exactly) inside a moving trust region of
0.15 of each range, so that it follows the descent path instead of jumping onto a face of the
box where ZDT2 and DTLZ2 have spurious stationary points. Needs far fewer calls than Adam on
smooth problems.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.optimize
import torch

from paretoopt.exceptions import NonFiniteError
from paretoopt.inner.loss import (
    check_first_gradient,
    objective_list,
    penalty,
    required,
    set_mode,
    step_figures,
    step_seed,
)
from paretoopt.inner.result import CONVERGED, MAX_STEPS, NO_PROGRESS, OptimizerOutcome, TrajectoryStep
from paretoopt.problem import InnerSettings, StudyDefinition, evaluate
from paretoopt.scalarize import Scalarization

#: L-BFGS-B trust region: the most a sub-run may move a coordinate (fraction of its range).
_TRUST_RADIUS = 0.15
_MAX_TRUST_ROUNDS = 50


class _BudgetSpent(Exception):
    """``max_steps`` simulator calls spent inside an L-BFGS-B run."""


def run_lbfgs(
    definition: StudyDefinition,
    choices: dict[str, Any],
    scalarization: Scalarization,
    settings: InnerSettings,
    seed: int,
    start: dict[str, float],
    dev: torch.device,
) -> OptimizerOutcome:
    """Minimise the penalised scalarised loss from ``start`` with trust-region L-BFGS-B."""
    space = definition.space
    dtype = settings.torch_dtype
    if not space.inner:
        return OptimizerOutcome({}, [], 0, 0, CONVERGED)
    # L-BFGS-B in unit-cube coordinates inside a moving trust region: each sub-run may move every
    # coordinate by at most TRUST_RADIUS, and the region is re-centred until the optimum lies
    # strictly inside it. Plain L-BFGS-B in the whole box lets its first projected steps land on
    # faces where ZDT2 and DTLZ2 have spurious stationary points (zero slope of one objective),
    # and it stays there; in the logistic reparametrisation quasi-Newton steps blow up along
    # saturating coordinates and stick to a bound. The trust region follows the descent path.
    max_steps, n_samples = (
        required(settings.max_steps, "max_steps"),
        required(settings.n_samples, "n_samples"),
    )
    tol = required(settings.tol, "tol")
    t_cur = np.array(
        [float(p.to_unit(torch.tensor(start[p.name], dtype=torch.float64))) for p in space.inner]
    )
    gen = torch.Generator(device=dev)
    fixed_seed = step_seed(seed, 0)  # one fixed sample: common random numbers
    traj: list[TrajectoryStep] = []
    counters = {"calls": 0, "backward": 0}
    set_mode(definition, training=True)

    best: dict[str, Any] = {"loss": math.inf, "t": t_cur}

    def fun(t_np: np.ndarray) -> tuple[float, np.ndarray]:
        if counters["calls"] >= max_steps:
            raise _BudgetSpent  # scipy's maxfun may be overrun by a line search; the cap is exact
        t = torch.tensor(np.clip(t_np, 0.0, 1.0), dtype=dtype, device=dev, requires_grad=True)
        params = {p.name: p.from_unit(t[i]) for i, p in enumerate(space.inner)}
        gen.manual_seed(fixed_seed)
        ev = evaluate(definition, params, choices, n_samples, gen, dtype=dtype)
        loss = scalarization(ev.objectives) + penalty(definition, ev, settings.constraint_penalty)
        if counters["calls"] == 0:
            check_first_gradient(definition, params, loss)
        counters["calls"] += 1
        if loss.requires_grad:
            loss.backward()
            counters["backward"] += 1
        grad = t.grad.detach().cpu().numpy().astype(float) if t.grad is not None else np.zeros(len(t_np))
        if not np.all(np.isfinite(grad)):
            raise NonFiniteError(f"non-finite gradient at parameters {params}")
        value = float(loss.detach())
        if value < best["loss"]:  # one fixed sample: values at different points compare exactly
            best.update(loss=value, t=np.clip(t_np, 0.0, 1.0))
        traj.append(
            TrajectoryStep(
                step=len(traj),
                loss=value,
                objectives=objective_list(ev),
                params={k: float(v.detach()) for k, v in params.items()},
                **step_figures(ev, n_samples),
            )
        )
        return value, grad

    reason = NO_PROGRESS
    for _ in range(_MAX_TRUST_ROUNDS):
        lo = np.maximum(0.0, t_cur - _TRUST_RADIUS)
        hi = np.minimum(1.0, t_cur + _TRUST_RADIUS)
        remaining = max_steps - counters["calls"]
        if remaining < 1:
            reason = MAX_STEPS
            break
        try:
            res = scipy.optimize.minimize(
                fun,
                t_cur,
                jac=True,
                method="L-BFGS-B",
                bounds=list(zip(lo, hi)),
                options={
                    "maxiter": remaining,
                    "maxfun": remaining,
                    "ftol": tol * 1e-3,
                    "gtol": 1e-10,
                },
            )
        except _BudgetSpent:
            t_cur = best["t"]
            reason = MAX_STEPS
            break
        t_new = np.clip(res.x, 0.0, 1.0)
        on_edge = ((np.abs(t_new - lo) < 1e-9) & (lo > 0.0)) | ((np.abs(t_new - hi) < 1e-9) & (hi < 1.0))
        t_cur = t_new
        if not on_edge.any():
            reason = CONVERGED if res.success else MAX_STEPS if res.status == 1 else NO_PROGRESS
            break
    final = {
        p.name: min(max(float(p.from_unit(torch.tensor(t_cur[i], dtype=torch.float64))), p.low), p.high)
        for i, p in enumerate(space.inner)
    }
    return OptimizerOutcome(
        final, traj, counters["calls"], counters["backward"], reason, counters["calls"] * n_samples
    )
