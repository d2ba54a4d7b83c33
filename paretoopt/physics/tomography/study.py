"""The muon-tomography study definitions (lead block, ladle): design space, objectives, inner settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paretoopt.physics.tomography.detector import TECHNOLOGIES, Geometry, panel_parameters
from paretoopt.physics.tomography.ladle import LadleFurnace
from paretoopt.physics.tomography.simulation import MuonTomography
from paretoopt.problem import Constraint, InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer

#: Inner-loop settings: Adam on fresh samples of 20,000 generated muons per step (about 43 s of
#: exposure; the figure is scaled to the study's fixed exposure), at most 40 steps, and a final
#: evaluation on 50,000 generated muons (about 108 s), which also runs the converged inference
#: on the reconstructed scan for the diagnostics.
TOMOGRAPHY_INNER = InnerSettings(
    optimizer="adam", max_steps=40, lr=0.1, n_samples=20_000, n_eval_samples=50_000, patience=15, tol=1e-4
)

#: The ladle's fill-level fit is dearer per muon (a likelihood scan over levels, marginalised
#: over 16 momenta, 3 path slabs per layer): 6,000 muons per step (1,500 per level, ~10 s per
#: step on one loaded core), 40,000 in the final evaluation (~11 s).
LADLE_INNER = TOMOGRAPHY_INNER.replace(n_samples=6_000, n_eval_samples=40_000)


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
    inner: InnerSettings | None = None,
    max_scan_time_s: float = 600.0,
    nadir_physics: float | None = None,
    nadir_cost_keur: float = 1000.0,
    **kwargs: Any,
) -> StudyDefinition:
    """The muon-tomography study: ``scenario="lead_block"`` (how precisely a scan of
    ``max_scan_time_s`` measures the X0 of a lead block in water) or ``"ladle"`` (fill level of a
    ladle furnace). Objectives: the physics figure and the detector cost (kEUR), both
    minimised; constraint: the scan time to reconstruct ``target_muons`` muons stays below
    ``max_scan_time_s``. The lead-block figure is evaluated at the exposure ``max_scan_time_s``
    (so figure and constraint describe the same scan). The normalisation runs from 0 to
    ``nadir_physics`` (default 20 % for the block's X0 precision, 3 cm for the fill level) and
    ``nadir_cost_keur``; other keyword arguments go to the simulation module."""
    space = tomography_space(geometry)
    if scenario == "lead_block":
        kwargs.setdefault("exposure_s", max_scan_time_s)
        sim: MuonTomography = MuonTomography(geometry=geometry, **kwargs)
        inner = inner if inner is not None else TOMOGRAPHY_INNER
        physics = Objective(
            "x0_precision",
            "minimize",
            "%",
            description="posterior sigma of the lead block's mean ln X0 after the scan (x 100)",
        )
        name, desc = "muon_tomography", "Muon scattering tomography: the X0 of a lead block in water"
        default_nadir = 20.0
    elif scenario == "ladle":
        sim = LadleFurnace(geometry=geometry, **kwargs)
        inner = inner if inner is not None else LADLE_INNER
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
        [
            physics,
            Objective("cost", "minimize", "kEUR", description="panels: fixed + channels + sensor area"),
        ],
        sim,
        [Constraint("scan_time", upper=max_scan_time_s, unit="s", scale=max_scan_time_s)],
        inner,
        description=desc,
        ideal=(0.0, 0.0),
        nadir=(nadir_physics if nadir_physics is not None else default_nadir, nadir_cost_keur),
    )
