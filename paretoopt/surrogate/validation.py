"""How a surrogate is scored: the held-out split of the trials and the held-out metrics.

Metrics: R2, RMSE, coverage of the 68 % and 95 % predictive intervals.

A seeded :data:`HOLDOUT_FRACTION` of the trials (all their points) is held out. Trials holding
the smallest or largest final value of an output or of a continuous parameter are never held
out, nor the last trial of a combination of choices: the score is of interpolation between
evaluated designs, the surrogate's use; beyond them is extrapolation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paretoopt.surrogate.data import TrainingData

#: Fraction of the trials held out for validation (at least one trial).
HOLDOUT_FRACTION = 0.2


def central_z(p: float) -> float:
    """The standard normal quantile bounding the central interval of probability ``p``."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + p / 2.0))


def validation_metrics(
    y: np.ndarray,
    mean: np.ndarray,
    y_model: np.ndarray,
    mean_model: np.ndarray,
    sd_model: np.ndarray,
    names: Sequence[str],
) -> list[dict[str, Any]]:
    """Per output (column): R2 and RMSE of the natural-unit prediction ``mean`` against ``y``,
    the empirical coverage of the central 68 % and 95 % intervals ``mean_model +- z sd_model``
    of the observations ``y_model`` in model space (log space for log outputs, where the
    intervals are symmetric), and the number of observed points. ``sd_model`` is the
    predictive standard deviation of an observation (model uncertainty plus noise)."""
    rows: list[dict[str, Any]] = []
    z68, z95 = central_z(0.68), central_z(0.95)
    for j, name in enumerate(names):
        ok = np.isfinite(y[:, j]) & np.isfinite(y_model[:, j])
        n = int(ok.sum())
        if n == 0:
            rows.append(
                {"output": name, "r2": None, "rmse": None, "coverage_68": None, "coverage_95": None, "n": 0}
            )
            continue
        yt, resid = y[ok, j], y[ok, j] - mean[ok, j]
        pull = np.abs(y_model[ok, j] - mean_model[ok, j])
        st = sd_model[ok, j]
        sst = float(((yt - yt.mean()) ** 2).sum())
        r2 = 1.0 - float((resid**2).sum()) / sst if sst > 0 else None
        rows.append(
            {
                "output": name,
                "r2": r2,
                "rmse": float(np.sqrt((resid**2).mean())),
                "coverage_68": float((pull <= z68 * st).mean()),
                "coverage_95": float((pull <= z95 * st).mean()),
                "n": n,
            }
        )
    return rows


def extreme_trials(data: TrainingData, n_continuous: int) -> set[int]:
    """Trials whose final evaluation holds the smallest or largest value of some output or of
    some continuous design parameter (the first ``n_continuous`` input columns)."""
    keep: set[int] = set()
    finals = data.subset(data.final)
    columns = [finals.y[:, j] for j in range(finals.y.shape[1])]
    columns += [finals.x[:, j] for j in range(n_continuous)]
    for col in columns:
        ok = np.isfinite(col)
        if ok.any() and np.ptp(col[ok]) > 0:
            keep.add(int(finals.trial[ok][np.argmin(col[ok])]))
            keep.add(int(finals.trial[ok][np.argmax(col[ok])]))
    return keep


def split_trials(
    numbers: Sequence[int],
    seed: int,
    fraction: float = HOLDOUT_FRACTION,
    keep: Sequence[int] = (),
    groups: Mapping[int, Any] | None = None,
) -> tuple[list[int], list[int]]:
    """Seeded split of trial numbers into (train, held out): ``round(fraction * n)`` trials
    (at least one, at most ``n - 1``) drawn among those not in ``keep``, such that every
    held-out trial's group (its discrete choices) still has a trial in training."""
    nums = sorted(int(n) for n in numbers)
    kept = set(keep)
    candidates = [n for n in nums if n not in kept]
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5E1EC7])
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    n_test = min(max(1, round(fraction * len(nums))), len(nums) - 1)
    left: dict[Any, int] = {}
    for n in nums:
        g = groups.get(n) if groups else None
        left[g] = left.get(g, 0) + 1
    test: list[int] = []
    for n in order:
        if len(test) == n_test:
            break
        g = groups.get(n) if groups else None
        if left[g] > 1:
            left[g] -= 1
            test.append(n)
    if not test:  # nothing qualifies (tiny study): hold out one trial anyway
        test = [order[0] if order else nums[int(rng.integers(len(nums)))]]
    train = sorted(set(nums) - set(test))
    return train, sorted(test)
