"""The gradient inner loop: for fixed discrete choices and a scalarisation, find the design.

:func:`optimize_inner` resolves ``InnerSettings`` into a plan (:mod:`paretoopt.inner.plan`:
the auto probe, the method, the numbers) and runs one of

* ``"exact"`` / ``"lbfgs"``: trust-region L-BFGS-B on fixed samples
  (:mod:`paretoopt.inner.stages`, :mod:`paretoopt.inner.trust`);
* ``"adam"``: Adam on fresh samples (:mod:`paretoopt.inner.sgd`);
* ``"surrogate"``: a trust region on a local surrogate, for simulations without gradients
  (:mod:`paretoopt.inner.local`);
* the legacy methods of ``InnerSettings(optimizer=...)`` (:mod:`paretoopt.inner.adam`,
  :mod:`paretoopt.inner.lbfgs`), exactly as before ``mode`` existed.

All start in the interior (the centre of the box, or ``init`` moved 1 % of the range off any
bound it lies on), which keeps gradient methods away from the spurious stationary points some
problems (ZDT2, DTLZ2) have on the bounds. The final figures always come from a fresh sample
(``n_eval_samples``) in evaluation mode, with standard errors. Every result says why its loop
stopped (``stop_reason``): a converged loop on an infeasible design is
``"constraint_infeasible"``, a non-finite value after some progress stops the new methods at
their best point so far with ``"nan"`` (at the first call it raises, as it always did).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

import torch
from threadpoolctl import ThreadpoolController

from paretoopt.exceptions import NonFiniteError
from paretoopt.external.records import Origin
from paretoopt.inner.adam import run_adam
from paretoopt.inner.lbfgs import run_lbfgs
from paretoopt.inner.local import run_local
from paretoopt.inner.loss import penalty, set_mode, step_seed
from paretoopt.inner.plan import Plan, make_plan
from paretoopt.inner.result import (
    CONSTRAINT_INFEASIBLE,
    CONVERGED,
    NAN,
    InnerResult,
    OptimizerOutcome,
    TrajectoryStep,
)
from paretoopt.inner.sample import Run
from paretoopt.inner.sgd import run_sgd
from paretoopt.inner.stages import run_stages
from paretoopt.problem import Evaluation, InnerSettings, StudyDefinition, evaluate
from paretoopt.scalarize import Scalarization

#: A warm start on a bound is moved this far inside (fraction of the range). Starting exactly
#: on a face can hold a gradient method at a spurious stationary point: on ZDT2, x1 = 0 (the
#: optimum of the f2 anchor) has a zero x1-gradient under every Chebyshev weight, so every
#: trial warm-started from it stayed there.
WARM_START_MARGIN = 0.01

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
    exact: bool = False,
) -> tuple[Evaluation, float]:
    """One evaluation of ``params`` in evaluation mode on a fresh sample of ``n_eval_samples``
    (its own seed stream), without gradients; returns it with its penalised loss. ``settings``
    has every number set (a :class:`~paretoopt.inner.plan.Plan`'s)."""
    set_mode(definition, training=False)
    gen = torch.Generator(device=device)
    gen.manual_seed(step_seed(seed, _EVAL_STREAM))
    dtype = settings.torch_dtype
    tensors = {k: torch.tensor(v, dtype=dtype, device=device) for k, v in params.items()}
    with torch.no_grad():
        ev = evaluate(
            definition, tensors, choices, int(settings.n_eval_samples or 1), gen, dtype=dtype, exact=exact
        )
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
    origin: Origin | None = None,
    start_margin: float = WARM_START_MARGIN,
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
        origin: the trial this loop runs for; the ``surrogate`` mode tags its evaluations with
            it and reuses those of the study's earlier batches (:mod:`paretoopt.external.records`).
        start_margin: how far (fraction of each range) ``init`` is moved off the faces of the
            box; 0 starts exactly there and skips the stuck-start check (a continuation of a
            loop that ended there: a start that does not move is its optimum).

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
        start = {p.name: p.interior(given[p.name], start_margin) for p in space.inner}
    else:
        start = space.default_inner()
    try:
        plan = make_plan(definition, choices, settings, dev)
        # numpy's and scipy's BLAS on one thread: SLSQP's small linear algebra then sums in one
        # order whatever the environment sets (Dask's workers run with OPENBLAS_NUM_THREADS=1,
        # and a design differed from the sequential run's by 6e-9); torch is not affected
        with _blas().limit(limits=1, user_api="blas"):
            outcome = _optimise(
                plan,
                definition,
                choices,
                scalarization,
                seed,
                start,
                dev,
                warm=init is not None and start_margin > 0,
                origin=origin,
            )
        ev, loss = final_evaluation(
            definition, outcome.params, choices, scalarization, plan.settings, seed, dev, plan.exact
        )
    finally:
        set_mode(definition, training=False)
    result = _result(
        definition,
        outcome.params,
        choices,
        ev,
        loss,
        n_calls=outcome.n_calls + plan.probe_calls + 1,
        n_backward=outcome.n_backward,
        n_events=outcome.n_events + plan.probe_events + int(plan.settings.n_eval_samples or 1),
        n_samples=int(plan.settings.n_eval_samples or 1),
        stop_reason=outcome.stop_reason,
        optimizer=plan.optimizer,
        t0=t0,
        trajectory=outcome.trajectory,
        n_reused=outcome.n_reused,
    )
    return result


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools (found once: 12 us a limit instead of 1.4 ms)."""
    return ThreadpoolController()


def _optimise(
    plan: Plan,
    definition: StudyDefinition,
    choices: dict[str, Any],
    scalarization: Scalarization,
    seed: int,
    start: dict[str, float],
    dev: torch.device,
    *,
    warm: bool,
    origin: Origin | None = None,
) -> OptimizerOutcome:
    """Run the plan's method from ``start``."""
    settings = plan.settings
    if plan.method == "legacy-lbfgs":
        return run_lbfgs(definition, choices, scalarization, settings, seed, start, dev)
    if plan.method == "legacy-adam":
        return run_adam(definition, choices, scalarization, settings, seed, start, dev)
    if not definition.space.inner:
        return OptimizerOutcome({}, [], 0, 0, CONVERGED)
    run = Run(definition, choices, scalarization, settings, dev, exact=plan.exact)
    t_start = run.unit(start)
    if plan.method == "surrogate":
        parallel = int(getattr(definition.simulate, "max_parallel", 1))
        n, tol = int(settings.n_samples or 1), float(settings.tol or 1e-3)
        t, reason, reused = run_local(
            run, t_start, seed, n_samples=n, tol=tol, parallel=parallel, origin=origin
        )
        return OptimizerOutcome(run.values(t), run.trajectory, run.calls, 0, reason, run.events, reused)
    n, n_max = int(settings.n_samples or 1), int(settings.n_eval_samples or 1)
    set_mode(definition, training=True)
    try:
        if plan.method == "adam":
            lr, window = float(settings.lr or 0.05), int(settings.patience or 20)
            t, reason = run_sgd(
                run, t_start, seed, lr=lr, n_samples=n, n_max=n_max, grow=plan.grow, window=window
            )
        else:
            g_tol = float(settings.tol or 1e-6)
            t, reason = run_stages(
                run, t_start, seed, warm=warm, n_samples=n, n_max=n_max, grow=plan.grow, g_tol=g_tol
            )
    except NonFiniteError:
        if run.last_t is None:
            raise  # nothing finite to return: the trial fails, as it always did
        t, reason = run.last_t, NAN
    return OptimizerOutcome(run.values(t), run.trajectory, run.calls, run.backward, reason, run.events)


def _result(
    definition: StudyDefinition,
    params: Mapping[str, float],
    choices: Mapping[str, Any],
    ev: Evaluation,
    loss: float,
    *,
    n_calls: int,
    n_backward: int,
    n_events: int = 0,
    n_samples: int = 0,
    stop_reason: str | None,
    optimizer: str,
    t0: float,
    trajectory: list[TrajectoryStep] | None = None,
    n_reused: int = 0,
) -> InnerResult:
    """An :class:`InnerResult` from the final evaluation ``ev`` of the design ``params``; a loop
    that converged on an infeasible design stopped for ``"constraint_infeasible"``."""
    constraints = {c.name: float(ev.constraints[i]) for i, c in enumerate(definition.constraints)}
    feasible = all(c.satisfied(constraints[c.name]) for c in definition.constraints)
    if stop_reason == CONVERGED and not feasible:
        stop_reason = CONSTRAINT_INFEASIBLE
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
        feasible=feasible,
        loss=loss,
        n_calls=n_calls,
        n_backward=n_backward,
        n_steps=len(traj),
        converged=stop_reason == CONVERGED,
        optimizer=optimizer,
        wall_time_s=time.perf_counter() - t0,
        trajectory=traj,
        extras=ev.extras,
        stop_reason=stop_reason,
        n_events=n_events,
        n_samples=n_samples,
        n_reused=n_reused,
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
    dev = torch.device(device)
    try:
        # one evaluation needs no method: the smoothness test is skipped (a full probe is reused)
        plan = make_plan(definition, choices, settings, dev, smoothness=False)
        ev, loss = final_evaluation(
            definition, values, choices, scalarization, plan.settings, seed, dev, plan.exact
        )
    finally:
        set_mode(definition, training=False)
    return _result(
        definition,
        values,
        choices,
        ev,
        loss,
        n_calls=1 + plan.probe_calls,
        n_backward=0,
        n_events=plan.probe_events + int(plan.settings.n_eval_samples or 1),
        n_samples=int(plan.settings.n_eval_samples or 1),
        stop_reason=None,
        optimizer="none",
        t0=t0,
    )
