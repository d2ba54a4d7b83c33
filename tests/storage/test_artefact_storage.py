"""Block artefacts (schema 0006) through the Storage API on every mode (SQLite, PostgreSQL):
the blocks of a trial's pipeline written with its result in one transaction and read back
byte for byte; a trained learned reconstruction stored, reloaded weights-only and giving the
same resolution on the same independent sample; a tampered blob refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from paretoopt.blocks import Context, calorimeter_pipeline
from paretoopt.blocks.artefacts import decode_tensors, load_block_tensors
from paretoopt.exceptions import UntrustedModelError
from paretoopt.physics.calorimetry import SegmentedCalorimeter
from paretoopt.storage import StoredArtefact, TrialState
from tests.storage.samples import proposals, result, spec

torch.set_num_threads(1)


def finished(storage, artefacts, name="a"):
    sid = storage.create_study(spec(name)).id
    (trial,) = storage.enqueue_trials(sid, proposals(1), batch=0)
    storage.start_trial(trial.id, "w")
    storage.finish_trial(trial.id, TrialState.COMPLETE, replace(result(), artefacts=tuple(artefacts)))
    return trial.id


def test_artefacts_round_trip_byte_for_byte_in_order(storage):
    arts = [
        StoredArtefact(
            "detector", "CalorimeterDetector", 0, meta={"frozen": False, "validation": {"passed": 2}}
        ),
        StoredArtefact(
            "reco", "Learned", 1, b"\x00\x01binary\xff", "sha256:ab", [3.0, 2.5, 2.25], {"learned": True}
        ),
    ]
    tid = finished(storage, arts)
    got = storage.get_trial_artefacts(tid)
    assert [a.block for a in got] == ["detector", "reco"]
    assert got[1].blob == b"\x00\x01binary\xff" and got[1].digest == "sha256:ab"
    assert got[1].curve == [3.0, 2.5, 2.25] and got[1].meta == {"learned": True}
    assert got[0].blob is None and got[0].meta["validation"] == {"passed": 2}
    # a trial without a pipeline has none; deleting the study deletes them
    other = finished(storage, [], name="b")
    assert storage.get_trial_artefacts(other) == []
    storage.delete_study("a")
    assert storage.get_trial_artefacts(tid) == []


def test_trained_reconstruction_round_trips_with_the_same_resolution(storage):
    sim = SegmentedCalorimeter(n_sections=2)
    choices = {"n_layers": 10, "absorber": "Pb", "active": "scintillator"}
    design = {k: torch.tensor(3.0, dtype=torch.float64) for k in sim.absorber_names + sim.active_names}
    trained = calorimeter_pipeline(sim, "learned")
    trained.train(Context(design, choices, 2000, torch.Generator().manual_seed(1), phase="train"))
    trained.freeze("reconstruction")
    with torch.no_grad():
        before = trained(design, choices, 6000, torch.Generator().manual_seed(2))["resolution"]
    tid = finished(storage, trained.trial_artefacts())
    stored = storage.get_trial_artefacts(tid)
    assert [a.block for a in stored] == ["detector", "reconstruction", "figure_of_merit"]
    fresh = calorimeter_pipeline(sim, "learned", frozen=("reconstruction",))
    fresh.load_artefacts(load_block_tensors(stored))
    with torch.no_grad():
        after = fresh(design, choices, 6000, torch.Generator().manual_seed(2))["resolution"]
    assert float(after.value) == float(before.value) and after.stderr == before.stderr
    # the untrained block (weights all 1: the plain segment sum) gives another resolution
    with torch.no_grad():
        plain = calorimeter_pipeline(sim, "learned", frozen=("reconstruction",))
        plain.block("reconstruction").weights = torch.ones(4, dtype=torch.float64)
        other = plain(design, choices, 6000, torch.Generator().manual_seed(2))["resolution"]
    assert float(other.value) != float(before.value)
    assert stored[1].curve == trained.block("reconstruction").training_curve
    assert stored[1].meta["learned"] and stored[1].meta["frozen"]


def test_a_tampered_blob_is_refused(storage):
    sim = SegmentedCalorimeter(n_sections=2)
    p = calorimeter_pipeline(sim, "learned")
    p.block("reconstruction").weights = torch.ones(4, dtype=torch.float64)
    art = p.trial_artefacts()[1]
    assert decode_tensors(art.blob, art.digest)["weights"].tolist() == [1.0] * 4
    bad = bytearray(art.blob)
    bad[-1] ^= 1
    with pytest.raises(UntrustedModelError, match="digest"):
        decode_tensors(bytes(bad), art.digest)
    with pytest.raises(UntrustedModelError, match="not a safetensors"):
        import hashlib

        junk = b"\x80\x04pickle"
        decode_tensors(junk, "sha256:" + hashlib.sha256(junk).hexdigest())


def test_a_0003_database_gains_the_artefact_table(tmp_path):
    """The database saved at schema 0003 upgrades (revision 0006): its trials have no
    artefacts, and a trial finished afterwards stores its blocks beside them."""
    import shutil
    from pathlib import Path

    from paretoopt.storage import SQLStorage, TrialProposal, TrialResult, head_revision
    from paretoopt.storage.schema import current_revision

    copy = tmp_path / "0003.db"
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "schemas" / "0003.db", copy)
    st = SQLStorage(f"sqlite:///{copy}")
    assert current_revision(st.engine) == head_revision()
    sid = st.get_study("mixed_zdt").id
    old = st.get_trials(sid)
    assert old and all(st.get_trial_artefacts(t.id) == [] for t in old)
    (t,) = st.enqueue_trials(sid, [TrialProposal((0.5, 0.5), old[0].choices, 1)], batch=9)
    st.start_trial(t.id, "w")
    art = StoredArtefact("reco", "Learned", 0, b"\x01", "sha256:x", [1.0])
    st.finish_trial(t.id, TrialState.COMPLETE, TrialResult(params={}, artefacts=(art,)))
    assert st.get_trial_artefacts(t.id) == [art]
    st.close()
