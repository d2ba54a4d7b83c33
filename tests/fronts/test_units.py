"""The unit an objective or a constraint is written in must not change the front.

A study written as a user would (no InnerSettings, no ideal/nadir, objectives of very different
magnitudes, a constraint) is run with its objectives and its constraint multiplied by 1e4 and
by 1e-4: the trials (designs, and objectives up to the factor) must be the same."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paretoopt import Constraint, DesignSpace, Estimate, Objective, Real, StudyDefinition, optimize


def tracker_study(resolution_unit: float = 1.0, cost_unit: float = 1.0, length_unit: float = 1.0):
    """A toy tracker: resolution (percent, ~0.05-1.2) against cost (kEUR, ~1,000-21,000) over
    three continuous knobs, with a length constraint (m). ``*_unit`` rescale the outputs (and the
    constraint's bound), as writing them in other units would."""

    def simulate(params, choices, n_samples, generator):
        layers = params["layers"]
        pitch = params["pitch_um"]
        lever = params["lever_m"]
        resolution = 0.04 + pitch / (50.0 * torch.sqrt(layers) * lever) + 0.3 / (layers * lever)
        cost = 1000.0 + 60.0 * layers**1.5 * lever + 4.0e4 / pitch
        length = lever * (1.0 + 0.02 * layers)
        return {
            "resolution": Estimate(resolution * resolution_unit, 0.0),
            "cost": Estimate(cost * cost_unit, 0.0),
            "length": length * length_unit,
        }

    return StudyDefinition(
        "tracker",
        DesignSpace(Real("layers", 3.0, 20.0), Real("pitch_um", 10.0, 200.0), Real("lever_m", 0.2, 2.0)),
        [Objective("resolution", unit="%"), Objective("cost", unit="kEUR")],
        simulate,
        constraints=[Constraint("length", upper=2.0 * length_unit, unit="m")],
    )


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


def detector_mc_study(energy_unit: float = 1.0, cost_unit: float = 1.0):
    """A Monte Carlo toy (per-event resolution samples) in GeV or MeV, EUR or MEUR."""

    def simulate(params, choices, n_samples, generator):
        t = params["thickness_mm"]
        noise = torch.randn(n_samples, generator=generator, dtype=t.dtype)
        response = (0.10 / torch.sqrt(t) + 0.002 * t) * (1.0 + 0.05 * noise)
        return {"resolution": response * energy_unit, "cost": Estimate(2.0e5 * t * cost_unit, 0.0)}

    return StudyDefinition(
        "mc_detector",
        DesignSpace(Real("thickness_mm", 0.5, 30.0, unit="mm")),
        [Objective("resolution", unit="GeV"), Objective("cost", unit="EUR")],
        simulate,
    )


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
