"""``DashboardContext``: what every callback shares (storage, caches, options).

In its own module so the app and the callbacks both import it without importing each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from dashboard.data import Snapshot, StudyCache
from dashboard.whatif import SurrogateCache
from paretoopt.storage import BaseStorage, SQLStorage


@dataclass
class DashboardContext:
    """What the callbacks share: the read-only storage, the snapshot and surrogate caches, and
    the options the app was created with."""

    storage: BaseStorage
    cache: StudyCache
    surrogates: SurrogateCache
    allow_simulate: bool
    poll_ms: int
    background_manager: Any = None
    warm_surrogates: bool = True
    _writable: BaseStorage | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def warm_surrogate(self, snap: Snapshot) -> None:
        """Start fitting the study's surrogate now, so the first what-if finds it ready."""
        n = snap.completed_count()
        if n and self.warm_surrogates:
            self.surrogates.request(snap.name, snap.study, n)

    def writable_storage(self) -> BaseStorage:
        """A storage that may write (only with ``allow_simulate``)."""
        if not self.allow_simulate:
            raise PermissionError("the dashboard is read-only; start it with --allow-simulate")
        with self._lock:
            if self._writable is None:
                self._writable = SQLStorage(self.storage.url, migrate=False)
            return self._writable
