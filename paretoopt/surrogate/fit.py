"""Fitting a surrogate on a study: choose the backend, validate on held-out trials, fit on all.

An exact GP unless the study is too large for it: trajectories are thinned to
``(EXACT_GP_MAX_POINTS - n_trials) // n_trials`` points each, and when that leaves fewer than
:data:`MIN_GP_TRAJECTORY_POINTS` per trial (more than ~200 trials) a deep ensemble takes every
trial with full trajectories. The held-out fit (:mod:`.validation`) is scored, its GP variances
first calibrated on the training trials (closed-form leave-one-trial-out, widened only); the
stored model is then fitted on every trial, starting from its hyperparameters.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from paretoopt.encoding import MixedEncoding
from paretoopt.exceptions import SurrogateError
from paretoopt.surrogate.core import Surrogate
from paretoopt.surrogate.data import (
    MAX_TRAJECTORY_POINTS,
    TrainingData,
    collect_training_data,
    eligible_trials,
    trajectory_noise_factor,
)
from paretoopt.surrogate.encoding import continuous_columns, design_encoding, input_log
from paretoopt.surrogate.models import KINDS, Kind, Model, fit_model
from paretoopt.surrogate.validation import HOLDOUT_FRACTION, extreme_trials, split_trials, validation_metrics
from paretoopt.version import __version__

if TYPE_CHECKING:
    from paretoopt.study import Study

#: The exact GP's training points at most (its fit time grows as n^3): trajectories are
#: thinned to stay below.
EXACT_GP_MAX_POINTS = 600
#: Fewer trajectory points per trial than this under the GP's budget: the deep ensemble instead.
MIN_GP_TRAJECTORY_POINTS = 2
#: Fewest completed trials a surrogate is fitted on (one or more of them held out).
MIN_TRIALS = 5


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Fit on one torch thread: the matrices are small (at most a few thousand rows), and on a
    busy machine torch's thread pool made a 200-point GP fit 8x slower (34 s instead of 4 s)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _validate(
    kind: str, encoder: MixedEncoding, data: TrainingData, names: Sequence[str], seed: int, holdout: float
) -> tuple[list[dict[str, Any]], list[int], list[int], Model]:
    """Fit on a seeded split of the trials, score on the held-out ones. The trials holding an
    extreme final value of some output or continuous parameter stay in training, and so does
    the last trial of each combination of choices: the score is of interpolation between
    evaluated designs, what a surrogate is used for; beyond them it would be extrapolation."""
    numbers = sorted(set(data.trial.tolist()))
    finals = data.subset(data.final)
    n_continuous = len(continuous_columns(encoder))  # the choices' columns follow
    combos = {int(n): tuple(row[n_continuous:]) for n, row in zip(finals.trial, finals.x, strict=True)}
    train_nums, test_nums = split_trials(
        numbers, seed, holdout, keep=sorted(extreme_trials(data, n_continuous)), groups=combos
    )
    train = data.subset(np.isin(data.trial, train_nums))
    test = data.subset(np.isin(data.trial, test_nums))
    # a held-out trajectory may start where a training trial ended (warm starts): score only
    # designs the model has not seen
    seen = {row.tobytes() for row in train.x}
    test = test.subset(np.array([row.tobytes() not in seen for row in test.x], dtype=bool))
    model, scaling = fit_model(kind, encoder, train, seed)
    with torch.no_grad():
        m_t, v_t, extra = model.predict(torch.as_tensor(test.x, dtype=torch.float64))
        mean, _ = scaling.to_natural(m_t, v_t)
    y_model, var_model = scaling.transformed(test.y, test.yvar)
    mean_model = m_t.numpy() * scaling.std + scaling.mean
    sd_model = np.sqrt((v_t + extra).numpy() * scaling.std**2 + np.nan_to_num(var_model, nan=0.0))
    metrics = validation_metrics(test.y, mean.numpy(), y_model, mean_model, sd_model, names)
    return metrics, train_nums, test_nums, model


def fit_surrogate(
    study: Study,
    *,
    kind: Kind = "auto",
    seed: int = 0,
    max_trajectory_points: int = MAX_TRAJECTORY_POINTS,
    holdout: float = HOLDOUT_FRACTION,
) -> Surrogate:
    """Fit a surrogate on every eligible trial of ``study`` and validate it on held-out trials.

    Args:
        study: the study.
        kind: ``"exact_gp"``, ``"deep_ensemble"`` or ``"auto"`` (see the module docstring:
            exact GP unless the study is too large for it).
        seed: seeds the held-out split and the fits.
        max_trajectory_points: most trajectory points per trial (0: final evaluations only);
            the exact GP may take fewer to stay within :data:`EXACT_GP_MAX_POINTS`.
        holdout: fraction of trials held out for validation.

    Raises:
        SurrogateError: fewer than :data:`MIN_TRIALS` completed trials, or the fit failed.
    """
    if kind not in ("auto", *KINDS):
        raise SurrogateError(f"kind must be 'auto', 'exact_gp' or 'deep_ensemble', got {kind!r}")
    t0 = time.perf_counter()
    trials = eligible_trials(study)
    if len(trials) < MIN_TRIALS:
        raise SurrogateError(
            f"study {study.name!r} has {len(trials)} completed trial(s); a surrogate needs at least "
            f"{MIN_TRIALS}: run more trials first (paretoopt run ... --trials N)"
        )
    n = len(trials)
    gp_cap = min(max_trajectory_points, max(0, (EXACT_GP_MAX_POINTS - n) // n))
    chosen = kind
    if kind == "auto":
        chosen = (
            "exact_gp" if gp_cap >= min(MIN_GP_TRAJECTORY_POINTS, max_trajectory_points) else "deep_ensemble"
        )
    cap = gp_cap if chosen == "exact_gp" else max_trajectory_points
    data = collect_training_data(study, trials, max_trajectory_points=cap)
    encoder = design_encoding(study.space)
    names = [o.name for o in study.objectives] + [c.name for c in study.constraints]

    with one_thread():
        metrics, train_nums, test_nums, held = _validate(chosen, encoder, data, names, seed, holdout)
        model, scaling = fit_model(chosen, encoder, data, seed, init=held)
    info = {
        "trial_numbers": sorted(t.number for t in trials),
        "n_points": len(data),
        "seed": int(seed),
        "max_trajectory_points": int(cap),
        "trajectory_noise_factor": float(trajectory_noise_factor(study.record.settings)),
        "validation": {"train_trials": train_nums, "test_trials": test_nums, "metrics": metrics},
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_time_s": float(time.perf_counter() - t0),
        "paretoopt_version": str(__version__),
        "input_log": input_log(encoder),
    }
    return Surrogate(
        space=study.space,
        objectives=study.objectives,
        constraints=study.constraints,
        model=model,
        scaling=scaling,
        info=info,
    )
