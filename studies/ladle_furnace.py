"""Muon tomography of a ladle furnace: infer the level of liquid steel.

A 1 m3 steel ladle (10 cm walls and floor) filled with liquid steel to a random level (drawn
per scan between 0.15 m and 0.95 m above the volume's bottom, resolved to 2 cm); the level is
fitted by maximum likelihood from every muon's slope change and displacement, the walls and
the two fill materials being known and the muon momenta unknown (the likelihood is
marginalised over the sea-level spectrum). Same detector choices and parameters as
studies/muon_tomography.py, with the same panel material and channel-based costs.
Objectives: RMS fill-level error (cm) over four levels per evaluation, and the detector cost
(kEUR); constraint: scan time.

See docs/physics-muon-tomography.md.
"""

from paretoopt.blocks.tomography import tomography_pipeline_study

study = tomography_pipeline_study("ladle")
