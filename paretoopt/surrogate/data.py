"""The points a surrogate is fitted on: final evaluations and trajectory steps of a study's trials.

Every COMPLETE trial with finite objectives (anchors and re-simulated designs included; trials
traced *on* a surrogate never are) gives its final evaluation (objectives and constraints with
their standard errors) and evenly spaced points of its inner-loop trajectory (the first and last
kept; at most :data:`MAX_TRAJECTORY_POINTS`). A trajectory point holds the objective means of one
inner-loop step, evaluated on ``n_samples`` instead of ``n_eval_samples``: its noise variance is
the trial's final ``stderr**2`` times :func:`trajectory_noise_factor`. Constraints are not
recorded there, so only final evaluations inform the constraint outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from paretoopt.inner.plan import MC_DEFAULTS
from paretoopt.surrogate.encoding import design_encoding
from paretoopt.trials import SURROGATE

if TYPE_CHECKING:
    from paretoopt.storage import FrozenTrial
    from paretoopt.study import Study

#: At most this many points of one trial's inner-loop trajectory enter the training data.
MAX_TRAJECTORY_POINTS = 16


@dataclass
class TrainingData:
    """The points a surrogate is fitted on.

    ``x``: ``n x dim`` encoded inputs; ``y``: ``n x k`` outputs (objectives then constraints,
    natural units; NaN where an output was not recorded); ``yvar``: their noise variances
    (natural units squared; NaN where missing); ``trial``: the trial number of each point;
    ``final``: True for a final evaluation, False for a trajectory point.
    """

    x: np.ndarray
    y: np.ndarray
    yvar: np.ndarray
    trial: np.ndarray
    final: np.ndarray

    def subset(self, mask: np.ndarray) -> TrainingData:
        return TrainingData(self.x[mask], self.y[mask], self.yvar[mask], self.trial[mask], self.final[mask])

    def __len__(self) -> int:
        return int(self.x.shape[0])


def trajectory_noise_factor(settings: Mapping[str, Any]) -> float:
    """How much larger a trajectory point's noise variance is than the final evaluation's:
    ``n_eval_samples / n_samples`` of the study's inner settings (Monte Carlo variance scales
    as 1/n), at least 1."""
    # unset (None): chosen at run time (InnerSettings.mode); a Monte Carlo loop starts on the
    # smallest sample, so its trajectory is at most this much noisier (zero-error exact
    # evaluations make the factor moot)
    n_eval_value = settings.get("n_eval_samples", 1)
    n_step_value = settings.get("n_samples", 1)
    try:
        n_eval = float(MC_DEFAULTS["n_eval_samples"] if n_eval_value is None else n_eval_value)
        n_step = float(MC_DEFAULTS["n_samples"] if n_step_value is None else n_step_value)
    except (TypeError, ValueError):
        return 1.0
    if not (n_eval > 0 and n_step > 0):
        return 1.0
    return max(1.0, n_eval / n_step)


def subsample_steps(n: int, cap: int) -> list[int]:
    """``cap`` evenly spaced indices of ``range(n)``, the first and last included."""
    if n <= cap:
        return list(range(n))
    return sorted({round(float(i)) for i in np.linspace(0, n - 1, cap)})


def eligible_trials(study: Study) -> list[FrozenTrial]:
    """The trials a surrogate of ``study`` is fitted on: COMPLETE, finite objectives, not
    themselves traced on a surrogate."""
    return [t for t in study.completed_trials if t.source != SURROGATE]


def collect_training_data(
    study: Study,
    trials: Sequence[FrozenTrial] | None = None,
    *,
    max_trajectory_points: int = MAX_TRAJECTORY_POINTS,
) -> TrainingData:
    """Final evaluations and (subsampled) trajectory points of ``trials`` (default: every
    eligible trial of ``study``), encoded for the model."""
    trials = list(trials) if trials is not None else eligible_trials(study)
    enc = design_encoding(study.space)
    m, c = len(study.objectives), len(study.constraints)
    factor = trajectory_noise_factor(study.record.settings)
    xs, ys, vs, nums, finals = [], [], [], [], []
    for t in trials:
        assert t.objectives is not None
        se = np.asarray(t.stderr if t.stderr is not None else [0.0] * m, dtype=float)
        se = np.where(np.isfinite(se), se, 0.0)
        y = np.full(m + c, np.nan)
        v = np.full(m + c, np.nan)
        y[:m] = t.objectives
        v[:m] = se**2
        if c and t.constraints is not None:
            cse = np.asarray(t.constraint_stderr or [0.0] * c, dtype=float)
            y[m:] = t.constraints
            v[m:] = np.where(np.isfinite(cse), cse, 0.0) ** 2
        xs.append(enc.encode_values({**t.choices, **t.params}))
        ys.append(y)
        vs.append(v)
        nums.append(t.number)
        finals.append(True)
        if max_trajectory_points > 0 and t.n_steps > 0:
            steps = study.storage.get_trajectory(t.id)
            for i in subsample_steps(len(steps), max_trajectory_points):
                s = steps[i]
                if len(s.objectives) != m or not all(math.isfinite(o) for o in s.objectives):
                    continue
                params = {**t.params, **s.params}
                y = np.full(m + c, np.nan)
                v = np.full(m + c, np.nan)
                y[:m] = s.objectives
                v[:m] = se**2 * factor
                xs.append(enc.encode_values({**t.choices, **params}))
                ys.append(y)
                vs.append(v)
                nums.append(t.number)
                finals.append(False)
    k = m + c
    return TrainingData(
        x=np.asarray(xs, dtype=float).reshape(-1, enc.d),
        y=np.asarray(ys, dtype=float).reshape(-1, k),
        yvar=np.asarray(vs, dtype=float).reshape(-1, k),
        trial=np.asarray(nums, dtype=int),
        final=np.asarray(finals, dtype=bool),
    )
