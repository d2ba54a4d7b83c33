"""The unit an objective or a constraint is written in must not change the front.

A study written as a user would (no InnerSettings, no ideal/nadir, objectives of very different
magnitudes, a constraint) is run with its objectives and its constraint multiplied by 1e4 and
by 1e-4: the trials (designs, and objectives up to the factor) must be the same."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.user_studies import detector_mc_study, tracker_study
from paretoopt import optimize


def _run(tmp_path, name, **units):
    d = tracker_study(**units)
    study = optimize(d, storage=f"sqlite:///{tmp_path / (name + '.db')}", engine="grid", n_trials=10, seed=3)
    trials = sorted(study.trials, key=lambda t: t.number)
    return d, trials


@pytest.mark.parametrize("factor", [1e4, 1e-4])
def test_a_deterministic_study_gives_the_same_trials_in_any_unit(tmp_path, factor):
    d, base = _run(tmp_path, "base")
    _, scaled = _run(tmp_path, "scaled", resolution_unit=factor, cost_unit=1.0 / factor, length_unit=factor)
    assert [t.state for t in scaled] == [t.state for t in base]
    assert [t.source for t in scaled] == [t.source for t in base]
    for a, b in zip(base, scaled, strict=True):
        np.testing.assert_allclose(
            [b.params[k] for k in d.space.inner_names], [a.params[k] for k in d.space.inner_names], rtol=1e-6
        )
        np.testing.assert_allclose(b.objectives, np.array(a.objectives) * [factor, 1.0 / factor], rtol=1e-6)
        assert b.feasible == a.feasible


def test_a_monte_carlo_study_gives_the_same_front_within_its_errors_in_any_unit(tmp_path):
    runs = []
    for name, units in (("gev", {}), ("mev", {"energy_unit": 1e3, "cost_unit": 1e-6})):
        d = detector_mc_study(**units)
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        study = optimize(d, storage=url, engine="grid", n_trials=6, seed=1)
        runs.append(sorted(study.trials, key=lambda t: t.number))
    for a, b in zip(*runs, strict=True):
        fa = np.array(a.objectives)
        fb = np.array(b.objectives) / [1e3, 1e-6]
        sa, sb = np.array(a.stderr), np.array(b.stderr) / [1e3, 1e-6]
        assert np.all(np.abs(fa - fb) <= 3 * np.hypot(sa, sb) + 1e-9 * np.abs(fa))
