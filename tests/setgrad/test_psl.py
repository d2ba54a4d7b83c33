"""The set-based engine's Pareto-set-learning mode (``model="psl"``) reaches the known DTLZ2
front, counts every simulator call and event, resumes a crashed round to the uninterrupted
result, respects a constraint, and trains one network per discrete combination.

References the code did not produce: DTLZ2's front is the unit sphere's positive octant, and
the point the augmented Chebyshev scalarisation of a weight selects on it is solved here by
bisection (``_sphere_points``); pymoo's DTLZ2 re-evaluates the designs; the constrained front is
ZDT1's curve cut at the bound, written here; calls are counted by a wrapper around the
simulation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pymoo.problems import get_problem

from paretoopt import optimize
from paretoopt.analytic import dtlz2_study, mixed_study, zdt_study
from paretoopt.blocks.artefacts import decode_tensors
from paretoopt.problem import Constraint, StudyDefinition
from paretoopt.run.pareto_set import MODEL_BLOCK
from paretoopt.storage import TrialState
from paretoopt.study import load_study


def _distance(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - front[None, :, :]) ** 2).sum(-1)).min(axis=1)


def _sphere_points(weights: np.ndarray, offset: float = 0.01) -> np.ndarray:
    """Where the Chebyshev scalarisation ``max_i w_i (f_i + offset)`` of each weight is minimal
    on DTLZ2's front ``|f| = 1, f >= 0`` (ideal 0, nadir 1, so f is already normalised): all
    terms equal, ``f_i = c / w_i - offset``, with ``c`` found by bisection on ``|f| = 1`` (the
    rho = 1e-3 augmentation moves it by less than the test's tolerance)."""
    out = []
    for w in weights:
        lo, hi = 0.0, 10.0
        for _ in range(200):
            c = 0.5 * (lo + hi)
            f = np.clip(c / w - offset, 0.0, None)
            lo, hi = (c, hi) if np.linalg.norm(f) < 1.0 else (lo, c)
        out.append(np.clip(0.5 * (lo + hi) / w - offset, 0.0, None))
    return np.array(out)


def _counted(base: StudyDefinition, name: str) -> tuple[StudyDefinition, dict[str, Any]]:
    """``base`` with its calls and events counted (and a crash switch: ``crash_at`` calls)."""
    calls: dict[str, Any] = {"n": 0, "events": 0, "crash_at": None}

    def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
        if calls["crash_at"] is not None and calls["n"] >= calls["crash_at"]:
            raise _Crash
        calls["n"] += 1
        calls["events"] += n_samples
        return base.simulate(params, choices, n_samples, generator)

    definition = StudyDefinition(
        name,
        base.space,
        base.objectives,
        simulate,
        constraints=base.constraints,
        inner=base.inner,
        ideal=base.ideal,
        nadir=base.nadir,
    )
    return definition, calls


class _Crash(BaseException):
    """Stands for the process dying mid-round (not an error the runner records)."""


def test_dtlz2_front_reached_and_every_call_counted() -> None:
    definition, calls = _counted(dtlz2_study(3, n_var=7), "dtlz2_psl")
    options = {"model": "psl", "population": 45, "model_steps": 100, "model_batch": 8}
    study = optimize(
        definition,
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options=options,
        n_trials=135,
        seed=0,
    )
    df = study.trials_dataframe()
    assert len(df) == 135 and set(df["source"]) == {"setgrad"}
    # every simulator call and event of training, probe and final evaluations is a trial's
    assert int(df["n_calls"].sum()) == calls["n"]
    assert int(df["n_events"].sum()) == calls["events"]
    assert calls["n"] >= 3 * (100 * 8 + 45)  # three rounds: training calls plus one per design
    names = [f"x{i}" for i in range(1, 8)]
    x = df[names].to_numpy()
    f = df[["f1", "f2", "f3"]].to_numpy()
    assert np.all((x >= 0.0) & (x <= 1.0))
    np.testing.assert_allclose(get_problem("dtlz2", n_var=7, n_obj=3).evaluate(x), f, rtol=1e-9, atol=1e-12)
    last = df[df["number"] >= 90]  # the third round
    fl = last[["f1", "f2", "f3"]].to_numpy()
    assert np.abs(np.linalg.norm(fl, axis=1) - 1.0).max() < 0.01  # on the sphere
    # each design sits near the point its weight selects on the true front ...
    trials = [t for t in study.trials if t.number >= 90]
    w = np.array([t.weights for t in trials], dtype=float)
    target = _sphere_points(w)
    gaps = np.sqrt(((target[:, None, :] - target[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(gaps, np.inf)
    spacing = float(gaps.min(axis=1).mean())  # of the exact points: about 0.2 here
    off = np.linalg.norm(fl - target, axis=1)
    assert np.median(off) < 0.75 * spacing, (np.median(off), spacing)
    # ... and the round's front covers the true front about as well as those exact points do
    octant = _sphere_points(np.random.default_rng(0).dirichlet(np.ones(3), size=3000))
    igd_exact = _distance(octant, target).mean()
    igd = _distance(octant, fl).mean()
    assert igd < 1.15 * igd_exact, (igd, igd_exact)
    # the archive holds the training designs as trajectory points with their sample size
    steps = study.archive()
    steps = steps[steps["source"] == "trajectory"]
    assert len(steps) == 3 * 100 * 8 and (steps["n_samples"] > 0).all()


def test_resumed_crash_equals_uninterrupted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A run that dies in the middle of its third round and is resumed (its RUNNING trials put
    back by the storage's own re-queue) ends with the trials of one run straight through; the
    third round continues from the network the second stored."""
    options = {"model": "psl", "population": 6, "model_steps": 6, "model_batch": 4}

    def trials(study) -> list[tuple]:  # type: ignore[no-untyped-def]
        return [(t.number, t.source, tuple(t.weights), tuple(t.params.values()), tuple(t.objectives or ()),
                 t.n_calls, t.n_events) for t in study.trials]  # fmt: skip

    straight_def, _ = _counted(zdt_study("zdt1", n_var=6), "zdt1_psl")
    url = f"sqlite:///{tmp_path}/straight.db"
    straight = optimize(
        straight_def, storage=url, engine="setgrad", engine_options=options, n_trials=18, seed=3
    )
    crashed_def, calls = _counted(zdt_study("zdt1", n_var=6), "zdt1_psl")
    url = f"sqlite:///{tmp_path}/crashed.db"
    calls["crash_at"] = 2 * (6 * 4 + 6) + 10  # mid-training of the third round
    with pytest.raises(_Crash):
        optimize(crashed_def, storage=url, engine="setgrad", engine_options=options, n_trials=18, seed=3)
    half = load_study(study_name="zdt1_psl", storage=url)
    states = [t.state for t in half.trials]
    assert states.count(TrialState.COMPLETE) == 12 and states.count(TrialState.RUNNING) == 6
    half.storage.requeue_stale_trials(half.record.id, stale_after_s=0.0)
    calls["crash_at"] = None
    resumed = optimize(
        crashed_def, storage=url, engine="setgrad", engine_options=options, n_trials=18, seed=3
    )
    assert len(trials(straight)) == 18
    assert trials(resumed) == trials(straight)
    # one stored network per round, on the round's first trial
    arts = [resumed.storage.get_trial_artefacts(t.id) for t in resumed.trials]
    assert [k for k, a in enumerate(arts) if a] == [0, 6, 12]
    assert all(a[0].block == MODEL_BLOCK and a[0].kind == "ParetoSetModel" for a in arts if a)
    first, second = (decode_tensors(arts[k][0].blob, arts[k][0].digest) for k in (0, 6))
    assert set(first) == set(second) and not all(bool((first[k] == second[k]).all()) for k in first)


def _zdt1_with_floor(floor: float) -> StudyDefinition:
    """ZDT1 (6 variables) with the constraint f1 >= floor."""
    base = zdt_study("zdt1", n_var=6)

    def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
        out = base.simulate(params, choices, n_samples, generator)
        return {**out, "c": out["f1"]}

    return StudyDefinition(
        "zdt1_floor_psl",
        base.space,
        base.objectives,
        simulate,
        constraints=[Constraint("c", lower=floor)],
        inner=base.inner,
        ideal=[0.0, 0.0],
        nadir=[1.0, 1.0],
    )


def test_constraint_respected() -> None:
    floor = 0.3
    options = {"model": "psl", "population": 16, "model_steps": 60, "model_batch": 8}
    study = optimize(
        _zdt1_with_floor(floor),
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options=options,
        n_trials=48,
        seed=1,
    )
    df = study.trials_dataframe()
    last = df[df["number"] >= 32]  # the third round
    ok = last[last["feasible"].astype(bool)]
    # the product's feasibility flag agrees with the constraint (its tolerance: 1e-3 x scale)
    assert (ok["f1"] >= floor - 1e-3).all()
    assert ((last["f1"] >= floor - 1e-3) == last["feasible"].astype(bool)).all()
    assert len(ok) >= 0.75 * len(last)  # a few rays that want f1 < floor end just below it
    assert (last["f1"] >= floor - 0.01).all()  # ... by at most 1 % of the range
    f = ok[["f1", "f2"]].to_numpy()
    f1 = np.linspace(floor, 1.0, 4000)
    front = np.column_stack([f1, 1.0 - np.sqrt(f1)])  # ZDT1's front cut at the bound
    assert np.median(_distance(f, front)) < 0.01
    # the weights that want f1 below the floor get the constrained extreme instead
    assert f[:, 0].min() < floor + 0.02
    assert f[:, 0].max() > 0.75  # and the front's other end is covered


def test_one_network_per_discrete_combination() -> None:
    definition = mixed_study(4)
    options = {"model": "psl", "population": 4, "model_steps": 3, "model_batch": 2, "screen": False}
    study = optimize(
        definition,
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options=options,
        n_trials=40,
        seed=0,
    )
    trials = study.trials
    combos = {(t.choices["family"], t.choices["level"]) for t in trials}
    assert len(combos) == 8  # every combination of family (A, B) x level (0-3)
    models: dict[tuple[str, int], list[str]] = {}
    for t in trials:
        for a in study.storage.get_trial_artefacts(t.id):
            if a.block == MODEL_BLOCK:
                models.setdefault((t.choices["family"], t.choices["level"]), []).append(str(a.digest))
    assert set(models) == combos  # one network per combination ...
    assert sorted(len(v) for v in models.values()) == [1] * 6 + [2] * 2  # ... two rounds for two
    digests = [d for v in models.values() for d in v]
    assert len(set(digests)) == len(digests)  # each its own training
    for t in trials:  # a round's trials share its combination
        same = [u for u in trials if u.batch == t.batch]
        assert all(u.choices == t.choices for u in same)


def test_cli_runs_the_psl_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from typer.testing import CliRunner

    from paretoopt.cli import app

    zdt1 = Path(__file__).resolve().parents[2] / "studies" / "zdt1.py"
    url = f"sqlite:///{tmp_path}/cli.db"
    args = ["run", str(zdt1), "--engine", "setgrad", "--set-model", "psl", "--population", "8"]
    r = CliRunner().invoke(app, [*args, "--trials", "16", "--storage", url, "--no-progress"])
    assert r.exit_code == 0, r.output
    study = load_study(study_name="zdt1", storage=url)
    assert study.record.engine_options["model"] == "psl"
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(done) == 16
    arts = [a for t in done for a in study.storage.get_trial_artefacts(t.id)]
    assert [a.block for a in arts] == [MODEL_BLOCK, MODEL_BLOCK]  # one network per round
    bad = CliRunner().invoke(app, ["run", str(zdt1), "--set-model", "psl", "--storage", url])
    assert bad.exit_code != 0 and "--set-model applies to --engine setgrad" in bad.output


@pytest.mark.parametrize("bad", [{"model": "network"}, {"model": "psl", "model_steps": 0}])
def test_bad_model_options_raise(bad: dict) -> None:
    from paretoopt.exceptions import EngineError
    from paretoopt.outer import make_engine

    with pytest.raises(EngineError):
        make_engine("setgrad", **bad)


def test_monte_carlo_study_uses_its_sample_sizes() -> None:
    """A Monte Carlo study: every training call simulates the study's ``n_samples`` events,
    every reported design its ``n_eval_samples``; the result's calls and events are the
    simulator's (counted by a wrapper)."""
    import torch

    from paretoopt.inner.psl import ParetoSetSettings, train_pareto_set
    from paretoopt.problem import InnerSettings, Objective
    from paretoopt.scalarize import Normalization
    from paretoopt.space import DesignSpace, Real

    seen: list[int] = []

    def simulate(params, choices, n, gen):  # type: ignore[no-untyped-def]
        seen.append(int(n))
        eps = torch.randn(n, generator=gen, dtype=torch.float64) * 0.1
        x = params["x"]
        return {"f": (x - 1) ** 2 + eps, "g": (x + 1) ** 2 + eps}

    definition = StudyDefinition(
        "noisy_psl",
        DesignSpace(Real("x", -3, 3)),
        [Objective("f"), Objective("g")],
        simulate,
        inner=InnerSettings(mode="adam", n_samples=64, n_eval_samples=1000),
    )
    norm = Normalization([0.0, 0.0], [4.0, 4.0], [1.0, 1.0])
    weights = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
    res = train_pareto_set(
        definition, {}, norm, weights, settings=ParetoSetSettings(steps=30, batch=4, lr=0.05), seed=2
    )
    assert seen == [64] * (30 * 4) + [1000] * 3
    assert res.n_calls == len(seen) == sum(m.n_calls for m in res.members)
    assert res.n_events == sum(seen) == sum(int(m.n_events or 0) for m in res.members)
    assert all(m.n_samples == 1000 for m in res.members)
    # the designs are ordered along the front x in [-1, 1] as their weights ask: f-heavy
    # weights (first) want x near 1, g-heavy ones near -1 (the Pareto set, written here)
    xs = [m.params["x"] for m in res.members]
    assert all(-1.1 <= x <= 1.1 for x in xs) and xs[0] > xs[1] > xs[2], xs
