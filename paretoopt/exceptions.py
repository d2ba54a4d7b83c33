"""Named errors of paretoopt, so callers can tell bad input from failed physics.

The CLI, the runner and the dashboard catch them by kind. Messages quote the values or shapes
received and say what was expected.
"""

from __future__ import annotations


class ParetoOptError(Exception):
    """Base class of every error raised by paretoopt."""


class SpaceError(ParetoOptError, ValueError):
    """A design space or a value in it is malformed (bounds, duplicate names, unknown option)."""


class StudyDefinitionError(ParetoOptError, ValueError):
    """A study definition is malformed, or a study file cannot be loaded."""


class SimulationError(ParetoOptError, RuntimeError):
    """The simulation returned something unusable: missing objective, wrong shape, NaN/inf."""


class NonFiniteError(SimulationError):
    """The simulation returned NaN or inf, or its gradient was not finite (an inner loop's
    ``stop_reason`` is then ``"nan"``)."""


class StorageError(ParetoOptError, RuntimeError):
    """The study database failed or was asked for something it does not hold."""


class StudyNotFoundError(StorageError, KeyError):
    """No study of the given name exists in the storage."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "study not found"


class DuplicateStudyError(StorageError):
    """A study of that name exists and ``load_if_exists`` was False."""


class SchemaVersionError(StorageError):
    """The database schema is older or newer than this paretoopt version understands."""


class FinishedTrialError(StorageError):
    """A finished (COMPLETE / FAILED / PRUNED) trial is immutable and cannot be changed."""


class EngineError(ParetoOptError, ValueError):
    """An outer engine was configured with unknown or invalid options."""


class SurrogateError(ParetoOptError):
    """A surrogate cannot be fitted (too few completed trials) or none is stored."""


class UntrustedModelError(SurrogateError):
    """A stored surrogate was refused: its digest does not match, it is not a safetensors blob
    (a pickle, say), or its header or tensors do not match the study's schema."""
