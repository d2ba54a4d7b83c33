"""The study database: SQLAlchemy tables, the Storage contract and its SQL backend."""

from __future__ import annotations

from paretoopt.storage.base import (
    BaseStorage,
    FrozenTrial,
    StoredStep,
    StudyRecord,
    StudySpec,
    StudySummary,
    TrialProposal,
    TrialResult,
)
from paretoopt.storage.models import TrialState
from paretoopt.storage.sql import SQLStorage, default_storage_url, head_revision, upgrade_schema


def get_storage(storage: str | BaseStorage | None = None) -> BaseStorage:
    """A storage from a SQLAlchemy URL (``None``: ``$PARETOOPT_STORAGE`` or
    ``sqlite:///paretoopt.db``), or the storage object itself."""
    if isinstance(storage, BaseStorage):
        return storage
    return SQLStorage(storage or default_storage_url())


__all__ = [
    "BaseStorage",
    "FrozenTrial",
    "SQLStorage",
    "StoredStep",
    "StudyRecord",
    "StudySpec",
    "StudySummary",
    "TrialProposal",
    "TrialResult",
    "TrialState",
    "default_storage_url",
    "get_storage",
    "head_revision",
    "upgrade_schema",
]
