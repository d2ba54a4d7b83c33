"""One fixed-sample solve inside a moving trust region, stopped by a convergence test: the core
of the ``exact`` and ``lbfgs`` modes.

The solve works in the unit box of the differentiable parameters, inside a trust region of 0.15
of each range that is re-centred (and doubled) until the solution lies strictly inside it (see
docs/design.md, "Inner loop decisions": unrestricted first steps land on faces of the box where
ZDT2 and DTLZ2 have spurious stationary points). Inside each region:

* an **augmented Chebyshev** scalarisation ``max_i w_i (z_i + u) + rho sum_i z_i`` is solved in
  its epigraph form with scipy's SLSQP: minimise ``s + rho sum_i z_i(t) + penalty(t)`` subject
  to ``s >= w_i (z_i(t) + u)``, with the objectives' Jacobian from one simulator call (m backward
  passes). The optimum of a Chebyshev scalarisation lies on the kink of its max, where
  quasi-Newton methods on a smoothed max need 2-3 times the calls (measured: 27 against 8 on a
  smooth three-parameter study); the epigraph has no kink. Points compare by the exact
  (unsmoothed) value.
* the study's **constraints** as hard constraints of SLSQP (their scaled slacks >= 0, with the
  Jacobian from the same call), in the epigraph and, for any other loss, in place of L-BFGS-B.
  The quadratic penalty alone makes a solver crawl along an active constraint (measured: 89
  calls for a tracker's length-limited anchor, most of them zig-zagging across the boundary);
  it stays in the loss and the merit, so points off the boundary still compare as before, and a
  region whose linearised constraints cannot be met (an infeasible start far from the feasible
  set) is solved on the penalty alone.
* any other loss (weighted sums, budgets, anchors) with scipy's L-BFGS-B, stopped by a
  **projected-gradient** test ``max_i |clip(t - g, 0, 1) - t|_i <= g_tol`` (a trust-region
  edge never passes it: the gradient there still points out of the region) or a **step-size**
  test (no coordinate moved by more than ``X_TOL`` and the loss fell by at most a tenth of its
  Monte Carlo standard error on this sample, or by rounding only on an exact one).

A region's solve that has lowered the merit also ends, converged, once ``STALL_EVALUATIONS``
calls in a row lower it by less than ``MERIT_TOL`` of its first-order scale (an ftol test
across line searches: at a singular gradient, a square-root kink at a bound, no
projected-gradient test passes). A solve also stops when the budget (``max_steps`` calls) is
spent, or with ``no_progress`` when a line search fails, ``STALL_ITERATIONS`` SLSQP iterations
in a row find no better point, or the region was re-centred ``_MAX_TRUST_ROUNDS`` times. It
returns the best point evaluated (one fixed sample: values compare exactly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize

from paretoopt.inner.result import CONVERGED, MAX_STEPS, NO_PROGRESS
from paretoopt.inner.sample import BudgetSpent, Point, Run, projected_gradient
from paretoopt.inner.stationarity import chebyshev_stationarity, kkt_stationarity, largest_term_subgradient
from paretoopt.scalarize import AugmentedChebyshev

#: The most a sub-run may move a coordinate (fraction of its range).
TRUST_RADIUS = 0.15
_MAX_TRUST_ROUNDS = 50
#: Step-size test: the largest coordinate move (unit box) an iteration may make and still count
#: as "not moving".
X_TOL = 1e-7
#: A best point this close (unit box) to its trust region's edge is on it (SLSQP stops up to
#: ~1e-7 inside a bound it runs into; 1e-9 read such a point as an interior stop and ended the
#: solve there with SLSQP's status).
EDGE_TOL = 1e-6
#: The share of the loss's standard error below which a decrease resolves nothing on a sample.
NOISE_SHARE = 0.1
#: SLSQP iterations in a row that do not lower the best value before a solve stops with
#: ``no_progress`` (its line search backtracks without end when the gradient does not describe
#: the loss, e.g. a detached piece of the simulation).
STALL_ITERATIONS = 10
#: The ftol test across line searches: a trust region's solve that has lowered the merit by more
#: than the tolerance stops as converged once ``STALL_EVALUATIONS`` evaluations in a row lower
#: it by less, the tolerance being ``MERIT_TOL`` of the merit's first-order scale (the decrease
#: the first gradient promises over one trust region, at most 1 in normalised units); a best
#: point on the region's edge still moves the region. Against a square-root kink at a bound
#: (ZDT1's ``sqrt(f1)`` family at its extreme, the optimum at x = 2.5e-7) SLSQP's line searches
#: kept winning 1e-7 of merit for 36 calls after reaching it to 2.5e-7.
STALL_EVALUATIONS = 8
MERIT_TOL = 1e-5


@dataclass(frozen=True)
class Solve:
    """The outcome of one fixed-sample solve: the best point and its merit (the value the solver
    minimises), the first point (the start on this sample) and its merit, why it stopped."""

    best: Point
    best_merit: float
    first: Point
    first_merit: float
    reason: str


@dataclass
class _Best:
    """The best point a solve has evaluated, its merit, and the ftol test's state in the current
    trust region: the merit at its start, that of the last decrease by more than ``tol`` and the
    evaluations since."""

    point: Point
    merit: float
    tol: float = 0.0
    start: float = 0.0
    mark: float = 0.0
    idle: int = 0


class _Stalled(Exception):
    """:data:`STALL_EVALUATIONS` evaluations in a row lowered the best merit by less than the
    solve's tolerance."""


