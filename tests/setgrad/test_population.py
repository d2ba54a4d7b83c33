"""The set-based mode reaches the known ZDT1 and DTLZ2 fronts within the spacing of its
population, respects bounds and constraints, and counts every simulator call.

References the code did not produce: pymoo's ZDT1 / DTLZ2 (``pymoo.problems``) re-evaluate the
final designs and give the true fronts; the constrained front is ZDT1's curve cut at the bound,
written here; calls are counted by a wrapper around the simulation."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.problems import get_problem
from pymoo.util.ref_dirs import get_reference_directions

from paretoopt import optimize
from paretoopt.analytic import dtlz2_study, zdt_study
from paretoopt.inner.population import PopulationSettings, optimize_population
from paretoopt.problem import Constraint, StudyDefinition
from paretoopt.scalarize import Normalization


def _distance(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - front[None, :, :]) ** 2).sum(-1)).min(axis=1)


def _spacing(points: np.ndarray) -> float:
    """Mean distance of each member to its nearest neighbour in objective space."""
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean())


def _run(definition: StudyDefinition, n: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    norm = Normalization(definition.ideal, definition.nadir, definition.signs)
    res = optimize_population(definition, {}, norm, n, settings=PopulationSettings(max_steps=steps), seed=0)
    names = definition.space.inner_names
    x = np.array([[m.params[k] for k in names] for m in res.members])
    f = np.array([[m.objectives[k] for k in definition.objective_names] for m in res.members])
    return x, f


def test_zdt1_front_within_population_spacing() -> None:
    x, f = _run(zdt_study("zdt1", n_var=30), 16, 150)
    problem = get_problem("zdt1", n_var=30)
    np.testing.assert_allclose(problem.evaluate(x), f, rtol=1e-9, atol=1e-12)  # pymoo's ZDT1
    assert np.all((x >= 0.0) & (x <= 1.0))
    front = problem.pareto_front(n_pareto_points=5000)
    spacing = _spacing(f)
    assert _distance(f, front).max() < 1e-2  # on the front
    igd = _distance(front, f).mean()  # covers it: the front's mean distance to the population
    assert igd < spacing, (igd, spacing)
    assert f[:, 0].min() < 0.05 and f[:, 0].max() > 0.95  # both ends reached


def test_dtlz2_front_within_population_spacing() -> None:
    x, f = _run(dtlz2_study(3, n_var=12), 28, 150)
    problem = get_problem("dtlz2", n_var=12, n_obj=3)
    np.testing.assert_allclose(problem.evaluate(x), f, rtol=1e-9, atol=1e-12)
    assert np.all((x >= 0.0) & (x <= 1.0))
    front = problem.pareto_front(get_reference_directions("das-dennis", 3, n_partitions=60))
    spacing = _spacing(f)
    assert _distance(f, front).max() < 0.5 * spacing, (_distance(f, front).max(), spacing)
    igd = _distance(front, f).mean()
    assert igd < spacing, (igd, spacing)
    assert np.linalg.norm(f, axis=1).max() < 1.0 + 0.5 * spacing  # the unit sphere


def _zdt1_with_floor(floor: float) -> StudyDefinition:
    """ZDT1 (10 variables) with the constraint f1 >= floor."""
    base = zdt_study("zdt1", n_var=10)

    def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
        out = base.simulate(params, choices, n_samples, generator)
        return {**out, "c": out["f1"]}

    return StudyDefinition(
        "zdt1_floor",
        base.space,
        base.objectives,
        simulate,
        constraints=[Constraint("c", lower=floor)],
        inner=base.inner,
        ideal=[0.0, 0.0],
        nadir=[1.0, 1.0],
    )


def test_constraints_and_bounds_respected() -> None:
    floor = 0.3
    x, f = _run(_zdt1_with_floor(floor), 12, 150)
    assert np.all((x >= 0.0) & (x <= 1.0))
    assert f[:, 0].min() >= floor - 1e-3  # feasible (tolerance: Constraint.tolerance * scale)
    f1 = np.linspace(floor, 1.0, 4000)
    front = np.column_stack([f1, 1.0 - np.sqrt(f1)])  # ZDT1's front cut at the bound
    assert _distance(f, front).max() < 1e-2
    assert f[:, 0].min() < floor + 0.05  # the constrained extreme is reached


def test_engine_counts_every_call() -> None:
    """Through ``optimize(engine="setgrad")``: the stored calls and simulated events are the
    simulation's own counts."""
    base = zdt_study("zdt1", n_var=8)
    calls = {"n": 0, "events": 0}

    def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        calls["events"] += n_samples
        return base.simulate(params, choices, n_samples, generator)

    definition = StudyDefinition(
        "zdt1_counted",
        base.space,
        base.objectives,
        simulate,
        inner=base.inner,
        ideal=base.ideal,
        nadir=base.nadir,
    )
    study = optimize(
        definition,
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options={"population": 8, "steps": 40},
        n_trials=16,
        seed=0,
    )
    df = study.trials_dataframe()
    assert len(df) == 16 and set(df["source"]) == {"setgrad"}
    assert int(df["n_calls"].sum()) == calls["n"]
    assert int(df["n_events"].sum()) == calls["events"]
    steps = study.archive()
    steps = steps[steps["source"] == "trajectory"]
    assert len(steps) and (steps["n_samples"] > 0).all()  # the members' steps carry their sample
    f = df[["f1", "f2"]].to_numpy()
    f1 = np.linspace(0, 1, 4000)
    assert _distance(f, np.column_stack([f1, 1 - np.sqrt(f1)])).max() < 1e-2
    x = df[[f"x{i}" for i in range(1, 9)]].to_numpy()
    assert np.all((x >= 0.0) & (x <= 1.0))
    # the study's front is the non-dominated set of the members (brute force): a member claims
    # no trade-off of its own, so the local-optimum guard of scalarised trials does not hide it
    nd = {
        int(n)
        for n, p in zip(df["number"], f, strict=True)
        if not np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1))
    }
    assert {t.number for t in study.best_trials} == nd


@pytest.mark.parametrize("bad", [{"eta": 1}, {"steps": 0}])
def test_bad_options_raise(bad: dict) -> None:
    from paretoopt.exceptions import EngineError
    from paretoopt.outer import make_engine

    with pytest.raises(EngineError):
        make_engine("setgrad", **bad)


def test_resumed_study_equals_uninterrupted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A study stopped after two populations and resumed ends with the trials of one run straight
    through (the schedule is a function of the stored trials; the reference is the other run)."""
    base = zdt_study("zdt1", n_var=6)
    options = {"population": 6, "steps": 8}

    def run(url: str, stops: list[int]) -> list[tuple]:
        study = None
        for n in stops:
            study = optimize(base, storage=url, engine="setgrad", engine_options=options, n_trials=n, seed=3)
        assert study is not None
        return [(t.number, t.source, tuple(t.weights), tuple(t.params.values()), tuple(t.objectives or ()),
                 t.n_calls) for t in study.trials]  # fmt: skip

    straight = run(f"sqlite:///{tmp_path}/straight.db", [24])
    resumed = run(f"sqlite:///{tmp_path}/resumed.db", [12, 24])
    assert len(straight) == 24
    assert resumed == straight
