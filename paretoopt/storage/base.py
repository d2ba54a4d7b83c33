"""The Storage contract: one API that the runner, the CLI and the dashboard use, whatever the
backend (SQLite file, PostgreSQL). Modelled on Optuna's ``BaseStorage``.

Contract:
* Trial numbers are unique within a study and allocated atomically (several processes may add
  trials to one study).
* A trial moves WAITING -> RUNNING -> COMPLETE | FAILED | PRUNED. Finished trials are immutable:
  changing one raises :class:`FinishedTrialError`. A RUNNING trial whose worker died can be put
  back to WAITING (:meth:`requeue_stale_trials`) and run again with the same proposal and seed.
* A trial's values, its trajectory and its new state are written in one transaction.
* Methods are safe to call from several threads; storage objects pickle without their engine
  (they reconnect), so they can travel to Dask workers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paretoopt.storage.models import TrialState

#: Why an inner loop stopped: its convergence test passed; its call budget (``max_steps``) ran
#: out; it could make no further progress without passing the test; the simulation returned a
#: non-finite value or gradient; it ended on a design that violates a constraint.
STOP_REASONS = ("converged", "max_steps", "no_progress", "nan", "constraint_infeasible")


@dataclass(frozen=True)
class StudySpec:
    """What a new study stores about itself (JSON fields already serialised to Python data)."""

    name: str
    definition_name: str
    definition_hash: str
    space: list[dict[str, Any]]
    objectives: list[dict[str, Any]]
    constraints: list[dict[str, Any]]
    engine: str
    engine_options: dict[str, Any] = field(default_factory=dict)
    scalarization: str = "chebyshev"
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    definition_source: str | None = None
    definition_path: str | None = None
    description: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyRecord(StudySpec):
    """A stored study: its spec plus identity, normalisation and timestamps."""

    id: int = 0
    normalization: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class StudySummary:
    """One row of the study list: name, objectives, trial counts by state, last update."""

    name: str
    objectives: list[dict[str, Any]]
    counts: dict[str, int]
    engine: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class TrialProposal:
    """A trial to enqueue: weights, choices, the inner-loop seed and where it came from."""

    weights: tuple[float, ...]
    choices: dict[str, Any]
    seed: int
    source: str = "engine"
    init: dict[str, float] | None = None


@dataclass(frozen=True)
class TrialResult:
    """What a finished inner loop writes: objective/constraint means and standard errors
    (definition order), the design, accounting and the trajectory."""

    params: dict[str, float]
    objectives: Sequence[float] = ()
    stderr: Sequence[float] = ()
    constraints: Sequence[float] = ()
    constraint_stderr: Sequence[float] = ()
    n_calls: int = 0
    n_backward: int = 0
    n_steps: int = 0
    feasible: bool = True
    converged: bool = False
    loss: float | None = None
    wall_time_s: float | None = None
    error: str | None = None
    trajectory: Sequence[Any] = ()  # paretoopt.inner.TrajectoryStep
    #: why the inner loop stopped (:data:`STOP_REASONS`); ``None`` when none ran
    stop_reason: str | None = None
    #: simulated events (each forward call's sample size, summed); ``None`` when not counted
    n_events: int | None = None
    #: the final evaluation's sample size (1 for an exact one); ``None`` when not known
    n_samples: int | None = None
    #: the blocks of the trial's pipeline with their trained parameters (:mod:`paretoopt.blocks`)
    artefacts: Sequence[StoredArtefact] = ()


@dataclass(frozen=True)
class StoredStep:
    """One stored trajectory step; the errors, constraints and sample size are ``None`` for
    steps stored before schema 0005 (or by a method that did not record them)."""

    step: int
    loss: float
    objectives: list[float]
    params: dict[str, float]
    stderr: list[float] | None = None
    constraints: list[float] | None = None
    constraint_stderr: list[float] | None = None
    n_samples: int | None = None
    exact: bool = False


@dataclass(frozen=True)
class RefinedPoint:
    """An archive point (trajectory step ``step`` of trial ``trial_id``) re-evaluated on the full
    evaluation sample in evaluation mode (``paretoopt refine``): its figures, what it cost, or
    the error that made it fail (then the figures are empty)."""

    trial_id: int
    step: int
    params: dict[str, float]
    objectives: Sequence[float] = ()
    stderr: Sequence[float] = ()
    constraints: Sequence[float] = ()
    constraint_stderr: Sequence[float] = ()
    feasible: bool = True
    n_samples: int = 0
    n_calls: int = 0
    n_backward: int = 0
    n_events: int = 0
    error: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class StoredArtefact:
    """One block of a trial's pipeline as stored: ``block`` name, ``kind`` (its class),
    ``position`` in data-flow order; for a learned block the safetensors ``blob`` of its trained
    parameters with its ``digest`` (checked before the blob is parsed) and training ``curve``;
    ``meta``: JSON-safe details (ports, frozen, validation status)."""

    block: str
    kind: str
    position: int = 0
    blob: bytes | None = None
    digest: str | None = None
    curve: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredSurrogate:
    """A stored surrogate model (see :mod:`paretoopt.surrogate`): the safetensors ``blob``, its
    ``digest`` (checked before the blob is parsed), the trial numbers it was fitted on."""

    study_id: int
    version: int
    kind: str
    trial_numbers: list[int]
    n_points: int
    blob: bytes
    digest: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class StoredDecision:
    """One step of a study's decision log (:mod:`paretoopt.decide`): ``step`` (from 1), the
    ``parent`` step it followed (``None`` for a first question), the method, its inputs and
    outputs (JSON data), who took it and when."""

    study_id: int
    step: int
    parent: int | None
    method: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    author: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class FrozenTrial:
    """A trial as read from storage (immutable snapshot)."""

    id: int
    number: int
    batch: int
    state: TrialState
    source: str
    weights: tuple[float, ...]
    choices: dict[str, Any]
    params: dict[str, float]
    init: dict[str, float] | None
    seed: int
    objectives: tuple[float, ...] | None
    stderr: tuple[float, ...] | None
    constraints: tuple[float, ...] | None
    constraint_stderr: tuple[float, ...] | None
    n_calls: int
    n_backward: int
    n_steps: int
    feasible: bool
    converged: bool
    loss: float | None
    wall_time_s: float | None
    error: str | None
    worker: str | None
    retries: int
    created_at: datetime | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    #: why the inner loop stopped (:data:`STOP_REASONS`); ``None`` for trials stored before
    #: schema 0003, WAITING/RUNNING ones, and trials that ran no inner loop (re-simulations)
    stop_reason: str | None = None
    #: simulated events (each forward call's sample size, summed); ``None`` for trials stored
    #: before schema 0005
    n_events: int | None = None
    #: the final evaluation's sample size (1 for an exact one); ``None`` before schema 0005
    n_samples: int | None = None


class BaseStorage(ABC):
    """Abstract storage. Every method raises :class:`~paretoopt.exceptions.StorageError` (or a
    subclass) on failure; backend exceptions never leak."""

    url: str

    # ----- studies -----
    @abstractmethod
    def create_study(self, spec: StudySpec) -> StudyRecord:
        """Create a study. Raises DuplicateStudyError if the name is taken."""

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """Read a study. Raises StudyNotFoundError."""

    @abstractmethod
    def list_studies(self) -> list[StudySummary]:
        """Every study with trial counts by state (a fixed number of queries)."""

    @abstractmethod
    def delete_study(self, name: str) -> None:
        """Delete a study and all its trials. Raises StudyNotFoundError."""

    @abstractmethod
    def set_normalization(self, study_id: int, normalization: dict[str, Any]) -> None:
        """Store the study's objective normalisation (ideal / nadir / signs)."""

    # ----- trials -----
    @abstractmethod
    def enqueue_trials(
        self, study_id: int, proposals: Sequence[TrialProposal], batch: int, max_total: int | None = None
    ) -> list[FrozenTrial]:
        """Add WAITING trials with consecutive, atomically allocated numbers; with
        ``max_total``, only as many as keep the study at or below that many trials."""

    @abstractmethod
    def start_trial(self, trial_id: int, worker: str) -> FrozenTrial | None:
        """Claim a trial: WAITING -> RUNNING, owned by ``worker``. Returns ``None`` when another
        worker holds it already. Raises FinishedTrialError if it is finished."""

    @abstractmethod
    def heartbeat(self, trial_id: int) -> None:
        """Mark a RUNNING trial as alive now."""

    @abstractmethod
    def finish_trial(self, trial_id: int, state: TrialState, result: TrialResult) -> FrozenTrial:
        """Write the result, trajectory and final state in one transaction.
        Raises FinishedTrialError if the trial is already finished."""

    @abstractmethod
    def requeue_stale_trials(
        self, study_id: int, *, stale_after_s: float, local_dead_workers: Sequence[str] = ()
    ) -> list[int]:
        """RUNNING trials whose heartbeat is older than ``stale_after_s`` or whose worker is in
        ``local_dead_workers`` go back to WAITING (retries + 1). Returns their numbers."""

    @abstractmethod
    def get_trials(self, study_id: int, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        """Trials in number order, without trajectories (a fixed number of queries)."""

    @abstractmethod
    def get_trajectory(self, trial_id: int) -> list[StoredStep]:
        """The inner-loop trajectory of one trial, in step order."""

    # ----- surrogate models (optional for a backend: default raises NotImplementedError) -----
    def save_surrogate(
        self,
        study_id: int,
        *,
        kind: str,
        trial_numbers: Sequence[int],
        n_points: int,
        blob: bytes,
        digest: str,
    ) -> StoredSurrogate:
        """Store a fitted surrogate of a study as its next version, replacing older ones, in
        one transaction. Raises StorageError."""
        raise NotImplementedError(f"{type(self).__name__} does not store surrogate models")

    def get_surrogate(self, study_id: int) -> StoredSurrogate | None:
        """The newest stored surrogate of a study, or ``None``."""
        raise NotImplementedError(f"{type(self).__name__} does not store surrogate models")

    # ----- the archive (optional for a backend: default raises NotImplementedError) -----
    def get_study_trajectories(self, study_id: int) -> dict[int, list[StoredStep]]:
        """Every stored trajectory of a study, ``{trial id: steps in step order}``, in a fixed
        number of queries (what the archive reads)."""
        raise NotImplementedError(f"{type(self).__name__} does not read whole archives")

    def save_refinement(self, study_id: int, point: RefinedPoint) -> bool:
        """Store the re-evaluation of one archive point in its own transaction; ``False`` (and
        nothing written) when that point is already stored, so a repeated or concurrent refine
        never stores a point twice."""
        raise NotImplementedError(f"{type(self).__name__} does not store refinements")

    def get_refinements(self, study_id: int) -> list[RefinedPoint]:
        """The stored re-evaluations of a study's archive points, by trial id and step."""
        raise NotImplementedError(f"{type(self).__name__} does not store refinements")

    # ----- decision log (optional for a backend: default raises NotImplementedError) -----
    def add_decision(
        self,
        study_id: int,
        *,
        method: str,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        parent: int | None = None,
        author: str | None = None,
    ) -> StoredDecision:
        """Append a step to a study's decision log with the next step number, in one
        transaction. Raises StudyNotFoundError, StorageError (a ``parent`` step that does not
        exist)."""
        raise NotImplementedError(f"{type(self).__name__} does not store a decision log")

    def get_decisions(self, study_id: int) -> list[StoredDecision]:
        """A study's decision log in step order (empty when none was stored)."""
        raise NotImplementedError(f"{type(self).__name__} does not store a decision log")

    # ----- block artefacts (optional for a backend: default raises NotImplementedError) -----
    def get_trial_artefacts(self, trial_id: int) -> list[StoredArtefact]:
        """The blocks (and trained parameters) stored with a finished trial, in data-flow order;
        ``[]`` for a trial whose simulation is not a pipeline. Written by :meth:`finish_trial`
        from ``TrialResult.artefacts`` in the trial's transaction."""
        raise NotImplementedError(f"{type(self).__name__} does not store block artefacts")

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""
