"""The muon-tomography study definitions (lead block, ladle): design space, objectives, inner settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paretoopt.physics.tomography.detector import TECHNOLOGIES, Geometry, panel_parameters
from paretoopt.physics.tomography.ladle import LadleFurnace
from paretoopt.physics.tomography.simulation import MuonTomography
from paretoopt.problem import Constraint, InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer

#: Inner-loop settings chosen so one trial takes about 20-40 s on one CPU core: Adam on fresh
#: samples of 10,000 generated muons (about 700 reconstructed at the start), at most 40 steps,
#: and a final evaluation on 50,000 generated muons (about 110 s of exposure).
TOMOGRAPHY_INNER = InnerSettings(
    optimizer="adam", max_steps=40, lr=0.1, n_samples=10_000, n_eval_samples=50_000, patience=15, tol=1e-4
)


def tomography_space(
    geometry: Geometry = Geometry(),  # noqa: B008
    technologies: Sequence[str] | None = None,
) -> DesignSpace:
    """Panels above / below (1-4 each), the technology, and per slot z, xy centre and xy span."""
    techs = tuple(technologies if technologies is not None else TECHNOLOGIES)
    return DesignSpace(
        Integer("n_above", 1, geometry.max_panels),
        Integer("n_below", 1, geometry.max_panels),
        Choice("technology", techs),
        *panel_parameters(geometry),
    )


def tomography_study(
    scenario: str = "lead_block",
    *,
    geometry: Geometry = Geometry(),  # noqa: B008
    inner: InnerSettings = TOMOGRAPHY_INNER,
    max_scan_time_s: float = 600.0,
    nadir_physics: float | None = None,
    nadir_cost_keur: float = 1000.0,
    **kwargs: Any,
) -> StudyDefinition:
    """The muon-tomography study: ``scenario="lead_block"`` (X0 map of a lead block in water)
    or ``"ladle"`` (fill level of a ladle furnace). Objectives: the physics figure and the
    detector cost (kEUR), both minimised; constraint: the scan time to reconstruct
    ``target_muons`` muons stays below ``max_scan_time_s``. The normalisation runs from 0 to
    ``nadir_physics`` (default 3 for the ln X0 MSE, 3 cm for the fill level) and
    ``nadir_cost_keur``; other keyword arguments go to the simulation module."""
    space = tomography_space(geometry)
    if scenario == "lead_block":
        sim: MuonTomography = MuonTomography(geometry=geometry, **kwargs)
        physics = Objective(
            "x0_error",
            "minimize",
            None,
            description="mean over 10 cm voxels of (ln X0_inferred - ln X0_true)^2",
        )
        name, desc = "muon_tomography", "Muon scattering tomography of a lead block in water"
        default_nadir = 3.0
    elif scenario == "ladle":
        sim = LadleFurnace(geometry=geometry, **kwargs)
        physics = Objective(
            "fill_level_error", "minimize", "cm", description="RMS error of the inferred steel level"
        )
        name, desc = "ladle_furnace", "Muon tomography of the fill level of a ladle furnace"
        default_nadir = 3.0
    else:
        raise ValueError(f"scenario must be 'lead_block' or 'ladle', got {scenario!r}")
    return StudyDefinition(
        name,
        space,
        [physics, Objective("cost", "minimize", "kEUR", description="area x cost per m2")],
        sim,
        [Constraint("scan_time", upper=max_scan_time_s, unit="s", scale=max_scan_time_s)],
        inner,
        description=desc,
        ideal=(0.0, 0.0),
        nadir=(nadir_physics if nadir_physics is not None else default_nadir, nadir_cost_keur),
    )
