"""The segmented calorimeter as a pipeline: detector -> reconstruction -> figure of merit.

Thin wrappers around :mod:`paretoopt.physics.calorimetry` (the physics is not rewritten):
``CalorimeterDetector`` runs :meth:`SegmentedCalorimeter.simulate_events` (the stack, its
showers, sampling, photo-statistics, noise, calibration spread); ``CalibratedSum`` is today's
reconstruction (the calibrated sum of the segments that ``simulate_stack`` forms, the
reference); :class:`~paretoopt.blocks.learned.LearnedEnergyRegression` the learned one;
``ResolutionFigure`` fits ``a/sqrt(E) (+) b`` and prices the stack, returning exactly the dict
:meth:`SegmentedCalorimeter.forward` returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from paretoopt.blocks.core import Check, Context, Port
from paretoopt.blocks.learned import LearnedEnergyRegression
from paretoopt.blocks.pipeline import Pipeline
from paretoopt.physics.calorimetry import (
    ACTIVE_MEDIA,
    DEFAULT_ENERGIES_GEV,
    MonteCarloOptions,
    SegmentedCalorimeter,
    StackResponse,
    fit_resolution_terms,
    simulate_stack,
    stack_properties,
)

STACK = Port("stack", None, "-", "StackResponse of simulate_stack")
ENERGY = Port("energy_gev", ("n",), "GeV", "true energy of each event")
READOUT = Port(
    "segment_readout_gev",
    ("n", "S"),
    "GeV",
    "calibrated readout per depth segment, with the calibration spread",
)
RESPONSE = Port("response", ("n",), "1", "reconstructed over true energy")
RESULT = Port("result", None, "-", "the simulation's outputs (objectives, constraint, diagnostics)")


def _quiet_copy(sim: SegmentedCalorimeter, **options: Any) -> SegmentedCalorimeter:
    """A copy of ``sim`` with Monte Carlo options changed (for validation)."""
    copy = SegmentedCalorimeter(
        n_sections=sim.n_sections,
        energies_gev=sim.energies_gev,
        reference_energy_gev=sim.reference_energy_gev,
        objectives=sim.objectives,
        active_media=sim.active_media,
        cost_model=sim.cost_model,
    )
    copy.options = MonteCarloOptions(**{**sim.options.__dict__, **options})
    copy.shower = sim.shower
    return copy


def _uniform_design(
    sim: SegmentedCalorimeter, absorber_mm: float, active_mm: float
) -> dict[str, torch.Tensor]:
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return {**{k: t(absorber_mm) for k in sim.absorber_names}, **{k: t(active_mm) for k in sim.active_names}}


class CalorimeterDetector:
    """The stack and its readout: events at every energy of the study (``n_samples`` split
    evenly, at least 2 per energy), per :meth:`SegmentedCalorimeter.simulate_events`. Its
    parameters are the design's (freezing it detaches them)."""

    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = (STACK, ENERGY, READOUT)
    design_block = True

    def __init__(self, sim: SegmentedCalorimeter, *, name: str = "detector") -> None:
        self.sim = sim
        self.name = name

    def forward(self, inputs: Mapping[str, Any], context: Context) -> dict[str, Any]:
        if context.phase == "train":
            out = self.training_events(context)
        else:
            n_per_energy = max(context.n_samples // len(self.sim.energies_gev), 2)
            out = self.sim.simulate_events(context.params, context.choices, n_per_energy, context.generator)
        total = out.segment_signals_gev.sum(-1)
        spread = (out.response * out.energy_gev) / torch.where(
            total.abs() > 1e-9, total, torch.ones_like(total)
        )
        return {
            "stack": out,
            "energy_gev": out.energy_gev,
            "segment_readout_gev": out.segment_signals_gev * spread[:, None],
        }

    def training_events(self, context: Context) -> StackResponse:
        """``n_samples`` (>= 2) events at energies drawn log-uniformly between the study's
        lowest and highest energies: a learned reconstruction trained on the few beam energies
        of the evaluation would learn them as a prior (the same stack and readout otherwise).
        ``context.extra["energy_gev"]``, when given, are the energies instead."""
        sim, ch = self.sim, context.choices
        absorber_mm, active_mm = sim.layer_thicknesses(context.params, int(ch["n_layers"]))
        given = context.extra.get("energy_gev")
        if given is not None:  # events at given energies (matching a measured sample)
            energy = torch.as_tensor(given, dtype=absorber_mm.dtype, device=absorber_mm.device)
        else:
            lo, hi = math.log(min(sim.energies_gev)), math.log(max(sim.energies_gev))
            u = torch.rand(
                max(context.n_samples, 2),
                generator=context.generator,
                dtype=absorber_mm.dtype,
                device=absorber_mm.device,
            )
            energy = torch.exp(lo + (hi - lo) * u)
        return simulate_stack(
            str(ch["absorber"]),
            sim.medium(str(ch["active"])),
            absorber_mm,
            active_mm,
            energy,
            context.generator,
            shower=sim.shower,
            options=sim.options,
        )

    def trainable_parameters(self) -> list[torch.Tensor]:
        return []

    def reference(self) -> None:
        return None

    def validate(self) -> list[Check]:
        """A 40 X0-deep Pb/scintillator stack without lateral leakage contains 10 GeV
        showers (Grindhammer-Peters profiles put > 99.9 % inside 25 X0 at 10 GeV, PDG
        "Passage of particles through matter", EM cascades), and without noise,
        photo-statistics and constant term its resolution is Wigmans' sampling term
        ``2.7 % sqrt(d/f_samp)/sqrt(E)`` (R. Wigmans, Calorimetry; PDG "Calorimetry")."""
        sim = _quiet_copy(
            self.sim, lateral_leakage=False, noise=False, photostatistics=False, constant_term=0.0
        )
        design = _uniform_design(sim, 5.6, 5.0)  # 1 X0 of Pb per layer, 40 layers
        gen = torch.Generator().manual_seed(2024)
        sim.energies_gev = (10.0, 20.0)
        choices = {"n_layers": 40, "absorber": "Pb", "active": "scintillator"}
        with torch.no_grad():
            out = sim.simulate_events(design, choices, 4000, gen)
        at10 = out.response[:4000]
        medium = sim.medium("scintillator")
        props = stack_properties("Pb", medium.material, torch.tensor(5.6), torch.tensor(5.0), medium.support)
        a = 0.027 * (5.0 / float(props.f_samp)) ** 0.5 * medium.sampling_factor
        r = float(at10.std() / at10.mean())
        se = r / (2 * 4000) ** 0.5
        return [
            Check(
                self.name,
                "containment, 40 X0 Pb, 10 GeV",
                float(out.containment[:4000].mean()),
                1.0,
                0.002,
                "PDG EM cascades",
            ),
            Check(
                self.name,
                "sigma/E at 10 GeV, sampling only (%)",
                100 * r,
                100 * a / 10**0.5,
                100 * max(3 * se, 0.1 * a / 10**0.5),
                "Wigmans 2.7% sqrt(d/f)",
            ),
        ]


class CalibratedSum:
    """Today's reconstruction, the reference: the calibrated sum of the segments (each
    segment calibrated by its deposit-weighted sampling fraction, times the calibration
    spread) that :func:`simulate_stack` forms, over the true energy."""

    inputs: tuple[Port, ...] = (STACK,)
    outputs: tuple[Port, ...] = (RESPONSE,)

    def __init__(self, *, name: str = "reconstruction") -> None:
        self.name = name

    def forward(self, inputs: Mapping[str, Any], context: Context | None = None) -> dict[str, Any]:
        stack: StackResponse = inputs["stack"]
        return {"response": stack.response}

    def trainable_parameters(self) -> list[torch.Tensor]:
        return []

    def reference(self) -> None:
        return None

    def validate(self) -> list[Check]:
        """The calibrated sum of a contained, noise-free shower has mean response 1 (the
        calibration's definition), checked on a 40 X0 Pb/LAr stack at 10 GeV."""
        sim = _quiet_copy(
            SegmentedCalorimeter(n_sections=1, energies_gev=DEFAULT_ENERGIES_GEV, active_media=ACTIVE_MEDIA),
            lateral_leakage=False,
            noise=False,
            constant_term=0.0,
        )
        sim.energies_gev = (10.0, 20.0)
        gen = torch.Generator().manual_seed(7)
        with torch.no_grad():
            out = sim.simulate_events(
                _uniform_design(sim, 5.6, 4.0), {"n_layers": 40, "absorber": "Pb", "active": "LAr"}, 2000, gen
            )
        r = self.forward({"stack": out})["response"][:2000]
        se = float(r.std()) / 2000**0.5
        return [
            Check(
                self.name,
                "mean E_rec/E, contained 10 GeV",
                float(r.mean()),
                1.0,
                max(3 * se, 2e-3),
                "calibration of a contained shower",
            )
        ]


class ResolutionFigure:
    """Figure of merit: ``std/mean`` of the response at each energy, the fit of
    ``a/sqrt(E) (+) b (+) N/E``, cost, depth and diagnostics, exactly as
    :meth:`SegmentedCalorimeter.forward` reports them."""

    inputs: tuple[Port, ...] = (STACK, RESPONSE)
    outputs: tuple[Port, ...] = (RESULT,)

    def __init__(self, sim: SegmentedCalorimeter, *, name: str = "figure_of_merit") -> None:
        self.sim = sim
        self.name = name

    def forward(self, inputs: Mapping[str, Any], context: Context) -> dict[str, Any]:
        sim, out, response = self.sim, inputs["stack"], inputs["response"]
        n_per_energy = response.shape[0] // len(sim.energies_gev)
        if response is not out.response:
            out = StackResponse(**{**out.__dict__, "response": response})
        return {"result": sim.figures(out, context.params, context.choices, n_per_energy)}

    def trainable_parameters(self) -> list[torch.Tensor]:
        return []

    def reference(self) -> None:
        return None

    def validate(self) -> list[Check]:
        """The fit returns the terms of resolutions generated exactly as
        ``a/sqrt(E) (+) b`` with a = 10 %, b = 1 % (an exact curve: any error is the fit's)."""
        e = list(self.sim.energies_gev)
        a, b = 0.10, 0.01
        r = torch.tensor([((a * a / x) + b * b) ** 0.5 for x in e], dtype=torch.float64)
        fit = fit_resolution_terms(e, r, r * 0.01, reference_energy_gev=self.sim.reference_energy_gev)
        return [
            Check(self.name, "fitted a (exact curve)", float(fit.a), a, 1e-6, "generated curve"),
            Check(self.name, "fitted b (exact curve)", float(fit.b), b, 1e-6, "generated curve"),
        ]


def calorimeter_pipeline(
    sim: SegmentedCalorimeter,
    reconstruction: str = "reference",
    *,
    frozen: tuple[str, ...] = (),
    learned: LearnedEnergyRegression | None = None,
) -> Pipeline:
    """detector -> reconstruction (``"reference"``: the calibrated sum; ``"learned"``: the
    energy regression) -> figure of merit, around ``sim``."""
    ref = CalibratedSum()
    if reconstruction == "reference":
        reco: Any = ref
    elif reconstruction == "learned":
        reco = learned if learned is not None else LearnedEnergyRegression(reference_block=ref)
    else:
        raise ValueError(f"reconstruction must be 'reference' or 'learned', got {reconstruction!r}")
    return Pipeline(
        [CalorimeterDetector(sim), reco, ResolutionFigure(sim)],
        frozen=frozen,
        name=f"calorimeter/{reconstruction}",
    )
