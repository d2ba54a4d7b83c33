"""The storage contract, run against every backend (see conftest.py)."""

from __future__ import annotations

import math
import multiprocessing as mp
import pickle

import pytest
from sqlalchemy import create_engine, text

from paretoopt.exceptions import (
    DuplicateStudyError,
    FinishedTrialError,
    SchemaVersionError,
    StorageError,
    StudyNotFoundError,
)
from paretoopt.inner import TrajectoryStep
from paretoopt.storage import SQLStorage, StudySpec, TrialProposal, TrialResult, TrialState, head_revision
from paretoopt.storage.sql import current_revision


def spec(name: str = "s") -> StudySpec:
    return StudySpec(
        name=name,
        definition_name="def",
        definition_hash="0" * 64,
        space=[
            {
                "type": "real",
                "name": "x",
                "low": 0.0,
                "high": 1.0,
                "unit": "mm",
                "log": False,
                "differentiable": True,
            }
        ],
        objectives=[
            {"name": "f", "direction": "minimize", "unit": "%", "description": ""},
            {"name": "cost", "direction": "minimize", "unit": "kEUR", "description": ""},
        ],
        constraints=[],
        engine="grid",
        engine_options={"real_levels": 3},
        seed=7,
    )


def proposals(n: int, seed0: int = 0) -> list[TrialProposal]:
    return [TrialProposal((0.5, 0.5), {"m": "Pb"}, seed0 + i) for i in range(n)]


def result(values=(1.0, 2.0), stderr=(0.1, 0.2), steps=3) -> TrialResult:
    return TrialResult(
        params={"x": 0.25},
        objectives=values,
        stderr=stderr,
        n_calls=steps + 1,
        n_backward=steps,
        n_steps=steps,
        loss=0.5,
        wall_time_s=0.01,
        trajectory=[TrajectoryStep(i, 1.0 / (i + 1), [1.0, 2.0 + i], {"x": 0.1 * i}) for i in range(steps)],
    )


