"""SegmentedCalorimeter: sampling that varies with depth, resolution fitted over energies, its study."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch

from paretoopt.physics import materials
from paretoopt.physics.calorimetry.calorimeter import CALORIMETER_INNER
from paretoopt.physics.calorimetry.cost import CostModel
from paretoopt.physics.calorimetry.montecarlo import MonteCarloOptions, StackResponse, simulate_stack
from paretoopt.physics.calorimetry.readout import ACTIVE_MEDIA, CLUSTER_RADIUS_RM, ActiveMedium
from paretoopt.physics.calorimetry.resolution import (
    ResolutionFit,
    fit_resolution_terms,
    resolution_with_error,
)
from paretoopt.physics.showers import LongitudinalShower
from paretoopt.problem import Constraint, Estimate, InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer, Real

#: Default beam energies (GeV) over which the resolution is fitted: 2-100 GeV, the range of
#: the calibration runs of LHC-era EM calorimeters; each gets the same number of events.
DEFAULT_ENERGIES_GEV = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def section_names(n_sections: int) -> tuple[list[str], list[str]]:
    """Names of the inner parameters: ``absorber_mm_01 ..`` and ``active_mm_01 ..``."""
    width = max(2, len(str(n_sections)))
    return (
        [f"absorber_mm_{k + 1:0{width}d}" for k in range(n_sections)],
        [f"active_mm_{k + 1:0{width}d}" for k in range(n_sections)],
    )


class SegmentedCalorimeter(torch.nn.Module):
    """Monte Carlo of an EM plate calorimeter whose absorber and active thicknesses vary with
    depth: ``n_sections`` consecutive sections of layers, each with its own thicknesses.

    ``n_layers`` layers (a discrete choice, >= ``n_sections``) are shared among the sections
    as evenly as possible (layer ``i`` belongs to section ``i K // L``). The physics is
    :func:`~paretoopt.physics.calorimetry.montecarlo.simulate_stack`; each readout segment is
    calibrated by its own deposit-weighted sampling fraction, as calorimeters with varying
    sampling are. Every energy of ``energies_gev`` gets ``n_samples / len(energies)`` events;
    the resolution at each is ``std/mean`` of ``E_rec/E`` with its error, and
    ``sigma/E = a/sqrt(E) (+) b (+) N/E`` is fitted with the noise ``N`` known from the
    readout model.

    Outputs: ``resolution`` = the fitted curve at ``reference_energy_gev`` (%, Estimate) or,
    with ``objectives="terms"``, ``stochastic_term`` (% sqrt(GeV)) and ``constant_term`` (%) as
    two Estimates; ``cost`` (kEUR), ``depth`` (cm); diagnostics (``stochastic_term``,
    ``constant_term`` and their ``_stderr``, ``noise_term_gev``, ``fit_chi2``, ``depth_x0``,
    ``containment``, ``e_over_mip``, ``moliere_radius_cm``, cost items); and, for a later
    learned reconstruction, the per-event records ``layer_deposits_gev`` and
    ``layer_signals_gev`` ``(n, L)``, ``segment_signals_gev`` ``(n, S)`` and ``energy_gev``
    (the study's reduction ignores the two-dimensional ones)."""

    def __init__(
        self,
        *,
        n_sections: int = 10,
        energies_gev: Sequence[float] = DEFAULT_ENERGIES_GEV,
        reference_energy_gev: float = 10.0,
        objectives: Literal["resolution", "terms"] = "resolution",
        particle: str = "electron",
        constant_term: float = 0.005,
        noise: bool = True,
        photostatistics: bool = True,
        lateral_leakage: bool = True,
        cluster_radius_rm: float = CLUSTER_RADIUS_RM,
        active_media: Mapping[str, ActiveMedium] | None = None,
        cost_model: CostModel | None = None,
    ) -> None:
        super().__init__()
        energies = [float(e) for e in energies_gev]
        if len(set(energies)) < 2 or any(not (math.isfinite(e) and e > 0) for e in energies):
            raise ValueError(
                f"energies_gev must be >= 2 distinct positive energies, got {list(energies_gev)}"
            )
        if n_sections < 1:
            raise ValueError(f"n_sections must be >= 1, got {n_sections}")
        if objectives not in ("resolution", "terms"):
            raise ValueError(f"objectives must be 'resolution' or 'terms', got {objectives!r}")
        if not reference_energy_gev > 0:
            raise ValueError(f"reference_energy_gev must be > 0, got {reference_energy_gev}")
        self.n_sections = int(n_sections)
        self.energies_gev = tuple(energies)
        self.reference_energy_gev = float(reference_energy_gev)
        self.objectives = objectives
        self.options = MonteCarloOptions(
            constant_term=float(constant_term),
            noise=bool(noise),
            photostatistics=bool(photostatistics),
            lateral_leakage=bool(lateral_leakage),
            cluster_radius_rm=float(cluster_radius_rm),
        )
        self.active_media = dict(ACTIVE_MEDIA if active_media is None else active_media)
        self.cost_model = cost_model if cost_model is not None else CostModel()
        self.shower = LongitudinalShower(particle=particle, fluctuate=True)
        self.absorber_names, self.active_names = section_names(self.n_sections)

    def medium(self, active: str) -> ActiveMedium:
        if active not in self.active_media:
            raise ValueError(f"unknown active medium {active!r}; known {sorted(self.active_media)}")
        return self.active_media[active]

    def layer_thicknesses(
        self, params: Mapping[str, torch.Tensor], n_layers: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-layer ``(absorber_mm, active_mm)``, each ``(n_layers,)``, from the sections."""
        if n_layers < self.n_sections:
            raise ValueError(f"n_layers={n_layers} is below the number of sections ({self.n_sections})")
        absorber = torch.stack([params[k] for k in self.absorber_names])
        active = torch.stack([params[k] for k in self.active_names])
        section = (torch.arange(n_layers, device=absorber.device) * self.n_sections) // n_layers
        return absorber[section], active[section]

    def simulate_events(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_per_energy: int,
        generator: torch.Generator,
    ) -> StackResponse:
        """``n_per_energy`` events at each energy (in the order of ``energies_gev``, contiguous)."""
        n_layers = int(choices["n_layers"])
        absorber_mm, active_mm = self.layer_thicknesses(params, n_layers)
        energies = torch.tensor(self.energies_gev, dtype=absorber_mm.dtype, device=absorber_mm.device)
        energy = energies.repeat_interleave(n_per_energy)
        return simulate_stack(
            str(choices["absorber"]),
            self.medium(str(choices["active"])),
            absorber_mm,
            active_mm,
            energy,
            generator,
            shower=self.shower,
            options=self.options,
        )

    def fit(self, out: StackResponse, n_per_energy: int) -> ResolutionFit:
        """Resolution at each energy and the fit of ``a`` and ``b`` (see the class doc)."""
        per_energy = out.response.reshape(len(self.energies_gev), n_per_energy)
        estimates = [resolution_with_error(row) for row in per_energy]
        return fit_resolution_terms(
            self.energies_gev,
            torch.stack([r for r, _ in estimates]),
            torch.stack([se for _, se in estimates]),
            noise_gev=out.noise_gev,
            reference_energy_gev=self.reference_energy_gev,
        )

    def figures(
        self,
        out: StackResponse,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_per_energy: int,
    ) -> dict[str, Any]:
        """The study's outputs from a stack response: the fitted stochastic and constant terms
        (%, with errors), the resolution at the reference energy (%), cost (kEUR) and its parts,
        depth (cm) and the diagnostics, per-layer deposits included (also what the pipeline's
        figure-of-merit block reports)."""
        fit = self.fit(out, n_per_energy)
        n_layers = int(choices["n_layers"])
        absorber_mm, active_mm = self.layer_thicknesses(params, n_layers)
        costs = self.cost_model.breakdown_keur(
            str(choices["absorber"]),
            self.medium(str(choices["active"])),
            absorber_mm,
            active_mm,
            n_layers,
            out.medium.moliere_radius_cm,
        )
        result: dict[str, Any] = {
            "cost": sum(costs.values()),
            "depth": out.medium.layer_cm,
            "depth_x0": out.medium.layer_x0.detach(),
            "containment": out.containment.detach(),
            "e_over_mip": out.e_over_mip,
            "moliere_radius_cm": out.medium.moliere_radius_cm.detach(),
            "noise_term_gev": fit.noise_gev.detach(),
            "fit_chi2": fit.chi2,
            "stochastic_term": Estimate(100.0 * fit.a, 100.0 * fit.a_stderr),
            "constant_term": Estimate(100.0 * fit.b, 100.0 * fit.b_stderr),
            "stochastic_term_stderr": 100.0 * fit.a_stderr,
            "constant_term_stderr": 100.0 * fit.b_stderr,
            **{f"cost_{k}": v.detach() for k, v in costs.items()},
            "energy_gev": out.energy_gev.detach(),
            "layer_deposits_gev": out.layer_deposits_gev.detach(),
            "layer_signals_gev": out.layer_signals_gev.detach(),
            "segment_signals_gev": out.segment_signals_gev.detach(),
        }
        if self.objectives == "resolution":
            result["resolution"] = Estimate(100.0 * fit.at_reference, 100.0 * fit.at_reference_stderr)
        return result

    def forward(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        n_per_energy = max(n_samples // len(self.energies_gev), 2)
        out = self.simulate_events(params, choices, n_per_energy, generator)
        return self.figures(out, params, choices, n_per_energy)


#: Inner-loop settings of the segmented study: Adam on fresh samples (a Monte Carlo), 1,200
#: events per step over the six default energies, 20,000+ for the final evaluation; the mild
#: depth penalty of the uniform study (see CALORIMETER_INNER).
SEGMENTED_INNER = CALORIMETER_INNER.replace(max_steps=150, n_samples=1200, n_eval_samples=24000)

#: The quick configuration (``make demo``, tests, benchmarks): 40 Adam steps on 600 events.
SEGMENTED_QUICK_INNER = SEGMENTED_INNER.replace(
    max_steps=40, n_samples=600, n_eval_samples=6000, patience=20, record_every=4
)


def segmented_calorimeter_study(
    *,
    name: str = "calorimeter",
    n_sections: int = 10,
    energies_gev: Sequence[float] = DEFAULT_ENERGIES_GEV,
    reference_energy_gev: float = 10.0,
    objectives: Literal["resolution", "terms"] = "resolution",
    area_m2: float = 1.0,
    depth_max_cm: float = 40.0,
    absorbers: Sequence[str] = ("Pb", "W", "Fe", "Cu"),
    actives: Sequence[str] = ("scintillator", "silicon", "LAr"),
    n_layers: tuple[int, int] = (10, 60),
    absorber_mm: tuple[float, float] = (0.5, 10.0),
    active_mm: tuple[float, float] = (0.3, 10.0),
    constant_term: float = 0.005,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    active_media: Mapping[str, ActiveMedium] | None = None,
    cost_per_layer_eur: float = 200.0,
    inner: InnerSettings | None = None,
) -> StudyDefinition:
    """An EM sampling calorimeter whose sampling varies with depth: ``n_sections`` sections of
    layers, each with its own absorber and active thickness (``2 n_sections`` inner
    parameters, mm, log scale), the number of layers, absorber and active medium as outer
    choices; objectives the resolution at ``reference_energy_gev`` from the fit of ``a/sqrt(E)
    (+) b`` over ``energies_gev`` and the cost (or, ``objectives="terms"``, ``a``, ``b`` and
    the cost); total depth <= ``depth_max_cm``."""
    media = dict(ACTIVE_MEDIA if active_media is None else active_media)
    for a in actives:
        if a not in media:
            raise ValueError(f"unknown active medium {a!r}; known {sorted(media)}")
    for a in absorbers:
        materials.get(a)
    if n_layers[0] < n_sections:
        raise ValueError(f"n_layers must start at >= n_sections={n_sections}, got {n_layers}")
    abs_names, act_names = section_names(n_sections)
    space = DesignSpace(
        *(Real(k, absorber_mm[0], absorber_mm[1], unit="mm", log=True) for k in abs_names),
        *(Real(k, active_mm[0], active_mm[1], unit="mm", log=True) for k in act_names),
        Integer("n_layers", n_layers[0], n_layers[1]),
        Choice("absorber", tuple(absorbers)),
        Choice("active", tuple(actives)),
    )
    sim = SegmentedCalorimeter(
        n_sections=n_sections,
        energies_gev=energies_gev,
        reference_energy_gev=reference_energy_gev,
        objectives=objectives,
        constant_term=constant_term,
        active_media=media,
        cost_model=CostModel(
            area_m2=area_m2, cost_per_layer_eur=cost_per_layer_eur, prices=dict(prices or {})
        ),
    )
    cost = Objective("cost", "minimize", "kEUR", "absorber, active medium, readout and mechanics")
    if objectives == "resolution":
        objs = [
            Objective(
                "resolution",
                "minimize",
                "%",
                f"sigma_E/E at {reference_energy_gev:g} GeV from the fitted a/sqrt(E) (+) b (+) N/E",
            ),
            cost,
        ]
    else:
        objs = [
            Objective("stochastic_term", "minimize", "%·√GeV", "fitted a of a/sqrt(E)"),
            Objective("constant_term", "minimize", "%", "fitted constant term b"),
            cost,
        ]
    energies = ", ".join(f"{e:g}" for e in energies_gev)
    return StudyDefinition(
        name,
        space,
        objs,
        sim,
        [Constraint("depth", upper=depth_max_cm, unit="cm", scale=1.0, tolerance=0.1)],
        inner if inner is not None else SEGMENTED_INNER,
        description=(
            f"EM sampling calorimeter in {n_sections} depth sections, {area_m2:g} m2 front, "
            f"electrons of {energies} GeV; depth <= {depth_max_cm:g} cm"
        ),
    )
