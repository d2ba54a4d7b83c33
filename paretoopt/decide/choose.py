"""Choosing one design of the stored front: under a budget (best value of one objective with
bounds on the others), or nearest an aspiration (the reference-point method with the augmented
Chebyshev achievement function). Both pick among existing designs only, so on a front of mixed
discrete choices no answer is a design that does not exist; designs within one standard error
of the chosen one on the question asked are reported as ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from paretoopt.decide.front import (
    Decision,
    DecisionError,
    DecisionFront,
    InfeasibleBudgetError,
    tied_with,
)

#: Augmentation of the Chebyshev achievement function (Wierzbicki 1980; Miettinen 1999, ch. 3.5):
#: small enough not to change which design is nearest, large enough to rule out weakly
#: Pareto-optimal answers.
RHO = 1e-4
#: Perturbation of each aspiration, as a fraction of the front's range, for the neighbours.
PERTURBATION = 0.1

Bound = float | tuple[float | None, float | None]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def parse_bounds(front: DecisionFront, bounds: Mapping[str, Bound]) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` per criterion from ``{name: bound}``: a number bounds the worse side of
    the criterion (upper for a minimised one, lower for a maximised one), a pair is
    ``(lower, upper)`` with ``None`` for an open side."""
    k = len(front.criteria)
    lo, hi = np.full(k, -np.inf), np.full(k, np.inf)
    for name, b in bounds.items():
        j = front.index(name)
        if isinstance(b, tuple):
            lo[j] = -np.inf if b[0] is None else float(b[0])
            hi[j] = np.inf if b[1] is None else float(b[1])
        elif front.criteria[j].sign > 0:
            hi[j] = float(b)
        else:
            lo[j] = float(b)
    return lo, hi


