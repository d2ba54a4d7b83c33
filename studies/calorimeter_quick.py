"""The segmented calorimeter of studies/calorimeter.py, small enough for ``make demo``.

The same physics and 20 inner parameters (10 depth sections x absorber and active thickness);
fewer choices (Pb or W absorber, scintillator or silicon, 10-40 layers), three beam energies
(2, 10 and 50 GeV) for the fit of a/sqrt(E) (+) b, and the quick inner-loop settings (40 Adam
steps on 600 events, 6,000 events for the final evaluation). Fronts from it are noisier and
coarser than the full study's; use it to see the trade, not to choose a design.
"""

from paretoopt.physics.calorimetry import SEGMENTED_QUICK_INNER, segmented_calorimeter_study

study = segmented_calorimeter_study(
    name="calorimeter_quick",
    n_sections=10,
    energies_gev=(2.0, 10.0, 50.0),
    reference_energy_gev=10.0,
    area_m2=1.0,
    depth_max_cm=40.0,
    absorbers=("Pb", "W"),
    actives=("scintillator", "silicon"),
    n_layers=(10, 40),
    inner=SEGMENTED_QUICK_INNER,
)
