"""The study database: the Storage contract, its SQL backend, schema versions and opening by URL."""

from __future__ import annotations

from paretoopt.storage.base import (
    STOP_REASONS,
    BaseStorage,
    FrozenTrial,
    RefinedPoint,
    StoredArtefact,
    StoredDecision,
    StoredStep,
    StoredSurrogate,
    StudyRecord,
    StudySpec,
    StudySummary,
    TrialProposal,
    TrialResult,
)
from paretoopt.storage.connect import default_storage_url
from paretoopt.storage.factory import get_storage, open_existing_storage
from paretoopt.storage.models import TrialState
from paretoopt.storage.schema import head_revision, upgrade_schema
from paretoopt.storage.sql import SQLStorage

__all__ = [
    "STOP_REASONS",
    "BaseStorage",
    "FrozenTrial",
    "RefinedPoint",
    "SQLStorage",
    "StoredArtefact",
    "StoredDecision",
    "StoredStep",
    "StoredSurrogate",
    "StudyRecord",
    "StudySpec",
    "StudySummary",
    "TrialProposal",
    "TrialResult",
    "TrialState",
    "default_storage_url",
    "get_storage",
    "head_revision",
    "open_existing_storage",
    "upgrade_schema",
]
