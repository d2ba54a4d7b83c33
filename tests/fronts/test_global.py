"""Only globally Pareto-optimal points are reported: ZDT3's disconnected front, where an inner
loop can stop in a local minimum of its scalarisation on a dominated arc."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paretoopt import load_study_definition, optimize
from paretoopt.analytic import distance_to_front
from paretoopt.normalization import NormalizationHistory
from paretoopt.scalarize import make_scalarization

#: ZDT3's five Pareto-optimal segments in f1 (Zitzler, Deb & Thiele 2000; the f1 ranges where
#: f2 = 1 - sqrt(f1) - f1 sin(10 pi f1) is non-dominated, as tabulated with the problem).
SEGMENTS = [(0.0, 0.0830), (0.1822, 0.2578), (0.4093, 0.4539), (0.6184, 0.6525), (0.8233, 0.8518)]


def _true_front(n: int = 20000) -> np.ndarray:
    """ZDT3's front computed here from its formula (not from paretoopt.analytic)."""
    f1 = np.linspace(0.0, 1.0, n)
    f2 = 1.0 - np.sqrt(f1) - f1 * np.sin(10.0 * np.pi * f1)
    keep = np.ones(n, dtype=bool)
    best = np.inf
    for i in range(n):  # f1 increases: a point is non-dominated when its f2 beats every earlier one
        keep[i] = f2[i] < best
        best = min(best, f2[i])
    return np.column_stack([f1[keep], f2[keep]])


@pytest.fixture
def zdt3(studies_dir):
    return load_study_definition(studies_dir / "zdt3.py")


def test_the_independent_front_has_the_published_segments():
    front = _true_front()
    for lo, hi in SEGMENTS:
        assert np.any((front[:, 0] > lo + 1e-3) & (front[:, 0] < hi - 1e-3))
    gaps = [(0.0830, 0.1822), (0.2578, 0.4093), (0.4539, 0.6184), (0.6525, 0.8233)]
    for lo, hi in gaps:
        assert not np.any((front[:, 0] > lo + 1e-3) & (front[:, 0] < hi - 1e-3))


def test_twelve_grid_trials_report_only_points_on_the_true_front(tmp_path, zdt3):
    study = optimize(zdt3, storage=f"sqlite:///{tmp_path / 'z.db'}", engine="grid", n_trials=12, seed=0)
    best = np.array([t.objectives for t in study.best_trials])
    assert len(best) >= 6
    assert distance_to_front(best, _true_front()).max() < 1e-2


def test_forty_trials_cover_every_segment_and_flagged_trials_are_beaten_on_their_own_trade_off(
    tmp_path, zdt3
):
    study = optimize(zdt3, storage=f"sqlite:///{tmp_path / 'z.db'}", engine="grid", n_trials=40, seed=0)
    best = np.array([t.objectives for t in study.best_trials])
    assert distance_to_front(best, _true_front()).max() < 1e-2
    for lo, hi in SEGMENTS:
        assert np.any((best[:, 0] >= lo - 1e-3) & (best[:, 0] <= hi + 1e-3)), f"segment {lo}-{hi} missed"
    flagged = study.locally_optimal_trials()
    by_number = {t.number: t for t in study.trials}
    history = NormalizationHistory.from_dict(study.record.normalization)
    shown = {t.number for t in study.best_trials}
    for number, witness in flagged.items():
        assert number not in shown
        t = by_number[number]
        s = make_scalarization(study.record.scalarization, t.weights, history.for_batch(t.batch))
        if witness in by_number and by_number[witness].objectives:  # a trial witnesses
            # the witness is the trial's final design or a point its inner loop passed through
            w = by_number[witness]
            seen = [w.objectives, *(st.objectives for st in study.storage.get_trajectory(w.id))]
            assert min(float(s(torch.tensor(f))) for f in seen) < float(s(torch.tensor(t.objectives)))
