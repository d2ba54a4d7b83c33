"""Real data: the shipped synthetic "measured" file (the simulation of one design with every
segment's readout scaled by 0.93, another sampling-fraction calibration, written by
make_measured_file with the constants below) is read with its units, and fine-tuning the
learned reconstruction on it, mixed with simulation, recovers 0.93 within its error."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from paretoopt.blocks import calorimeter_pipeline
from paretoopt.blocks.realdata import (
    MEASURED_DESIGN,
    MEASURED_FILE,
    fine_tune,
    load_measured,
    make_measured_file,
)
from paretoopt.physics.calorimetry import SegmentedCalorimeter

torch.set_num_threads(1)
#: the calibration the shipped file was generated with (its header says so too)
TRUE_K = 0.93


def setup():
    d = MEASURED_DESIGN
    sim = SegmentedCalorimeter(n_sections=d["n_sections"], energies_gev=d["energies_gev"])
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in d["params"].items()}
    return sim, params, d["choices"]


def test_the_shipped_file_is_what_it_says(tmp_path):
    assert "simulation x 0.93" in MEASURED_FILE.read_text().splitlines()[2]
    again = make_measured_file(tmp_path / "m.csv", calibration=TRUE_K)
    assert again.read_bytes() == MEASURED_FILE.read_bytes()


def test_units_in_column_names_are_converted(tmp_path):
    m = load_measured(MEASURED_FILE)
    assert m.segments_gev.shape == (600, 4) and set(m.energy_gev.tolist()) == {2.0, 5.0, 10.0, 20.0, 50.0}
    frame = pd.read_csv(MEASURED_FILE, comment="#")
    gev = pd.DataFrame({"energy_gev": frame["energy_gev"]})
    for k in range(1, 5):
        gev[f"segment_{k:02d}_gev"] = frame[f"segment_{k:02d}_mev"] / 1000.0
    gev.to_csv(tmp_path / "gev.csv", index=False)
    assert torch.allclose(load_measured(tmp_path / "gev.csv").segments_gev, m.segments_gev, rtol=1e-12)
    frame.rename(columns={"segment_01_mev": "segment_01"}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="unit"):
        load_measured(tmp_path / "bad.csv")


def test_fine_tuning_recovers_the_calibration_within_its_error():
    sim, params, choices = setup()
    measured = load_measured(MEASURED_FILE)
    pipe = calorimeter_pipeline(sim, "learned")
    res = fine_tune(pipe, measured, params, choices, measured_fraction=0.5, seed=1)
    assert 0.0 < res.calibration_stderr < 0.01  # the test can resolve a 7 % miscalibration
    assert abs(res.calibration - TRUE_K) < 2.0 * res.calibration_stderr
    assert abs(res.calibration - 1.0) > 5.0 * res.calibration_stderr  # the simulation's own is refuted
    reco = pipe.block("reconstruction")
    assert reco.calibration == res.calibration
    # measured events reconstructed through the calibration land where simulated ones do
    with torch.no_grad():
        r_meas = (reco.reconstruct_measured(measured.segments_gev) / measured.energy_gev).mean()
        from paretoopt.blocks import Context

        sim_out = pipe.run(
            Context(
                params,
                choices,
                0,
                torch.Generator().manual_seed(9),
                "train",
                {"energy_gev": measured.energy_gev},
            ),
            upto=1,
        )
        r_sim = (reco.reconstruct(sim_out["segment_readout_gev"]) / sim_out["energy_gev"]).mean()
    assert abs(float(r_meas / r_sim) - 1.0) < 3.0 * res.calibration_stderr / TRUE_K


def test_parquet_files_read_like_csv(tmp_path):
    pytest.importorskip("pyarrow", reason="no Parquet engine installed (pyarrow is not in the environment)")
    frame = pd.read_csv(MEASURED_FILE, comment="#")
    frame.to_parquet(tmp_path / "m.parquet")
    assert torch.equal(
        load_measured(tmp_path / "m.parquet").segments_gev, load_measured(MEASURED_FILE).segments_gev
    )
