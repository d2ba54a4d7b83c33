"""Schema versions of the study database (Alembic): which revision it is at, and how opening treats it.

A new database is created at the newest schema, an older one is upgraded, a newer one (or one
whose tables carry no paretoopt version) is refused with
:class:`~paretoopt.exceptions.SchemaVersionError`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from paretoopt.exceptions import SchemaVersionError, StorageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest schema revision this paretoopt knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every schema revision this paretoopt knows."""
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database behind ``engine`` is at (``None``: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine``."""
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


def ensure_schema(engine: Engine, url: str) -> None:
    """Bring the database at ``url`` to the newest schema: create it when empty, upgrade it
    when older; raise :class:`SchemaVersionError` when it is newer than this paretoopt or its
    tables carry no version, :class:`StorageError` when it cannot be read or migrated."""
    try:
        tables = set(inspect(engine).get_table_names())
        rev = current_revision(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open storage {url!r}: {exc.__class__.__name__}: {exc}") from exc
    head = head_revision()
    if rev == head:
        return
    if rev is None and "studies" in tables:
        raise SchemaVersionError(
            f"{url}: tables exist but carry no paretoopt schema version; not a paretoopt database?"
        )
    if rev is not None and rev not in known_revisions():
        raise SchemaVersionError(
            f"{url} has schema revision {rev!r}, newer than this paretoopt knows (head {head!r}); "
            "upgrade paretoopt"
        )
    try:
        upgrade_schema(engine)
    except SQLAlchemyError as exc:
        # another process may have created the schema at the same moment
        if current_revision(engine) != head:
            raise StorageError(f"cannot migrate {url}: {exc}") from exc


def require_head_schema(engine: Engine, url: str) -> None:
    """Refuse, without migrating anything, a database that is not at the newest schema:
    :class:`SchemaVersionError` (an older one names the command that upgrades it),
    :class:`StorageError` when it cannot be read."""
    try:
        rev = current_revision(engine)
    except Exception as exc:
        raise StorageError(f"cannot open storage {url!r}: {type(exc).__name__}: {exc}") from exc
    head = head_revision()
    if rev != head:
        raise SchemaVersionError(
            f"{url} has schema revision {rev!r}, this paretoopt reads {head!r}"
            + ("; run `paretoopt list --storage URL` once to upgrade it" if rev is not None else "")
        )
