"""Electromagnetic sampling calorimeter with depth-dependent sampling: resolution versus cost.

A 1 m x 1 m plate calorimeter for electrons of 2-100 GeV, built of 10 consecutive sections of
layers, each with its own absorber and active-layer thickness (20 inner, gradient parameters,
mm). Outer choices: number of layers (10-60, shared evenly among the sections), absorber (Pb,
W, Fe, Cu), active medium (plastic scintillator, silicon on its PCB, liquid argon) and the
energy reconstruction (``reference``: today's calibrated sum of the depth segments;
``learned``: per-segment weights and a small leakage-aware network, trained for each design on
a training sample, the resolution measured on an independent one; docs/blocks.md).
Objectives: the energy resolution sigma_E/E at 10 GeV from the fit of a/sqrt(E) (+) b over
2, 5, 10, 20, 50 and 100 GeV (%, with its standard error; a and b are returned with theirs),
and the cost (kEUR); constraint: total depth <= 40 cm. Per-layer deposits are part of every
simulation's output. Physics model and sources: docs/physics-calorimeter.md.

The simulation is a pipeline of blocks (detector -> reconstruction -> figure of merit,
paretoopt.blocks); ``paretoopt validate studies/calorimeter.py`` checks each block alone.
Edit the keywords below: ``reconstructions=("reference",)`` is the study without the learned
reconstruction (identical, trial for trial, to segmented_calorimeter_study), ``frozen`` freezes
blocks, ``objectives="terms"`` makes a and b two separate objectives (a three-objective front),
``n_sections`` the granularity of the depth profile, and as in studies/calorimeter_uniform.py
the energies, area, depth bound, prices and readout. studies/calorimeter_quick.py is the same
study, smaller, for ``make demo``.
"""

from paretoopt.blocks import calorimeter_pipeline_study

study = calorimeter_pipeline_study(
    reconstructions=("reference", "learned"),
    name="calorimeter",
    n_sections=10,
    energies_gev=(2.0, 5.0, 10.0, 20.0, 50.0, 100.0),
    reference_energy_gev=10.0,
    objectives="resolution",
    area_m2=1.0,
    depth_max_cm=40.0,
    absorbers=("Pb", "W", "Fe", "Cu"),
    actives=("scintillator", "silicon", "LAr"),
    n_layers=(10, 60),
    absorber_mm=(0.5, 10.0),
    active_mm=(0.3, 10.0),
    constant_term=0.005,
)
