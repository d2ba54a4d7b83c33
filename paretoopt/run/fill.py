"""Filling the front's gaps: designs halfway between neighbouring front trials, one call each.

An inner loop places one front point for a handful of calls; between two neighbouring front
points of the same discrete combination, the design halfway between theirs is, wherever the
Pareto set is smooth and nearly flat between them, close to the front's point halfway between
them, for a single evaluation (no inner loop). :func:`fill_proposals` proposes such designs
across the longest gaps of the current front: neighbours are the edges of the Delaunay
triangulation of the normalised non-dominated trials projected along ``(1, ..., 1)`` (the
projection is one-to-one on a non-dominated set; consecutive points for two objectives), the
longest edges first, each pair once.

Whether it pays is measured, not assumed: the share of calls (the engine's trials' and the
fills', anchors left out) a study spends on fills is ``fill`` times the fraction of its last
:data:`FILL_WINDOW` fills that are on the front now (:func:`fill_rate`; where the Pareto set is
disconnected or sharply curved the halfway designs are dominated, and the fills dwindle to a
trickle). Fills are trials of source ``interpolated`` with the usual final evaluation
(review-grade, ``n_eval_samples`` on a Monte Carlo study), told to the engine like a
re-simulated design; the proposals are a function of the stored trials, so a resumed run fills
exactly as the uninterrupted one did.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from paretoopt import pareto
from paretoopt.problem import StudyDefinition
from paretoopt.scalarize import Normalization
from paretoopt.storage import FrozenTrial, TrialProposal
from paretoopt.trials import ANCHOR, INTERPOLATED, completed_feasible, design_key, trial_seed

#: Fills judged for the success rate (the fraction of them on the front now).
FILL_WINDOW = 20


def _projected(z: np.ndarray) -> np.ndarray:
    """Normalised objective vectors projected on the hyperplane orthogonal to ``(1, ..., 1)``,
    in an orthonormal basis of it (``m - 1`` coordinates)."""
    m = z.shape[1]
    q, _ = np.linalg.qr(np.vstack([np.ones(m), np.eye(m)[: m - 1]]).T)
    return z @ q[:, 1:]


def _chain(z: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive rows of ``z`` along its first column, as sorted index pairs."""
    order = np.argsort(z[:, 0], kind="stable")
    return sorted((int(min(a, b)), int(max(a, b))) for a, b in itertools.pairwise(order))


