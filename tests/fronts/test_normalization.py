"""The normalisation grows with the front and is stored per batch, so a resumed run
scalarises every trial as the uninterrupted one did."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.user_studies import sensors_study
from paretoopt import load_study, optimize
from paretoopt.normalization import NormalizationHistory


def _same_trials(a, b):
    assert [(t.number, t.source, t.batch) for t in a] == [(t.number, t.source, t.batch) for t in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.objectives, y.objectives, rtol=1e-12)
        assert x.params == y.params


def test_an_interrupted_run_resumes_with_the_stored_normalisations(tmp_path):
    """The sensors study: anchors on the default sensor only (9 trials), so the normalisation
    moves when the dearer, sharper sensor's trials join the front (the tracker's lexicographic
    anchors already find its extremes: nothing to re-estimate there)."""
    d = sensors_study()
    full = optimize(d, storage=f"sqlite:///{tmp_path / 'full.db'}", engine="grid", n_trials=9, seed=5)
    url = f"sqlite:///{tmp_path / 'parts.db'}"
    optimize(d, storage=url, engine="grid", n_trials=5, seed=5)
    resumed = optimize(d, storage=url, engine="grid", n_trials=9, seed=5)
    _same_trials(sorted(full.trials, key=lambda t: t.number), sorted(resumed.trials, key=lambda t: t.number))
    full_url = f"sqlite:///{tmp_path / 'full.db'}"
    stored = load_study(study_name=d.name, storage=full_url).record.normalization
    assert len(stored["epochs"]) >= 2  # the run re-estimated it at least once
    assert stored == load_study(study_name=d.name, storage=url).record.normalization


def test_choices_that_change_an_objectives_range_are_covered_by_the_anchors_and_the_growing_front(tmp_path):
    """The "diamond" option costs ~1,000 times more than "silicon" and resolves ten times better
    (best 0.02 at x = 0.7). With anchors on the default choice only (as in a study of fewer than 8
    trials), the trials at that choice extend the stored normalisation as the front grows;
    with trials to spare, the anchors run on both choices and cover it from the start."""
    d = sensors_study()
    few = optimize(d, storage=f"sqlite:///{tmp_path / 'few.db'}", engine="grid", n_trials=7, seed=0)
    assert len([t for t in few.trials if t.source == "anchor"]) == 2
    history = NormalizationHistory.from_dict(few.record.normalization)
    first, last = history.epochs[0][1], history.latest
    assert len(history.epochs) >= 2
    assert last.nadir[1] > 100 * first.nadir[1]  # diamond's cost on the front
    assert last.ideal[0] < first.ideal[0]  # diamond's resolution

    many = optimize(d, storage=f"sqlite:///{tmp_path / 'many.db'}", engine="grid", n_trials=16, seed=0)
    anchors = [t for t in many.trials if t.source == "anchor"]
    assert {t.choices["sensor"] for t in anchors} == {"silicon", "diamond"} and len(anchors) == 4
    first = NormalizationHistory.from_dict(many.record.normalization).epochs[0][1]
    assert float(first.ideal[0]) == pytest.approx(0.02, rel=1e-3)  # 0.1 x 0.2 at x = 0.7
    assert float(first.nadir[1]) > 1000.0
    last = NormalizationHistory.from_dict(many.record.normalization).latest
    assert torch.all(last.span > 0)
