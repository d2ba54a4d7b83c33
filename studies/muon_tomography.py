"""Muon scattering tomography: how precisely a 10-minute scan measures a lead block in water.

A 1 m x 1 m x 1 m volume of 10 cm voxels of water holds a 30 x 30 x 20 cm lead block. Cosmic
muons (Guan et al. 2015 flux; momenta unknown to the scanner) cross it; tracking panels above
and below measure them (resolution from the readout pitch, 1-3 % X0 of material per plane).
Outer choices: panels above and below (1-4 each) and the technology (RPC with 10 mm or 3 mm
strips, drift tubes, scintillating fibres, silicon strips). Inner parameters: each panel's z,
xy centre and xy span (m). Objectives: the posterior sigma of the block's mean ln X0 after the
600 s scan (%; the expected precision of the converged inference), and the detector cost
(kEUR: per panel a fixed cost, the readout channels and the sensor area). Constraint: the
scan time to reconstruct 20,000 muons stays under 10 minutes.

See docs/physics-muon-tomography.md. The ladle-furnace variant is studies/ladle_furnace.py.
The simulation runs as a pipeline of blocks (detector -> scan, paretoopt.blocks; outputs
identical to tomography_study's); ``paretoopt validate studies/muon_tomography.py`` checks them.
"""

from paretoopt.blocks.tomography import tomography_pipeline_study

study = tomography_pipeline_study("lead_block")
