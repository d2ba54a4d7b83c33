"""SamplingCalorimeter: the Monte Carlo of identical layers, and its study (calorimeter_uniform)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from paretoopt.physics import materials
from paretoopt.physics.calorimetry.cost import CostModel
from paretoopt.physics.calorimetry.montecarlo import MonteCarloOptions, StackResponse, simulate_stack
from paretoopt.physics.calorimetry.readout import ACTIVE_MEDIA, CLUSTER_RADIUS_RM, ActiveMedium
from paretoopt.physics.calorimetry.resolution import resolution_estimate
from paretoopt.physics.showers import LongitudinalShower
from paretoopt.problem import Constraint, Estimate, InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer, Real


class SamplingCalorimeter(torch.nn.Module):
    """Monte Carlo of an electromagnetic plate sampling calorimeter of identical layers,
    vectorised over events and layers and differentiable in the absorber and active thicknesses.

    The physics is :func:`~paretoopt.physics.calorimetry.montecarlo.simulate_stack` (showers
    with fluctuating longitudinal profiles and lateral leakage outside the cluster, sampling
    and photo-statistics fluctuations with e/mip, electronic noise of the cluster's channels,
    a constant term, rear leakage). The calibration comes from the same sample (mean
    response), so the resolution is ``std/mean`` of ``E_rec / E_true``; several beam energies
    are pooled with that one calibration.

    ``__call__(params, choices, n_samples, generator)`` follows the study interface: ``params``
    holds ``absorber_mm`` and ``active_mm`` (0-d tensors), ``choices`` ``n_layers``,
    ``absorber`` and ``active``. It returns ``resolution`` (Estimate, %), ``cost`` (kEUR, 0-d),
    ``depth`` (cm, 0-d) and diagnostics (``depth_x0``, ``containment``, ``stochastic_term``,
    ``sampling_fraction``, ``e_over_mip``, ``noise_gev``, ``moliere_radius_cm``, cost items).
    """

    def __init__(
        self,
        *,
        energies_gev: Sequence[float] = (10.0,),
        spectrum: Callable[[int, torch.Generator], torch.Tensor] | None = None,
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
        if not energies or any(not (math.isfinite(e) and e > 0) for e in energies):
            raise ValueError(f"energies_gev must be positive numbers, got {list(energies_gev)}")
        self.energies_gev = tuple(energies)
        self.spectrum = spectrum
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

    def _energies(self, n: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
        if self.spectrum is not None:
            e = torch.as_tensor(self.spectrum(n, generator), dtype=like.dtype, device=like.device)
            if e.shape != (n,) or not torch.all(e > 0):
                raise ValueError(f"spectrum must return n={n} positive energies, got shape {tuple(e.shape)}")
            return e
        k = len(self.energies_gev)
        idx = torch.arange(n, device=like.device) % k
        return torch.tensor(self.energies_gev, dtype=like.dtype, device=like.device)[idx]

    def medium(self, active: str) -> ActiveMedium:
        if active not in self.active_media:
            raise ValueError(f"unknown active medium {active!r}; known {sorted(self.active_media)}")
        return self.active_media[active]

    def simulate_response(
        self,
        absorber: str,
        active: str,
        absorber_mm: torch.Tensor,
        active_mm: torch.Tensor,
        n_layers: int,
        n: int,
        generator: torch.Generator,
    ) -> StackResponse:
        """The per-event Monte Carlo of ``n_layers`` identical layers (``absorber_mm`` and
        ``active_mm`` 0-d): a :class:`~paretoopt.physics.calorimetry.montecarlo.StackResponse`."""
        energy = self._energies(n, generator, absorber_mm)
        return simulate_stack(
            absorber,
            self.medium(active),
            absorber_mm.expand(n_layers),
            active_mm.expand(n_layers),
            energy,
            generator,
            shower=self.shower,
            options=self.options,
        )

    def forward(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        absorber_mm, active_mm = params["absorber_mm"], params["active_mm"]
        n_layers = int(choices["n_layers"])
        absorber, active = str(choices["absorber"]), str(choices["active"])
        out = self.simulate_response(absorber, active, absorber_mm, active_mm, n_layers, n_samples, generator)
        res, se = resolution_estimate(out.response)
        costs = self.cost_model.breakdown_keur(
            absorber, self.medium(active), absorber_mm, active_mm, n_layers, out.medium.moliere_radius_cm
        )
        cost = sum(costs.values())
        return {
            "resolution": Estimate(100.0 * res, 100.0 * se),
            "cost": cost,
            "depth": out.medium.layer_cm,
            "depth_x0": out.medium.layer_x0.detach(),
            "containment": out.containment.detach(),
            "stochastic_term": 100.0 * out.stochastic_term[0].detach(),
            "sampling_fraction": out.layers.f_samp[0].detach(),
            "e_over_mip": out.e_over_mip,
            "noise_gev": out.noise_gev.detach(),
            "moliere_radius_cm": out.medium.moliere_radius_cm.detach(),
            **{f"cost_{k}": v.detach() for k, v in costs.items()},
        }


#: Inner-loop settings of the uniform calorimeter study: Adam on fresh samples (the simulation
#: is a Monte Carlo), a few seconds per trial on one CPU core. The depth penalty is mild
#: (``5 (violation / 1 cm)^2``): a stiff one (1e3) fills Adam's second-moment estimate with
#: one overshoot's gradient and freezes the parameters for hundreds of steps; this one leaves
#: a residual violation of ~0.1 mm at the optimum, inside the constraint's 1 mm tolerance.
CALORIMETER_INNER = InnerSettings(
    optimizer="adam",
    max_steps=120,
    lr=0.08,
    n_samples=1000,
    n_eval_samples=20000,
    patience=50,
    tol=1e-4,
    constraint_penalty=5.0,
    record_every=5,
)


#: A quick configuration for tests, examples and benchmarks: 40 Adam steps on 500 events (a
#: trial in about a second), the same physics with noisier figures than CALORIMETER_INNER.
CALORIMETER_QUICK_INNER = CALORIMETER_INNER.replace(
    max_steps=40, n_samples=500, n_eval_samples=5000, patience=20, record_every=4
)


def calorimeter_study(
    *,
    name: str = "calorimeter_uniform",
    energies_gev: Sequence[float] = (10.0,),
    spectrum: Callable[[int, torch.Generator], torch.Tensor] | None = None,
    area_m2: float = 1.0,
    depth_max_cm: float = 40.0,
    absorbers: Sequence[str] = ("Pb", "W", "Fe", "Cu"),
    actives: Sequence[str] = ("scintillator", "silicon", "LAr"),
    n_layers: tuple[int, int] = (5, 60),
    absorber_mm: tuple[float, float] = (0.5, 10.0),
    active_mm: tuple[float, float] = (0.3, 10.0),
    constant_term: float = 0.005,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    active_media: Mapping[str, ActiveMedium] | None = None,
    cost_per_layer_eur: float = 200.0,
    inner: InnerSettings | None = None,
) -> StudyDefinition:
    """An EM sampling calorimeter of identical layers: minimise the energy resolution (%) and
    the cost (kEUR) over absorber / active thicknesses (mm, inner) and number of layers,
    absorber and active medium (outer), with total depth <= ``depth_max_cm``.

    ``prices`` overrides material prices (key -> ``{"price_eur_per_kg": .., "price_eur_per_m2":
    ..}``); ``active_media`` replaces the readout descriptions of :data:`ACTIVE_MEDIA`. The
    segmented study (:func:`~paretoopt.physics.calorimetry.segmented.segmented_calorimeter_study`)
    lets the thicknesses vary with depth."""
    media = dict(ACTIVE_MEDIA if active_media is None else active_media)
    for a in actives:
        if a not in media:
            raise ValueError(f"unknown active medium {a!r}; known {sorted(media)}")
    for a in absorbers:
        materials.get(a)
    space = DesignSpace(
        Real("absorber_mm", absorber_mm[0], absorber_mm[1], unit="mm", log=True),
        Real("active_mm", active_mm[0], active_mm[1], unit="mm", log=True),
        Integer("n_layers", n_layers[0], n_layers[1]),
        Choice("absorber", tuple(absorbers)),
        Choice("active", tuple(actives)),
    )
    sim = SamplingCalorimeter(
        energies_gev=energies_gev,
        spectrum=spectrum,
        constant_term=constant_term,
        active_media=media,
        cost_model=CostModel(
            area_m2=area_m2, cost_per_layer_eur=cost_per_layer_eur, prices=dict(prices or {})
        ),
    )
    energies = ", ".join(f"{e:g}" for e in energies_gev) if spectrum is None else "a spectrum"
    return StudyDefinition(
        name,
        space,
        [
            Objective("resolution", "minimize", "%", "relative energy resolution sigma_E/E"),
            Objective("cost", "minimize", "kEUR", "absorber, active medium, readout and mechanics"),
        ],
        sim,
        [Constraint("depth", upper=depth_max_cm, unit="cm", scale=1.0, tolerance=0.1)],
        inner if inner is not None else CALORIMETER_INNER,
        description=(
            f"EM sampling calorimeter of identical layers, {area_m2:g} m2 front, electrons of "
            f"{energies} GeV; depth <= {depth_max_cm:g} cm"
        ),
    )
