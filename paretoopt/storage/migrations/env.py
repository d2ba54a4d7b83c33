"""Alembic environment: run with the connection paretoopt hands over (never a config file)."""

from __future__ import annotations

from alembic import context

from paretoopt.storage.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through paretoopt.storage (paretoopt storage upgrade)")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
