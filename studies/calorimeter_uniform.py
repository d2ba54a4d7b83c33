"""Electromagnetic sampling calorimeter of identical layers: energy resolution versus cost.

A 1 m x 1 m plate calorimeter for 10 GeV electrons, every layer alike (the segmented
calorimeter of studies/calorimeter.py lets the sampling vary with depth). Inner (gradient)
parameters: absorber and active-layer thickness (mm). Outer choices: number of layers (5-60),
absorber (Pb, W, Fe, Cu), active medium (plastic scintillator, silicon on its PCB, liquid
argon). Objectives: relative energy
resolution sigma_E/E (%, with its standard error) and cost (kEUR); constraint: total depth
<= 40 cm. Physics model and its sources: docs/physics-calorimeter.md.

Edit the keywords below to change the beam (``energies_gev=(2, 10, 50)`` pools several
energies), the front area, the depth bound, material prices
(``prices={"W": {"price_eur_per_kg": 80.0}}``) or the readout (``active_media=...``).
"""

from paretoopt.physics.calorimetry import calorimeter_study

study = calorimeter_study(
    name="calorimeter_uniform",
    energies_gev=(10.0,),
    area_m2=1.0,
    depth_max_cm=40.0,
    absorbers=("Pb", "W", "Fe", "Cu"),
    actives=("scintillator", "silicon", "LAr"),
    n_layers=(5, 60),
    absorber_mm=(0.5, 10.0),
    active_mm=(0.3, 10.0),
    constant_term=0.005,
)