def uses_epigraph(run: Run) -> bool:
    """True when the loop's scalarisation is solved in epigraph form (augmented Chebyshev)."""
    return isinstance(run.scalarization, AugmentedChebyshev)


def constrained(run: Run) -> bool:
    """True when the study has constraints (solved as hard constraints of SLSQP)."""
    return bool(run.definition.constraints)


def merit(run: Run, p: Point) -> float:
    """What the solver minimises at ``p``: the exact (unsmoothed) Chebyshev value plus the
    penalty for the epigraph solver, the loss otherwise."""
    sc = run.scalarization
    if isinstance(sc, AugmentedChebyshev) and p.z is not None:
        w = sc.weights.numpy()
        return float(np.max(w * (p.z + sc.utopia_offset)) + sc.rho * np.sum(p.z) + p.pen)
    return p.value


def point(run: Run, t: np.ndarray, seed: int, n: int) -> Point:
    """One evaluation with what :func:`solve` needs for the loop's scalarisation."""
    return run.loss(t, seed, n, parts=uses_epigraph(run) or constrained(run))


def solve(
    run: Run,
    t0: np.ndarray,
    seed: int,
    n_samples: int,
    *,
    g_tol: float,
    first: Point | None = None,
) -> Solve:
    """Minimise on the sample ``(seed, n_samples)`` from ``t0`` (see the module docstring).
    ``first``: the point at ``t0`` on this sample (from :func:`point`) when the caller has it.

    Raises:
        BudgetSpent: the budget was spent before the first evaluation.
        NonFiniteError: the simulation or its gradient was not finite.
    """
    epigraph = uses_epigraph(run)
    cache: dict[bytes, Point] = {}
    if first is None:
        first = point(run, t0, seed, n_samples)
    cache[first.t.tobytes()] = first
    first_merit = merit(run, first)
    state = _Best(first, first_merit, merit_tol(run, first))

    def at(x: np.ndarray) -> Point:
        key = np.clip(x, 0.0, 1.0).tobytes()
        p = cache.get(key)
        if p is None:
            p = point(run, x, seed, n_samples)
            cache[key] = p
            m = merit(run, p)
            if m < state.merit:
                state.point, state.merit = p, m
            if state.merit < state.mark - state.tol:
                state.mark, state.idle = state.merit, 0
            else:
                state.idle += 1
                if state.idle >= STALL_EVALUATIONS and state.mark < state.start:
                    raise _Stalled
        return p

    hard = constrained(run)
    sub = _epigraph_round if epigraph else _slsqp_round if hard else _lbfgs_round
    f_tol = NOISE_SHARE * first.stderr
    reason = NO_PROGRESS
    if not epigraph and not hard and _stationary(first, g_tol):
        reason = CONVERGED
    else:
        t_cur = first.t
        radius = TRUST_RADIUS
        for _ in range(_MAX_TRUST_ROUNDS):
            lo = np.maximum(0.0, t_cur - radius)
            hi = np.minimum(1.0, t_cur + radius)
            before = state.merit
            state.start, state.mark, state.idle = state.merit, state.merit, 0
            try:
                _, status = sub(at, lambda: state.merit, t_cur, lo, hi, run, g_tol, f_tol)
            except BudgetSpent:
                reason = MAX_STEPS
                break
            except _Stalled:
                # the ftol test ends the region's solve; on its edge the region still moves
                status = CONVERGED
            t_best = state.point.t
            on_edge = ((np.abs(t_best - lo) < EDGE_TOL) & (lo > 0.0)) | (
                (np.abs(t_best - hi) < EDGE_TOL) & (hi < 1.0)
            )
            if on_edge.any() and state.merit < before:
                # the region's edge held the descent: re-centre it there, twice as large (the
                # descent keeps its direction; a face it reaches is checked afterwards)
                t_cur, radius = t_best, min(2.0 * radius, 1.0)
                continue
            reason = status if not on_edge.any() else NO_PROGRESS
            break
    return Solve(state.point, state.merit, first, first_merit, reason)