def test_a_study_created_by_another_process_meanwhile_is_a_duplicate(storage, storage_url):
    """Two processes creating one study: both check the name, one inserts first. The other's
    insert must say DuplicateStudyError (which load_if_exists callers turn into a load), not a
    generic integrity error. The race is replayed by creating the study from a second storage
    just before the first one's insert is flushed."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    other = SQLStorage(storage_url)
    try:

        def create_meanwhile(session, flush_context, instances):
            other.create_study(spec("raced"))

        event.listen(Session, "before_flush", create_meanwhile, once=True)
        try:
            with pytest.raises(DuplicateStudyError, match="'raced' already exists"):
                storage.create_study(spec("raced"))
        finally:
            if event.contains(Session, "before_flush", create_meanwhile):
                event.remove(Session, "before_flush", create_meanwhile)
        assert [s.name for s in storage.list_studies()] == ["raced"]
    finally:
        other.close()


def test_study_create_get_list_delete(storage):
    rec = storage.create_study(spec("a"))
    assert rec.id > 0 and rec.name == "a" and rec.engine_options == {"real_levels": 3}
    assert storage.get_study("a").objectives[1]["unit"] == "kEUR"
    with pytest.raises(DuplicateStudyError, match="already exists"):
        storage.create_study(spec("a"))
    storage.create_study(spec("b"))
    with pytest.raises(StudyNotFoundError, match=r"no study named 'zzz'.*studies: a, b"):
        storage.get_study("zzz")
    assert [s.name for s in storage.list_studies()] == ["a", "b"]
    storage.delete_study("a")
    assert [s.name for s in storage.list_studies()] == ["b"]


def test_trial_life_cycle_and_round_trip(storage):
    sid = storage.create_study(spec()).id
    (t,) = storage.enqueue_trials(sid, proposals(1), batch=0)
    assert t.state is TrialState.WAITING and t.number == 0
    running = storage.start_trial(t.id, "host:1")
    assert running.state is TrialState.RUNNING and running.worker == "host:1"
    done = storage.finish_trial(t.id, TrialState.COMPLETE, result())
    assert done.objectives == (1.0, 2.0) and done.stderr == (0.1, 0.2)
    (back,) = storage.get_trials(sid)
    assert back.state is TrialState.COMPLETE and back.params == {"x": 0.25} and back.choices == {"m": "Pb"}
    assert back.n_calls == 4 and back.n_backward == 3 and back.weights == (0.5, 0.5)
    traj = storage.get_trajectory(t.id)
    assert (
        [s.step for s in traj] == [0, 1, 2]
        and traj[2].objectives == [1.0, 4.0]
        and traj[1].params == {"x": 0.1}
    )
    counts = storage.list_studies()[0].counts
    assert counts["COMPLETE"] == 1 and counts["RUNNING"] == 0


def test_finished_trials_are_immutable(storage):
    sid = storage.create_study(spec()).id
    (t,) = storage.enqueue_trials(sid, proposals(1), batch=0)
    storage.start_trial(t.id, "w")
    storage.finish_trial(t.id, TrialState.FAILED, TrialResult(params={}, error="boom"))
    with pytest.raises(FinishedTrialError, match="immutable"):
        storage.finish_trial(t.id, TrialState.COMPLETE, result())
    with pytest.raises(FinishedTrialError):
        storage.start_trial(t.id, "w")
    assert storage.get_trials(sid)[0].error == "boom"


def test_non_finite_values_round_trip(storage):
    sid = storage.create_study(spec()).id
    (t,) = storage.enqueue_trials(sid, proposals(1), batch=0)
    storage.start_trial(t.id, "w")
    storage.finish_trial(
        t.id, TrialState.COMPLETE, result(values=(math.inf, -math.inf), stderr=(math.nan, 0.0))
    )
    back = storage.get_trials(sid)[0]
    assert back.objectives == (math.inf, -math.inf)
    assert math.isnan(back.stderr[0]) and back.stderr[1] == 0.0


def test_numbers_are_consecutive_and_requeue_of_dead_workers(storage):
    sid = storage.create_study(spec()).id
    a = storage.enqueue_trials(sid, proposals(3), batch=0)
    b = storage.enqueue_trials(sid, proposals(2), batch=1)
    assert [t.number for t in a + b] == [0, 1, 2, 3, 4]
    storage.start_trial(a[0].id, "host:99999999")
    storage.start_trial(a[1].id, "host:alive")
    assert storage.requeue_stale_trials(sid, stale_after_s=3600, local_dead_workers=["host:99999999"]) == [0]
    states = {t.number: t.state for t in storage.get_trials(sid)}
    assert states[0] is TrialState.WAITING and states[1] is TrialState.RUNNING
    assert storage.get_trials(sid)[0].retries == 1
    # a heartbeat older than the limit counts as dead too
    assert storage.requeue_stale_trials(sid, stale_after_s=-1) == [1]


def test_storage_pickles_without_its_engine(storage):
    sid = storage.create_study(spec()).id
    clone = pickle.loads(pickle.dumps(storage))
    assert clone.url == storage.url and clone.get_study("s").id == sid
    clone.close()


def _enqueue_many(url: str, sid: int, n: int) -> None:
    st = SQLStorage(url, migrate=False)
    for i in range(n):
        st.enqueue_trials(sid, proposals(1, seed0=i), batch=i)
    st.close()


def test_concurrent_writers_from_two_processes_get_unique_numbers(storage):
    sid = storage.create_study(spec()).id
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_enqueue_many, args=(storage.url, sid, 25)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    numbers = [t.number for t in storage.get_trials(sid)]
    assert sorted(numbers) == list(range(50))


def test_new_database_is_created_at_head_and_reopened(storage_url):
    st = SQLStorage(storage_url)
    assert current_revision(st.engine) == head_revision()
    st.create_study(spec())
    st.close()
    again = SQLStorage(storage_url)
    assert again.get_study("s").seed == 7
    again.close()


def test_unknown_newer_schema_is_refused(storage_url):
    st = SQLStorage(storage_url)
    with st.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    st.close()
    with pytest.raises(SchemaVersionError, match="newer than this paretoopt"):
        SQLStorage(storage_url)


def test_bad_urls_raise_storage_error(tmp_path):
    with pytest.raises(StorageError, match="bad storage URL"):
        SQLStorage("notadb://x")
    with pytest.raises(StorageError, match="does not exist"):
        SQLStorage(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_sqlite_runs_in_wal_mode(tmp_path):
    st = SQLStorage(f"sqlite:///{tmp_path / 'w.db'}")
    with st.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    st.close()


def test_foreign_tables_without_version_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE studies (id INTEGER PRIMARY KEY)"))
    eng.dispose()
    with pytest.raises(SchemaVersionError, match="not a paretoopt database"):
        SQLStorage(url)
