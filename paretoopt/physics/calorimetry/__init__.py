"""Sampling calorimetry: stack physics, a Monte Carlo of a plate calorimeter, its cost and the study."""

# The blocks, each usable alone (the physics model is written up in docs/physics-calorimeter.md):
#
# sampling.py
# * sampling_fraction - the fraction of a minimum-ionising particle's energy loss that the
#   active layers see (PDG review "Calorimetry", EM sampling calorimeters; Wigmans,
#   *Calorimetry*, ch. on sampling calorimeters).
# * stochastic_term - sampling fluctuations a = 2.7 % sqrt(d / f_samp) with d the active-layer
#   thickness in mm (Wigmans, *Calorimetry*, sampling fluctuations, quoted in the PDG review
#   "Calorimetry") for plate geometries; returned as a fraction, 0.10 meaning 10 %/sqrt(E/GeV).
# * stack_properties - the effective medium of an absorber + active layer (PDG rules for X0
#   and R_M of mixtures), in torch, differentiable in the thicknesses.
# * ActiveMedium / ACTIVE_MEDIA (readout of each active medium) and CostModel.
# calorimeter.py
# * SamplingCalorimeter - the event-by-event Monte Carlo (showers from
#   paretoopt.physics.showers, sampling and photo-statistics fluctuations per layer, electronic
#   noise per channel, a constant term, rear leakage) and the cost model.
# * calorimeter_study - the study definition used by studies/calorimeter.py.

from paretoopt.physics.calorimetry.calorimeter import (
    CALORIMETER_INNER,
    CALORIMETER_QUICK_INNER,
    SamplingCalorimeter,
    calorimeter_study,
)
from paretoopt.physics.calorimetry.sampling import (
    ACTIVE_MEDIA,
    CLUSTER_TOWERS,
    SILICON_EMPIRICAL_FACTOR,
    WIGMANS_CONSTANT,
    ActiveMedium,
    CostModel,
    Number,
    StackProperties,
    fit_resolution,
    sampling_fraction,
    stack_properties,
    stochastic_term,
)

__all__ = [
    "ACTIVE_MEDIA",
    "CALORIMETER_INNER",
    "CALORIMETER_QUICK_INNER",
    "CLUSTER_TOWERS",
    "SILICON_EMPIRICAL_FACTOR",
    "WIGMANS_CONSTANT",
    "ActiveMedium",
    "CostModel",
    "Number",
    "SamplingCalorimeter",
    "StackProperties",
    "calorimeter_study",
    "fit_resolution",
    "sampling_fraction",
    "stack_properties",
    "stochastic_term",
]
