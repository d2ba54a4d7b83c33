"""Which completed trial a new trial's inner loop starts from (``warm_start=True``): the one
with the same discrete choices whose weights are nearest, preferring trials that weighed every
objective when the new trade-off does."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paretoopt.storage import FrozenTrial, TrialState


def nearest_warm_start(
    weights: Sequence[float], choices: Mapping[str, Any], done: Sequence[FrozenTrial]
) -> dict[str, float] | None:
    """Parameters of the completed trial with the same choices whose weights are nearest
    (Euclidean) to ``weights``; ``None`` when there is none.

    A trade-off that weighs every objective starts from a trial that did too, when there is one:
    a trial with a zero weight ignores an objective, and its design tends to lie on a face of
    the box where that objective's slope vanishes (DTLZ2's x1 = 0), a spurious stationary point
    for every trade-off started there (on DTLZ2's lattice those starts cost 56-72 calls a trial
    to re-solve; benchmarks/README.md, issue 19)."""
    w = np.asarray(weights, dtype=float)
    if np.all(w > 0):
        interior = [
            t for t in done if len(t.weights) == len(w) and np.all(np.asarray(t.weights, dtype=float) > 0)
        ]
        found = _nearest(w, choices, interior)
        if found is not None:
            return found
    return _nearest(w, choices, done)


def _nearest(
    w: np.ndarray, choices: Mapping[str, Any], done: Sequence[FrozenTrial]
) -> dict[str, float] | None:
    best, best_d = None, math.inf
    for t in done:
        if t.state is not TrialState.COMPLETE or t.choices != dict(choices) or not t.params:
            continue
        d = float(np.linalg.norm(np.asarray(t.weights, dtype=float) - w))
        if d < best_d:
            best, best_d = t, d
    return dict(best.params) if best is not None else None
