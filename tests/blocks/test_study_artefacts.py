"""A study run stores each trial's blocks: learned trials their trained reconstruction (the
blob's digest checked, tensors only), reference trials none; reloaded into the pipeline the
stored weights are the ones the final evaluation trained; ``paretoopt export --artefacts``
writes them beside the table, byte for byte."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from paretoopt import optimize
from paretoopt.blocks import calorimeter_pipeline_study
from paretoopt.blocks.artefacts import load_block_tensors, trial_artefacts
from paretoopt.cli.app import app
from paretoopt.physics.calorimetry import SEGMENTED_QUICK_INNER

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    definition = calorimeter_pipeline_study(
        name="tiny",
        n_sections=2,
        energies_gev=(2.0, 10.0, 50.0),
        absorbers=("Pb",),
        actives=("scintillator",),
        n_layers=(10, 20),
        inner=SEGMENTED_QUICK_INNER.replace(max_steps=3, n_samples=400, n_eval_samples=1200),
    )
    url = f"sqlite:///{tmp_path_factory.mktemp('art') / 'art.db'}"
    return optimize(definition, storage=url, n_trials=6, seed=1, engine="random"), url


def test_each_trial_stores_its_blocks(study):
    s, _ = study
    kinds = {}
    for t in s.completed_trials:
        arts = trial_artefacts(s, t.number)
        assert [a.block for a in arts] == ["detector", "reconstruction", "figure_of_merit"]
        reco = arts[1]
        kinds[t.choices["reconstruction"]] = reco.kind
        if t.choices["reconstruction"] == "learned":
            assert reco.blob is not None and reco.digest == "sha256:" + hashlib.sha256(reco.blob).hexdigest()
            w = load_block_tensors(arts)["reconstruction"]["weights"]
            assert w.shape == (4,) and not torch.equal(w, torch.ones(4, dtype=w.dtype))  # trained
            assert len(reco.curve) >= 1 and reco.meta["learned"] and not reco.meta["frozen"]
        else:
            assert reco.blob is None and reco.curve == []
    assert kinds == {"learned": "LearnedEnergyRegression", "reference": "CalibratedSum"}


def test_export_writes_the_pareto_trials_blocks_beside_the_table(study, tmp_path):
    s, url = study
    out = tmp_path / "front.csv"
    res = CliRunner().invoke(app, ["export", "tiny", "--storage", url, "-o", str(out), "--artefacts"])
    assert res.exit_code == 0, res.output
    learned_front = [t for t in s.best_trials if t.choices["reconstruction"] == "learned"]
    folder = tmp_path / "front-artefacts"
    assert learned_front  # this seed puts a learned trial on the front (a test of the export, not of it)
    assert len(learned_front) < len(s.best_trials)  # and a reference one, which writes no file
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(e["trial"] for e in manifest) == sorted(t.number for t in learned_front)
    for e in manifest:
        stored = {a.block: a for a in trial_artefacts(s, e["trial"])}[e["block"]]
        data = (folder / e["file"]).read_bytes()
        assert data == stored.blob and e["digest"] == stored.digest and e["training_curve"] == stored.curve
        tensors = load_file(str(folder / e["file"]))
        assert torch.equal(tensors["weights"], load_block_tensors([stored])["reconstruction"]["weights"])
