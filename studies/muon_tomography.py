"""Muon scattering tomography: find a lead block in a 1 m3 volume of water.

A 1 m x 1 m x 1 m volume of 10 cm voxels of water holds a 30 x 30 x 20 cm lead block. Cosmic
muons (Guan et al. 2015 flux) cross it; tracking panels above and below measure them; the
radiation length X0 of every voxel is inferred from the scattering. Outer choices: panels
above and below (1-4 each) and the technology (RPC, drift tubes, scintillating fibres, silicon
strips). Inner parameters: each panel's z, xy centre and xy span (m). Objectives: the mean
squared error of ln X0 over the 1000 voxels, and the detector cost (kEUR). Constraint: the
scan time to reconstruct 20,000 muons stays under 10 minutes.

See docs/physics-muon-tomography.md. The ladle-furnace variant is studies/ladle_furnace.py.
"""

from paretoopt.physics.tomography import tomography_study

study = tomography_study("lead_block")
