"""The ``exact`` and ``lbfgs`` modes: fixed-sample solves (:mod:`paretoopt.inner.trust`), the
inner loop's known traps, and sample-size control for Monte Carlo simulations.

* ``exact`` (a deterministic simulation): one solve on one sample.
* ``lbfgs`` (a Monte Carlo simulation whose fixed-sample loss is smooth): retrospective
  approximation (Pasupathy 2010, "On choosing parameters in retrospective-approximation
  algorithms for stochastic root finding and simulation optimization", Oper. Res. 58, 889):
  solve on a fixed sample of ``n`` (common random numbers: differences between designs carry
  no sampling noise), then re-solve from that solution on a fresh sample four times larger,
  until the re-solve gains less than the loss's standard error on its sample (three of them for
  a Chebyshev loss, :data:`KINK_NOISE`; the step has shrunk below what the noise resolves:
  converged) or the sample reaches ``n_eval_samples``.
  The stage tolerance follows the sample (a step gaining less than a tenth of the noise ends a
  stage), so early stages are cheap and the sample grows as the step shrinks.

The traps, checked after the first solve: a warm start that did not move is solved again from
the centre of the box (the better of the two is kept; the 1 % margin of
:mod:`paretoopt.inner.loop` stays as the first defence), and a solution on a bound face whose
outward slope is (nearly) zero (ZDT2's and DTLZ2's spurious stationary points: a tiny local
minimum held by the Chebyshev augmentation) is probed with steps inward of 0.02, 0.1 and 0.3 of
the range (the two flattest such coordinates) and solved again from the first that lowers the
loss.
"""

from __future__ import annotations

import numpy as np

from paretoopt.inner.loss import step_seed
from paretoopt.inner.result import CONVERGED, MAX_STEPS
from paretoopt.inner.sample import BudgetSpent, Run
from paretoopt.inner.stationarity import chebyshev_subgradient
from paretoopt.inner.trust import Solve, merit, point, solve, uses_epigraph

#: A warm start that moved less than this (unit box) "did not move".
STUCK = 1e-6
#: A bound coordinate whose outward slope (loss per unit of the box) is below this fraction of
#: the loss is suspected to sit on a spurious stationary point of its face (on ZDT2's x1 = 0 the
#: slope is the Chebyshev augmentation's 1e-3 against a loss of ~0.5; a genuine bound optimum
#: has a slope of the loss's own order).
FACE_SLOPE = 1e-2
#: At most this many suspected coordinates (the smallest slopes) are probed per escape.
FACE_COORDS = 2
#: Inward steps (fraction of the range) tried from such a face.
FACE_STEPS = (0.02, 0.1, 0.3)
#: Each stage's sample is this many times the previous one.
GROWTH = 4
#: A Chebyshev stage has converged when the fresh sample's re-solve gains at most this many of
#: the loss's standard errors. Its optimum sits on the kink of the max, which the new sample's
#: noise moves linearly: the re-solve from the old kink gains up to the noise of the active
#: terms' difference, about twice the loss's linearised standard error there (the smoothed max
#: weighs each active term by 1/2). At one standard error the stages ran to the largest sample
#: on every trial of the user-style Monte Carlo detector (gains of 1.3-4 standard errors,
#: 2 calls a stage); a smooth loss's gain is quadratic in the noise and keeps the 1.
KINK_NOISE = 3.0


def escape_traps(run: Run, s: Solve, start: np.ndarray, warm: bool, seed: int, n: int, g_tol: float) -> Solve:
    """Apply the two trap checks of the module docstring to the converged solve ``s``; the best
    solve found, with reason ``"max_steps"`` when the budget ran out during the checks."""
    if s.reason != CONVERGED:
        return s
    found = [s]
    try:
        return _escape(run, found, start, warm, seed, n, g_tol)
    except BudgetSpent:
        best = found[-1]
        return Solve(best.best, best.best_merit, best.first, best.first_merit, MAX_STEPS)


def _escape(
    run: Run, found: list[Solve], start: np.ndarray, warm: bool, seed: int, n: int, g_tol: float
) -> Solve:
    s = found[-1]
    centre = run.unit(run.definition.space.default_inner())
    if warm and np.max(np.abs(s.best.t - start), initial=0.0) <= STUCK:
        again = solve(run, centre, seed, n, g_tol=g_tol)
        if again.best_merit < s.best_merit:
            s = again
            found.append(s)
    for _ in range(2):  # at most two escapes: each costs calls
        p = s.best
        limit = FACE_SLOPE * max(abs(s.best_merit), 1e-12)
        # a Chebyshev loss's slopes from the subgradient its optimum's multipliers give (the
        # smoothed max's gradient weighs the active terms by its softmax instead)
        grad = chebyshev_subgradient(run, p) if uses_epigraph(run) else p.grad
        outward = np.where(p.t <= 1e-12, grad, np.where(p.t >= 1.0 - 1e-12, -grad, np.inf))
        suspects = [i for i in np.argsort(outward, kind="stable")[:FACE_COORDS] if outward[i] <= limit]
        escaped = False
        for i in suspects:
            for delta in FACE_STEPS:
                t = p.t.copy()
                t[i] = delta if p.t[i] <= 1e-12 else 1.0 - delta
                q = point(run, t, seed, n)
                if merit(run, q) < s.best_merit - q.stderr:
                    again = solve(run, t, seed, n, g_tol=g_tol, first=q)
                    if again.reason == CONVERGED and again.best_merit < s.best_merit:
                        s, escaped = again, True
                        found.append(s)
                    break
            if escaped:
                break
        if not escaped:
            break
    return s


def run_stages(
    run: Run,
    start: np.ndarray,
    seed: int,
    *,
    warm: bool,
    n_samples: int,
    n_max: int,
    grow: bool,
    g_tol: float,
) -> tuple[np.ndarray, str]:
    """The ``exact`` (``grow=False``, one sample) or ``lbfgs`` mode from ``start`` (unit box):
    the final point and the stop reason (see the module docstring)."""
    n = n_samples
    stage = 0
    try:
        s = solve(run, start, step_seed(seed, 0), n, g_tol=g_tol)
    except BudgetSpent:
        return start, MAX_STEPS
    s = escape_traps(run, s, start, warm, step_seed(seed, 0), n, g_tol)
    while grow and s.reason == CONVERGED and n < n_max:
        stage += 1
        n = min(GROWTH * n, n_max)
        try:
            nxt = solve(run, s.best.t, step_seed(seed, stage), n, g_tol=g_tol)
        except BudgetSpent:
            return s.best.t, MAX_STEPS
        gain = nxt.first_merit - nxt.best_merit
        s = nxt
        noise = (KINK_NOISE if uses_epigraph(run) else 1.0) * nxt.first.stderr
        if nxt.reason == CONVERGED and gain <= noise:
            break  # the larger sample moves the solution by less than its noise
    return s.best.t, s.reason
