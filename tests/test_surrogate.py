"""Surrogates on real studies (ZDT1, ZDT2, the calorimeter) run by ``optimize`` on a temporary
SQLite file: held-out accuracy and calibration, the stored format's round trip and its refusal
of altered or foreign blobs, predictions from table-shaped frames, and ``--simulator
surrogate`` end to end."""

from __future__ import annotations

import io
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sqlalchemy import text
from typer.testing import CliRunner

from paretoopt import load_study_definition, workflows
from paretoopt import surrogate as sg
from paretoopt.analytic import zdt_objectives
from paretoopt.cli import app
from paretoopt.exceptions import SpaceError, SurrogateError, UntrustedModelError
from paretoopt.run import optimize
from paretoopt.storage import TrialState
from paretoopt.study import load_study
from paretoopt.trials import RESIMULATED, SURROGATE

ROOT = Path(__file__).resolve().parents[1]


def _zdt_study(tmp_path_factory, kind: str, n_trials: int = 10):
    # warm_start=False: every inner loop starts at the centre of the box and descends to the
    # front, so the trajectories cover the interior as well as the Pareto set
    url = f"sqlite:///{tmp_path_factory.mktemp(kind) / 'study.db'}"
    d = load_study_definition(ROOT / "studies" / f"{kind}.py")
    return optimize(d, storage=url, n_trials=n_trials, engine="grid", seed=0, warm_start=False)


@pytest.fixture(scope="module")
def zdt1(tmp_path_factory):
    return _zdt_study(tmp_path_factory, "zdt1")


@pytest.fixture(scope="module")
def zdt2(tmp_path_factory):
    return _zdt_study(tmp_path_factory, "zdt2")


def _check_validation(surrogate, min_points: int = 10) -> None:
    table = surrogate.validation_table()
    assert list(table["output"]) == surrogate.output_names
    for _, row in table.iterrows():
        if row["kind"] != "objective":
            continue
        assert row["points"] >= min_points, row
        assert row["R2"] >= 0.9, row
        assert 0.85 <= row["coverage 95 %"] <= 1.0, row
        assert row["coverage 68 %"] <= row["coverage 95 %"]


@pytest.mark.parametrize("kind", ["zdt1", "zdt2"])
def test_held_out_r2_and_coverage_on_zdt(kind, request):
    study = request.getfixturevalue(kind)
    surrogate = study.surrogate()
    done = study.completed_trials
    assert surrogate.kind == "exact_gp" and surrogate.trial_numbers == [t.number for t in done]
    # final evaluations plus at most MAX_TRAJECTORY_POINTS steps of every trajectory
    assert len(done) < surrogate.n_points <= len(done) * (1 + sg.MAX_TRAJECTORY_POINTS)
    v = surrogate.validation
    assert (
        len(v["test_trials"]) == 2 and sorted(v["train_trials"] + v["test_trials"]) == surrogate.trial_numbers
    )
    _check_validation(surrogate)
    # the what-if use: designs on the Pareto set (x2..x30 = 0) the study never evaluated
    x1 = np.linspace(0.05, 0.95, 7)
    designs = pd.DataFrame({f"x{i}": (x1 if i == 1 else 0.0) for i in range(1, 31)})
    mean, std = surrogate.predict(designs)
    truth = np.array([[float(f) for f in zdt_objectives(torch.tensor([a] + [0.0] * 29), kind)] for a in x1])
    assert mean.shape == std.shape == (7, 2) and np.all(std > 0)
    assert np.abs(mean - truth).max() < 0.05
    assert np.all(np.abs(mean - truth) <= 4 * std + 1e-3)


