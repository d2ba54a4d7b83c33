"""Fills: designs halfway between neighbouring front trials, one call each (paretoopt.run.fill).

DTLZ2's Pareto set is flat (the tail variables at 0.5), and its distance function ``g`` is
convex, so the design halfway between two trials' lies on the sphere of radius ``1 + g`` with
``g`` at most the mean of the parents': a fill is never further from the front than its
parents on average. Checked on a real run through the runner and the SQLite database."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from paretoopt import analytic, optimize
from paretoopt.normalization import given_normalization
from paretoopt.run.fill import FILL_WINDOW, fill_proposals, fill_rate, neighbour_pairs
from paretoopt.storage import TrialState
from paretoopt.trials import INTERPOLATED

N_TRIALS = 70
FILL = 0.5


def _g(params: dict[str, float]) -> float:
    return sum((params[f"x{i}"] - 0.5) ** 2 for i in range(3, 13))


def _run(tmp_path, n_trials: int, name: str = "fill"):
    return optimize(
        analytic.dtlz2_study(3),
        storage=f"sqlite:///{tmp_path}/{name}.db",
        engine="grid",
        n_trials=n_trials,
        seed=3,
        fill=FILL,
    )


def test_neighbours_are_consecutive_for_two_objectives_and_delaunay_edges_beyond() -> None:
    z2 = np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])
    assert neighbour_pairs(z2) == [(0, 2), (1, 2)]
    # four points on the plane x + y + z = 1: a triangle and its centre, 3 + 3 edges
    z3 = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1 / 3, 1 / 3, 1 / 3]])
    assert neighbour_pairs(z3) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    # two opposite corners of a square of four: the diagonal is an edge only once
    z4 = np.array([[0.0, 0.5, 1.0], [0.5, 0.0, 1.0], [0.5, 1.0, 0.0], [1.0, 0.5, 0.0]])
    assert len(neighbour_pairs(z4)) == 5


def test_fills_are_halfway_designs_on_the_front_for_one_call(tmp_path) -> None:
    study = _run(tmp_path, N_TRIALS)
    trials = sorted(study.trials, key=lambda t: t.number)
    fills = [t for t in trials if t.source == INTERPOLATED]
    assert len(fills) >= 10
    others = [t for t in trials if t.source != INTERPOLATED]
    assert all(t.state is TrialState.COMPLETE and t.n_calls == 1 and t.n_steps == 0 for t in fills)
    for f in fills:
        earlier = [t for t in trials if t.number < f.number and t.state is TrialState.COMPLETE]
        parents = [
            (a, b)
            for i, a in enumerate(earlier)
            for b in earlier[i + 1 :]
            if all(
                math.isclose(f.params[k], 0.5 * (a.params[k] + b.params[k]), abs_tol=1e-12) for k in f.params
            )
        ]
        assert parents, f"fill {f.number} is not halfway between two earlier trials"
        a, b = parents[0]
        radius = float(np.linalg.norm(f.objectives))
        assert radius == pytest.approx(1.0 + _g(f.params), abs=1e-12)
        assert _g(f.params) <= 0.5 * (_g(a.params) + _g(b.params)) + 1e-15
    # fills in a row: at most the engine's front points (at most its trials so far) less one
    run, grid_before = 0, 0
    for t in trials:
        run = run + 1 if t.source == INTERPOLATED else 0
        grid_before += t.source == "grid"
        assert run <= grid_before - 1
    # the share of calls: at most FILL of all calls, give or take the last batch
    calls_fill = sum(t.n_calls for t in fills)
    calls_all = sum(t.n_calls for t in trials)
    assert calls_fill <= FILL * calls_all + 16
    assert sum(t.n_calls for t in others) > 0


def test_a_resumed_run_fills_as_the_uninterrupted_one(tmp_path) -> None:
    whole = _run(tmp_path, N_TRIALS, "whole")
    _run(tmp_path, 40, "parts")
    parts = _run(tmp_path, N_TRIALS, "parts")
    key = [
        (t.number, t.source, tuple(sorted(t.params.items())))
        for t in sorted(whole.trials, key=lambda t: t.number)
    ]
    assert [
        (t.number, t.source, tuple(sorted(t.params.items())))
        for t in sorted(parts.trials, key=lambda t: t.number)
    ] == key


def test_fills_stop_when_they_no_longer_land_on_the_front(tmp_path) -> None:
    definition = analytic.dtlz2_study(3)
    study = _run(tmp_path, N_TRIALS)
    trials = sorted(study.trials, key=lambda t: t.number)
    # as the study stood right after the engine's last trial (no fills in a row yet)
    last_grid = max(t.number for t in trials if t.source == "grid")
    trials = [t for t in trials if t.number <= last_grid]
    norm = given_normalization(definition)
    assert norm is not None
    assert fill_rate(trials, ["minimize"] * 3) > 0.5
    assert fill_proposals(definition, trials, norm, 0.9, 3)  # room at a share of 0.9
    # the same study, had every fill landed behind the front
    last = {
        t.number
        for t in sorted((t for t in trials if t.source == INTERPOLATED), key=lambda t: t.number)[
            -FILL_WINDOW:
        ]
    }
    behind = [
        dataclasses.replace(t, objectives=tuple(2.0 + v for v in t.objectives)) if t.number in last else t
        for t in trials
    ]
    assert fill_rate(behind, ["minimize"] * 3) == pytest.approx(1 / (FILL_WINDOW + 1))
    assert fill_proposals(definition, behind, norm, 0.9, 3) == []


def test_fill_must_be_a_share(tmp_path) -> None:
    with pytest.raises(ValueError, match="share of the calls"):
        optimize(analytic.dtlz2_study(3), storage=f"sqlite:///{tmp_path}/x.db", n_trials=2, fill=1.0)


def test_fills_only_when_asked(tmp_path) -> None:
    definition = analytic.zdt_study("zdt1")
    off = optimize(definition, storage=f"sqlite:///{tmp_path}/off.db", n_trials=24)
    on = optimize(definition, storage=f"sqlite:///{tmp_path}/on.db", n_trials=24, fill=0.5)
    assert all(t.source == "grid" for t in off.trials)
    assert any(t.source == INTERPOLATED for t in on.trials)


def test_the_review_table_says_a_fill_ran_no_inner_loop(tmp_path) -> None:
    from paretoopt.report.table import FILL_CELL, INNER_LOOP_HEADER, format_front_table

    study = _run(tmp_path, N_TRIALS)
    table = format_front_table(study.export_data())
    by_trial = {t.number: t for t in study.trials}
    fills = [i for i, n in enumerate(table["trial"]) if by_trial[int(n)].source == INTERPOLATED]
    assert fills, "no fill on the front"
    assert all(table[INNER_LOOP_HEADER].iloc[i] == FILL_CELL for i in fills)
    assert all(table[INNER_LOOP_HEADER].iloc[i] != FILL_CELL for i in range(len(table)) if i not in fills)
