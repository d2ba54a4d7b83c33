"""SQLAlchemy tables of the study database (behaviour lives in :mod:`paretoopt.storage.sql`).

Objective values, standard errors, constraint values and trajectory losses share one
encoding for non-finite numbers (as Optuna's ``TrialValueModel``): the float column holds the
value when finite and NULL otherwise, with a ``*_type`` column FINITE / INF_POS / INF_NEG / NAN,
so a diverged inner loop round-trips on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class TrialState(enum.StrEnum):
    """WAITING: proposed, not started; RUNNING: inner loop in flight; then a finished state."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    PRUNED = "PRUNED"

    @property
    def is_finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)


class FloatType(enum.StrEnum):
    FINITE = "FINITE"
    INF_POS = "INF_POS"
    INF_NEG = "INF_NEG"
    NAN = "NAN"


def encode_float(x: float | None) -> tuple[float | None, FloatType]:
    """A float to (column value, type): non-finite values are stored as NULL plus their kind."""
    if x is None:
        return None, FloatType.NAN
    x = float(x)
    if math.isnan(x):
        return None, FloatType.NAN
    if math.isinf(x):
        return None, FloatType.INF_POS if x > 0 else FloatType.INF_NEG
    return x, FloatType.FINITE


def decode_float(value: float | None, kind: FloatType | str) -> float:
    kind = FloatType(kind)
    if kind is FloatType.FINITE and value is not None:
        return float(value)
    if kind is FloatType.INF_POS:
        return math.inf
    if kind is FloatType.INF_NEG:
        return -math.inf
    return math.nan


_float_type = Enum(FloatType, name="float_type", native_enum=False, length=8)


class StudyModel(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    definition_name: Mapped[str] = mapped_column(String(255))
    definition_source: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition_hash: Mapped[str] = mapped_column(String(64))
    definition_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    space_json: Mapped[str] = mapped_column(Text)
    objectives_json: Mapped[str] = mapped_column(Text)
    constraints_json: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(64))
    engine_options_json: Mapped[str] = mapped_column(Text, default="{}")
    scalarization: Mapped[str] = mapped_column(String(64), default="chebyshev")
    seed: Mapped[int] = mapped_column(Integer, default=0)
    normalization_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    settings_json: Mapped[str] = mapped_column(Text, default="{}")
    attrs_json: Mapped[str] = mapped_column(Text, default="{}")
    next_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrialModel(Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        Index("ix_trials_study_state", "study_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[TrialState] = mapped_column(
        Enum(TrialState, name="trial_state", native_enum=False, length=8)
    )
    source: Mapped[str] = mapped_column(String(32), default="engine")
    weights_json: Mapped[str] = mapped_column(Text)
    choices_json: Mapped[str] = mapped_column(Text, default="{}")
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    init_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    n_calls: Mapped[int] = mapped_column(Integer, default=0)
    n_backward: Mapped[int] = mapped_column(Integer, default=0)
    n_steps: Mapped[int] = mapped_column(Integer, default=0)
    feasible: Mapped[bool] = mapped_column(Boolean, default=True)
    converged: Mapped[bool] = mapped_column(Boolean, default=False)
    stop_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: simulated events (sample sizes of the forward calls, summed); NULL before schema 0005
    n_events: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: the final evaluation's sample size; NULL before schema 0005
    n_samples: Mapped[int | None] = mapped_column(Integer, nullable=True)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class TrialValueModel(Base):
    """One objective or constraint value of a trial, with its standard error."""

    __tablename__ = "trial_values"
    __table_args__ = (UniqueConstraint("trial_id", "kind", "idx", name="uq_trial_values"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "objective" | "constraint"
    idx: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_type: Mapped[FloatType] = mapped_column(_float_type)
    stderr: Mapped[float | None] = mapped_column(Float, nullable=True)
    stderr_type: Mapped[FloatType] = mapped_column(_float_type)


class TrajectoryStepModel(Base):
    """One inner-loop step: loss, objective means (JSON list) and parameters (JSON dict)."""

    __tablename__ = "trajectory_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    loss_type: Mapped[FloatType] = mapped_column(_float_type)
    objectives_json: Mapped[str] = mapped_column(Text)
    params_json: Mapped[str] = mapped_column(Text)
    #: the step's standard errors, constraints and sample size (JSON); NULL before schema 0005
    figures_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class SurrogateModelRow(Base):
    """A fitted surrogate of a study (:mod:`paretoopt.surrogate`): a safetensors blob (tensors
    and a JSON header, never a pickle), its HMAC-SHA256 digest, the trial numbers it was fitted
    on. ``version`` counts the fits of the study; older versions are replaced."""

    __tablename__ = "surrogate_models"
    __table_args__ = (UniqueConstraint("study_id", "version", name="uq_surrogate_models_study_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    trial_numbers_json: Mapped[str] = mapped_column(Text)
    n_points: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RefinementRow(Base):
    """An archive point (trajectory step ``step`` of trial ``trial_id``) re-evaluated on the full
    evaluation sample (``paretoopt refine``): figures as JSON lists (non-finite values allowed),
    the calls and events it cost, or the error that made it fail. One row per point."""

    __tablename__ = "archive_refinements"
    __table_args__ = (UniqueConstraint("trial_id", "step", name="uq_archive_refinements_point"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    params_json: Mapped[str] = mapped_column(Text)
    figures_json: Mapped[str] = mapped_column(Text)
    feasible: Mapped[bool] = mapped_column(Boolean, default=True)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    n_calls: Mapped[int] = mapped_column(Integer, default=0)
    n_backward: Mapped[int] = mapped_column(Integer, default=0)
    n_events: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DecisionLogModel(Base):
    """One step of a decision on a study's front (issue #22): the method (``budget``,
    ``reference``, ``navigate``...), its inputs and outputs as JSON, the step it followed
    (``parent``, a ``step`` of the same study; ``None`` for a first question), who took it and
    when, so a review can replay how a design was chosen. ``step`` counts from 1 per study."""

    __tablename__ = "decision_log"
    __table_args__ = (UniqueConstraint("study_id", "step", name="uq_decision_log_study_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    method: Mapped[str] = mapped_column(String(32))
    inputs_json: Mapped[str] = mapped_column(Text, default="{}")
    outputs_json: Mapped[str] = mapped_column(Text, default="{}")
    author: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrialArtefactModel(Base):
    """One block of a trial's pipeline (:mod:`paretoopt.blocks`), in data-flow order
    (``position``): its kind, and for a learned block the trained parameters as a safetensors
    ``blob`` (tensors only, never a pickle) with its SHA-256 ``digest`` and training curve;
    ``meta_json``: ports, frozen, validation status. Revision 0006."""

    __tablename__ = "trial_artefacts"
    __table_args__ = (UniqueConstraint("trial_id", "block", name="uq_trial_artefacts_trial_block"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    block: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(255))
    blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    digest: Mapped[str | None] = mapped_column(String(96), nullable=True)
    curve_json: Mapped[str] = mapped_column(Text, default="[]")
    meta_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
