"""The gradient inner loop: for fixed discrete choices and a scalarisation, find the design.

:mod:`~paretoopt.inner.loop` runs one inner loop (:func:`optimize_inner`) or one final
evaluation (:func:`evaluate_design`): :mod:`~paretoopt.inner.plan` resolves ``InnerSettings``
(the auto mode's probe is :mod:`~paretoopt.inner.probe`), then :mod:`~paretoopt.inner.stages`
(exact and lbfgs modes, on :mod:`~paretoopt.inner.trust` and :mod:`~paretoopt.inner.sample`),
:mod:`~paretoopt.inner.sgd` (adam mode), :mod:`~paretoopt.inner.local` (surrogate mode, for
simulations without gradients, on :mod:`~paretoopt.inner.quadratic`) or the legacy
:mod:`~paretoopt.inner.adam` and
:mod:`~paretoopt.inner.lbfgs` run; :mod:`~paretoopt.inner.result` holds what a loop returns and
why it stopped. The anchor runs that fix a study's normalisation are in
:mod:`paretoopt.normalization`.
"""

from paretoopt.inner.loop import WARM_START_MARGIN, evaluate_design, optimize_inner
from paretoopt.inner.population import PopulationResult, PopulationSettings, optimize_population
from paretoopt.inner.psl import ParetoSetResult, ParetoSetSettings, train_pareto_set
from paretoopt.inner.result import STOP_REASONS, InnerResult, TrajectoryStep
from paretoopt.problem import InnerSettings

__all__ = [
    "STOP_REASONS",
    "WARM_START_MARGIN",
    "InnerResult",
    "InnerSettings",
    "ParetoSetResult",
    "ParetoSetSettings",
    "PopulationResult",
    "PopulationSettings",
    "TrajectoryStep",
    "evaluate_design",
    "optimize_inner",
    "optimize_population",
    "train_pareto_set",
]
