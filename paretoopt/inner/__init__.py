"""The gradient inner loop: for fixed discrete choices and a scalarisation, find the design.

:mod:`~paretoopt.inner.loop` runs one inner loop (:func:`optimize_inner`) or one final
evaluation (:func:`evaluate_design`) with the optimisers of :mod:`~paretoopt.inner.adam` and
:mod:`~paretoopt.inner.lbfgs`; :mod:`~paretoopt.inner.result` holds what a loop returns. The
anchor runs that fix a study's normalisation are in :mod:`paretoopt.normalization`.
"""

from paretoopt.inner.loop import evaluate_design, optimize_inner
from paretoopt.inner.result import InnerResult, TrajectoryStep
from paretoopt.problem import InnerSettings

__all__ = [
    "InnerResult",
    "InnerSettings",
    "TrajectoryStep",
    "evaluate_design",
    "optimize_inner",
]
