"""Successive halving over discrete combinations, judged by what each adds to the front.

A rung gives every surviving combination the same cheap budget; afterwards a combination's score
is its *exclusive hypervolume contribution*: the hypervolume of the union front of the rung minus
that of the union front without the combination (normalised objectives, reference point the
nadir + 10 %, computed by moocore through :func:`paretoopt.pareto.hypervolume`). A combination
that owns a part of the front has a positive score however small that part; one whose points are
all dominated by others scores 0. The best ``max(min_keep, ceil(n / eta))`` are promoted
(Jamieson & Talwalkar, "Non-stochastic best arm identification and hyperparameter
optimization", AISTATS 2016; Li et al., "Hyperband", JMLR 18 (2018)), ties broken by the
combination's own hypervolume.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paretoopt import pareto


def combo_key(choices: Mapping[str, Any]) -> str:
    """A hashable, order-free key for a discrete combination."""
    return json.dumps(dict(choices), sort_keys=True, default=str)


def rung_steps(screen_steps: int, full_steps: int, eta: int) -> list[int]:
    """The step budgets of the screening rungs: ``screen_steps * eta^r`` while below
    ``full_steps / eta`` (at least one rung); the full run that follows uses ``full_steps``."""
    steps = [int(screen_steps)]
    while steps[-1] * eta < full_steps / eta:
        steps.append(steps[-1] * eta)
    return steps


def contributions(
    points: np.ndarray,
    keys: Sequence[str],
    signs: Sequence[float] | np.ndarray,
    ideal: np.ndarray,
    nadir: np.ndarray,
) -> dict[str, tuple[float, float]]:
    """Per combination key: ``(exclusive hypervolume contribution, own hypervolume)`` of its
    rows of ``points`` (``n x m``, natural units) in objectives normalised by ``ideal`` and
    ``nadir`` (natural units; 0 at the ideal, 1 at the nadir, reference 1.1)."""
    s = np.asarray(signs, dtype=float)
    span = s * (np.asarray(nadir, dtype=float) - np.asarray(ideal, dtype=float))
    span = np.where(span > 0, span, 1.0)
    z = (s * np.asarray(points, dtype=float) - s * np.asarray(ideal, dtype=float)) / span
    m = z.shape[1]
    ref = np.full(m, 1.1)
    directions = ["minimize"] * m
    arr = np.asarray(keys)

    def hv(mask: np.ndarray) -> float:
        sub = z[mask]
        sub = sub[np.all(sub < ref, axis=1)]
        return float(pareto.hypervolume(sub, directions, ref)) if len(sub) else 0.0

    total = hv(np.ones(len(z), dtype=bool))
    return {k: (total - hv(arr != k), hv(arr == k)) for k in dict.fromkeys(keys)}


def promote(
    alive: Sequence[str], scores: Mapping[str, tuple[float, float]], eta: int, min_keep: int
) -> list[str]:
    """The combinations of ``alive`` that go on: the ``max(min_keep, ceil(n / eta))`` best by
    (exclusive contribution, own hypervolume); combinations without a score rank last, and the
    order of ``alive`` breaks remaining ties."""
    n_keep = min(len(alive), max(int(min_keep), math.ceil(len(alive) / eta)))
    ranked = sorted(
        range(len(alive)),
        key=lambda i: (-scores.get(alive[i], (-1.0, -1.0))[0], -scores.get(alive[i], (-1.0, -1.0))[1], i),
    )
    keep = {alive[i] for i in ranked[:n_keep]}
    return [k for k in alive if k in keep]