def merit_tol(run: Run, p: Point) -> float:
    """The ftol test's tolerance from the start ``p`` (:data:`MERIT_TOL`): a share of the
    decrease the first-order model promises over one trust region, ``TRUST_RADIUS`` times the
    largest projected (sub)gradient component, capped at 1 (normalised units: the front's
    range) against a singular gradient; the Monte Carlo noise share when larger. 0 for a start
    that is already stationary (SLSQP's own tests decide there)."""
    g = largest_term_subgradient(run, p) if uses_epigraph(run) else p.grad
    size = float(np.max(np.abs(projected_gradient(p.t, g)), initial=0.0))
    return max(MERIT_TOL * min(TRUST_RADIUS * size, 1.0), NOISE_SHARE * p.stderr)


def _stationary(p: Point, g_tol: float) -> bool:
    return float(np.max(np.abs(projected_gradient(p.t, p.grad)), initial=0.0)) <= g_tol


def _lbfgs_round(
    at: Callable[[np.ndarray], Point],
    best: Callable[[], float],
    t_cur: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    run: Run,
    g_tol: float,
    f_tol: float,
) -> tuple[np.ndarray, str]:
    """L-BFGS-B inside ``[lo, hi]``: the point it stopped at and the reason."""
    last = [at(t_cur)]
    halted = [False]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        p = at(x)
        return p.value, p.grad

    def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        p = at(intermediate_result.x)
        prev, last[0] = last[0], p
        small_step = float(np.max(np.abs(p.t - prev.t), initial=0.0)) <= X_TOL
        small_gain = prev.value - p.value <= max(f_tol, 1e-15 * max(1.0, abs(p.value)))
        if _stationary(p, g_tol) or (small_step and small_gain):
            halted[0] = True
            raise StopIteration

    res = scipy.optimize.minimize(
        fun,
        t_cur,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi, strict=True)),
        callback=callback,
        options={"maxiter": 10**6, "maxfun": 10**6, "ftol": 1e-15, "gtol": 0.0},
    )
    t_new = np.clip(res.x, 0.0, 1.0)
    if halted[0]:
        return t_new, CONVERGED
    # scipy stopped by itself: a vanished gradient or a decrease at rounding level, or a failed
    # line search
    return t_new, CONVERGED if res.status == 0 or _stationary(at(t_new), g_tol) else NO_PROGRESS


def _slack(at: Callable[[np.ndarray], Point], t: np.ndarray) -> np.ndarray:
    p = at(t)
    assert p.g is not None
    return p.g


def _slack_jac(at: Callable[[np.ndarray], Point], t: np.ndarray, extra: int = 0) -> np.ndarray:
    """The slacks' Jacobian at ``t``, with ``extra`` zero columns (the epigraph's ``s``)."""
    p = at(t)
    assert p.jg is not None
    return np.hstack([p.jg, np.zeros((p.jg.shape[0], extra))])


def _slsqp(
    fun: Callable[[np.ndarray], float],
    x0: np.ndarray,
    jac: Callable[[np.ndarray], np.ndarray],
    bounds: list[tuple[float | None, float | None]],
    own: list[dict[str, Any]],
    study: list[dict[str, Any]],
    callback: Callable[[scipy.optimize.OptimizeResult], None],
    ftol: float,
) -> scipy.optimize.OptimizeResult:
    """scipy's SLSQP with the solver's ``own`` constraints and the ``study``'s; when the region's
    linearised constraints cannot all be met (status 4: an infeasible start far from the
    feasible set), solved again without the study's, on the penalty alone."""
    opts = {"maxiter": 10**4, "ftol": ftol}
    kw: dict[str, Any] = {
        "jac": jac,
        "method": "SLSQP",
        "bounds": bounds,
        "callback": callback,
        "options": opts,
    }
    res = scipy.optimize.minimize(fun, x0, constraints=[*own, *study], **kw)
    if res.status == 4 and study:
        res = scipy.optimize.minimize(fun, x0, constraints=own, **kw)
    return res


def _stall_callback(best: Callable[[], float]) -> Callable[[scipy.optimize.OptimizeResult], None]:
    """An SLSQP callback that stops after :data:`STALL_ITERATIONS` iterations without a better
    point. SLSQP's iterates need not lower the loss (it trades it against the constraints'
    feasibility); what counts is whether any evaluation found a better point."""
    progress = {"best": best(), "idle": 0}

    def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        if best() < progress["best"]:
            progress["best"], progress["idle"] = best(), 0
        else:
            progress["idle"] += 1
            if progress["idle"] >= STALL_ITERATIONS:
                raise StopIteration

    return callback


