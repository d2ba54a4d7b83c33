"""From a storage URL to a SQLAlchemy engine: URL checks, and SQLite settings that let processes share a file.

SQLite runs in WAL mode with a 30 s busy timeout, so two local processes (a run and the
dashboard) can share one file; several machines should share a PostgreSQL database instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from paretoopt.exceptions import StorageError

SQLITE_BUSY_TIMEOUT_S = 30.0
DEFAULT_STORAGE_URL = "sqlite:///paretoopt.db"


def default_storage_url() -> str:
    """``$PARETOOPT_STORAGE`` or ``sqlite:///paretoopt.db``."""
    return os.environ.get("PARETOOPT_STORAGE") or DEFAULT_STORAGE_URL


def parse_storage_url(url: str) -> URL:
    """The parsed URL; :class:`StorageError` ("bad storage URL") when it is malformed."""
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"bad storage URL {url!r}: {exc}") from exc


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, ``None`` for another backend or an in-memory database."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_storage_engine(url: str) -> Engine:
    """An engine for ``url`` (nothing is created or migrated yet); :class:`StorageError` for a
    malformed URL, a missing driver or a SQLite file in a directory that does not exist."""
    parsed = parse_storage_url(url)
    kwargs: dict[str, Any] = {"future": True}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        db = parsed.database
        if db and db != ":memory:":
            parent = Path(db).expanduser().resolve().parent
            if not parent.is_dir():
                raise StorageError(f"bad storage URL {url!r}: directory {parent} does not exist")
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise StorageError(f"bad storage URL {url!r}: {exc}") from exc
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
