"""Fresh, throwaway storages of every backend by mode name, so one test suite runs on each (as Optuna's).

``STORAGE_MODES`` names every backend the storage contract suite (tests/storage) runs against;
``with StorageSupplier(mode) as storage:`` gives a fresh, empty storage of one mode. A new
backend gets the whole suite by adding its mode here and a branch in
:meth:`StorageSupplier.url`.

No ``sqlite-memory`` mode: an in-memory SQLite database (``sqlite://``) is private to one
connection (other threads, a pickled copy and a reopened storage see an empty database), and a
shared-cache one (``file:name?mode=memory&cache=shared&uri=true``) is private to one process and
gone when its last connection closes, so neither keeps the contract that several processes
share a study.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from paretoopt.storage import BaseStorage, SQLStorage
from paretoopt.testing.postgres import PostgresUnavailable, drop_database, fresh_database

#: Every mode; the contract suite runs once per mode.
STORAGE_MODES: list[str] = ["sqlite", "postgresql"]
#: The modes served by :class:`~paretoopt.storage.SQLStorage` (URL, engine and schema tests).
SQL_STORAGE_MODES: frozenset[str] = frozenset({"sqlite", "postgresql"})


class StorageModeUnavailable(RuntimeError):
    """This machine cannot provide a storage of the requested mode (e.g. no PostgreSQL)."""


class StorageSupplier:
    """``with StorageSupplier("sqlite") as storage:``: a fresh, empty storage of one mode.

    :attr:`url` is the mode's fresh database, created empty on first use (no schema until a
    storage opens it); :meth:`open` gives another storage on the same database (what a second
    process would see). On exit (or :meth:`close`) every storage it opened is closed and the
    database deleted. ``storage_kwargs`` go to each storage it opens.
    """

    def __init__(self, mode: str, **storage_kwargs: Any) -> None:
        if mode not in STORAGE_MODES:
            raise ValueError(f"unknown storage mode {mode!r}; modes: {', '.join(STORAGE_MODES)}")
        self.mode = mode
        self.storage_kwargs = storage_kwargs
        self._url: str | None = None
        self._opened: list[BaseStorage] = []
        self._tmpdir: str | None = None
        self._pg_database: str | None = None

    @property
    def is_sql(self) -> bool:
        """Whether the mode is served by :class:`~paretoopt.storage.SQLStorage`."""
        return self.mode in SQL_STORAGE_MODES

    @property
    def url(self) -> str:
        """The URL of this supplier's database, created empty on first use.

        Raises :class:`StorageModeUnavailable` when this machine cannot provide the mode."""
        if self._url is None:
            if self.mode == "sqlite":
                self._tmpdir = tempfile.mkdtemp(prefix="paretoopt-sqlite-")
                self._url = f"sqlite:///{Path(self._tmpdir) / 'study.db'}"
            elif self.mode == "postgresql":
                try:
                    self._url, self._pg_database = fresh_database()
                except PostgresUnavailable as exc:
                    raise StorageModeUnavailable(str(exc)) from exc
            else:  # pragma: no cover - __init__ checks the mode
                raise ValueError(self.mode)
        return self._url

    def open(self, **storage_kwargs: Any) -> BaseStorage:
        """A new storage object on this supplier's database (closed by :meth:`close`)."""
        storage = SQLStorage(self.url, **{**self.storage_kwargs, **storage_kwargs})
        self._opened.append(storage)
        return storage

    def close(self) -> None:
        """Close every storage opened here and delete the database (idempotent)."""
        for storage in self._opened:
            storage.close()
        self._opened.clear()
        if self._pg_database is not None:
            drop_database(self._pg_database)
            self._pg_database = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        self._url = None

    def __enter__(self) -> BaseStorage:
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()
