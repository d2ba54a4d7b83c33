"""The archive (issue #19): every evaluated design with its sample size and errors; a front built
from it never shows a trajectory point as review-grade; infeasible points never enter it.
References: the noise model's standard error sigma / sqrt(n) and the study's closed-form
objectives, computed here; dominance checked by a brute-force loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paretoopt.run import optimize
from tests.archive.studies import CONSTRAINED, MONTE_CARLO, write_study


@pytest.fixture(scope="module")
def mc_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mc")
    _, d = write_study(folder, MONTE_CARLO, "mc")
    calls = d.simulate.__globals__["CALLS"]
    calls.clear()
    study = optimize(d, storage=f"sqlite:///{folder / 'mc.db'}", engine="grid", n_trials=6, seed=3)
    return study, list(calls)


@pytest.fixture(scope="module")
def constrained_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("con")
    _, d = write_study(folder, CONSTRAINED, "con")
    return optimize(d, storage=f"sqlite:///{folder / 'con.db'}", engine="grid", n_trials=8, seed=0)


def test_monte_carlo_archive_points_carry_their_sample_size_and_errors(mc_study):
    study, _ = mc_study
    a = study.archive()
    traj, trials = a[a.source == "trajectory"], a[a.source == "trial"]
    # one point per distinct design (an anchor and the grid's weight for the same extreme may
    # end on exactly the same x: the archive keeps that design once)
    designs = {(repr(t.choices), repr(sorted(t.params.items()))) for t in study.completed_trials}
    assert len(traj) > 10 and len(trials) == len(designs) >= len(study.completed_trials) - 1
    sigma = 0.5  # the study's per-event noise: the standard error on n events is sigma / sqrt(n)
    assert set(traj.n_samples) == {200} and set(trials.n_samples) == {5000}
    for frame, n, slack in ((traj, 200, 0.2), (trials, 5000, 0.06)):
        ratio = frame[["f1 stderr", "f2 stderr"]].to_numpy() * math.sqrt(n) / sigma
        assert np.all(np.abs(ratio - 1) < slack), ratio
    # smaller samples, larger errors: about sqrt(5000 / 200) = 5 times
    assert traj["f1 stderr"].median() / trials["f1 stderr"].median() == pytest.approx(5.0, rel=0.15)
    assert not traj.review_grade.any() and trials.review_grade.all()


def test_exact_archive_points_are_exact_single_samples(constrained_study):
    a = constrained_study.archive()
    traj = a[a.source == "trajectory"]
    assert len(traj) > 10 and set(traj.n_samples) == {1}
    assert (traj["f1 stderr"] == 0).all() and (traj["gain stderr"] == 0).all()


def _gain(x, y):
    g = 1 + 9 * y
    return -g * (1 - np.sqrt(x / g))


def test_archive_front_is_feasible_non_dominated_and_marks_trajectory_points(constrained_study):
    study = constrained_study
    a = study.archive()
    infeasible = a[a.feasible == False]  # noqa: E712 - None means unknown
    assert len(infeasible) > 0  # the loops start at x = 0.5 > 0.4: some points violate it
    front = study.pareto_front(include_archive=True)
    assert (front.source == "trajectory").any()
    # never review-grade before refine; the flag follows the source, nothing else
    assert list(front.review_grade) == [s in ("trial", "refined") for s in front.source]
    # figures are the study's closed form at the stored design; every point is feasible
    assert np.allclose(front["f1"], front["x"]) and np.allclose(front["gain"], _gain(front["x"], front["y"]))
    assert (front["xcap"] <= 0.4).all()
    # brute force: no feasible archive point dominates a front point (min f1, max gain)
    ok = a[(a.feasible == True) & a["f1"].notna()]  # noqa: E712
    pts = ok[["f1", "gain"]].to_numpy() * [1, -1]
    for f1, gain in front[["f1", "gain"]].to_numpy() * [1, -1]:
        dominated = np.all(pts <= [f1, gain], axis=1) & np.any(pts < [f1, gain], axis=1)
        assert not dominated.any()
    # the archive front is at least as good as the trials' front: it holds every design they hold
    assert len(front) >= len(study.pareto_front())


def test_hypervolume_history_counts_calls_backward_and_events(mc_study):
    study, calls = mc_study
    # independent count: the simulation recorded every call's sample size
    assert study.n_calls == len(calls) and study.n_events == sum(calls)
    df = study.trials_dataframe()
    assert df.n_events.sum() == sum(calls) and (df.n_events >= df.n_calls).all()
    hv = study.hypervolume_history(by="events")
    assert hv.index[-1] == sum(calls) and hv["calls"].iloc[-1] == len(calls)
    assert hv["backward"].iloc[-1] == study.n_backward
    with_archive = study.hypervolume_history(by="calls", include_archive=True)
    assert list(with_archive.index) == list(study.hypervolume_history(by="calls").index)
    with pytest.raises(ValueError, match="events"):
        study.hypervolume_history(by="time")


def test_the_health_line_states_calls_and_events(mc_study):
    from paretoopt.cli.run import health_lines

    study, calls = mc_study
    first = health_lines(study.trials).splitlines()[0]
    assert first.startswith(f"{len(calls):,} simulator calls (+ {study.n_backward:,} backward passes)")
    assert f"{sum(calls):,} simulated events" in first


def test_a_step_without_constraint_values_is_of_unknown_feasibility_and_stays_off_the_front():
    """Steps stored before schema 0005 carry no constraint values: in a constrained study their
    feasibility is unknown (None), and the archive front leaves them out even when they would
    dominate everything; in an unconstrained study they are feasible."""
    from paretoopt.archive import archive_front, build_archive
    from paretoopt.problem import Constraint
    from paretoopt.storage import FrozenTrial, StoredStep, TrialState
    from paretoopt.study import _empty_trial

    t = FrozenTrial(**{**_empty_trial().__dict__, "id": 1, "state": TrialState.COMPLETE})
    t = FrozenTrial(**{**t.__dict__, "objectives": (1.0, 1.0), "stderr": (0.1, 0.1), "constraints": (0.0,)})
    old = StoredStep(0, 0.1, [0.0, 0.0], {"x": 0.3})  # dominates the trial, constraints unknown
    known = StoredStep(1, 0.1, [0.5, 0.5], {"x": 0.4}, [0.0, 0.0], [2.0], [0.0], 1, exact=True)
    cons = [Constraint("c", upper=1.0)]
    points = build_archive([t], {1: [old, known]}, [], cons)
    assert [p.feasible for p in points] == [True, None, False]  # trial, unknown, c = 2 > 1
    assert [p.source for p in archive_front(points, ["minimize", "minimize"])] == ["trial"]
    free = build_archive([t], {1: [old]}, [], [])
    assert [(p.source, p.step) for p in archive_front(free, ["minimize", "minimize"])] == [("trajectory", 0)]


def test_exports_of_the_archive_front_mark_every_trajectory_point(constrained_study, tmp_path):
    """CSV keeps ``source`` / ``review_grade`` / ``n_samples`` per row; Markdown says "not
    review-grade" on exactly the trajectory rows (counted from the database's archive front)."""
    import pandas as pd

    study = constrained_study
    front = study.archive_front_points()
    n_traj = sum(p.source == "trajectory" for p in front)
    assert n_traj > 0
    study.export("csv", str(tmp_path / "f.csv"), include_archive=True)
    csv = pd.read_csv(tmp_path / "f.csv", comment="#")
    assert len(csv) == len(front) and (csv["source"] == "trajectory").sum() == n_traj
    assert list(csv["review_grade"]) == [s != "trajectory" for s in csv["source"]]
    study.export("md", str(tmp_path / "f.md"), include_archive=True)
    md = (tmp_path / "f.md").read_text()
    assert md.count("trajectory, n = 1, not review-grade") == n_traj
    study.export("md", str(tmp_path / "plain.md"))
    assert "review-grade" not in (tmp_path / "plain.md").read_text()


def test_archive_hypervolume_history_ends_at_the_archive_front_s_hypervolume(constrained_study):
    """Brute force in the test: the 2-D dominated area of the feasible archive points (min f1,
    max gain) by a sweep over f1, against the history's last value."""
    study = constrained_study
    ref = study.reference_point()
    a = study.archive()
    ok = a[(a.feasible == True) & a["f1"].notna()]  # noqa: E712
    pts = sorted(zip(ok["f1"], -ok["gain"], strict=True))  # both minimised now
    r1, r2 = ref[0], -ref[1]
    area, best = 0.0, r2
    for i, (x, y) in enumerate(pts):
        best = min(best, y)
        nxt = pts[i + 1][0] if i + 1 < len(pts) else r1
        if x < r1 and best < r2:
            area += (min(nxt, r1) - x) * (r2 - best)
    hist = study.hypervolume_history(include_archive=True)
    assert hist["hypervolume"].iloc[-1] == pytest.approx(area, rel=1e-9)
    assert hist["hypervolume"].iloc[-1] >= study.hypervolume_history()["hypervolume"].iloc[-1]
