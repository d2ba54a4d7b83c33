"""Studies written the way a physicist writes a first study, kept as they were first written.

Ten minutes each, their own units, no InnerSettings, no ideal/nadir, objectives of very
different magnitudes: the defaults must serve them (BENCHMARKS.md, "Problems nobody tuned for").
The tests in tests/fronts/ check them against extremes and fronts computed independently;
benchmarks/front_quality.py runs them against the peers.
"""

from __future__ import annotations

import torch

from paretoopt import Choice, Constraint, DesignSpace, Estimate, Objective, Real, StudyDefinition


def tracker_study(
    resolution_unit: float = 1.0, cost_unit: float = 1.0, length_unit: float = 1.0
) -> StudyDefinition:
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


def detector_mc_study(energy_unit: float = 1.0, cost_unit: float = 1.0) -> StudyDefinition:
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


def sensors_study() -> StudyDefinition:
    """Resolution and cost of one continuous knob and a sensor choice whose "diamond" option
    costs ~1,000 times more and resolves ten times better than "silicon"."""

    def simulate(params, choices, n_samples, generator):
        x = params["x"]
        price, gain = {"silicon": (1.0, 1.0), "diamond": (1000.0, 0.1)}[choices["sensor"]]
        return {
            "resolution": Estimate(gain * (0.2 + (x - 0.7) ** 2), 0.0),
            "cost": Estimate(price * (1.0 + x**2), 0.0),
        }

    return StudyDefinition(
        "sensors",
        DesignSpace(Real("x", 0.0, 1.0), Choice("sensor", ["silicon", "diamond"])),
        [Objective("resolution"), Objective("cost", unit="kEUR")],
        simulate,
    )