def _slsqp_round(
    at: Callable[[np.ndarray], Point],
    best: Callable[[], float],
    t_cur: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    run: Run,
    g_tol: float,
    f_tol: float,
) -> tuple[np.ndarray, str]:
    """SLSQP on the loss with the study's constraints as hard constraints, inside ``[lo, hi]``:
    the point it stopped at and the reason."""
    v0 = at(t_cur).value
    res = _slsqp(
        lambda x: at(x).value,
        t_cur,
        lambda x: at(x).grad,
        list(zip(lo, hi, strict=True)),
        [],
        [{"type": "ineq", "fun": lambda x: _slack(at, x), "jac": lambda x: _slack_jac(at, x)}],
        _stall_callback(best),
        max(f_tol, 1e-4 * g_tol * max(1.0, abs(v0))),
    )
    t_new = np.clip(res.x, lo, hi)
    if res.success:
        return t_new, CONVERGED
    return t_new, CONVERGED if kkt_stationarity(at(t_new), at(t_new).grad) <= max(
        g_tol, 1e-4
    ) else NO_PROGRESS


def _step_scale(run: Run, p: Point) -> float:
    """The factor (>= 1) that gives the Chebyshev loss's subgradient at ``p`` a largest component
    of :data:`TRUST_RADIUS` per unit of the box. SLSQP's first step is the objective's gradient
    (identity Hessian): on a nearly flat loss (the shield's dose-only weight, where the dose is
    ~0 of its normalised range and only the 1e-3 augmentation pulls) it crept 1e-3 per step and
    took 15 calls to cross its first trust region. Scaling the loss (objectives, offset and
    penalty alike, so the epigraph keeps its shape) moves no optimum."""
    size = float(np.max(np.abs(projected_gradient(p.t, largest_term_subgradient(run, p))), initial=0.0))
    return float(np.clip(TRUST_RADIUS / size, 1.0, 1e6)) if size > 0 else 1.0


def _epigraph_round(
    at: Callable[[np.ndarray], Point],
    best: Callable[[], float],
    t_cur: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    run: Run,
    g_tol: float,
    f_tol: float,
) -> tuple[np.ndarray, str]:
    """SLSQP on the epigraph form inside ``[lo, hi]``: the point it stopped at and the reason."""
    sc = run.scalarization
    assert isinstance(sc, AugmentedChebyshev)
    w = sc.weights.numpy().astype(float)
    rho, offset = sc.rho, sc.utopia_offset
    d = len(t_cur)

    def parts(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """Normalised objectives, their Jacobian, the penalty and its gradient at ``v[:d]``."""
        p = at(v[:d])
        assert p.z is not None and p.jz is not None and p.gpen is not None
        return p.z, p.jz, p.pen, p.gpen

    # the problem is solved with the loss (objectives, offset, penalty) multiplied by kappa: the
    # same optimum in t, an epigraph variable kappa times larger
    kappa = _step_scale(run, at(t_cur))

    def objective(v: np.ndarray) -> float:
        z, _, pen, _ = parts(v)
        return float(v[d] + kappa * (rho * np.sum(z) + pen))

    def objective_grad(v: np.ndarray) -> np.ndarray:
        _, jz, _, gpen = parts(v)
        return np.append(kappa * (rho * jz.sum(axis=0) + gpen), 1.0)

    def epigraph(v: np.ndarray) -> np.ndarray:
        return v[d] - kappa * w * (parts(v)[0] + offset)

    def epigraph_jac(v: np.ndarray) -> np.ndarray:
        return np.hstack([-kappa * (w[:, None] * parts(v)[1]), np.ones((len(w), 1))])

    s0 = kappa * float(np.max(w * (parts(np.append(t_cur, 0.0))[0] + offset)))
    study = []
    if constrained(run):
        study = [
            {"type": "ineq", "fun": lambda v: _slack(at, v[:d]), "jac": lambda v: _slack_jac(at, v[:d], 1)}
        ]
    res = _slsqp(
        objective,
        np.append(t_cur, s0),
        objective_grad,
        [*zip(lo, hi, strict=True), (None, None)],
        [{"type": "ineq", "fun": epigraph, "jac": epigraph_jac}],
        study,
        _stall_callback(best),
        # SLSQP's ftol is absolute: the noise share on a Monte Carlo sample, else 1e-4 g_tol in
        # units of the loss (below that, iterates only dither at rounding level)
        kappa * max(f_tol, 1e-4 * g_tol * max(1.0, abs(s0) / kappa)),
    )
    t_new = np.clip(res.x[:d], lo, hi)
    if res.success:
        return t_new, CONVERGED
    # SLSQP's line search found no descent (status 8): at rounding level, or stuck. The
    # projected-gradient test of the max (its smallest projected subgradient) tells which.
    return t_new, CONVERGED if chebyshev_stationarity(run, at(t_new)) <= max(g_tol, 1e-4) else NO_PROGRESS