def test_round_trip_gives_identical_predictions_and_refit_is_on_demand(zdt2):
    first = zdt2.surrogate()
    again = load_study(study_name="zdt2", storage=zdt2.storage.url).surrogate()  # a fresh process' view
    assert again.version == first.version and again.trial_numbers == first.trial_numbers
    frame = zdt2.trials_dataframe()
    for a, b in zip(first.predict(frame), again.predict(frame), strict=True):
        assert np.array_equal(a, b)
    assert again.validation == first.validation
    blob = first.to_bytes()
    assert first.to_bytes() == blob  # deterministic serialisation
    # the study grows: "auto" refits on every trial, "never" keeps the stored model
    d = load_study_definition(ROOT / "studies" / "zdt2.py")
    optimize(d, storage=zdt2.storage.url, n_trials=len(zdt2.trials) + 1, seed=0, warm_start=False)
    stale = zdt2.surrogate(refit="never")
    assert stale.version == first.version
    grown = zdt2.surrogate()
    assert grown.version == first.version + 1 and len(grown.trial_numbers) == len(first.trial_numbers) + 1
    assert zdt2.surrogate().version == grown.version  # nothing new: loaded, not refitted


def _blob_row(study):
    with study.storage.engine.connect() as conn:
        return conn.execute(
            text("SELECT blob, digest FROM surrogate_models WHERE study_id = :s"), {"s": study.record.id}
        ).one()


def _set_blob(study, blob: bytes, digest: str) -> None:
    with study.storage.engine.begin() as conn:
        conn.execute(
            text("UPDATE surrogate_models SET blob = :b, digest = :d WHERE study_id = :s"),
            {"b": blob, "d": digest, "s": study.record.id},
        )


