"""Pareto set and indicators: thin wrappers over moocore (provisional core; the engines branch
extends this module with IGD, IGD+, history and error-aware dominance)."""

from __future__ import annotations

from collections.abc import Sequence

import moocore
import numpy as np


def _maximise(directions: Sequence[str]) -> list[bool]:
    return [d == "maximize" for d in directions]


def non_dominated(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (``n x m``, natural units)."""
    p = np.asarray(points, dtype=float)
    if p.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(p, maximise=_maximise(directions)), dtype=bool)


def reference_point(points: np.ndarray, directions: Sequence[str], margin: float = 0.1) -> np.ndarray:
    """Nadir of ``points`` pushed out by ``margin`` of the range (worse side of every objective)."""
    p = np.asarray(points, dtype=float)
    s = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    o = p * s
    lo, hi = o.min(0), o.max(0)
    span = np.where(hi - lo > 0, hi - lo, np.maximum(np.abs(hi), 1.0))
    return (hi + margin * span) * s


def hypervolume(
    points: np.ndarray, directions: Sequence[str], ref_point: Sequence[float] | None = None
) -> float:
    """Exact hypervolume dominated by ``points`` up to ``ref_point`` (moocore)."""
    p = np.asarray(points, dtype=float)
    if p.shape[0] == 0:
        return 0.0
    ref = reference_point(p, directions) if ref_point is None else np.asarray(ref_point, dtype=float)
    return float(moocore.hypervolume(p, ref=ref, maximise=_maximise(directions)))


def knee_point(points: np.ndarray, directions: Sequence[str]) -> int:
    """Index of the knee: the non-dominated point farthest from the line/plane through the
    extremes, in objectives normalised to [0, 1]."""
    p = np.asarray(points, dtype=float)
    s = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    o = p * s
    lo, hi = o.min(0), o.max(0)
    z = (o - lo) / np.where(hi - lo > 0, hi - lo, 1.0)
    # hyperplane through the extremes of normalised minimised objectives: sum z = 1
    m = z.shape[1]
    dist = (1.0 - z.sum(1)) / np.sqrt(m)
    mask = non_dominated(p, directions)
    dist[~mask] = -np.inf
    return int(np.argmax(dist))


def hypervolume_history(
    points: np.ndarray, directions: Sequence[str], ref_point: Sequence[float]
) -> np.ndarray:
    """Hypervolume of the first ``k`` points for every ``k`` (points in evaluation order)."""
    p = np.asarray(points, dtype=float)
    ref = np.asarray(ref_point, dtype=float)
    out = np.zeros(len(p))
    front = np.zeros((0, p.shape[1]))
    for k in range(len(p)):
        front = np.vstack([front, p[k : k + 1]])
        front = front[non_dominated(front, directions)]
        out[k] = hypervolume(front, directions, ref)
    return out
