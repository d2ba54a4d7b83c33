"""The archive's storage (schema 0005) through the Storage API, on every mode (the ``storage``
fixture: SQLite and PostgreSQL): trajectory steps keep their errors, constraints and sample
size, trials their events and evaluation sample, and re-evaluated archive points are stored
once each."""

from __future__ import annotations

import math

from paretoopt.inner import TrajectoryStep
from paretoopt.storage import RefinedPoint, TrialResult, TrialState
from tests.storage.samples import proposals, spec


def _finish(storage, sid, steps, n_events=1234, n_samples=500):
    (t,) = storage.enqueue_trials(sid, proposals(1), batch=0)
    storage.start_trial(t.id, "w")
    return storage.finish_trial(
        t.id,
        TrialState.COMPLETE,
        TrialResult(
            params={"x": 0.25},
            objectives=(1.0, 2.0),
            stderr=(0.1, 0.2),
            n_calls=3,
            n_events=n_events,
            n_samples=n_samples,
            trajectory=steps,
        ),
    )


def test_steps_keep_errors_constraints_and_sample_size(storage):
    sid = storage.create_study(spec()).id
    steps = [
        TrajectoryStep(0, 1.0, [1.0, 3.0], {"x": 0.1}, [0.5, math.inf], [0.2], [0.01], 250),
        TrajectoryStep(1, 0.5, [1.5, 2.0], {"x": 0.2}, [0.0, 0.0], [0.3], [0.0], 1, exact=True),
        TrajectoryStep(2, 0.4, [1.6, 1.9], {"x": 0.3}),  # recorded without figures (legacy)
    ]
    t = _finish(storage, sid, steps)
    (back,) = storage.get_trials(sid)
    assert back.n_events == 1234 and back.n_samples == 500 and t.n_events == 1234
    got = storage.get_study_trajectories(sid)[t.id]
    assert got == storage.get_trajectory(t.id)
    assert got[0].stderr == [0.5, math.inf] and got[0].constraints == [0.2] and got[0].n_samples == 250
    assert got[1].exact and got[1].n_samples == 1 and got[1].constraint_stderr == [0.0]
    assert got[2].stderr is None and got[2].n_samples is None and got[2].constraints is None


def test_a_refined_point_is_stored_once(storage):
    sid = storage.create_study(spec()).id
    t = _finish(storage, sid, [TrajectoryStep(0, 1.0, [1.0, 3.0], {"x": 0.1}, [0.5, 0.5], [], [], 250)])
    point = RefinedPoint(t.id, 0, {"x": 0.1}, (1.1, 2.9), (0.01, 0.02), (), (), True, 10000, 1, 0, 10000)
    assert storage.save_refinement(sid, point) is True
    assert storage.save_refinement(sid, point) is False  # a rerun, or another process, stored it
    failed = RefinedPoint(t.id, 1, {"x": 0.2}, n_calls=1, error="SimulationError: boom")
    assert storage.save_refinement(sid, failed) is True
    back = storage.get_refinements(sid)
    assert [(r.trial_id, r.step) for r in back] == [(t.id, 0), (t.id, 1)]
    assert back[0].objectives == (1.1, 2.9) and back[0].stderr == (0.01, 0.02)
    assert back[0].n_samples == 10000 and back[0].n_events == 10000 and back[0].error is None
    assert back[1].error == "SimulationError: boom" and back[1].objectives == ()
    other = storage.create_study(spec("other")).id
    assert storage.get_refinements(other) == [] and storage.get_study_trajectories(other) == {}
    storage.delete_study("s")  # the refinements go with their study
    assert storage.get_refinements(sid) == []
