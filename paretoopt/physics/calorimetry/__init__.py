"""Sampling calorimetry: stack physics, uniform and segmented plate-calorimeter Monte Carlo, cost, studies."""

# The blocks, each usable alone (the physics model is written up in docs/physics-calorimeter.md):
#
# sampling.py   sampling fraction, Wigmans' stochastic term, e/mip, the effective medium of
#               absorber + active + support layers (PDG mixture rules), differentiable.
# readout.py    ActiveMedium (light yield, noise, granularity, support material), the
#               capacitance-scaled noise of ionisation gaps, the default ACTIVE_MEDIA.
# cost.py       CostModel: materials, channels from the cell size, mechanics.
# resolution.py std/mean with its error; the fit of a/sqrt(E) (+) b over energies.
# montecarlo.py simulate_stack: the event-by-event Monte Carlo of layers that may differ.
# calorimeter.py SamplingCalorimeter + calorimeter_study (identical layers;
#               studies/calorimeter_uniform.py).
# segmented.py  SegmentedCalorimeter + segmented_calorimeter_study (sampling varying with
#               depth; studies/calorimeter.py, the flagship).

from paretoopt.physics.calorimetry.calorimeter import (
    CALORIMETER_INNER,
    CALORIMETER_QUICK_INNER,
    SamplingCalorimeter,
    calorimeter_study,
)
from paretoopt.physics.calorimetry.cost import CostModel
from paretoopt.physics.calorimetry.montecarlo import MonteCarloOptions, StackResponse, simulate_stack
from paretoopt.physics.calorimetry.readout import (
    ACTIVE_MEDIA,
    CLUSTER_RADIUS_RM,
    SILICON_SUPPORT,
    ActiveMedium,
    CapacitiveNoise,
    cells_in_cluster,
)
from paretoopt.physics.calorimetry.resolution import (
    ResolutionFit,
    fit_resolution,
    fit_resolution_terms,
    resolution_estimate,
    resolution_with_error,
)
from paretoopt.physics.calorimetry.sampling import (
    SILICON_EMPIRICAL_FACTOR,
    WIGMANS_CONSTANT,
    Number,
    StackProperties,
    e_over_mip,
    sampling_fraction,
    stack_properties,
    stochastic_term,
)
from paretoopt.physics.calorimetry.segmented import (
    DEFAULT_ENERGIES_GEV,
    SEGMENTED_INNER,
    SEGMENTED_QUICK_INNER,
    SegmentedCalorimeter,
    segmented_calorimeter_study,
)

__all__ = [
    "ACTIVE_MEDIA",
    "CALORIMETER_INNER",
    "CALORIMETER_QUICK_INNER",
    "CLUSTER_RADIUS_RM",
    "DEFAULT_ENERGIES_GEV",
    "SEGMENTED_INNER",
    "SEGMENTED_QUICK_INNER",
    "SILICON_EMPIRICAL_FACTOR",
    "SILICON_SUPPORT",
    "WIGMANS_CONSTANT",
    "ActiveMedium",
    "CapacitiveNoise",
    "CostModel",
    "MonteCarloOptions",
    "Number",
    "ResolutionFit",
    "SamplingCalorimeter",
    "SegmentedCalorimeter",
    "StackProperties",
    "StackResponse",
    "calorimeter_study",
    "cells_in_cluster",
    "e_over_mip",
    "fit_resolution",
    "fit_resolution_terms",
    "resolution_estimate",
    "resolution_with_error",
    "sampling_fraction",
    "segmented_calorimeter_study",
    "simulate_stack",
    "stack_properties",
    "stochastic_term",
]
