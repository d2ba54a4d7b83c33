"""Which completed trial a new trial's inner loop starts from (``warm_start=True``): the one
with the same discrete choices whose weights are nearest, preferring trials that weighed every
objective when the new trade-off does; for a population of a combination nothing has run on yet,
the nearest of the anchors' extreme designs (``donors``, :func:`anchor_donors`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paretoopt.storage import FrozenTrial, TrialState
from paretoopt.trials import ANCHOR, completed_feasible


def nearest_warm_start(
    weights: Sequence[float],
    choices: Mapping[str, Any],
    done: Sequence[FrozenTrial],
    *,
    donors: Sequence[FrozenTrial] | None = None,
) -> dict[str, float] | None:
    """Parameters of the completed trial with the same choices whose weights are nearest
    (Euclidean) to ``weights``; ``None`` when there is none.

    A trade-off that weighs every objective starts from a trial that did too, when there is one:
    a trial with a zero weight ignores an objective, and its design tends to lie on a face of
    the box where that objective's slope vanishes (DTLZ2's x1 = 0), a spurious stationary point
    for every trade-off started there (on DTLZ2's lattice those starts cost 56-72 calls a trial
    to re-solve; benchmarks/README.md, issue 19).

    ``donors`` (the set-based engine's populations, :func:`anchor_donors`): when no trial has
    these choices, the donor nearest in weights, whatever its choices (the differentiable
    parameters are the same for every combination). A screening population moves its members a
    step or two only, so where they start decides what it sees: on the segmented calorimeter a
    random start costs 4-7 times the cheapest design of its combination (the readout follows the
    Moliere radius), and the cheap end of the front was never found (benchmarks/README.md,
    issue 19). The donors are fixed once the anchors have run, so every such population starts
    from the same designs and screening still compares combinations on common starts."""
    w = np.asarray(weights, dtype=float)
    if np.all(w > 0):
        interior = [t for t in done if np.all(np.asarray(t.weights, dtype=float) > 0)]
        found = _nearest(w, choices, interior)
        if found is not None:
            return found
    found = _nearest(w, choices, done)
    if found is None and donors:
        found = _nearest(w, None, donors)
    return found


def _nearest(
    w: np.ndarray, choices: Mapping[str, Any] | None, done: Sequence[FrozenTrial]
) -> dict[str, float] | None:
    """The completed trial of ``done`` nearest to ``w`` in weights, of these ``choices`` unless
    ``None``; the first among equally near ones."""
    best, best_d = None, math.inf
    for t in done:
        if t.state is not TrialState.COMPLETE or not t.params or len(t.weights) != len(w):
            continue
        if choices is not None and t.choices != dict(choices):
            continue
        d = float(np.linalg.norm(np.asarray(t.weights, dtype=float) - w))
        if d < best_d:
            best, best_d = t, d
    return dict(best.params) if best is not None else None


def anchor_donors(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    """Per objective, the completed feasible anchor trial best in the objective it anchors (the
    extremes of the normalisation's payoff table), ordered by objective: the designs a population
    of an unseen combination starts from."""
    anchors = [t for t in completed_feasible(trials) if t.source == ANCHOR]
    out = []
    for k, direction in enumerate(directions):
        mine = [t for t in anchors if len(t.weights) == len(directions) and int(np.argmax(t.weights)) == k]
        if mine:
            sign = 1.0 if direction == "minimize" else -1.0
            # completed_feasible: objectives are set
            out.append(min(mine, key=lambda t: (sign * float((t.objectives or ())[k]), t.number)))
    return out
