"""Model-guided screening of many discrete combinations: which to pay a screening run for next.

With hundreds of combinations (the calorimeter's 672) a first rung that runs every one costs
more than a black-box sampler needs for the whole front. Instead, a space-filling start of
:func:`initial_count` combinations is screened, each screened combination gets a score, and a
Gaussian process over the combinations' encoding (integers and non-differentiable reals scaled
to [0, 1], choices as categories: :class:`paretoopt.encoding.MixedEncoding`, botorch's
``MixedSingleTaskGP``) predicts the score of the others; the next combination screened is the one
with the lowest lower confidence bound (mean - ``beta`` sd). Screening ends when no unscreened
combination can plausibly reach the front (every bound above 0) or after ``screen_max``.

The score (:func:`front_scores`) is signed, 0 at the front: ``-`` the exclusive hypervolume
contribution for a combination that owns part of the union front of the screened points, else
``+`` the smallest uniform shift (normalised objectives) that would make one of its points
non-dominated by the other combinations' points.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from paretoopt.encoding import MixedEncoding
from paretoopt.outer.halving import contributions
from paretoopt.problem import StudyDefinition

log = logging.getLogger("paretoopt")

#: Score of a combination none of whose screened members was feasible (normalised units: the
#: whole ideal-nadir range away from the front).
INFEASIBLE_SCORE = 1.0


def encode_combinations(
    definition: StudyDefinition, combos: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, list[int]]:
    """``(X, cat_dims)``: one row per combination (integers and reals in [0, 1], choices as option
    indices) and the columns that are categories."""
    enc = MixedEncoding(definition.space, 1)
    X = np.array([enc.encode((1.0,), c) for c in combos], dtype=float).reshape(len(combos), enc.d)
    return X, enc.indices("choice")


def initial_count(definition: StudyDefinition, n_combos: int) -> int:
    """Combinations screened before the model chooses: twice the one-hot width of the encoding
    (each option of each choice, one column per integer or real), at least 8, at most all."""
    width = sum(len(getattr(p, "options", ())) or 1 for p in definition.space.outer)
    return min(n_combos, max(8, 2 * width))


def _distance(X: np.ndarray, cat: Sequence[int]) -> np.ndarray:
    """Pairwise distances: absolute differences in the scaled columns, 1 per differing category."""
    diff = np.abs(X[:, None, :] - X[None, :, :])
    for j in cat:
        diff[:, :, j] = (diff[:, :, j] > 0.5).astype(float)
    return diff.sum(axis=2)


def initial_design(X: np.ndarray, cat: Sequence[int], n: int, seed: int) -> list[int]:
    """``n`` row indices of ``X`` spread over the encoding: a seeded first row, then greedily the
    row farthest from those chosen (maximin), ties broken by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(X))
    return farthest_rows(X, cat, [int(order[0])], n, order)


def farthest_rows(
    X: np.ndarray, cat: Sequence[int], chosen: Sequence[int], n: int, order: np.ndarray
) -> list[int]:
    """``chosen`` extended to ``n`` rows by greedy maximin; ties go to the earlier row of
    ``order`` (a permutation of the rows)."""
    out = [int(i) for i in chosen]
    dist = _distance(X, cat)
    nearest = dist[out].min(axis=0) if out else np.full(len(X), np.inf)
    rank = np.empty(len(X), dtype=int)
    rank[order] = np.arange(len(X))
    while len(out) < min(n, len(X)):
        far = int(np.lexsort((rank, -nearest))[0])
        out.append(far)
        nearest = np.minimum(nearest, dist[far])
    return out


def front_scores(
    points: np.ndarray,
    keys: Sequence[str],
    signs: Sequence[float] | np.ndarray,
    ideal: np.ndarray,
    nadir: np.ndarray,
) -> dict[str, float]:
    """Per combination key: its signed distance to the front of the others (module docstring),
    from its rows of ``points`` (``n x m``, natural units) normalised by ``ideal`` / ``nadir``."""
    s = np.asarray(signs, dtype=float)
    span = s * (np.asarray(nadir, dtype=float) - np.asarray(ideal, dtype=float))
    span = np.where(span > 0, span, 1.0)
    z = (s * np.asarray(points, dtype=float) - s * np.asarray(ideal, dtype=float)) / span
    arr = np.asarray(keys)
    owned = contributions(points, keys, signs, ideal, nadir)
    out: dict[str, float] = {}
    for k in dict.fromkeys(keys):
        mine, others = z[arr == k], z[arr != k]
        if owned[k][0] > 0.0:
            out[k] = -float(owned[k][0])
        elif not len(others):
            out[k] = 0.0
        else:
            # q dominates p by min_j (p_j - q_j) >= 0; the shift that frees p is the largest such
            gap = np.min(mine[:, None, :] - others[None, :, :], axis=2).max(axis=1)
            out[k] = float(max(0.0, gap.min()))
    return out


def choose_next(
    X: np.ndarray,
    cat: Sequence[int],
    screened: Sequence[int],
    scores: Sequence[float],
    *,
    beta: float = 2.0,
    seed: int = 0,
) -> int | None:
    """The unscreened row of ``X`` with the lowest ``mean - beta sd`` of a GP fitted to the
    screened rows' ``scores``; ``None`` when every row is screened or every bound is above 0."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import MixedSingleTaskGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    rest = [i for i in range(len(X)) if i not in set(screened)]
    if not rest:
        return None
    y = np.asarray(scores, dtype=float)
    if len(y) == 0 or np.ptp(y) <= 0.0:  # nothing learnt yet: the farthest unscreened row
        order = np.random.default_rng(seed).permutation(len(X))
        return farthest_rows(X, cat, list(screened), len(screened) + 1, order)[-1]
    train_x = torch.tensor(X[list(screened)], dtype=torch.float64)
    train_y = torch.tensor(y[:, None], dtype=torch.float64)
    torch.manual_seed(seed)
    if cat:
        model = MixedSingleTaskGP(train_x, train_y, cat_dims=list(cat), outcome_transform=Standardize(m=1))
    else:
        model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=1))
    try:
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs={"options": {"maxiter": 50}}
        )
    except Exception as exc:  # a failed fit keeps the prior hyperparameters: still a model
        log.debug("screening GP fit failed (%s); prior hyperparameters kept", exc)
    with torch.no_grad():
        post = model.posterior(torch.tensor(X[rest], dtype=torch.float64))
        mean = post.mean.squeeze(-1).numpy()
        sd = post.variance.clamp_min(0.0).sqrt().squeeze(-1).numpy()
    bound = mean - beta * sd
    best = int(np.argmin(bound))
    if bound[best] > 0.0:
        return None
    return rest[best]


def screen_cap(n_combos: int, n_initial: int) -> int:
    """Default most combinations screened: ``6 sqrt(n)`` (the calorimeter's 672: 156), at least
    twice the initial design; the model usually stops screening earlier."""
    return min(n_combos, max(2 * n_initial, math.ceil(6.0 * math.sqrt(n_combos))))