def _with_metadata(blob: bytes, change) -> bytes:
    """``blob`` with its safetensors header's paretoopt metadata edited by ``change``."""
    size = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + size])
    meta = json.loads(header["__metadata__"]["paretoopt"])
    change(meta)
    header["__metadata__"]["paretoopt"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + blob[8 + size :]


def test_altered_models_are_refused(zdt1, monkeypatch):
    zdt1.surrogate()
    blob, digest = _blob_row(zdt1)
    try:
        flipped = bytearray(blob)
        flipped[-9] ^= 0x01  # one bit of one tensor
        _set_blob(zdt1, bytes(flipped), digest)
        with pytest.raises(UntrustedModelError, match="digest does not match"):
            sg.load_surrogate(zdt1)
        with pytest.raises(UntrustedModelError):  # never silently replaced by a refit
            zdt1.surrogate()
        result = CliRunner().invoke(app, ["surrogate", "show", "zdt1", "--storage", zdt1.storage.url])
        assert result.exit_code == 1 and "digest does not match" in result.output

        # re-signed with the public key, but fitted on another space / with a changed schema
        def bounds(meta):
            meta["space"][1]["high"] = 2.0

        for change, message in [
            (bounds, "another design space"),
            (lambda m: m.update(format_version=99), "format version"),
            (lambda m: m.update(kind="pickle"), "unknown surrogate kind"),
            (lambda m: m.update(extra=1), "differ from the schema"),
        ]:
            forged = _with_metadata(blob, change)
            _set_blob(zdt1, forged, sg.digest(forged))
            with pytest.raises(UntrustedModelError, match=message):
                sg.load_surrogate(zdt1)

        # signed under a secret key: a reader without it (or with another) refuses the model
        _set_blob(zdt1, blob, digest)
        monkeypatch.setenv("PARETOOPT_SURROGATE_KEY", "site secret")
        with pytest.raises(UntrustedModelError, match="PARETOOPT_SURROGATE_KEY"):
            sg.load_surrogate(zdt1)
    finally:
        monkeypatch.delenv("PARETOOPT_SURROGATE_KEY", raising=False)
        _set_blob(zdt1, blob, digest)
    assert sg.load_surrogate(zdt1) is not None


class _Payload:
    """Unpickling this creates a file: the proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_foreign_blobs_are_refused_without_being_executed(zdt1, tmp_path):
    from safetensors.torch import save

    zdt1.surrogate()
    blob, digest = _blob_row(zdt1)
    marker = tmp_path / "pickle-was-executed"
    payload = pickle.dumps(_Payload(marker))
    buf = io.BytesIO()
    torch.save({"state": torch.zeros(3), "evil": _Payload(marker)}, buf)
    foreign = [
        (payload, "not safetensors"),
        (buf.getvalue(), "not safetensors"),
        (save({"w": torch.zeros(2)}), "no paretoopt surrogate metadata"),
        (save({"w": torch.zeros(2)}, metadata={"paretoopt": "[1, 2]"}), "not a JSON object"),
        (b"", "too short"),
    ]
    try:
        for bad, message in foreign:
            _set_blob(zdt1, bad, sg.digest(bad))  # even with a valid digest
            with pytest.raises(UntrustedModelError, match=message):
                sg.load_surrogate(zdt1)
        assert not marker.exists()
    finally:
        _set_blob(zdt1, blob, digest)


def test_tensors_that_do_not_match_the_header_are_refused(zdt1):
    from safetensors.torch import load, save

    surrogate = zdt1.surrogate()
    blob = surrogate.to_bytes()
    size = struct.unpack("<Q", blob[:8])[0]
    meta = json.loads(blob[8 : 8 + size])["__metadata__"]
    tensors = load(blob)
    kw = {"space": zdt1.space, "objectives": zdt1.objectives, "constraints": zdt1.constraints}
    cases = [
        ({**tensors, "train_x": tensors["train_x"].float()}, "dtype"),
        ({k: v for k, v in tensors.items() if k != "train_y"}, "training tensors"),
        ({**tensors, "train_y": tensors["train_y"][:-1]}, "shapes"),
        ({**tensors, "state.extra": torch.zeros(1, dtype=torch.float64)}, "does not fit"),
        ({**tensors, "y_std": -tensors["y_std"]}, "finite and positive"),
    ]
    for changed, message in cases:
        with pytest.raises(UntrustedModelError, match=message):
            sg.Surrogate.from_bytes(save(changed, metadata=meta), **kw)


def test_predict_takes_table_frames_and_names_missing_columns(zdt1):
    surrogate = zdt1.surrogate()
    bare = pd.DataFrame({f"x{i}": [0.2, 0.7] for i in range(1, 31)})
    mean, std = surrogate.predict(bare)
    # unit headers and extra columns (the rest of a trials table) are accepted
    dressed = bare.rename(columns={"x1": "x1 [mm]", "x7": "x7 [cm]"}).assign(
        number=[1, 2], state="COMPLETE", **{"f1": [9.0, 9.0]}
    )
    assert all(np.array_equal(a, b) for a, b in zip((mean, std), surrogate.predict(dressed), strict=True))
    table = zdt1.trials_dataframe()
    m_table, _ = surrogate.predict(table)
    assert m_table.shape == (len(table), 2)
    assert np.abs(m_table - table[["f1", "f2"]].to_numpy()).max() < 0.05  # it has seen these designs
    one, _ = surrogate.predict({f"x{i}": 0.2 for i in range(1, 31)})
    assert np.allclose(one, mean[:1])
    with pytest.raises(SpaceError, match=r"lack a column for \['x3', 'x17'\]"):
        surrogate.predict(bare.drop(columns=["x3", "x17"]))
    with pytest.raises(SpaceError, match="non-finite"):
        surrogate.predict(bare.assign(x2=[np.nan, 0.1]))
    assert surrogate.predict(bare.iloc[:0])[0].shape == (0, 2)


def test_too_few_trials_and_unknown_studies(tmp_path):
    url = f"sqlite:///{tmp_path / 'few.db'}"
    d = load_study_definition(ROOT / "studies" / "zdt1.py")
    study = optimize(d, storage=url, n_trials=sg.MIN_TRIALS - 1, seed=0)
    with pytest.raises(SurrogateError, match=f"needs at least {sg.MIN_TRIALS}"):
        study.surrogate()
    with pytest.raises(SurrogateError, match="no surrogate is stored"):
        study.surrogate(refit="never")
    runner = CliRunner()
    result = runner.invoke(app, ["surrogate", "fit", "zdt1", "--storage", url])
    assert result.exit_code == 1 and f"needs at least {sg.MIN_TRIALS}" in result.output
    result = runner.invoke(app, ["surrogate", "show", "zdt1", "--storage", url])
    assert result.exit_code == 1 and "no surrogate stored" in result.output
    for args in (["surrogate", "fit", "nope"], ["surrogate", "show", "nope"]):
        result = runner.invoke(app, [*args, "--storage", url])
        assert result.exit_code == 2 and "no study named 'nope'" in result.output
    result = runner.invoke(app, ["surrogate", "fit", "zdt1", "--storage", url, "--kind", "forest"])
    assert result.exit_code == 2
    result = runner.invoke(
        app, ["run", str(ROOT / "studies" / "zdt2.py"), "--simulator", "surrogate", "--storage", url]
    )
    assert result.exit_code == 2 and "needs an existing study 'zdt2'" in result.output
    result = runner.invoke(
        app, ["run", str(ROOT / "studies" / "zdt1.py"), "--simulator", "surrogate", "--storage", url]
    )
    assert result.exit_code == 2 and "needs at least" in result.output


@pytest.fixture(scope="module")
def calorimeter(tmp_path_factory):
    """The calorimeter study (physics.calorimetry) with two absorbers, two active media, 10-40
    layers and smaller Monte Carlo samples than studies/calorimeter_uniform.py, so that 24 trials run
    in CI time; the physics is the same."""
    from paretoopt.physics.calorimetry import CALORIMETER_QUICK_INNER, calorimeter_study

    d = calorimeter_study(
        name="calorimeter",
        absorbers=("Pb", "W"),
        actives=("scintillator", "LAr"),
        n_layers=(10, 40),
        inner=CALORIMETER_QUICK_INNER,
    )
    url = f"sqlite:///{tmp_path_factory.mktemp('calo') / 'study.db'}"
    return optimize(d, storage=url, n_trials=24, engine="random", seed=0)


def test_held_out_r2_and_coverage_on_the_calorimeter(calorimeter):
    surrogate = calorimeter.surrogate()
    assert surrogate.output_names == ["resolution", "cost", "depth"]
    # trajectory points (Adam on 500 showers) carry 10x the final evaluation's variance
    assert surrogate.info["trajectory_noise_factor"] == 10.0
    # resolution and cost vary by factors with materials and layers: modelled in log space
    assert surrogate.scaling.log[:2].tolist() == [True, True]
    _check_validation(surrogate)
    table = calorimeter.trials_dataframe()  # unit headers, choices as option names, extra columns
    mean, std = surrogate.predict(table)
    measured = table[["resolution [%]", "cost [kEUR]"]].to_numpy()
    assert np.all(np.abs(mean - measured) <= 3 * std + 0.05 * measured)
    # what-if: the same designs in tungsten instead of lead cost more; depth is geometry,
    # n_layers * (absorber + active), learnt from the final evaluations alone
    lead = table[table["absorber"] == "Pb"].head(3)
    tungsten = lead.assign(absorber="W")
    assert np.all(surrogate.predict(tungsten)[0][:, 1] > surrogate.predict(lead)[0][:, 1])
    depth, _ = surrogate.predict_constraints(tungsten)
    geometry = tungsten["n_layers"] * (tungsten["absorber_mm [mm]"] + tungsten["active_mm [mm]"]) / 10.0
    assert np.allclose(depth[:, 0], geometry, rtol=0.05)
    with pytest.raises(SpaceError, match=r"lack a column for \['active'\]"):
        surrogate.predict(table.drop(columns=["active"]))
    with pytest.raises(SpaceError, match="'Fe' is not one of the options"):
        surrogate.predict(table.assign(absorber="Fe"))


def test_deep_ensemble_above_the_gp_budget(zdt1, monkeypatch):
    # 10 trials: < 2 trajectory points each
    monkeypatch.setattr("paretoopt.surrogate.fit.EXACT_GP_MAX_POINTS", 20)
    monkeypatch.setattr("paretoopt.surrogate.models.ENSEMBLE_STEPS", 600)
    surrogate = sg.fit_surrogate(zdt1, seed=0)
    assert surrogate.kind == "deep_ensemble"
    assert surrogate.info["max_trajectory_points"] == sg.MAX_TRAJECTORY_POINTS  # the ensemble takes them all
    for row in surrogate.validation_table().itertuples():
        assert row.R2 >= 0.9
    kw = {"space": zdt1.space, "objectives": zdt1.objectives, "constraints": zdt1.constraints}
    again = sg.Surrogate.from_bytes(surrogate.to_bytes(), **kw)
    frame = zdt1.trials_dataframe()
    for a, b in zip(surrogate.predict(frame), again.predict(frame), strict=True):
        assert np.array_equal(a, b)
    from safetensors.torch import load, save

    blob = surrogate.to_bytes()
    size = struct.unpack("<Q", blob[:8])[0]
    meta = json.loads(blob[8 : 8 + size])["__metadata__"]
    tensors = load(blob)
    with pytest.raises(UntrustedModelError, match="unexpected tensor"):
        sg.Surrogate.from_bytes(
            save({**tensors, "state.x": torch.zeros(1, dtype=torch.float64)}, metadata=meta), **kw
        )


def test_simulator_surrogate_traces_then_resimulates_and_resumes(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    zdt1_file = ROOT / "studies" / "zdt1.py"
    d = load_study_definition(zdt1_file)
    optimize(d, storage=url, n_trials=8, seed=0, warm_start=False)

    # the process dies after the re-simulations were enqueued, before any ran
    from paretoopt.run import Runner

    def die(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "run_waiting", die)
    with pytest.raises(KeyboardInterrupt):
        workflows.optimize_on_surrogate(d, storage=url, n_trials=6, seed=0)
    monkeypatch.undo()
    main = load_study(study_name="zdt1", storage=url)
    waiting = [t for t in main.trials if t.source == RESIMULATED]
    assert waiting and all(t.state is TrialState.WAITING for t in waiting)
    # the next call finishes them (and only them)
    workflows.optimize_on_surrogate(d, storage=url, n_trials=6, seed=0)

    traced = load_study(study_name="zdt1.surrogate", storage=url)
    assert traced.record.attrs == {"surrogate_of": "zdt1", "model_version": 1}
    assert len(traced.trials) == 6 and {t.source for t in traced.trials} == {SURROGATE}
    assert all(t.state is TrialState.COMPLETE for t in traced.trials)
    front = {json.dumps([t.choices, t.params], sort_keys=True): t for t in traced.best_trials}
    resim = [t for t in main.trials if t.source == RESIMULATED]
    assert len(resim) == len(front) == len(waiting)
    for t in resim:
        s = front[json.dumps([t.choices, t.params], sort_keys=True)]  # the surrogate's design, exactly
        assert t.state is TrialState.COMPLETE and t.n_calls == 1 and t.n_steps == 0 and t.init == s.params
        x = torch.tensor([t.params[f"x{i}"] for i in range(1, 31)], dtype=torch.float64)
        assert np.allclose(t.objectives, [float(f) for f in zdt_objectives(x, "zdt1")], rtol=1e-12)
    table = workflows.surrogate_comparison(main)
    assert sorted(table["number"]) == sorted(t.number for t in resim)
    assert np.abs(table["f1 error"]).max() < 0.01 and np.abs(table["f2 error"]).max() < 0.1

    # the CLI, a second round: the study grew, so the surrogate is refitted and the front retraced
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(zdt1_file),
            "--simulator",
            "surrogate",
            "--trials",
            "6",
            "--storage",
            url,
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "surrogate vs simulation on" in result.output and "f1: RMS error" in result.output
    traced = load_study(study_name="zdt1.surrogate", storage=url)
    assert traced.record.attrs["model_version"] == 2 and len(traced.trials) == 6
    # the new front's designs were re-simulated, each once: those not re-simulated in round one
    key = lambda t: json.dumps([t.choices, t.params], sort_keys=True)  # noqa: E731
    first_round = {t.number for t in resim}
    new = [t for t in main.trials if t.source == RESIMULATED and t.number not in first_round]
    assert new and all(t.state is TrialState.COMPLETE for t in new)
    assert sorted(key(t) for t in new) == sorted(
        {key(t) for t in traced.best_trials} - {key(t) for t in resim}
    )
