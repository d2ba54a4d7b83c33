"""Storages from URLs: ``get_storage`` opens or creates one, ``open_existing_storage`` never creates one."""

from __future__ import annotations

from paretoopt.exceptions import StorageError
from paretoopt.storage.base import BaseStorage
from paretoopt.storage.connect import default_storage_url, parse_storage_url, sqlite_file
from paretoopt.storage.schema import require_head_schema
from paretoopt.storage.sql import SQLStorage


def get_storage(storage: str | BaseStorage | None = None) -> BaseStorage:
    """A storage from a SQLAlchemy URL (``None``: ``$PARETOOPT_STORAGE`` or
    ``sqlite:///paretoopt.db``), or the storage object itself."""
    if isinstance(storage, BaseStorage):
        return storage
    return SQLStorage(storage or default_storage_url())


def open_existing_storage(url: str | None = None, *, migrate: bool = True) -> BaseStorage:
    """Open a study database that must exist already: nothing is created.

    ``url`` ``None`` (or empty) means :func:`default_storage_url`. Raises
    :class:`~paretoopt.exceptions.StorageError` for a malformed URL ("bad storage URL") and for
    a SQLite URL whose file does not exist ("no database at ...; run a study first"; the file
    is not created). The schema-version check: with ``migrate`` (the CLI's reads), an older
    database is upgraded and a newer or foreign one refused with
    :class:`~paretoopt.exceptions.SchemaVersionError`, as :func:`get_storage` does; without it
    (a read-only reader such as the dashboard), nothing is migrated and any database not at the
    newest schema is refused with :class:`~paretoopt.exceptions.SchemaVersionError`.
    """
    url = url or default_storage_url()
    parsed = parse_storage_url(url)
    path = sqlite_file(parsed)
    if path is not None and not path.is_file():
        raise StorageError(f"no database at {parsed.database} (storage {url}); run a study first")
    if migrate:
        return SQLStorage(url)
    storage = SQLStorage(url, migrate=False)
    try:
        require_head_schema(storage.engine, url)
    except BaseException:
        storage.close()
        raise
    return storage