def neighbour_pairs(z: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of neighbours among the rows of ``z`` (normalised, non-dominated objective vectors):
    consecutive points along the first objective for two objectives, the edges of the Delaunay
    triangulation of the projection along ``(1, ..., 1)`` beyond (the chain again when that
    triangulation is degenerate)."""
    n, m = z.shape
    if n < 2 or m < 2:
        return []
    if m == 2 or n <= m:
        return _chain(z)
    from scipy.spatial import Delaunay, QhullError

    try:
        tri = Delaunay(_projected(z))
    except (QhullError, ValueError):  # all on one line / flat: fall back to the sorted chain
        return _chain(z)
    pairs = set()
    for simplex in tri.simplices:
        for a in range(len(simplex)):
            for b in range(a + 1, len(simplex)):
                i, j = int(simplex[a]), int(simplex[b])
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def _halfway(p: Any, a: float, b: float) -> float:
    """The value halfway between ``a`` and ``b`` in ``p``'s unit coordinates (geometric for a
    log-scaled parameter), clipped to its bounds."""
    v = math.sqrt(a * b) if p.log else 0.5 * (a + b)
    return min(max(v, p.low), p.high)


def _front(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    """The non-dominated set of the completed feasible ``trials``."""
    done = completed_feasible(trials)
    if not done:
        return []
    f = np.array([t.objectives for t in done], dtype=float)
    return [t for t, on in zip(done, pareto.non_dominated(f, directions), strict=True) if on]


def _rate(trials: Sequence[FrozenTrial], front: Sequence[FrozenTrial]) -> float:
    """:func:`fill_rate` with the front already found."""
    fills = sorted(
        (t for t in trials if t.source == INTERPOLATED and t.state.is_finished), key=lambda t: t.number
    )[-FILL_WINDOW:]
    on = {t.number for t in front}
    return (1 + sum(t.number in on for t in fills)) / (1 + len(fills))


def fill_rate(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> float:
    """Fraction of the last :data:`FILL_WINDOW` finished fills that lie on the non-dominated set
    of every completed feasible trial now, counting one success more (1 before any fill: a
    failed fill lowers the share of later ones, twenty failures to 1/21, and never to 0, so
    that a front that becomes fillable later is found out)."""
    return _rate(trials, _front(trials, directions))


def fill_proposals(
    definition: StudyDefinition,
    trials: Sequence[FrozenTrial],
    normalization: Normalization,
    fill: float,
    study_seed: int,
    limit: int = 1,
) -> list[TrialProposal]:
    """The fills to enqueue now: halfway designs across the longest not yet filled gaps between
    neighbouring front trials of one combination, at most ``limit`` (the runner's batch size:
    one at a time, each fill sees the last), no trial a parent twice, each with the mean of its
    parents' weights. None when the study's share of calls on fills is at its target (``fill`` x
    :func:`fill_rate`), or when as many fills as the front has points other than fills, less
    one, came in a row since the engine's last trial."""
    m = len(definition.objectives)
    params = {p.name: p for p in definition.space.inner}
    inner = list(params)
    if fill <= 0 or m < 2 or not inner:
        return []
    finished = [t for t in trials if t.state.is_finished]
    own = [t for t in finished if t.source not in (ANCHOR, INTERPOLATED)]
    if len(own) < 2 * m:  # the engine's first trade-offs come first
        return []
    nd = _front(trials, pareto.directions_of(definition))
    if not nd:
        return []
    target = min(max(fill, 0.0), 0.9) * _rate(trials, nd)
    # the share is of the engine's calls and the fills' (anchors excluded: their calls, spent
    # before any fill, would otherwise buy a burst of fills between the first few trials)
    calls_fill = sum(t.n_calls for t in finished if t.source == INTERPOLATED)
    calls_all = calls_fill + sum(t.n_calls for t in own)
    room = math.floor((target * calls_all - calls_fill) / (1.0 - target)) if target > 0 else 0
    if room < 1:
        return []
    # about one pass over the front's gaps per engine trial: the engine's next trade-off comes
    # after as many fills in a row as the front has points of its own (not fills), less one
    last_own = max(t.number for t in trials if t.source not in (ANCHOR, INTERPOLATED))
    in_a_row = sum(1 for t in trials if t.source == INTERPOLATED and t.number > last_own)
    room = min(room, sum(t.source != INTERPOLATED for t in nd) - 1 - in_a_row)
    if room < 1:
        return []
    ideal = normalization.ideal.numpy()
    span = normalization.signs.numpy() * (normalization.nadir.numpy() - ideal)
    signs = normalization.signs.numpy()
    seen = {design_key(t.choices, t.init or {}) for t in trials if t.source == INTERPOLATED}
    candidates: list[tuple[float, int, int]] = []
    by_combo: dict[str, list[FrozenTrial]] = {}
    for t in nd:
        if all(k in t.params for k in inner):
            by_combo.setdefault(json.dumps(t.choices, sort_keys=True, default=repr), []).append(t)
    for members in by_combo.values():
        z = signs * (np.array([t.objectives for t in members], dtype=float) - ideal) / span
        candidates += [
            (float(np.linalg.norm(z[i] - z[j])), members[i].number, members[j].number)
            for i, j in neighbour_pairs(z)
        ]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    by_number = {t.number: t for t in nd}
    start = max((t.number for t in trials), default=-1) + 1
    used: set[int] = set()
    out: list[TrialProposal] = []
    for _, na, nb in candidates:
        if len(out) >= min(room, limit):
            break
        if na in used or nb in used:
            continue
        a, b = by_number[na], by_number[nb]
        mid = {k: _halfway(params[k], float(a.params[k]), float(b.params[k])) for k in inner}
        if design_key(a.choices, mid) in seen:  # filled before
            continue
        used |= {na, nb}
        w = 0.5 * (np.asarray(a.weights, dtype=float) + np.asarray(b.weights, dtype=float))
        w = w / w.sum() if w.sum() > 0 else np.full(m, 1.0 / m)
        seed = trial_seed(study_seed, start + len(out))
        out.append(TrialProposal(tuple(float(x) for x in w), dict(a.choices), seed, INTERPOLATED, mid))
    return out
