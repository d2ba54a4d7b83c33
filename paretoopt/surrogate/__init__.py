"""Surrogates of a study: each objective and constraint of a design, with its uncertainty.

Fitted on every evaluated design of the study (docs/surrogates.md): (design parameters, discrete
choices) -> each objective and constraint, with predictive uncertainty.

Modules in data-flow order: :mod:`.encoding` (the inputs), :mod:`.data` (the training points),
:mod:`.validation` (held-out split and scores), :mod:`.models` (GP, deep ensemble, output
scaling), :mod:`.serialize` (the checked stored format), :mod:`.core` (:class:`Surrogate`),
:mod:`.fit` (:func:`fit_surrogate`), :mod:`.store` (the study database). The surrogate run
(``--simulator surrogate``) is a workflow on the runner: :mod:`paretoopt.workflows`.
"""

from paretoopt.encoding import COUNT_LOG_RATIO
from paretoopt.surrogate.core import Surrogate
from paretoopt.surrogate.data import (
    MAX_TRAJECTORY_POINTS,
    TrainingData,
    collect_training_data,
    eligible_trials,
    trajectory_noise_factor,
)
from paretoopt.surrogate.fit import (
    EXACT_GP_MAX_POINTS,
    MIN_GP_TRAJECTORY_POINTS,
    MIN_TRIALS,
    fit_surrogate,
)
from paretoopt.surrogate.models import (
    ENSEMBLE_BATCH,
    ENSEMBLE_HIDDEN,
    ENSEMBLE_MEMBERS,
    ENSEMBLE_STEPS,
    GP_FIT_MAXITER,
    GP_NOISE_FLOOR,
    KINDS,
    VAR_SCALE_MAX,
    Kind,
    OutputScaling,
)
from paretoopt.surrogate.serialize import FORMAT, FORMAT_VERSION, digest, verify
from paretoopt.surrogate.store import Refit, get_surrogate, load_surrogate, save_surrogate
from paretoopt.surrogate.validation import HOLDOUT_FRACTION, extreme_trials, split_trials, validation_metrics

__all__ = [
    "COUNT_LOG_RATIO",
    "ENSEMBLE_BATCH",
    "ENSEMBLE_HIDDEN",
    "ENSEMBLE_MEMBERS",
    "ENSEMBLE_STEPS",
    "EXACT_GP_MAX_POINTS",
    "FORMAT",
    "FORMAT_VERSION",
    "GP_FIT_MAXITER",
    "GP_NOISE_FLOOR",
    "HOLDOUT_FRACTION",
    "KINDS",
    "MAX_TRAJECTORY_POINTS",
    "MIN_GP_TRAJECTORY_POINTS",
    "MIN_TRIALS",
    "VAR_SCALE_MAX",
    "Kind",
    "OutputScaling",
    "Refit",
    "Surrogate",
    "TrainingData",
    "collect_training_data",
    "digest",
    "eligible_trials",
    "extreme_trials",
    "fit_surrogate",
    "get_surrogate",
    "load_surrogate",
    "save_surrogate",
    "split_trials",
    "trajectory_noise_factor",
    "validation_metrics",
    "verify",
]
