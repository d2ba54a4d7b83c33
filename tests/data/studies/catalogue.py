"""A detector tile from a 76-entry scintillator catalogue (one choice) and two thicknesses
(inner reals): light-yield resolution (%) vs cost (EUR), Monte Carlo. More discrete options
than the botorch engine enumerates (its ``max_enumerate`` is 16), for the same-seed and resume
tests; ``$PARETOOPT_TEST_HANG_AT_CALL`` makes a run hang mid-trial at a fixed call
(tests/studyhooks.py)."""

import math

import torch

from paretoopt import Choice, DesignSpace, InnerSettings, Objective, Real, StudyDefinition
from tests.studyhooks import hang_if_asked

# catalogue entry k: light yield (photons/MeV) and price (EUR/cm) from a fixed formula, so the
# options differ in both objectives and no one entry dominates all others
CATALOGUE = tuple(f"SC-{k:03d}" for k in range(76))
YIELD = {name: 6000.0 + 4000.0 * math.sin(0.37 * k) ** 2 + 60.0 * k for k, name in enumerate(CATALOGUE)}
PRICE = {name: 2.0 + 0.05 * k + 1.5 * math.cos(0.21 * k) ** 2 for k, name in enumerate(CATALOGUE)}


def simulate(params, choices, n_samples, generator):
    hang_if_asked()
    t_cm = params["thickness_cm"]
    w_cm = params["wrap_mm"] / 10.0
    name = choices["scintillator"]
    photons = YIELD[name] * 2.0 * t_cm * torch.exp(-w_cm)  # 2 MeV/cm, light lost in the wrapping
    fluct = torch.randn(n_samples, generator=generator, dtype=t_cm.dtype)
    resolution = 100.0 / torch.sqrt(photons) * (1.0 + 0.05 * fluct)
    cost = PRICE[name] * t_cm * 100.0 + 20.0 / (0.1 + w_cm)
    return {"resolution": resolution, "cost": cost}


study = StudyDefinition(
    "catalogue",
    DesignSpace(
        Real("thickness_cm", 0.2, 5.0, unit="cm"),
        Real("wrap_mm", 0.1, 3.0, unit="mm"),
        Choice("scintillator", CATALOGUE),
    ),
    [Objective("resolution", unit="%"), Objective("cost", unit="EUR")],
    simulate,
    inner=InnerSettings(optimizer="adam", max_steps=40, n_samples=200, n_eval_samples=1000),
)
