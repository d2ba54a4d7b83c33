"""The gradient inner loop: for fixed discrete choices and a scalarisation, find the design.

Two optimisers sit behind :func:`optimize_inner` (``InnerSettings.optimizer``):

* ``"adam"``: Adam in the unconstrained reparametrisation of the differentiable parameters
  (bounds can never be left), a fresh Monte Carlo sample every step, cosine learning-rate
  decay, stop on a plateau of the smoothed loss or at ``max_steps``. For noisy simulations.
* ``"lbfgs"``: scipy's L-BFGS-B on one fixed Monte Carlo sample (common random numbers, the
  sample-average approximation), torch gradients passed with ``jac=True`` as botorch's
  ``gen_candidates_scipy`` does, with box bounds (optima on a bound are reached exactly) inside
  a moving trust region of 0.15 of each range, so that it follows the descent path instead
  of jumping onto a face of the box where ZDT2 and DTLZ2 have spurious stationary points.
  Needs far fewer calls on smooth problems; for deterministic (analytic) studies.

Both start in the interior (the centre of the box, or ``init`` moved 1 % of the range off any
bound it lies on), which keeps gradient methods away from the spurious stationary points some
problems (ZDT2, DTLZ2) have on the bounds. The final figures always come from a fresh, larger
sample (``n_eval_samples``) in evaluation mode, with standard errors.

This module is the only place that switches a simulation module between ``.train()`` (soft,
differentiable relaxations) and ``.eval()`` (hard physical behaviour).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.optimize
import torch

from paretoopt.exceptions import SimulationError
from paretoopt.problem import Evaluation, InnerSettings, StudyDefinition, evaluate, warn_no_gradient
from paretoopt.scalarize import Normalization, Scalarization, WeightedSum

#: L-BFGS-B trust region: the most a sub-run may move a coordinate (fraction of its range).
_TRUST_RADIUS = 0.15
_MAX_TRUST_ROUNDS = 50

#: A warm start on a bound is moved this far inside (fraction of the range). Starting exactly
#: on a face can hold a gradient method at a spurious stationary point: on ZDT2, x1 = 0 (the
#: optimum of the f2 anchor) has a zero x1-gradient under every Chebyshev weight, so every
#: trial warm-started from it stayed there.
_WARM_START_MARGIN = 0.01

#: Offset of the final-evaluation seed stream from the optimisation steps' seeds.
_EVAL_STREAM = 2**31 - 1


def step_seed(seed: int, step: int) -> int:
    """A 63-bit seed for step ``step`` of an inner loop seeded ``seed`` (independent streams)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step) & 0xFFFFFFFF]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


@dataclass
class TrajectoryStep:
    """One inner-loop step: the scalarised loss, the objective means (natural units) and the
    parameters (their units) at which the simulation was evaluated."""

    step: int
    loss: float
    objectives: list[float]
    params: dict[str, float]


