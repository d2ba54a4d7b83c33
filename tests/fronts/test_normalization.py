"""The normalisation grows with the front and is stored per batch, so a resumed run
scalarises every trial as the uninterrupted one did."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.user_studies import sensors_study, tracker_study
from paretoopt import load_study, optimize
from paretoopt.normalization import NormalizationHistory


def _same_trials(a, b):
    assert [(t.number, t.source, t.batch) for t in a] == [(t.number, t.source, t.batch) for t in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.objectives, y.objectives, rtol=1e-12)
        assert x.params == y.params


def test_an_interrupted_run_resumes_with_the_stored_normalisations(tmp_path):
    d = tracker_study()
    full = optimize(d, storage=f"sqlite:///{tmp_path / 'full.db'}", engine="grid", n_trials=9, seed=5)
    url = f"sqlite:///{tmp_path / 'parts.db'}"
    optimize(d, storage=url, engine="grid", n_trials=5, seed=5)
    resumed = optimize(d, storage=url, engine="grid", n_trials=9, seed=5)
    _same_trials(sorted(full.trials, key=lambda t: t.number), sorted(resumed.trials, key=lambda t: t.number))
    full_url = f"sqlite:///{tmp_path / 'full.db'}"
    stored = load_study(study_name="tracker", storage=full_url).record.normalization
    assert len(stored["epochs"]) >= 2  # the run re-estimated it at least once
    assert stored == load_study(study_name="tracker", storage=url).record.normalization


def test_choices_that_change_an_objectives_range_are_covered_as_the_front_grows(tmp_path):
    """Anchors run at the default choice ("silicon", costs ~1); the "diamond" option costs
    ~1,000 times more and reaches a resolution ten times better. Trials at that choice extend
    the stored normalisation to the whole range."""

    d = sensors_study()
    study = optimize(d, storage=f"sqlite:///{tmp_path / 's.db'}", engine="grid", n_trials=14, seed=0)
    history = NormalizationHistory.from_dict(study.record.normalization)
    assert len(history.epochs) >= 2
    first, last = history.epochs[0][1], history.latest
    assert last.ideal[0] < 0.5 * first.ideal[0]  # diamond's resolution
    assert last.nadir[1] > 100 * first.nadir[1]  # diamond's cost on the front
    done = [t for t in study.trials if t.state.value == "COMPLETE" and t.batch >= 0]
    for t in done:  # each trial ran with its batch's normalisation, kept with the study
        assert history.for_batch(t.batch) is not None
    assert torch.all(last.span > 0)
