"""The compiled example (examples/external_calorimeter): built by its own Makefile with the
system C compiler, run through the contract, its figures checked against the formulas it
implements (computed here), and a short study on it. Skipped only where there is no compiler."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from paretoopt import load_study_definition, optimize
from paretoopt.problem import evaluate
from paretoopt.storage import TrialState

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "external_calorimeter"

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or not any(shutil.which(c) for c in ("cc", "gcc", "clang")),
    reason="no C compiler or make on this machine",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    here = tmp_path_factory.mktemp("example")
    for name in ("toycal.c", "Makefile", "study.py"):
        shutil.copy(EXAMPLE / name, here / name)
    if shutil.which("cc") is None:
        extra = ["CC=" + ("gcc" if shutil.which("gcc") else "clang")]
    else:
        extra = []
    subprocess.run(["make", "-C", str(here), *extra], check=True, capture_output=True, timeout=120)
    assert (here / "toycal").exists()
    return here


def test_a_contained_shower_has_the_sampling_resolution(built):
    definition = load_study_definition(built / "study.py")
    gen = torch.Generator()
    gen.manual_seed(7)
    params = {
        "absorber_mm": torch.tensor(8.0, dtype=torch.float64),
        "active_mm": torch.tensor(5.0, dtype=torch.float64),
    }
    ev = evaluate(definition, params, {"absorber": "Pb", "n_layers": 40}, 20000, gen)
    # 57 X0 of lead: no leakage; Wigmans' sampling term 2.7 % sqrt(d / f_samp) / sqrt(E), with
    # f_samp from minimum-ionisation dE/dx (PDG: Pb 12.74 MeV/cm, polystyrene 2.052 MeV/cm)
    f_samp = 5 * 2.052 / (5 * 2.052 + 8 * 12.74)
    expected = 2.7 * math.sqrt(8 / f_samp) / math.sqrt(10.0)
    value, stderr = float(ev.objectives[0]), float(ev.objective_stderr[0])
    assert abs(value - expected) < 4 * stderr, (value, stderr, expected)
    assert float(ev.constraints[0]) == pytest.approx(40 * 1.3)  # depth in cm
    assert float(ev.objective_stderr[1]) == 0.0  # the cost is exact


def test_a_study_runs_on_the_compiled_simulator(built):
    definition = load_study_definition(built / "study.py")
    definition.inner = definition.inner.replace(max_steps=25, n_samples=1000, n_eval_samples=2000)
    study = optimize(definition, storage=f"sqlite:///{built / 's.db'}", n_trials=3, engine="random", seed=1)
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(done) == len(study.trials) >= 3
    assert all(t.n_calls > 1 for t in done)  # inner loops ran on the compiled program
    assert any((built / "runs").rglob("result.json"))