@dataclass
class InnerResult:
    """The outcome of one inner loop.

    ``objectives`` / ``stderr``: final-evaluation means and standard errors per objective
    (natural units); ``constraints`` likewise. ``n_calls`` counts forward simulator calls
    (final evaluation included), ``n_backward`` the backward passes through it.
    """

    params: dict[str, float]
    choices: dict[str, Any]
    objectives: dict[str, float]
    stderr: dict[str, float]
    constraints: dict[str, float]
    constraint_stderr: dict[str, float]
    feasible: bool
    loss: float
    n_calls: int
    n_backward: int
    n_steps: int
    converged: bool
    optimizer: str
    wall_time_s: float
    trajectory: list[TrajectoryStep] = field(default_factory=list)
    extras: dict[str, float] = field(default_factory=dict)

    def objective_vector(self, names: list[str] | None = None) -> np.ndarray:
        """Objective means as an ``m`` array (in ``names`` order, default insertion order)."""
        keys = names if names is not None else list(self.objectives)
        return np.array([self.objectives[k] for k in keys], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _set_mode(definition: StudyDefinition, training: bool) -> None:
    sim = definition.simulate
    if isinstance(sim, torch.nn.Module):
        sim.train(training)


def _penalty(definition: StudyDefinition, ev: Evaluation, weight: float) -> torch.Tensor:
    total = torch.zeros((), dtype=ev.objectives.dtype, device=ev.objectives.device)
    for i, c in enumerate(definition.constraints):
        total = total + weight * (c.violation(ev.constraints[i]) / c.scale) ** 2
    return total


def _objective_list(ev: Evaluation) -> list[float]:
    return [float(v) for v in ev.objectives.detach().cpu()]


def _final_evaluation(
    definition: StudyDefinition,
    params: Mapping[str, float],
    choices: Mapping[str, Any],
    scalarization: Scalarization,
    settings: InnerSettings,
    seed: int,
    device: torch.device,
) -> tuple[Evaluation, float]:
    _set_mode(definition, training=False)
    gen = torch.Generator(device=device)
    gen.manual_seed(step_seed(seed, _EVAL_STREAM))
    dtype = settings.torch_dtype
    tensors = {k: torch.tensor(v, dtype=dtype, device=device) for k, v in params.items()}
    with torch.no_grad():
        ev = evaluate(definition, tensors, choices, settings.n_eval_samples, gen, dtype=dtype)
        loss = float(scalarization(ev.objectives) + _penalty(definition, ev, settings.constraint_penalty))
    return ev, loss


def _check_first_gradient(
    definition: StudyDefinition, params: dict[str, torch.Tensor], loss: torch.Tensor
) -> None:
    names = list(params)
    if not names or not loss.requires_grad:
        warn_no_gradient(names)
        return
    grads = torch.autograd.grad(loss, [params[n] for n in names], retain_graph=True, allow_unused=True)
    warn_no_gradient([n for n, g in zip(names, grads, strict=True) if g is None])


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
        run = _run_lbfgs
    else:
        run = _run_adam
    try:
        params, traj, n_calls, n_backward, converged = run(
            definition, choices, scalarization, settings, seed, start, dev
        )
        ev, loss = _final_evaluation(definition, params, choices, scalarization, settings, seed, dev)
    finally:
        _set_mode(definition, training=False)
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
        ev, loss = _final_evaluation(
            definition, values, choices, scalarization, settings, seed, torch.device(device)
        )
    finally:
        _set_mode(definition, training=False)
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


def _run_adam(
    definition: StudyDefinition,
    choices: dict[str, Any],
    scalarization: Scalarization,
    settings: InnerSettings,
    seed: int,
    start: dict[str, float],
    dev: torch.device,
) -> tuple[dict[str, float], list[TrajectoryStep], int, int, bool]:
    space = definition.space
    dtype = settings.torch_dtype
    if not space.inner:
        return {}, [], 0, 0, True
    u = space.to_unconstrained(start, dtype=dtype, device=dev).clone().requires_grad_(True)
    # beta2 = 0.99 (not 0.999): one large gradient (a constraint penalty overshoot) then decays
    # from Adam's second-moment estimate in ~100 steps instead of ~1000, so steps do not freeze
    opt = torch.optim.Adam([u], lr=settings.lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=settings.max_steps, eta_min=settings.lr * settings.lr_final_fraction
    )
    gen = torch.Generator(device=dev)
    traj: list[TrajectoryStep] = []
    ema: float | None = None
    best = best_any = math.inf
    best_u = u.detach().clone()
    since_best = 0
    n_calls = n_backward = 0
    converged = False
    _set_mode(definition, training=True)
    for step in range(settings.max_steps):
        gen.manual_seed(step_seed(seed, step))
        params = space.from_unconstrained(u)
        ev = evaluate(definition, params, choices, settings.n_samples, gen, dtype=dtype)
        n_calls += 1
        loss = scalarization(ev.objectives) + _penalty(definition, ev, settings.constraint_penalty)
        if step == 0:
            _check_first_gradient(definition, params, loss)
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:
            loss.backward()
            n_backward += 1
        if u.grad is None:
            u.grad = torch.zeros_like(u)
        if not torch.all(torch.isfinite(u.grad)):
            bad = [n for n, g in zip(space.inner_names, u.grad.tolist(), strict=True) if not math.isfinite(g)]
            raise SimulationError(f"non-finite gradient for parameters {bad} at step {step}")
        value = float(loss.detach())
        evaluated_u = u.detach().clone()
        if step % settings.record_every == 0:
            traj.append(
                TrajectoryStep(
                    step=step,
                    loss=value,
                    objectives=_objective_list(ev),
                    params={k: float(v.detach()) for k, v in params.items()},
                )
            )
        opt.step()
        sched.step()
        ema = value if ema is None else 0.8 * ema + 0.2 * value
        if ema < best_any:
            best_any, best_u = ema, evaluated_u
        if ema < best - settings.tol * max(1.0, abs(best) if math.isfinite(best) else 1.0):
            best, since_best = ema, 0  # a significant improvement restarts the patience
        else:
            since_best += 1
            if since_best >= settings.patience:
                converged = True
                break
    # return the step with the best smoothed loss, not the last one: after a detour (a penalty
    # overshoot, a noisy stretch) the patience may run out before the loss has recovered
    with torch.no_grad():
        final = {k: float(v) for k, v in space.from_unconstrained(best_u).items()}
    # the logistic map can round onto a bound in floating point; keep values inside
    final = {p.name: min(max(final[p.name], p.low), p.high) for p in space.inner}
    return final, traj, n_calls, n_backward, converged


class _BudgetSpent(Exception):
    """``max_steps`` simulator calls spent inside an L-BFGS-B run."""


def _run_lbfgs(
    definition: StudyDefinition,
    choices: dict[str, Any],
    scalarization: Scalarization,
    settings: InnerSettings,
    seed: int,
    start: dict[str, float],
    dev: torch.device,
) -> tuple[dict[str, float], list[TrajectoryStep], int, int, bool]:
    space = definition.space
    dtype = settings.torch_dtype
    if not space.inner:
        return {}, [], 0, 0, True
    # L-BFGS-B in unit-cube coordinates inside a moving trust region: each sub-run may move every
    # coordinate by at most TRUST_RADIUS, and the region is re-centred until the optimum lies
    # strictly inside it. Plain L-BFGS-B in the whole box lets its first projected steps land on
    # faces where ZDT2 and DTLZ2 have spurious stationary points (zero slope of one objective),
    # and it stays there; in the logistic reparametrisation quasi-Newton steps blow up along
    # saturating coordinates and stick to a bound. The trust region follows the descent path.
    t_cur = np.array(
        [float(p._to_unit(torch.tensor(start[p.name], dtype=torch.float64))) for p in space.inner]
    )
    gen = torch.Generator(device=dev)
    fixed_seed = step_seed(seed, 0)  # one fixed sample: common random numbers
    traj: list[TrajectoryStep] = []
    counters = {"calls": 0, "backward": 0}
    _set_mode(definition, training=True)

    best = {"loss": math.inf, "t": t_cur}

    def fun(t_np: np.ndarray) -> tuple[float, np.ndarray]:
        if counters["calls"] >= settings.max_steps:
            raise _BudgetSpent  # scipy's maxfun may be overrun by a line search; the cap is exact
        t = torch.tensor(np.clip(t_np, 0.0, 1.0), dtype=dtype, device=dev, requires_grad=True)
        params = {p.name: p._from_unit(t[i]) for i, p in enumerate(space.inner)}
        gen.manual_seed(fixed_seed)
        ev = evaluate(definition, params, choices, settings.n_samples, gen, dtype=dtype)
        loss = scalarization(ev.objectives) + _penalty(definition, ev, settings.constraint_penalty)
        if counters["calls"] == 0:
            _check_first_gradient(definition, params, loss)
        counters["calls"] += 1
        if loss.requires_grad:
            loss.backward()
            counters["backward"] += 1
        grad = t.grad.detach().cpu().numpy().astype(float) if t.grad is not None else np.zeros(len(t_np))
        if not np.all(np.isfinite(grad)):
            raise SimulationError(f"non-finite gradient at parameters {params}")
        value = float(loss.detach())
        if value < best["loss"]:  # one fixed sample: values at different points compare exactly
            best.update(loss=value, t=np.clip(t_np, 0.0, 1.0))
        traj.append(
            TrajectoryStep(
                step=len(traj),
                loss=value,
                objectives=_objective_list(ev),
                params={k: float(v.detach()) for k, v in params.items()},
            )
        )
        return value, grad

    converged = False
    for _ in range(_MAX_TRUST_ROUNDS):
        lo = np.maximum(0.0, t_cur - _TRUST_RADIUS)
        hi = np.minimum(1.0, t_cur + _TRUST_RADIUS)
        remaining = settings.max_steps - counters["calls"]
        if remaining < 1:
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
                    "ftol": settings.tol * 1e-3,
                    "gtol": 1e-10,
                },
            )
        except _BudgetSpent:
            t_cur = best["t"]
            break
        t_new = np.clip(res.x, 0.0, 1.0)
        on_edge = ((np.abs(t_new - lo) < 1e-9) & (lo > 0.0)) | ((np.abs(t_new - hi) < 1e-9) & (hi < 1.0))
        t_cur = t_new
        if not on_edge.any():
            converged = bool(res.success)
            break
    final = {
        p.name: min(max(float(p._from_unit(torch.tensor(t_cur[i], dtype=torch.float64))), p.low), p.high)
        for i, p in enumerate(space.inner)
    }
    return final, traj, counters["calls"], counters["backward"], converged


