"""The gradient inner loop: for fixed discrete choices and a scalarisation, find the design.

Two optimisers sit behind :func:`optimize_inner` (``InnerSettings.optimizer``):
``"adam"`` (:mod:`paretoopt.inner.adam`, a fresh Monte Carlo sample every step, for noisy
simulations) and ``"lbfgs"`` (:mod:`paretoopt.inner.lbfgs`, one fixed sample, for
deterministic analytic studies).

Both start in the interior (the centre of the box, or ``init`` moved 1 % of the range off any
bound it lies on), which keeps gradient methods away from the spurious stationary points some
problems (ZDT2, DTLZ2) have on the bounds. The final figures always come from a fresh, larger
sample (``n_eval_samples``) in evaluation mode, with standard errors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from paretoopt.inner.adam import run_adam
from paretoopt.inner.lbfgs import run_lbfgs
from paretoopt.inner.loss import penalty, set_mode, step_seed
from paretoopt.inner.result import InnerResult, TrajectoryStep
from paretoopt.problem import Evaluation, InnerSettings, StudyDefinition, evaluate
from paretoopt.scalarize import Scalarization

#: A warm start on a bound is moved this far inside (fraction of the range). Starting exactly
#: on a face can hold a gradient method at a spurious stationary point: on ZDT2, x1 = 0 (the
#: optimum of the f2 anchor) has a zero x1-gradient under every Chebyshev weight, so every
#: trial warm-started from it stayed there.
_WARM_START_MARGIN = 0.01

#: Offset of the final-evaluation seed stream from the optimisation steps' seeds.
_EVAL_STREAM = 2**31 - 1


def final_evaluation(
    definition: StudyDefinition,
    params: Mapping[str, float],
    choices: Mapping[str, Any],
    scalarization: Scalarization,
    settings: InnerSettings,
    seed: int,
    device: torch.device,
) -> tuple[Evaluation, float]:
    """One evaluation of ``params`` in evaluation mode on a fresh sample of ``n_eval_samples``
    (its own seed stream), without gradients; returns it with its penalised loss."""
    set_mode(definition, training=False)
    gen = torch.Generator(device=device)
    gen.manual_seed(step_seed(seed, _EVAL_STREAM))
    dtype = settings.torch_dtype
    tensors = {k: torch.tensor(v, dtype=dtype, device=device) for k, v in params.items()}
    with torch.no_grad():
        ev = evaluate(definition, tensors, choices, settings.n_eval_samples, gen, dtype=dtype)
        loss = float(scalarization(ev.objectives) + penalty(definition, ev, settings.constraint_penalty))
    return ev, loss


def optimize_inner(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    scalarization: Scalarization,
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    init: Mapping[str, float] | None = None,
    device: str | torch.device = "cpu",
) -> InnerResult:
    """Minimise ``scalarization(f(theta, choices))`` over the differentiable parameters.

    Args:
        definition: the study (space, objectives, constraints, simulation).
        choices: a value for every outer parameter (integers, choices, non-differentiable reals).
        scalarization: maps the ``m`` objective means (natural units) to the loss.
        settings: the inner-loop settings; default ``definition.inner``.
        seed: seeds every Monte Carlo sample; the same seed gives the same result.
        init: starting values of the differentiable parameters (warm start); default the
            centre of the box.
        device: where the simulation runs (``"cpu"``, ``"cuda"``).

    Returns:
        An :class:`InnerResult` with the final design and its objectives +- standard errors.

    Raises:
        SimulationError: the simulation failed, returned malformed or non-finite values, or
            produced a non-finite gradient.
        SpaceError: ``choices`` or ``init`` are not valid for the design space.
    """
    t0 = time.perf_counter()
    settings = settings if settings is not None else definition.inner
    space = definition.space
    choices = space.validate_outer(choices)
    dev = torch.device(device)
    if init is not None:  # off the faces of the box, where a stationary point could hold it
        given = space.validate_inner(init)
        start = {p.name: p.interior(given[p.name], _WARM_START_MARGIN) for p in space.inner}
    else:
        start = space.default_inner()
    if settings.optimizer == "lbfgs":
        run = run_lbfgs
    else:
        run = run_adam
    try:
        params, traj, n_calls, n_backward, converged = run(
            definition, choices, scalarization, settings, seed, start, dev
        )
        ev, loss = final_evaluation(definition, params, choices, scalarization, settings, seed, dev)
    finally:
        set_mode(definition, training=False)
    return _result(
        definition,
        params,
        choices,
        ev,
        loss,
        n_calls=n_calls + 1,
        n_backward=n_backward,
        converged=converged,
        optimizer=settings.optimizer,
        t0=t0,
        trajectory=traj,
    )


def _result(
    definition: StudyDefinition,
    params: Mapping[str, float],
    choices: Mapping[str, Any],
    ev: Evaluation,
    loss: float,
    *,
    n_calls: int,
    n_backward: int,
    converged: bool,
    optimizer: str,
    t0: float,
    trajectory: list[TrajectoryStep] | None = None,
) -> InnerResult:
    """An :class:`InnerResult` from the final evaluation ``ev`` of the design ``params``."""
    constraints = {c.name: float(ev.constraints[i]) for i, c in enumerate(definition.constraints)}
    traj = trajectory or []
    return InnerResult(
        params=dict(params),
        choices=dict(choices),
        objectives={o.name: float(ev.objectives[i]) for i, o in enumerate(definition.objectives)},
        stderr={o.name: float(ev.objective_stderr[i]) for i, o in enumerate(definition.objectives)},
        constraints=constraints,
        constraint_stderr={
            c.name: float(ev.constraint_stderr[i]) for i, c in enumerate(definition.constraints)
        },
        feasible=all(c.satisfied(constraints[c.name]) for c in definition.constraints),
        loss=loss,
        n_calls=n_calls,
        n_backward=n_backward,
        n_steps=len(traj),
        converged=converged,
        optimizer=optimizer,
        wall_time_s=time.perf_counter() - t0,
        trajectory=traj,
        extras=ev.extras,
    )


def evaluate_design(
    definition: StudyDefinition,
    params: Mapping[str, float],
    choices: Mapping[str, Any],
    scalarization: Scalarization,
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> InnerResult:
    """One final evaluation of a given design, no optimisation: the same fresh sample of
    ``n_eval_samples`` in evaluation mode as :func:`optimize_inner` ends with (one call, no
    trajectory). Used to re-simulate designs found on a surrogate.

    Raises:
        SimulationError: the simulation failed or returned malformed or non-finite values.
        SpaceError: ``params`` or ``choices`` are not valid for the design space.
    """
    t0 = time.perf_counter()
    settings = settings if settings is not None else definition.inner
    space = definition.space
    choices = space.validate_outer(choices)
    values = space.validate_inner(params)
    try:
        ev, loss = final_evaluation(
            definition, values, choices, scalarization, settings, seed, torch.device(device)
        )
    finally:
        set_mode(definition, training=False)
    return _result(
        definition,
        values,
        choices,
        ev,
        loss,
        n_calls=1,
        n_backward=0,
        converged=True,
        optimizer="none",
        t0=t0,
    )
