"""The SQLAlchemy storage: one implementation of the storage contract for SQLite and PostgreSQL.

How a URL becomes an engine lives in :mod:`paretoopt.storage.connect`, the schema-version rule
(Alembic migrations run when a database is opened) in :mod:`paretoopt.storage.schema`, and the
row <-> record conversions in :mod:`paretoopt.storage.convert`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from paretoopt.exceptions import (
    DuplicateStudyError,
    FinishedTrialError,
    StorageError,
    StudyNotFoundError,
)
from paretoopt.storage.base import (
    BaseStorage,
    FrozenTrial,
    StoredStep,
    StoredSurrogate,
    StudyRecord,
    StudySpec,
    StudySummary,
    TrialProposal,
    TrialResult,
)
from paretoopt.storage.connect import create_storage_engine
from paretoopt.storage.convert import (
    artefact_rows,
    dumps,
    frozen_trial,
    result_columns,
    split_values,
    stored_step,
    stored_surrogate,
    study_columns,
    study_record,
    trajectory_rows,
    value_rows,
    waiting_trial_columns,
)
from paretoopt.storage.models import (
    DecisionLogModel,
    StudyModel,
    SurrogateModelRow,
    TrajectoryStepModel,
    TrialModel,
    TrialState,
    TrialValueModel,
    utcnow,
)
from paretoopt.storage.schema import ensure_schema
from paretoopt.storage.sql_tables import (
    TRAJECTORY_STEPS,
    TRIAL_ARTEFACTS,
    TRIAL_VALUES,
    TRIALS,
    SQLSideTables,
    lock_study_row,
    rowcount,
)


class SQLStorage(SQLSideTables, BaseStorage):
    """Storage in any SQLAlchemy database: ``sqlite:///paretoopt.db`` (default) or
    ``postgresql+psycopg://user@host/db``."""

    def __init__(self, url: str = "sqlite:///paretoopt.db", *, migrate: bool = True) -> None:
        self.url = url
        self._migrate = migrate
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._connect()

    # ----- connection management (pickle-safe: the engine is rebuilt after unpickling) -----
    def _connect(self) -> None:
        engine = create_storage_engine(self.url)
        self._engine = engine
        self._sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
        if self._migrate:
            ensure_schema(engine, self.url)

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "_migrate": False}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self._migrate = state["_migrate"]
        self._connect()

    @property
    def engine(self) -> Engine:
        assert self._engine is not None
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error and re-raise backend
        errors as :class:`StorageError`."""
        assert self._sessionmaker is not None
        session = self._sessionmaker()
        try:
            yield session
            session.commit()
        except (StorageError, KeyError, ValueError):
            session.rollback()
            raise
        except IntegrityError as exc:
            session.rollback()
            raise StorageError(f"integrity error in {self.url}: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"database error in {self.url}: {exc.__class__.__name__}: {exc}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # ----- studies -----
    def create_study(self, spec: StudySpec) -> StudyRecord:
        taken = f"a study named {spec.name!r} already exists in {self.url}"
        with self.session_scope() as s:
            if s.scalar(select(StudyModel.id).where(StudyModel.name == spec.name)) is not None:
                raise DuplicateStudyError(taken)
            m = StudyModel(**study_columns(spec), next_number=0, created_at=utcnow(), updated_at=utcnow())
            s.add(m)
            try:
                s.flush()
            except IntegrityError as exc:
                # another process created the name between the check above and this insert
                # (the name is the table's only unique column besides the generated id): the
                # same error as the check's, so that load_if_exists callers load it
                raise DuplicateStudyError(taken) from exc
            return study_record(m)

    def _find_study(self, s: Session, name: str) -> StudyModel:
        m = s.scalar(select(StudyModel).where(StudyModel.name == name))
        if m is None:
            known = s.scalars(select(StudyModel.name).order_by(StudyModel.name)).all()
            raise StudyNotFoundError(
                f"no study named {name!r} in {self.url}" + (f"; studies: {', '.join(known)}" if known else "")
            )
        return m

    def get_study(self, name: str) -> StudyRecord:
        with self.session_scope() as s:
            return study_record(self._find_study(s, name))

    def list_studies(self) -> list[StudySummary]:
        with self.session_scope() as s:
            studies = s.scalars(select(StudyModel).order_by(StudyModel.name)).all()
            counts: dict[int, dict[str, int]] = defaultdict(dict)
            rows = s.execute(
                select(TrialModel.study_id, TrialModel.state, func.count()).group_by(
                    TrialModel.study_id, TrialModel.state
                )
            ).all()
            last: dict[int, Any] = dict(
                s.execute(
                    select(TrialModel.study_id, func.max(TrialModel.finished_at)).group_by(
                        TrialModel.study_id
                    )
                ).all()
            )
            for sid, state, n in rows:
                counts[sid][TrialState(state).value] = int(n)
            return [
                StudySummary(
                    name=m.name,
                    objectives=json.loads(m.objectives_json),
                    counts={st.value: counts[m.id].get(st.value, 0) for st in TrialState},
                    engine=m.engine,
                    created_at=m.created_at,
                    updated_at=max(filter(None, [m.updated_at, last.get(m.id)]), default=None),
                )
                for m in studies
            ]

    def delete_study(self, name: str) -> None:
        with self.session_scope() as s:
            m = self._find_study(s, name)
            trial_ids = select(TrialModel.id).where(TrialModel.study_id == m.id)
            s.execute(delete(TrajectoryStepModel).where(TrajectoryStepModel.trial_id.in_(trial_ids)))
            s.execute(delete(TrialValueModel).where(TrialValueModel.trial_id.in_(trial_ids)))
            s.execute(delete(TrialModel).where(TrialModel.study_id == m.id))
            s.execute(delete(SurrogateModelRow).where(SurrogateModelRow.study_id == m.id))
            s.execute(delete(DecisionLogModel).where(DecisionLogModel.study_id == m.id))
            s.delete(m)

    def set_normalization(self, study_id: int, normalization: dict[str, Any]) -> None:
        with self.session_scope() as s:
            s.execute(
                update(StudyModel)
                .where(StudyModel.id == study_id)
                .values(normalization_json=dumps(normalization), updated_at=utcnow())
            )

    # ----- trials -----
    def enqueue_trials(
        self, study_id: int, proposals: Sequence[TrialProposal], batch: int, max_total: int | None = None
    ) -> list[FrozenTrial]:
        if not proposals:
            return []
        with self.session_scope() as s:
            # one UPDATE ... RETURNING takes the write lock (SQLite) / row lock (PostgreSQL) and
            # allocates the numbers atomically, even with several processes adding trials
            n = len(proposals)
            end = s.execute(
                update(StudyModel)
                .where(StudyModel.id == study_id)
                .values(next_number=StudyModel.next_number + n)
                .returning(StudyModel.next_number)
            ).scalar()
            if end is None:
                raise StudyNotFoundError(f"no study with id {study_id} in {self.url}")
            start = int(end) - n
            if max_total is not None and start + n > int(max_total):
                n = max(0, int(max_total) - start)
                proposals = list(proposals)[:n]
                s.execute(update(StudyModel).where(StudyModel.id == study_id).values(next_number=start + n))
            if n == 0:
                return []
            models = []
            for i, p in enumerate(proposals):
                m = TrialModel(
                    study_id=study_id,
                    number=start + i,
                    batch=batch,
                    **waiting_trial_columns(p),
                    created_at=utcnow(),
                )
                s.add(m)
                models.append(m)
            s.flush()
            return [frozen_trial(m, [], []) for m in models]

    def start_trial(self, trial_id: int, worker: str) -> FrozenTrial | None:
        with self.session_scope() as s:
            # one conditional UPDATE: atomic on every backend (a SELECT-then-UPDATE would race on
            # SQLite, where the transaction only begins at the first write)
            now = utcnow()
            claimed = rowcount(
                s.execute(
                    update(TrialModel)
                    .where(TrialModel.id == trial_id, TrialModel.state == TrialState.WAITING)
                    .values(state=TrialState.RUNNING, worker=worker, started_at=now, heartbeat_at=now)
                )
            )
            m = s.get(TrialModel, trial_id)
            if m is None:
                raise StorageError(f"no trial with id {trial_id} in {self.url}")
            if not claimed:
                if TrialState(m.state).is_finished:
                    raise FinishedTrialError(f"trial {m.number} is {m.state.value} and cannot be started")
                if m.worker != worker:
                    return None  # claimed by another worker meanwhile
            return frozen_trial(m, [], [])

    def heartbeat(self, trial_id: int) -> None:
        with self.session_scope() as s:
            s.execute(
                update(TrialModel)
                .where(TrialModel.id == trial_id, TrialModel.state == TrialState.RUNNING)
                .values(heartbeat_at=utcnow())
            )

    def finish_trial(self, trial_id: int, state: TrialState, result: TrialResult) -> FrozenTrial:
        state = TrialState(state)
        if not state.is_finished:
            raise StorageError(f"finish_trial needs a finished state, got {state.value}")
        trials = TRIALS
        with self.session_scope() as s:
            conn = s.connection()
            # one conditional UPDATE both writes the result and guards immutability (atomic on
            # every backend); Core statements keep the hot path at a few milliseconds
            changed = rowcount(
                conn.execute(
                    trials.update()
                    .where(
                        trials.c.id == trial_id, trials.c.state.in_([TrialState.WAITING, TrialState.RUNNING])
                    )
                    .values(state=state, **result_columns(result), finished_at=utcnow())
                )
            )
            if not changed:
                row = conn.execute(
                    select(trials.c.number, trials.c.state).where(trials.c.id == trial_id)
                ).first()
                if row is None:
                    raise StorageError(f"no trial with id {trial_id} in {self.url}")
                raise FinishedTrialError(
                    f"trial {row.number} is already {TrialState(row.state).value}; "
                    "finished trials are immutable"
                )
            values = value_rows(trial_id, result)
            if values:
                conn.execute(TRIAL_VALUES.insert(), values)
            steps = trajectory_rows(trial_id, result)
            if steps:
                conn.execute(TRAJECTORY_STEPS.insert(), steps)
            if result.artefacts:
                conn.execute(TRIAL_ARTEFACTS.insert(), artefact_rows(trial_id, result))
            m = s.get(TrialModel, trial_id)
            assert m is not None
            return split_values(m, [TrialValueModel(**v) for v in values])

    def requeue_stale_trials(
        self, study_id: int, *, stale_after_s: float, local_dead_workers: Sequence[str] = ()
    ) -> list[int]:
        cutoff = utcnow() - timedelta(seconds=stale_after_s)
        with self.session_scope() as s:
            running = s.scalars(
                select(TrialModel)
                .where(TrialModel.study_id == study_id, TrialModel.state == TrialState.RUNNING)
                .with_for_update()
            ).all()
            requeued = []
            for m in running:
                dead = m.worker in set(local_dead_workers)
                if dead or (m.heartbeat_at is not None and m.heartbeat_at < cutoff):
                    m.state = TrialState.WAITING
                    m.retries = (m.retries or 0) + 1
                    m.worker = None
                    requeued.append(m.number)
            return requeued

    def get_trials(self, study_id: int, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        # Core rows, not ORM entities: 10,000 trials read in 1.0 s instead of 1.6 s (the
        # dashboard's cold start); rows have the same attribute names as the models
        trial_t, value_t = TRIALS, TRIAL_VALUES
        with self.session_scope() as s:
            q = select(trial_t).where(trial_t.c.study_id == study_id)
            if states is not None:
                q = q.where(trial_t.c.state.in_([TrialState(x) for x in states]))
            trials = s.execute(q.order_by(trial_t.c.number)).all()
            vq = (
                select(value_t)
                .join(trial_t, trial_t.c.id == value_t.c.trial_id)
                .where(trial_t.c.study_id == study_id)
            )
            by_trial: dict[int, list[Any]] = defaultdict(list)
            for v in s.execute(vq).all():
                by_trial[v.trial_id].append(v)
            return [split_values(m, by_trial.get(m.id, [])) for m in trials]

    def get_trajectory(self, trial_id: int) -> list[StoredStep]:
        with self.session_scope() as s:
            rows = s.scalars(
                select(TrajectoryStepModel)
                .where(TrajectoryStepModel.trial_id == trial_id)
                .order_by(TrajectoryStepModel.step)
            ).all()
            return [stored_step(r) for r in rows]

    # ----- surrogate models -----
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
        with self.session_scope() as s:
            lock_study_row(s, study_id, self.url)  # versions are allocated atomically
            last = s.scalar(
                select(func.max(SurrogateModelRow.version)).where(SurrogateModelRow.study_id == study_id)
            )
            row = SurrogateModelRow(
                study_id=study_id,
                version=int(last or 0) + 1,
                kind=kind,
                trial_numbers_json=dumps([int(n) for n in trial_numbers]),
                n_points=int(n_points),
                blob=bytes(blob),
                digest=digest,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            s.execute(
                delete(SurrogateModelRow).where(
                    SurrogateModelRow.study_id == study_id, SurrogateModelRow.version < row.version
                )
            )
            return stored_surrogate(row)

    def get_surrogate(self, study_id: int) -> StoredSurrogate | None:
        with self.session_scope() as s:
            row = s.scalar(
                select(SurrogateModelRow)
                .where(SurrogateModelRow.study_id == study_id)
                .order_by(SurrogateModelRow.version.desc())
                .limit(1)
            )
            return stored_surrogate(row) if row is not None else None
