"""What a run reports and how it is stopped: :class:`RunProgress` (handed to the progress
callback after each finished trial) and :class:`StopFlag` (Ctrl-C finishes the trial in flight)."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

from paretoopt.storage import FrozenTrial

log = logging.getLogger("paretoopt")


@dataclass
class RunProgress:
    """What the progress callback receives after each finished trial."""

    finished: int
    target: int
    failed: int
    hypervolume: float
    last: FrozenTrial | None


class StopFlag:
    """First Ctrl-C: finish the trial in flight, then stop. Second Ctrl-C: abort now."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after the trial in flight (Ctrl-C again to abort it)")

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
