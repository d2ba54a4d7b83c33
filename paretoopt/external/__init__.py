"""Any program as a study's simulation: the file contract (:mod:`~paretoopt.external.contract`),
containers (:mod:`~paretoopt.external.containers`), :class:`ExternalSimulator` with its cache
(:mod:`~paretoopt.external.simulator`) and torch studies run as black boxes
(:mod:`~paretoopt.external.blackbox`). The inner loop for them is
:mod:`paretoopt.inner.local` (a local surrogate); docs/external.md describes the contract.
"""

from paretoopt.external.containers import (
    container_command,
    jobqueue_python,
    resolve_runtime,
    worker_command,
)
from paretoopt.external.contract import make_input, read_outputs, reduce_events, reduce_figure
from paretoopt.external.records import Origin
from paretoopt.external.simulator import Counters, ExternalSimulator

__all__ = [
    "Counters",
    "ExternalSimulator",
    "Origin",
    "container_command",
    "jobqueue_python",
    "make_input",
    "read_outputs",
    "reduce_events",
    "reduce_figure",
    "resolve_runtime",
    "worker_command",
]
