"""The muon-tomography studies as pipelines: detector -> scan (thin wrappers, physics untouched).

``TomographyDetector`` wraps :meth:`MuonTomography.panels` and :meth:`MuonTomography.cost`
(the design's panels and their price); ``TomographyScan`` wraps the module's forward, the chain
below the detector (cosmic source -> passive volume -> hits -> track fits -> inference ->
figure of merit) as one block, whose outputs are exactly today's. The chain below the detector
stays one block on purpose: the tomography physics is being reworked (issue 18 follow-ups), and
splitting it into source / response / inference blocks is left until its public functions
settle (docs/blocks.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from paretoopt.blocks.calorimeter_study import PipelineSwitch
from paretoopt.blocks.core import Check, Context, Port
from paretoopt.blocks.pipeline import Pipeline
from paretoopt.physics import materials
from paretoopt.physics.scattering import highland_theta0
from paretoopt.physics.tomography import tomography_study
from paretoopt.problem import StudyDefinition

PANELS = Port("panels", None, "m", "(above, below) Panels: z, xy centre and span of each")
COST = Port("cost", (), "kEUR", "detector cost")
RESULT = Port("result", None, "-", "the simulation's outputs (objectives, constraint, diagnostics)")


class TomographyDetector:
    """The tracking panels of the design and their cost (``sim.panels``, ``sim.cost``)."""

    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = (PANELS, COST)
    design_block = True

    def __init__(self, sim: Any, *, name: str = "detector") -> None:
        self.sim, self.name = sim, name

    def forward(self, inputs: Mapping[str, Any], context: Context) -> dict[str, Any]:
        return {
            "panels": self.sim.panels(context.params, context.choices),
            "cost": self.sim.cost(context.params, context.choices),
        }

    def trainable_parameters(self) -> list[torch.Tensor]:
        return []

    def reference(self) -> None:
        return None

    def validate(self) -> list[Check]:
        """Binary strip readout resolves ``pitch/sqrt(12)`` (PDG RPP, "Particle detectors at
        accelerators"), for every technology the study offers that is read digitally."""
        checks = []
        for name, tech in getattr(self.sim, "technologies", {}).items():
            if "digitally" in getattr(tech, "source", ""):
                checks.append(
                    Check(self.name, f"{name}: resolution (mm)", 1e3 * tech.resolution_m,
                          1e3 * tech.pitch_m / math.sqrt(12.0), 1e-6, "PDG: binary readout, pitch/sqrt(12)")
                )  # fmt: skip
        return checks


class TomographyScan:
    """Source, passive volume, detector response, reconstruction, inference and figure of merit
    of the muon scan: today's module forward, as one block (see the module doc)."""

    inputs: tuple[Port, ...] = (PANELS, COST)
    outputs: tuple[Port, ...] = (RESULT,)

    def __init__(self, sim: Any, *, name: str = "scan") -> None:
        self.sim, self.name = sim, name

    def forward(self, inputs: Mapping[str, Any], context: Context) -> dict[str, Any]:
        return {"result": self.sim(context.params, context.choices, context.n_samples, context.generator)}

    def trainable_parameters(self) -> list[torch.Tensor]:
        return []

    def reference(self) -> None:
        return None

    def validate(self) -> list[Check]:
        """Highland's width for a 3 GeV/c muon through 10 cm of lead against PDG eq. 34.15
        written out here: 13.6 MeV / p sqrt(x/X0) (1 + 0.038 ln(x/X0)), X0(Pb) = 0.5612 cm."""
        t = 10.0 / materials.get("Pb").x0_cm
        pdg = 0.0136 / 3.0 * math.sqrt(t) * (1.0 + 0.038 * math.log(t))
        got = float(highland_theta0(3.0, t))
        return [
            Check(
                self.name,
                "Highland theta0, 3 GeV mu, 10 cm Pb (mrad)",
                1e3 * got,
                1e3 * pdg,
                1e-9,
                "PDG eq. 34.15",
            )
        ]


def tomography_pipeline_study(scenario: str = "lead_block", **kwargs: Any) -> StudyDefinition:
    """:func:`~paretoopt.physics.tomography.tomography_study` (same arguments, space,
    objectives, constraint, settings) with its simulation run as the pipeline detector -> scan."""
    base = tomography_study(scenario, **kwargs)
    sim = base.simulate
    assert isinstance(sim, torch.nn.Module)
    pipeline = Pipeline([TomographyDetector(sim), TomographyScan(sim)], name=f"tomography/{scenario}")
    return StudyDefinition(
        base.name,
        base.space,
        base.objectives,
        PipelineSwitch(sim, {"physics": pipeline}, key="__pipeline__", default="physics"),
        base.constraints,
        base.inner,
        description=base.description,
        ideal=base.ideal,
        nadir=base.nadir,
    )
