"""A study database written by an earlier commit, killed mid-trial, resumes under today's code
and ends with the trials the uninterrupted run of that commit ended with (tests/data/resume/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from paretoopt import load_study, load_study_definition, optimize
from paretoopt.storage import TrialState

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "resume" / "expected.json").read_text())


@pytest.mark.parametrize("run", EXPECTED["runs"], ids=lambda r: r["study"])
def test_a_stored_interrupted_study_resumes_as_the_uninterrupted_run(tmp_path: Path, run: dict) -> None:
    db = tmp_path / "interrupted.db"
    shutil.copy(DATA / "resume" / "interrupted.db", db)
    url = f"sqlite:///{db}"
    before = load_study(study_name=run["study"], storage=url)
    assert any(t.state is TrialState.RUNNING for t in before.trials), "the fixture was killed mid-trial"
    assert len([t for t in before.trials if t.state.is_finished]) < run["n_trials"]

    definition = load_study_definition(DATA / "studies" / "resume_zdt1.py")
    study = optimize(
        definition,
        storage=url,
        study_name=run["study"],
        engine=run["engine"],
        engine_options=run["options"],
        n_trials=run["n_trials"],
        seed=7,
    )
    got = sorted(study.trials, key=lambda t: t.number)
    want = run["trials"]
    assert [(t.number, t.source, t.state.value) for t in got] == [
        (w["number"], w["source"], w["state"]) for w in want
    ]
    for t, w in zip(got, want, strict=True):
        assert t.choices == w["choices"]
        np.testing.assert_allclose(t.weights, w["weights"], rtol=1e-12, atol=0)
        assert sorted(t.params) == sorted(w["params"])
        np.testing.assert_allclose(
            [t.params[k] for k in sorted(t.params)],
            [w["params"][k] for k in sorted(w["params"])],
            rtol=1e-9,
            atol=1e-12,
        )
        np.testing.assert_allclose(t.objectives, w["objectives"], rtol=1e-9, atol=1e-12)
