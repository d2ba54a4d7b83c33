"""A compiled toy sampling calorimeter (toycal.c, built by this directory's Makefile) as a
paretoopt study through the external-simulator contract (docs/external.md).

    make -C examples/external_calorimeter
    paretoopt run examples/external_calorimeter/study.py --trials 12 --engine grid

Inner parameters: absorber and scintillator thickness per layer (mm); outer: absorber (Pb, W,
Fe) and number of layers. Objectives: resolution at 10 GeV (%) and cost (kEUR); constraint:
depth <= 40 cm. Each evaluation runs in ``runs/`` beside this file (kept: a resumed run reuses it).
"""

from pathlib import Path

from paretoopt import (
    Choice,
    Constraint,
    DesignSpace,
    ExternalSimulator,
    InnerSettings,
    Integer,
    Objective,
    Real,
    StudyDefinition,
)

HERE = Path(__file__).resolve().parent

study = StudyDefinition(
    "external_calorimeter",
    DesignSpace(
        Real("absorber_mm", 1.0, 20.0, unit="mm"),
        Real("active_mm", 0.5, 5.0, unit="mm"),
        Choice("absorber", ("Pb", "W", "Fe")),
        Integer("n_layers", 10, 40),
    ),
    [Objective("resolution", unit="%"), Objective("cost", unit="kEUR")],
    ExternalSimulator([str(HERE / "toycal")], timeout_s=60, workdir=HERE / "runs", max_parallel=2),
    constraints=[Constraint("depth_cm", upper=40.0, unit="cm")],
    inner=InnerSettings(n_samples=2000, n_eval_samples=20000, max_steps=60),
)