def _violation(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How far each design misses each bound (0 when met), in the criterion's unit."""
    return np.maximum(lo - values, 0.0) + np.maximum(values - hi, 0.0)


def _infeasible(front: DecisionFront, lo: np.ndarray, hi: np.ndarray) -> InfeasibleBudgetError:
    """The error for bounds no design meets: per bound, the smallest move of that bound alone
    that admits a design (holding the others), else the nearest design's misses."""
    viol = np.nan_to_num(_violation(front.values, lo, hi), nan=np.inf)
    bounded = np.flatnonzero(np.isfinite(lo) | np.isfinite(hi))
    relax: dict[str, float] = {}
    parts: list[str] = []
    for j in bounded:
        others = [b for b in bounded if b != j]
        ok = np.all(viol[:, others] == 0, axis=1) if others else np.ones(len(front), dtype=bool)
        if ok.any():
            rows = np.flatnonzero(ok)
            near = int(rows[np.argmin(viol[rows, j])])
            amount = float(viol[near, j])
            c = front.criteria[j]
            relax[c.name] = amount
            limit = hi[j] + amount if front.values[near, j] > hi[j] else lo[j] - amount
            parts.append(f"{c.name} by {_fmt(amount)} {c.unit or ''}".rstrip() + f" (to {_fmt(limit)})")
    if parts:
        msg = "no front design meets every bound; relax " + " or ".join(parts)
    else:
        scale = np.where(np.isfinite(front.values).all(0), np.ptp(front.values, axis=0), 1.0)
        scale[scale == 0] = 1.0
        near = int(np.argmin((viol / scale).sum(axis=1)))
        misses = [
            f"{front.criteria[j].name} by {_fmt(viol[near, j])} {front.criteria[j].unit or ''}".rstrip()
            for j in bounded
            if viol[near, j] > 0
        ]
        relax = {front.criteria[j].name: float(viol[near, j]) for j in bounded if viol[near, j] > 0}
        msg = (
            "no front design meets every bound, and no single bound can be relaxed alone; the "
            f"nearest design (trial {int(front.numbers[near])}) misses " + ", ".join(misses)
        )
    return InfeasibleBudgetError(msg, relax)


def budget(
    front: DecisionFront,
    bounds: Mapping[str, Bound],
    objective: str | None = None,
    *,
    n_neighbours: int = 3,
    k_sigma: float = 1.0,
) -> Decision:
    """The best design for ``objective`` among the front designs that meet ``bounds`` ("best
    resolution for at most 2000 kEUR and 40 cm depth"), with up to ``n_neighbours`` runner-ups.

    ``bounds``: ``{criterion: bound}`` in the criterion's unit (see :func:`parse_bounds`); a
    criterion is an objective or a constraint. ``objective`` defaults to the first objective
    without a bound. Designs whose ``objective`` is within ``k_sigma`` combined standard errors
    of the best are ties (:attr:`Decision.ties`), never ranked; runner-ups exclude them.

    Raises:
        UnknownObjectiveError: a name the study does not have.
        EmptyFrontError: no design on the front.
        InfeasibleBudgetError: no design meets every bound (says which bound to relax, by how much).
    """
    front.require_nonempty()
    if not bounds:
        raise DecisionError("a budget needs at least one bound, e.g. {'cost': 2000}")
    lo, hi = parse_bounds(front, bounds)
    if objective is None:
        free = [
            n for j, n in enumerate(front.objective_names) if not (np.isfinite(lo[j]) or np.isfinite(hi[j]))
        ]
        if not free:
            raise DecisionError("every objective is bounded: say which one to optimise")
        objective = free[0]
    j = front.index(objective, objective_only=True)
    viol = _violation(front.values, lo, hi)
    feasible = np.flatnonzero(np.all(viol == 0, axis=1))
    if not len(feasible):
        raise _infeasible(front, lo, hi)
    score = front.values[:, j] * front.criteria[j].sign
    se = front.stderr[:, j]
    order = feasible[np.lexsort((front.numbers[feasible], score[feasible]))]
    best = int(order[0])
    ties = tied_with(score, se, best, order, k_sigma)
    rest = [int(i) for i in order[1:] if i not in set(ties.tolist())]
    notes = _marginal_notes(front, order, lo, hi)
    return Decision(
        method="budget",
        design=front.design(best),
        ties=tuple(int(front.numbers[i]) for i in ties),
        neighbours=tuple(int(front.numbers[i]) for i in rest[:n_neighbours]),
        inputs={"objective": objective, "bounds": {k: _jsonable(v) for k, v in bounds.items()}},
        score=float(front.values[best, j]),
        score_stderr=float(se[best]),
        notes=tuple(notes),
    )


def _jsonable(b: Bound) -> Any:
    return list(b) if isinstance(b, tuple) else float(b)


def _marginal_notes(front: DecisionFront, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[str]:
    """Feasible designs that meet a bound by less than one standard error (the Monte Carlo noise
    could put them on either side)."""
    notes = []
    for i in rows[:5]:
        for j in np.flatnonzero(np.isfinite(lo) | np.isfinite(hi)):
            margin = min(front.values[i, j] - lo[j], hi[j] - front.values[i, j])
            if front.stderr[i, j] > 0 and margin < front.stderr[i, j]:
                notes.append(
                    f"trial {int(front.numbers[i])} meets the {front.criteria[j].name} bound by "
                    f"{_fmt(margin)}, less than its standard error {_fmt(front.stderr[i, j])}"
                )
    return notes


def achievement(
    front: DecisionFront, aspiration: np.ndarray, *, rho: float = RHO
) -> tuple[np.ndarray, np.ndarray]:
    """Augmented Chebyshev achievement of every design for the oriented ``aspiration`` (all
    objectives minimised, scaled by the front's ideal-nadir range) and its standard error by
    linear propagation of the designs' standard errors."""
    g = front.oriented()
    ideal, nadir = front.ideal_nadir()
    span = nadir - ideal
    w = 1.0 / np.where(span > 0, span, 1.0)
    d = w * (g - aspiration)
    top = np.argmax(d, axis=1)
    s = d[np.arange(len(d)), top] + rho * d.sum(axis=1)
    grad = np.broadcast_to(rho * w, g.shape).copy()
    grad[np.arange(len(d)), top] += w[top]
    se = np.sqrt(((grad * front.stderr[:, : front.n_objectives]) ** 2).sum(axis=1))
    return s, se


def oriented_aspiration(front: DecisionFront, aspiration: Mapping[str, float]) -> np.ndarray:
    """The aspiration as an oriented vector; an objective it leaves out is set to the front's
    nadir (no wish on it: it only breaks ties through the augmentation)."""
    _, nadir = front.ideal_nadir()
    z = nadir.copy()
    for name, value in aspiration.items():
        j = front.index(name, objective_only=True)
        z[j] = float(value) * front.criteria[j].sign
    return z


def reference_point(
    front: DecisionFront,
    aspiration: Mapping[str, float],
    *,
    n_neighbours: int = 3,
    rho: float = RHO,
    perturbation: float = PERTURBATION,
    k_sigma: float = 1.0,
) -> Decision:
    """Project the ``aspiration`` ({objective: value}, natural units) onto the front: the design
    that minimises the augmented Chebyshev achievement function (scaled by the front's
    ideal-nadir range), and as neighbours the answers to aspirations moved by ``perturbation``
    of the range up and down in each objective. Designs whose achievement is within
    ``k_sigma`` combined standard errors of the chosen one's are ties.

    Raises UnknownObjectiveError, EmptyFrontError."""
    front.require_nonempty()
    if not aspiration:
        raise DecisionError("a reference point needs at least one aspiration, e.g. {'cost': 1500}")
    z = oriented_aspiration(front, aspiration)
    s, se = achievement(front, z, rho=rho)
    order = np.lexsort((front.numbers, s))
    best = int(order[0])
    ties = tied_with(s, se, best, order, k_sigma)
    skip = {best, *ties.tolist()}
    ideal, nadir = front.ideal_nadir()
    step = perturbation * np.where(nadir > ideal, nadir - ideal, 1.0)
    neighbours: list[int] = []
    for j in range(front.n_objectives):
        for sgn in (-1.0, 1.0):
            zz = z.copy()
            zz[j] += sgn * step[j]
            sp, _ = achievement(front, zz, rho=rho)
            i = int(np.lexsort((front.numbers, sp))[0])
            if i not in skip:
                skip.add(i)
                neighbours.append(i)
    return Decision(
        method="reference",
        design=front.design(best),
        ties=tuple(int(front.numbers[i]) for i in ties),
        neighbours=tuple(int(front.numbers[i]) for i in neighbours[:n_neighbours]),
        inputs={"aspiration": {k: float(v) for k, v in aspiration.items()}},
        score=float(s[best]),
        score_stderr=float(se[best]),
    )
