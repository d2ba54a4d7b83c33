"""Differentiable muon scattering tomography (TomOpt-style): one module per step of the data flow."""

# Data flow (each step reads only the one before, as in TomOpt, Strong et al. arXiv:2309.14027):
#
# 1. Source: cosmic muons from paretoopt.physics.muons.sample_muons on a plane above the upper
#    detector (Guan et al. 2015 flux).
# 2. Passive volume (volumes.py): paretoopt.physics.scattering.propagate through a MaterialGrid
#    (Highland with beta and log term, correlated angle/displacement, dE/dx). The volume has no
#    design parameters, so this runs without gradients.
# 3. Detector response (detector.py: technologies, geometry, panels; tracks.detector_hits):
#    thin panels above and below the volume with differentiable z, xy centre and xy span; a
#    technology sets the hit resolution, the efficiency and the cost per m2. Training mode
#    (.train()) uses a soft sigmoid acceptance at the panel edges and expected hit weights;
#    evaluation (.eval()) the hard panel outline and Bernoulli hit efficiency. Hits are smeared
#    in both modes (the noise is reparametrised, so gradients flow through hit positions).
# 4. Reconstruction (tracks.py, simulation.MuonTomography.reconstruct): weighted least-squares
#    straight lines above and below (fit_tracks), the point of closest approach of the two
#    lines (poca), and per view the slope change and the displacement at the bottom of the
#    volume, with the track fits' contribution to their covariance (scattering_model.py).
# 5. Inference (inference.infer_x0): per-voxel scattering densities lambda = 1/X0, the MAP of
#    u = ln(1/X0) under each muon's kink likelihood marginalised over its momentum
#    (likelihood.py) and a robust Student-t matrix prior, by a projected trust-region Newton
#    iteration on the exact Hessian (per-muon E x E blocks); the ladle study (ladle.py) fits
#    the fill level directly by maximum likelihood instead (LadleFurnace.fit_level).
# 6. Figures of merit: the posterior sigma of the block's mean ln X0 after a fixed exposure
#    (simulation.py, the expected information of fisher.py; or the fill-level error of the
#    ladle), the detector cost, and the scan time to collect a target number of
#    reconstructed muons. study.py builds the study definitions.
#
# Everything is batched over muons; the Python loops run over panels (at most 8), layers and
# reweighting iterations only, so the cost is linear in the number of muons.
#
# Units: lengths in m unless the name says cm; momenta in GeV/c; angles in rad; cost in kEUR.

from paretoopt.physics.tomography.detector import (
    PANEL_FIELDS,
    SIDES,
    TECHNOLOGIES,
    Geometry,
    Panels,
    Technology,
    panel_param_name,
    panel_parameters,
)
from paretoopt.physics.tomography.fisher import RobustPrior, chunked_sum, muon_fisher
from paretoopt.physics.tomography.inference import (
    InferenceSettings,
    KinkData,
    X0Estimate,
    block_log_density,
    infer_x0,
    log_x0_mse,
)
from paretoopt.physics.tomography.ladle import LadleFurnace
from paretoopt.physics.tomography.momentum import MomentumModel
from paretoopt.physics.tomography.scattering_model import InferenceGrid, LossModel, true_inv_x0
from paretoopt.physics.tomography.simulation import MuonTomography, Response
from paretoopt.physics.tomography.source import MuonBlock, MuonSource, concatenate
from paretoopt.physics.tomography.study import (
    LADLE_INNER,
    TOMOGRAPHY_INNER,
    tomography_space,
    tomography_study,
)
from paretoopt.physics.tomography.tracks import (
    SideHits,
    TrackFit,
    detector_hits,
    fit_tracks,
    panel_kick_variance,
    poca,
    soft_box,
)
from paretoopt.physics.tomography.volumes import ladle_grid, lead_block_grid, liquid_steel

__all__ = [
    "LADLE_INNER",
    "PANEL_FIELDS",
    "SIDES",
    "TECHNOLOGIES",
    "TOMOGRAPHY_INNER",
    "Geometry",
    "InferenceGrid",
    "InferenceSettings",
    "KinkData",
    "LadleFurnace",
    "LossModel",
    "MomentumModel",
    "MuonBlock",
    "MuonSource",
    "MuonTomography",
    "Panels",
    "Response",
    "RobustPrior",
    "SideHits",
    "Technology",
    "TrackFit",
    "X0Estimate",
    "block_log_density",
    "chunked_sum",
    "concatenate",
    "detector_hits",
    "fit_tracks",
    "infer_x0",
    "ladle_grid",
    "lead_block_grid",
    "liquid_steel",
    "log_x0_mse",
    "muon_fisher",
    "panel_kick_variance",
    "panel_param_name",
    "panel_parameters",
    "poca",
    "soft_box",
    "tomography_space",
    "tomography_study",
    "true_inv_x0",
]
