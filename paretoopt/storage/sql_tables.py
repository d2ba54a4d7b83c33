"""The SQL storage's side tables: the archive's trajectories and refinements, the trials' block
artefacts and the decision log (a mixin of :class:`paretoopt.storage.sql.SQLStorage`, which
brings the connection), and the Core tables and helpers both modules use."""

from __future__ import annotations

from collections import defaultdict
from contextlib import AbstractContextManager
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paretoopt.exceptions import StorageError, StudyNotFoundError
from paretoopt.storage.base import RefinedPoint, StoredArtefact, StoredDecision, StoredStep
from paretoopt.storage.convert import (
    dumps,
    refined_point,
    refinement_columns,
    stored_artefact,
    stored_decision,
    stored_step,
)
from paretoopt.storage.models import (
    DecisionLogModel,
    RefinementRow,
    StudyModel,
    TrajectoryStepModel,
    TrialArtefactModel,
    TrialModel,
    TrialValueModel,
    utcnow,
)

# the tables behind the models, for Core statements on the hot paths
TRIALS = cast(Table, TrialModel.__table__)
TRIAL_VALUES = cast(Table, TrialValueModel.__table__)
TRAJECTORY_STEPS = cast(Table, TrajectoryStepModel.__table__)
TRIAL_ARTEFACTS = cast(Table, TrialArtefactModel.__table__)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched."""
    return cast(CursorResult[Any], result).rowcount


def lock_study_row(s: Session, study_id: int, url: str) -> None:
    """Take the study's row lock for the rest of the transaction (touching ``updated_at``), so
    per-study numbers (surrogate versions, decision steps) are allocated atomically. Raises
    :class:`StudyNotFoundError` when there is no such study."""
    touched = s.execute(update(StudyModel).where(StudyModel.id == study_id).values(updated_at=utcnow()))
    if not rowcount(touched):
        raise StudyNotFoundError(f"no study with id {study_id} in {url}")


class SQLSideTables:
    """The side tables' half of the storage contract; the class it is mixed into provides
    ``url`` and ``session_scope`` (one transaction per call)."""

    url: str

    def session_scope(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    # ----- the archive -----
    def get_study_trajectories(self, study_id: int) -> dict[int, list[StoredStep]]:
        steps_t, trial_t = TRAJECTORY_STEPS, TRIALS
        with self.session_scope() as s:
            q = (
                select(steps_t)
                .join(trial_t, trial_t.c.id == steps_t.c.trial_id)
                .where(trial_t.c.study_id == study_id)
                .order_by(steps_t.c.trial_id, steps_t.c.step)
            )
            out: dict[int, list[StoredStep]] = defaultdict(list)
            for r in s.execute(q).all():
                out[r.trial_id].append(stored_step(r))
            return dict(out)

    def save_refinement(self, study_id: int, point: RefinedPoint) -> bool:
        try:
            with self.session_scope() as s:
                s.add(RefinementRow(**refinement_columns(study_id, point), created_at=utcnow()))
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError):  # stored already (a rerun, a race)
                return False
            raise
        return True

    def get_refinements(self, study_id: int) -> list[RefinedPoint]:
        with self.session_scope() as s:
            rows = s.scalars(
                select(RefinementRow)
                .where(RefinementRow.study_id == study_id)
                .order_by(RefinementRow.trial_id, RefinementRow.step)
            ).all()
            return [refined_point(r) for r in rows]

    def get_trial_artefacts(self, trial_id: int) -> list[StoredArtefact]:
        with self.session_scope() as s:
            rows = s.scalars(
                select(TrialArtefactModel)
                .where(TrialArtefactModel.trial_id == trial_id)
                .order_by(TrialArtefactModel.position, TrialArtefactModel.id)
            ).all()
            return [stored_artefact(r) for r in rows]

    # ----- decision log -----
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
        with self.session_scope() as s:
            lock_study_row(s, study_id, self.url)  # step numbers are allocated atomically
            last = s.scalar(
                select(func.max(DecisionLogModel.step)).where(DecisionLogModel.study_id == study_id)
            )
            if parent is not None and not 1 <= int(parent) <= int(last or 0):
                raise StorageError(f"decision log of study {study_id} has no step {parent} to follow")
            row = DecisionLogModel(
                study_id=study_id,
                step=int(last or 0) + 1,
                parent=None if parent is None else int(parent),
                method=method,
                inputs_json=dumps(inputs),
                outputs_json=dumps(outputs),
                author=author,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return stored_decision(row)

    def get_decisions(self, study_id: int) -> list[StoredDecision]:
        with self.session_scope() as s:
            rows = s.scalars(
                select(DecisionLogModel)
                .where(DecisionLogModel.study_id == study_id)
                .order_by(DecisionLogModel.step)
            ).all()
            return [stored_decision(r) for r in rows]
