"""A study for the export and what-if truth tests: every kind of column an export shows.

A log-scaled real and a real with a negative range (inner), an integer and a choice whose
options look like formulas and markup (outer); a maximised Monte Carlo objective in % (standard
errors > 0) and an exact minimised cost of 1e4-1e6 kEUR (printed with a power of ten); a depth
constraint that some designs violate. Runs in seconds."""

import torch

from paretoopt import (
    Choice,
    Constraint,
    DesignSpace,
    InnerSettings,
    Integer,
    Objective,
    Real,
    StudyDefinition,
)

MATERIALS = ("Pb", "=1+1", "W|Cu", "x & y_%", "<b>Fe</b>")
DENSITY_G_CM3 = {"Pb": 11.35, "=1+1": 2.0, "W|Cu": 17.0, "x & y_%": 7.9, "<b>Fe</b>": 7.87}


def simulate(params, choices, n_samples, generator):
    gap = params["gap_mm"]
    off = params["offset_cm"]
    n = choices["n_layers"]
    rho = DENSITY_G_CM3[choices["material"]]
    noise = torch.randn(n_samples, generator=generator, dtype=gap.dtype)
    stopping = 1.0 - torch.exp(-n * gap * rho / 60.0)
    efficiency = 95.0 * stopping * (1.0 + 0.05 * noise) + 0.5 * off  # per event: a mean ± error
    cost = 2.0e4 * n * torch.sqrt(gap) * rho / 10.0 + 3.0e3 * (off + 5.0)  # exact (0-d)
    depth = n * (gap / 10.0 + 0.5)
    return {"efficiency": efficiency, "cost": cost, "depth": depth}


study = StudyDefinition(
    "review",
    DesignSpace(
        Real("gap_mm", 0.5, 20.0, unit="mm", log=True),
        Real("offset_cm", -5.0, 5.0, unit="cm"),
        Integer("n_layers", 1, 8),
        Choice("material", MATERIALS),
    ),
    [Objective("efficiency", "maximize", unit="%"), Objective("cost", unit="kEUR")],
    simulate,
    constraints=[Constraint("depth", upper=12.0, unit="cm")],
    inner=InnerSettings(optimizer="adam", max_steps=40, lr=0.2, n_samples=200, n_eval_samples=2000),
    ideal=[100.0, 1.0e4],
    nadir=[20.0, 4.0e5],
)
