"""The external-simulator contract, end to end with real subprocesses (docs/external.md):
what reaches the simulator, how its outputs are reduced, failures as FAILED trials with their
reasons, and the cache that keeps a resumed run from re-running finished evaluations."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from paretoopt import Choice, DesignSpace, Estimate, Integer, Objective, Real, StudyDefinition, optimize
from paretoopt.exceptions import NonFiniteError, SimulationError
from paretoopt.external import ExternalSimulator, read_outputs
from paretoopt.problem import evaluate
from paretoopt.storage import TrialState
from tests.external.sims import FLAKY, write_sim

ROOT = Path(__file__).resolve().parents[2]

ECHO = """
events = [float(v) for v in c["events"].split(",")] if "events" in c else None
out = {"f": p["x"] * 2.0, "g": {"value": 3.5, "stderr": 0.25}}
if events is not None:
    out["f"] = events
write(out)
"""


def _study(cmd, tmp_path, **kw):
    sim = ExternalSimulator(
        cmd, timeout_s=60, workdir=tmp_path / "work", env={"CALL_LOG": str(tmp_path / "calls.log")}, **kw
    )
    space = DesignSpace(
        Real("x", 1.0, 20.0, unit="mm"),
        Choice("absorber", ("Pb", "W")),
        Integer("n_layers", 5, 30, unit="layers"),
    )
    return StudyDefinition("echo", space, [Objective("f"), Objective("g", unit="%")], sim)


def _calls(tmp_path) -> list[dict]:
    path = tmp_path / "calls.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_params_units_choices_seed_and_sample_size_reach_the_simulator(tmp_path):
    study = _study(write_sim(tmp_path, "echo", ECHO), tmp_path)
    gen = torch.Generator()
    gen.manual_seed(987654)
    params = {"x": torch.tensor(7.25, dtype=torch.float64)}
    ev = evaluate(study, params, {"absorber": "W", "n_layers": 12}, 321, gen)
    (seen,) = _calls(tmp_path)
    assert seen == {
        "params": {"x": 7.25},
        "choices": {"absorber": "W", "n_layers": 12},
        "units": {"x": "mm", "n_layers": "layers"},
        "seed": 987654,
        "n_samples": 321,
    }
    assert ev.objectives.tolist() == [14.5, 3.5]  # the number exact, the object as given
    assert ev.objective_stderr.tolist() == [0.0, 0.25]


def test_per_event_lists_give_mean_and_standard_error(tmp_path):
    events = [1.0, 2.5, 0.5, 4.0, 3.25, -1.0]
    study = _study(write_sim(tmp_path, "echo", ECHO), tmp_path)
    gen = torch.Generator()
    gen.manual_seed(1)
    choices = {"absorber": "Pb", "n_layers": 5, "events": ",".join(map(str, events))}
    out = study.simulate({"x": torch.tensor(2.0)}, choices, 6, gen)
    assert isinstance(out["f"], Estimate)
    assert float(out["f"].value) == pytest.approx(statistics.fmean(events), rel=1e-12)
    assert float(out["f"].stderr) == pytest.approx(statistics.stdev(events) / math.sqrt(6), rel=1e-12)


def test_per_event_columns_in_output_csv(tmp_path):
    f = [0.1, 0.4, 0.2, 0.9]
    g = [10.0, 12.0, 11.0, 13.0]
    (tmp_path / "output.csv").write_text("f,g\n" + "\n".join(f"{a},{b}" for a, b in zip(f, g, strict=True)))
    figures, _ = read_outputs(tmp_path, ["f", "g"])
    assert figures["g"] == pytest.approx((statistics.fmean(g), statistics.stdev(g) / 2.0), rel=1e-12)
    (tmp_path / "output.json").write_text(json.dumps({"f": {"value": 5.0, "stderr": 0.5}}))
    figures, _ = read_outputs(tmp_path, ["f", "g"])  # output.json wins where it names a figure
    assert figures["f"] == (5.0, 0.5) and figures["g"][0] == pytest.approx(11.5)


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        ("[1, 2]", SimulationError, "must hold an object"),
        ('{"f": "fast", "g": 1}', SimulationError, "expected a number"),
        ('{"f": [1.0], "g": 1}', SimulationError, "at least 2 events"),
        ('{"f": NaN, "g": 1}', NonFiniteError, "not finite"),
        ('{"f": 1, "g": {"stderr": 1}}', SimulationError, "without 'value'"),
    ],
)
def test_malformed_outputs_name_the_problem(tmp_path, content, error, words):
    (tmp_path / "output.json").write_text(content)
    with pytest.raises(error, match=words):
        read_outputs(tmp_path, ["f", "g"])


def _flaky_study(tmp_path, modes, timeout_s=60.0):
    sim = ExternalSimulator(
        write_sim(tmp_path, "flaky", FLAKY),
        timeout_s=timeout_s,
        workdir=tmp_path / "work",
        env={"CALL_LOG": str(tmp_path / "calls.log")},
    )
    space = DesignSpace(Real("x", 0.0, 1.0, unit="m"), Choice("mode", modes))
    return StudyDefinition(
        "flaky_external", space, [Objective("f"), Objective("g")], sim, ideal=[0, 0], nadir=[1, 1]
    )


def test_failures_give_failed_trials_with_reasons_and_the_study_goes_on(tmp_path):
    modes = ("ok", "crash", "timeout", "garbage", "missing", "nan")
    study = optimize(
        _flaky_study(tmp_path, modes, timeout_s=2.0),
        storage=f"sqlite:///{tmp_path / 's.db'}",
        n_trials=8,
        engine="grid",
        seed=0,
    )
    trials = study.trials
    assert len(trials) == 8
    expected = {
        "crash": ["exited with code 3", "G4Exception: detector geometry overlaps"],
        "timeout": ["timeout of 2 s"],
        "garbage": ["not valid JSON", "Segmentation violation"],
        "missing": ["no 'g'", "warning: g not computed"],
        "nan": ["NonFiniteError", "not finite"],
    }
    seen = set()
    for t in trials:
        mode = t.choices["mode"]
        seen.add(mode)
        if mode == "ok":
            assert t.state is TrialState.COMPLETE, t.error
            assert t.params["x"] == pytest.approx(0.5, abs=2e-3)  # min max(x^2, (1-x)^2)
        else:
            assert t.state is TrialState.FAILED
            for words in expected[mode]:
                assert words in t.error, (mode, t.error)
    assert seen == set(modes)
    assert sum(t.state is TrialState.COMPLETE for t in trials) == sum(
        t.choices["mode"] == "ok" for t in trials
    )


@pytest.mark.parametrize("kill_at", [10, 30])
def test_a_resumed_run_does_not_rerun_finished_evaluations(tmp_path, kill_at):
    """The runner is killed (SIGKILL from the simulator) in the middle of a trial (the first, or
    the second, whose local surrogate reuses the first one's evaluations); the resumed run
    re-runs that trial with the same seed, and every evaluation that had finished comes from
    the cache: the only input the simulator sees twice is the one in flight at the kill. A
    fresh run of the study (new database, same workdir) then runs nothing and gives the same
    trials: the resumed run reproduced the uninterrupted one."""
    study_file = tmp_path / "study.py"
    study_file.write_text(
        "from pathlib import Path\n"
        "from paretoopt import Choice, DesignSpace, Objective, Real, StudyDefinition\n"
        "from paretoopt.external import ExternalSimulator\n"
        "from tests.external.sims import FLAKY, write_sim\n"
        "here = Path(__file__).parent\n"
        "sim = ExternalSimulator(write_sim(here, 'flaky', FLAKY), timeout_s=60, workdir=here / 'work',\n"
        "                        env={'CALL_LOG': str(here / 'calls.log')})\n"
        "space = DesignSpace(Real('x', 0.0, 1.0, unit='m'), Real('y', 0.0, 1.0), Choice('mode', ('ok',)))\n"
        "study = StudyDefinition('resumable', space, [Objective('f'), Objective('g')], sim,\n"
        "                        ideal=[0, 0], nadir=[1, 1])\n"
    )
    (tmp_path / "kill_at").write_text(str(kill_at))
    cmd = [
        sys.executable,
        "-m",
        "paretoopt.cli",
        "run",
        str(study_file),
        "--trials",
        "3",
        "--engine",
        "grid",
        "--seed",
        "0",
        "--storage",
        f"sqlite:///{tmp_path / 's.db'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == -9, first.stderr  # killed mid-run
    killed_at = len(_calls(tmp_path))
    assert killed_at == kill_at
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    from paretoopt import load_study

    study = load_study(study_name="resumable", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    inputs = [json.dumps(c, sort_keys=True) for c in _calls(tmp_path)]
    repeats = len(inputs) - len(set(inputs))
    assert repeats <= 1  # the evaluation in flight at the kill (it never wrote its result)
    assert len(inputs) > killed_at  # the resumed run did run new evaluations
    # and a third run of the same study elsewhere re-runs nothing at all
    before = len(inputs)
    third = subprocess.run(
        [*cmd[:-1], f"sqlite:///{tmp_path / 'again.db'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert third.returncode == 0, third.stderr
    assert len(_calls(tmp_path)) == before
    fresh = load_study(study_name="resumable", storage=f"sqlite:///{tmp_path / 'again.db'}")
    key = [(t.params, t.objectives, t.n_calls) for t in study.trials]
    assert [(t.params, t.objectives, t.n_calls) for t in fresh.trials] == key


def test_per_event_columns_in_output_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    g = [10.0, 12.0, 11.0, 13.0]
    pd.DataFrame({"f": [0.1, 0.4, 0.2, 0.9], "g": g}).to_parquet(tmp_path / "output.parquet")
    figures, _ = read_outputs(tmp_path, ["f", "g"])
    assert figures["g"] == pytest.approx((statistics.fmean(g), statistics.stdev(g) / 2.0), rel=1e-12)


def test_no_output_at_all_is_a_reason(tmp_path):
    with pytest.raises(SimulationError, match=r"wrote no output\.json"):
        read_outputs(tmp_path, ["f"])
