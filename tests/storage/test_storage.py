"""The storage contract (:class:`~paretoopt.storage.BaseStorage`), run against every mode of
:data:`~paretoopt.testing.storages.STORAGE_MODES` through the ``storage_supplier`` fixture
(conftest.py): only the Storage API, so a new backend runs it by adding one mode."""

from __future__ import annotations

import math
import multiprocessing as mp
import pickle
from dataclasses import replace

import pytest

from paretoopt.exceptions import DuplicateStudyError, FinishedTrialError, StudyNotFoundError
from paretoopt.storage import STOP_REASONS, TrialResult, TrialState
from tests.storage.samples import proposals, result, spec


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


@pytest.mark.parametrize("reason", STOP_REASONS)
def test_convergence_round_trips(storage, reason):
    """``converged`` and ``stop_reason`` come back as written, on every backend; a WAITING
    trial and a result without a reason read ``None``."""
    sid = storage.create_study(spec()).id
    a, b = storage.enqueue_trials(sid, proposals(2), batch=0)
    assert a.stop_reason is None and a.converged is False
    for t in (a, b):
        storage.start_trial(t.id, "w")
    converged = reason == "converged"
    done = storage.finish_trial(
        a.id, TrialState.COMPLETE, replace(result(), converged=converged, stop_reason=reason)
    )
    assert (done.converged, done.stop_reason) == (converged, reason)
    storage.finish_trial(b.id, TrialState.COMPLETE, result())
    back = {t.number: t for t in storage.get_trials(sid)}
    assert (back[0].converged, back[0].stop_reason) == (converged, reason)
    assert (back[1].converged, back[1].stop_reason) == (False, None)


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


def _enqueue_many(storage, sid: int, n: int) -> None:
    # the storage arrives pickled (as on a Dask worker): a new connection, no migration
    for i in range(n):
        storage.enqueue_trials(sid, proposals(1, seed0=i), batch=i)
    storage.close()


def test_concurrent_writers_from_two_processes_get_unique_numbers(storage):
    sid = storage.create_study(spec()).id
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_enqueue_many, args=(storage, sid, 25)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    numbers = [t.number for t in storage.get_trials(sid)]
    assert sorted(numbers) == list(range(50))


def test_a_second_storage_on_the_same_database_sees_the_first_ones_writes(storage_supplier):
    first = storage_supplier.open()
    sid = first.create_study(spec()).id
    first.enqueue_trials(sid, proposals(2), batch=0)
    first.close()
    again = storage_supplier.open()
    assert again.get_study("s").seed == 7
    assert [t.number for t in again.get_trials(sid)] == [0, 1]
