"""Evaluations reused across trials by the local surrogate (the issue's "reuse earlier
evaluations inside the region"): a trial of a later batch near a first one fits its model to
the first one's simulations on record in the cache and runs fewer new ones; only earlier
batches' evaluations are reused, so a trial run again (a resumed run) repeats itself exactly
and runs nothing new, and a trial of the same batch reuses nothing."""

from __future__ import annotations

import numpy as np

from paretoopt import DesignSpace, Objective, Real, StudyDefinition
from paretoopt.external import ExternalSimulator
from paretoopt.external.records import ORIGIN, Origin, RecordIndex
from paretoopt.inner import optimize_inner
from paretoopt.scalarize import Normalization, make_scalarization
from tests.external.sims import NOISY_QUADRATIC, write_sim

#: centres of NOISY_QUADRATIC's two quadratics
A, B = np.array([0.3, 0.6]), np.array([0.7, 0.2])


def _study(tmp_path, work: str, reuse: bool = True) -> StudyDefinition:
    sim = ExternalSimulator(
        write_sim(tmp_path, "noisy", NOISY_QUADRATIC),
        timeout_s=60,
        workdir=tmp_path / work,
        max_parallel=2,
        reuse=reuse,
    )
    space = DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0))
    return StudyDefinition("noisy_quadratic", space, [Objective("f1"), Objective("f2")], sim)


def _scal(w):
    return make_scalarization("weighted_sum", w, Normalization([0.0, 0.0], [1.0, 1.0], [1.0, 1.0]))


def _optimum(w):
    """Where the exact gradient of w1 f1 + w2 f2 of the noise-free quadratics vanishes."""
    w = np.asarray(w, dtype=float)
    return (w[0] * A + w[1] * B) / w.sum()


def _found(res):
    return np.array([res.params["x"], res.params["y"]])


def test_a_second_trial_near_the_first_reuses_its_evaluations(tmp_path):
    w1, w2 = [0.45, 0.55], [0.5, 0.5]
    # without reuse: the first trial, then the second on its own
    o1, o2 = Origin("noisy_quadratic", 0, 0), Origin("noisy_quadratic", 1, 1)
    plain = _study(tmp_path, "plain", reuse=False)
    first_plain = optimize_inner(plain, {}, _scal(w1), seed=1, origin=o1)
    second_plain = optimize_inner(plain, {}, _scal(w2), seed=2, origin=o2)
    assert first_plain.n_reused == 0 and second_plain.n_reused == 0
    # with reuse: the first trial has nothing to reuse and is the same trial
    study = _study(tmp_path, "shared")
    first = optimize_inner(study, {}, _scal(w1), seed=1, origin=o1)
    assert first.n_reused == 0
    assert (first.params, first.objectives, first.n_calls) == (
        first_plain.params,
        first_plain.objectives,
        first_plain.n_calls,
    )
    runs_before = study.simulate.counters.runs
    second = optimize_inner(study, {}, _scal(w2), seed=2, origin=o2)
    new_runs = study.simulate.counters.runs - runs_before
    print(f"second trial: {second.n_calls} calls, {second.n_reused} reused; alone {second_plain.n_calls}")
    assert second.n_reused > 0
    # the calls a trial reports are the simulations it ran (the cache served none of them)
    assert new_runs == second.n_calls
    assert second.n_calls < second_plain.n_calls, (second.n_calls, second_plain.n_calls)
    # and it still finds the known optimum of its own trade-off
    for res in (second, second_plain):
        assert np.max(np.abs(_found(res) - _optimum(w2))) < 0.03, (_found(res), _optimum(w2))


def test_a_trial_run_again_repeats_itself_and_runs_nothing_new(tmp_path):
    study = _study(tmp_path, "work")
    o2 = Origin("noisy_quadratic", 1, 1)
    optimize_inner(study, {}, _scal([0.45, 0.55]), seed=1, origin=Origin("noisy_quadratic", 0, 0))
    second = optimize_inner(study, {}, _scal([0.5, 0.5]), seed=2, origin=o2)
    runs = study.simulate.counters.runs
    # a resumed run re-runs the trial it lost with the same seed: its own evaluations are on
    # record now, but only as cache hits, never as reused neighbours
    again = optimize_inner(study, {}, _scal([0.5, 0.5]), seed=2, origin=o2)
    assert study.simulate.counters.runs == runs
    assert (again.params, again.objectives, again.n_calls, again.n_reused) == (
        second.params,
        second.objectives,
        second.n_calls,
        second.n_reused,
    )
    # a trial of the first batch (beside the first trial) reuses nothing of it
    beside = optimize_inner(study, {}, _scal([0.5, 0.5]), seed=3, origin=Origin("noisy_quadratic", 0, 2))
    assert beside.n_reused == 0


def test_records_match_program_choices_and_sample_size(tmp_path):
    sim = _study(tmp_path, "work").simulate
    token = ORIGIN.set(Origin("s", 0, 0))
    try:
        sim.run({"x": 0.1, "y": 0.2}, {}, seed=5, n_samples=10)
        sim.run({"x": 0.3, "y": 0.2}, {}, seed=6, n_samples=20)
    finally:
        ORIGIN.reset(token)
    sim.run({"x": 0.5, "y": 0.2}, {}, seed=7, n_samples=20)  # no origin: never reused
    index = RecordIndex(tmp_path / "work")
    (rec,) = index.matching(sim.command, None, {}, 10, ["f1", "f2"])
    assert (rec.params, rec.seed, rec.n_samples) == ({"x": 0.1, "y": 0.2}, 5, 10)
    assert index.matching(sim.command, None, {"mode": "a"}, 10, ["f1"]) == []
    assert index.matching(["other"], None, {}, 10, ["f1"]) == []
    assert index.matching(sim.command, None, {}, 10, ["f3"]) == []
    assert len(index.matching(sim.command, None, {}, 20, ["f1"])) == 2
    assert [r.seed for r in sim.recorded({}, 20, Origin("s", 1, 3))] == [6]
    assert sim.recorded({}, 20, Origin("s", 0, 3)) == []  # the same batch
    assert sim.recorded({}, 20, Origin("other", 1, 3)) == []  # another study
