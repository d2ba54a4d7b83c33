"""The muon-tomography study files load, run through the inner loop, and travel by pickle."""

from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path

import pytest
import torch

from paretoopt.inner import optimize_inner
from paretoopt.physics.tomography import MuonTomography
from paretoopt.problem import load_study_definition
from paretoopt.scalarize import AugmentedChebyshev, Normalization

torch.set_num_threads(1)

STUDIES = Path(__file__).resolve().parents[2] / "studies"


@pytest.mark.parametrize(
    ("file", "physics"), [("muon_tomography.py", "x0_precision"), ("ladle_furnace.py", "fill_level_error")]
)
def test_study_file_defines_the_tomography_study(file: str, physics: str) -> None:
    study = load_study_definition(STUDIES / file)
    assert study.objective_names == [physics, "cost"]
    assert study.constraint_names == ["scan_time"]
    sim = getattr(study.simulate, "sim", study.simulate)  # both study files run it as a pipeline
    assert isinstance(sim, MuonTomography)
    assert set(study.space.outer_names) == {"n_above", "n_below", "technology"}
    assert len(study.space.inner) == 40 and all(p.unit == "m" for p in study.space.inner)
    assert set(study.space["technology"].options) >= {"rpc", "rpc_fine", "drift_tubes", "silicon_strips"}
    clone = pickle.loads(pickle.dumps(study))
    assert clone.objective_names == study.objective_names
    # the figure is evaluated at the exposure the scan-time constraint allows
    if physics == "x0_precision":
        assert sim.exposure_s == study.constraints[0].upper == 600.0
        assert sim.momentum.mode == "unknown"  # scanners rarely measure momenta


def test_inner_loop_moves_the_panels_and_reports() -> None:
    study = load_study_definition(STUDIES / "muon_tomography.py")
    norm = Normalization(study.ideal, study.nadir, study.signs)
    settings = study.inner.replace(max_steps=4, n_samples=4000, n_eval_samples=8000)
    choices = {"n_above": 3, "n_below": 2, "technology": "rpc"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "got no gradient" for the inactive slots
        res = optimize_inner(study, choices, AugmentedChebyshev([0.8, 0.2], norm), settings=settings, seed=0)
    assert res.n_steps == 4 and res.n_backward == 4
    assert all(math.isfinite(v) for v in res.objectives.values())
    assert res.objectives["cost"] > 0 and res.constraints["scan_time"] > 0
    start = study.space.default_inner()
    moved = [k for k in ("above1_z", "above3_z", "below2_z", "above1_span_x") if res.params[k] != start[k]]
    assert moved == ["above1_z", "above3_z", "below2_z", "above1_span_x"]
    # inactive slots stay where they were
    assert res.params["above4_z"] == pytest.approx(start["above4_z"], abs=1e-12)
    assert res.params["below3_span_x"] == pytest.approx(start["below3_span_x"], abs=1e-12)
    assert study.simulate.training is False  # the inner loop leaves it in evaluation mode