def resolve_normalization(
    definition: StudyDefinition,
    choices: Mapping[str, Any] | None = None,
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[Normalization, list[InnerResult]]:
    """The normalisation for ``definition``: its own ``ideal`` / ``nadir`` when given, else
    estimated from anchor runs (one inner loop per objective, nearly all weight on it) on
    ``choices`` (default: the middle of the space, :meth:`DesignSpace.default_outer`).
    Returns the anchor results too, so a runner can store them as trials rather than waste
    their simulator calls."""
    signs = definition.signs
    if definition.ideal is not None and definition.nadir is not None:
        return Normalization(definition.ideal, definition.nadir, signs), []
    if choices is None:
        choices = definition.space.default_outer()
    m = len(definition.objectives)
    identity = Normalization.identity(signs)
    anchors = []
    for k in range(m):
        w = [1e-3] * m
        w[k] = 1.0
        anchors.append(
            optimize_inner(
                definition, choices, WeightedSum(w, identity), settings=settings, seed=seed + k, device=device
            )
        )
    points = np.array([a.objective_vector(definition.objective_names) for a in anchors])
    norm = Normalization.from_points(points, signs)
    if definition.ideal is not None:
        norm = Normalization(definition.ideal, norm.nadir, signs)
    if definition.nadir is not None:
        norm = Normalization(norm.ideal, definition.nadir, signs)
    return norm, anchors
