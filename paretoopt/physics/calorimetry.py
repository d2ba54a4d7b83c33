"""Sampling calorimetry: sampling fraction, resolution terms, a Monte Carlo of a plate
calorimeter, its cost, and the study definition built on them.

The blocks, each usable alone:

* :func:`sampling_fraction` - the fraction of a minimum-ionising particle's energy loss that
  the active layers see (PDG review "Calorimetry", EM sampling calorimeters; Wigmans,
  *Calorimetry*, ch. on sampling calorimeters).
* :func:`stochastic_term` - sampling fluctuations ``a = 2.7 % sqrt(d / f_samp)`` with ``d``
  the active-layer thickness in mm (Wigmans, *Calorimetry*, sampling fluctuations, quoted
  in the PDG review "Calorimetry") for plate geometries; returned as a fraction, ``0.10`` meaning
  ``10 %/sqrt(E/GeV)``.
* :func:`stack_properties` - the effective medium of an absorber + active layer (PDG rules for
  X0 and R_M of mixtures), in torch, differentiable in the thicknesses.
* :class:`SamplingCalorimeter` - the event-by-event Monte Carlo (showers from
  :mod:`paretoopt.physics.showers`, sampling and photo-statistics fluctuations per layer,
  electronic noise per channel, a constant term, rear leakage) and the cost model.
* :func:`calorimeter_study` - the study definition used by ``studies/calorimeter.py``.

The physics model, its simplifications and their justification are written up in
``docs/physics-calorimeter.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize
import torch

from paretoopt.physics import materials
from paretoopt.physics.showers import LongitudinalShower
from paretoopt.problem import Constraint, Estimate, InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer, Real

Number = torch.Tensor | float

#: Wigmans' sampling-fluctuation constant for plate geometries, a = 2.7 % sqrt(d[mm]/f_samp)
#: (R. Wigmans, *Calorimetry*, Oxford 2000/2017, sampling fluctuations; PDG review "Calorimetry").
WIGMANS_CONSTANT = 0.027

#: Thin-silicon correction of the sampling term, measured: the CALICE Si-W prototype has
#: a = 16.6 %/sqrt(E) (CALICE, NIM A 608 (2009) 372) where Wigmans' formula gives 11.0 % for
#: its central stack (2.8 mm W, 0.525 mm Si); ratio 1.5. Thin sensors add per-particle
#: Landau fluctuations and see a lower e/mip in tungsten, which the formula (fitted on
#: scintillator and liquid-argon plates >= 1 mm) does not contain. Used by the study, not by
#: :func:`stochastic_term`.
SILICON_EMPIRICAL_FACTOR = 1.5

#: Mean number of towers summed in a cluster: a disc of radius 2 R_M (95 % lateral
#: containment, PDG "Passage of particles through matter", EM cascades) tiled by towers of side R_M.
CLUSTER_TOWERS = math.pi * 2.0**2


def _as_tensor(x: Number, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.tensor(
        float(x),
        dtype=like.dtype if like is not None else torch.float64,
        device=like.device if like is not None else None,
    )


def _out(value: torch.Tensor, *inputs: Number) -> Number:
    """Return a float when every input was a plain number, else the tensor."""
    return value if any(isinstance(i, torch.Tensor) for i in inputs) else float(value)


def sampling_fraction(
    absorber: str | materials.Material,
    active: str | materials.Material,
    absorber_mm: Number,
    active_mm: Number,
) -> Number:
    """Sampling fraction for minimum-ionising particles (dimensionless, 0-1):
    ``f = d_p (dE/dx)_p / (d_p (dE/dx)_p + d_a (dE/dx)_a)`` with the PDG minimum-ionisation
    losses in MeV/cm. Accepts floats (returns a float) or tensors (differentiable)."""
    a, p = materials.get(absorber), materials.get(active)
    like = next((x for x in (absorber_mm, active_mm) if isinstance(x, torch.Tensor)), None)
    da, dp = _as_tensor(absorber_mm, like), _as_tensor(active_mm, like)
    if torch.any(da < 0) or torch.any(dp <= 0):
        raise ValueError(f"thicknesses must be positive, got absorber {absorber_mm}, active {active_mm} mm")
    sig = dp * p.dedx_mip_mev_cm
    return _out(sig / (sig + da * a.dedx_mip_mev_cm), absorber_mm, active_mm)


def stochastic_term(
    absorber: str | materials.Material,
    active: str | materials.Material,
    absorber_mm: Number,
    active_mm: Number,
) -> Number:
    """Sampling-fluctuation (stochastic) term ``a`` of ``sigma_E/E = a/sqrt(E/GeV)``, as a
    fraction (0.10 = 10 %): ``a = 0.027 sqrt(d_active[mm] / f_samp)`` (Wigmans).

    Valid for plate geometries with scintillator or liquid-argon layers of ~0.5-5 mm (within
    ~15 % of ZEUS, LHCb and CDF, see the tests). It underestimates thin-silicon calorimeters by
    a factor ~1.5 (CALICE Si-W: 16.6 % measured, 11 % here; see
    :data:`SILICON_EMPIRICAL_FACTOR`)."""
    f = sampling_fraction(absorber, active, absorber_mm, active_mm)
    like = f if isinstance(f, torch.Tensor) else None
    value = WIGMANS_CONSTANT * torch.sqrt(_as_tensor(active_mm, like) / _as_tensor(f, like))
    return _out(value, absorber_mm, active_mm)


@dataclass
class StackProperties:
    """The effective medium of one absorber + active layer (tensors, differentiable).

    ``x0_cm`` / ``moliere_radius_cm`` of the mixture, ``critical_energy_mev``, ``z_eff``
    (mass-weighted), ``layer_x0`` (radiation lengths per layer, exact sum ``d_a/X0_a +
    d_p/X0_p``), ``layer_cm`` (thickness per layer), ``f_samp`` (mip sampling fraction)."""

    x0_cm: torch.Tensor
    critical_energy_mev: torch.Tensor
    moliere_radius_cm: torch.Tensor
    z_eff: torch.Tensor
    layer_x0: torch.Tensor
    layer_cm: torch.Tensor
    f_samp: torch.Tensor


def stack_properties(
    absorber: str | materials.Material,
    active: str | materials.Material,
    absorber_mm: torch.Tensor,
    active_mm: torch.Tensor,
) -> StackProperties:
    """Effective properties of a periodic absorber/active stack by mass fraction (PDG
    Bragg rule for X0, the mixture rule for R_M and hence E_c = E_s X0 / R_M)."""
    a, p = materials.get(absorber), materials.get(active)
    da_cm, dp_cm = absorber_mm / 10.0, active_mm / 10.0
    ma, mp = a.density_g_cm3 * da_cm, p.density_g_cm3 * dp_cm
    wa, wp = ma / (ma + mp), mp / (ma + mp)
    x0_g = 1.0 / (wa / a.x0_g_cm2 + wp / p.x0_g_cm2)
    ec_over_x0 = wa * a.critical_energy_mev / a.x0_g_cm2 + wp * p.critical_energy_mev / p.x0_g_cm2
    rho = (ma + mp) / (da_cm + dp_cm)
    rm_g = materials.E_S_MEV / ec_over_x0
    return StackProperties(
        x0_cm=x0_g / rho,
        critical_energy_mev=x0_g * ec_over_x0,
        moliere_radius_cm=rm_g / rho,
        z_eff=wa * a.z_eff + wp * p.z_eff,
        layer_x0=da_cm / a.x0_cm + dp_cm / p.x0_cm,
        layer_cm=da_cm + dp_cm,
        f_samp=dp_cm * p.dedx_mip_mev_cm / (dp_cm * p.dedx_mip_mev_cm + da_cm * a.dedx_mip_mev_cm),
    )


def fit_resolution(
    energies_gev: Sequence[float], resolutions: Sequence[float], *, noise: bool = False
) -> dict[str, float]:
    """Fit ``(sigma/E)^2 = a^2/E + c^2 (+ b^2/E^2)`` (non-negative least squares on the squares).

    ``resolutions`` are fractions (0.05 = 5 %); returns ``{"a", "c"(, "b")}`` as fractions
    (``b`` in GeV)."""
    e = np.asarray(energies_gev, dtype=float)
    r2 = np.asarray(resolutions, dtype=float) ** 2
    cols = [1.0 / e, np.ones_like(e)] + ([1.0 / e**2] if noise else [])
    design = np.column_stack(cols) / r2[:, None]  # relative residuals
    coef, _ = scipy.optimize.nnls(design, np.ones_like(e))
    out = {"a": math.sqrt(coef[0]), "c": math.sqrt(coef[1])}
    if noise:
        out["b"] = math.sqrt(coef[2])
    return out


@dataclass(frozen=True)
class ActiveMedium:
    """How an active medium is read out: its material, light yield, noise and channel cost.

    ``photoelectrons_per_mev``: photo-electrons per MeV deposited (``None``: charge readout,
    no photo-statistics). ``noise_mev_per_channel``: electronic noise per readout channel,
    in MeV deposited in the active medium. ``readout_segments``: depth segments read per
    tower (``None``: every layer read on its own, as silicon pads are).
    ``channel_cost_eur``: photodetector/preamplifier + digitisation per channel.
    ``sampling_factor``: empirical multiplier of the sampling term (1 where Wigmans' formula
    holds). All defaults are indicative (2024) and meant to be replaced by a design's numbers.
    """

    material: str
    photoelectrons_per_mev: float | None = None
    noise_mev_per_channel: float = 0.0
    readout_segments: int | None = 4
    channel_cost_eur: float = 0.0
    sampling_factor: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        materials.get(self.material)
        if self.photoelectrons_per_mev is not None and not self.photoelectrons_per_mev > 0:
            raise ValueError(f"photoelectrons_per_mev must be > 0 or None, got {self.photoelectrons_per_mev}")
        if self.noise_mev_per_channel < 0 or self.channel_cost_eur < 0 or self.sampling_factor <= 0:
            raise ValueError(f"invalid readout numbers in {self!r}")
        if self.readout_segments is not None and self.readout_segments < 1:
            raise ValueError(f"readout_segments must be >= 1 or None, got {self.readout_segments}")


#: Default active media of the study (indicative numbers; see ``docs/physics-calorimeter.md``).
ACTIVE_MEDIA: dict[str, ActiveMedium] = {
    # plastic scintillator with wavelength-shifting fibres, ~10 p.e./MeV (LHCb ECAL: ~3000
    # p.e./GeV of shower energy at f_samp ~ 0.25), towers read in 4 depth segments
    "scintillator": ActiveMedium(
        "polystyrene",
        photoelectrons_per_mev=10.0,
        noise_mev_per_channel=0.1,
        readout_segments=4,
        channel_cost_eur=30.0,
        description="plastic scintillator tiles, WLS-fibre readout",
    ),
    # silicon pads: ENC ~ 2000 e- = 7 keV (3.6 eV per pair), every layer read out
    "silicon": ActiveMedium(
        "Si",
        photoelectrons_per_mev=None,
        noise_mev_per_channel=0.007,
        readout_segments=None,
        channel_cost_eur=5.0,
        sampling_factor=SILICON_EMPIRICAL_FACTOR,
        description="silicon pad sensors",
    ),
    # liquid-argon ionisation gaps, electrodes ganged into 4 depth segments
    "LAr": ActiveMedium(
        "LAr",
        photoelectrons_per_mev=None,
        noise_mev_per_channel=1.0,
        readout_segments=4,
        channel_cost_eur=50.0,
        description="liquid-argon gaps",
    ),
}


@dataclass(frozen=True)
class CostModel:
    """Cost of a plate calorimeter of front area ``area_m2`` (kEUR).

    ``absorber mass x price/kg + active (mass x price/kg + area x price/m2) + channels x
    cost/channel + layers x cost_per_layer_eur`` (mechanics, assembly). Channels: towers of
    side R_M (the usual EM granularity) times the active medium's readout segments (or the
    number of layers). Material prices come from :mod:`paretoopt.physics.materials` unless
    overridden in ``prices`` (material key -> ``{"price_eur_per_kg": .., "price_eur_per_m2": ..}``).
    """

    area_m2: float = 1.0
    cost_per_layer_eur: float = 200.0
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def material(self, name: str) -> materials.Material:
        mat = materials.get(name)
        over = self.prices.get(mat.name) or self.prices.get(name) or {}
        unknown = set(over) - {"price_eur_per_kg", "price_eur_per_m2"}
        if unknown:
            raise ValueError(f"unknown price keys {sorted(unknown)} for {name!r}")
        return mat.with_prices(**over) if over else mat

    def breakdown_keur(
        self,
        absorber: str,
        active: ActiveMedium,
        absorber_mm: torch.Tensor,
        active_mm: torch.Tensor,
        n_layers: int,
        moliere_radius_cm: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Cost items in kEUR: ``absorber``, ``active``, ``readout``, ``mechanics``."""
        a, p = self.material(absorber), self.material(active.material)
        area_cm2 = self.area_m2 * 1e4
        abs_kg = n_layers * area_cm2 * (absorber_mm / 10.0) * a.density_g_cm3 * 1e-3
        act_kg = n_layers * area_cm2 * (active_mm / 10.0) * p.density_g_cm3 * 1e-3
        segments = active.readout_segments if active.readout_segments is not None else n_layers
        towers = area_cm2 / moliere_radius_cm**2
        return {
            "absorber": abs_kg * a.price_eur_per_kg / 1e3,
            "active": (act_kg * p.price_eur_per_kg + n_layers * self.area_m2 * p.price_eur_per_m2) / 1e3,
            "readout": towers * segments * active.channel_cost_eur / 1e3,
            "mechanics": _as_tensor(n_layers * self.cost_per_layer_eur / 1e3, absorber_mm),
        }


def _resolution_estimate(response: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``std/mean`` of per-event responses and its asymptotic standard error (kurtosis-aware:
    ``se = R sqrt((kappa - 1)/(4n) + R^2/n)``)."""
    n = response.shape[0]
    mean = response.mean()
    std = response.std()
    r = std / mean
    with torch.no_grad():
        d = response - mean
        kappa = float((d**4).mean() / (d**2).mean() ** 2)
        se = float(r) * math.sqrt(max(kappa - 1.0, 0.0) / (4 * n) + float(r) ** 2 / n)
    return r, se


class SamplingCalorimeter(torch.nn.Module):
    """Monte Carlo of an electromagnetic plate sampling calorimeter, vectorised over events and
    layers and differentiable in the absorber and active thicknesses.

    Per event: a shower of the beam energy (or one drawn from ``spectrum``) with a fluctuating
    longitudinal profile (:mod:`~paretoopt.physics.showers`) deposits a fraction ``c_i`` in
    layer ``i``; the layer's signal is ``E c_i + sqrt(E c_i) a_s z_i`` (GeV, after the
    sampling fraction), ``a_s^2 = a_samp^2 + a_pe^2`` with ``a_samp`` from
    :func:`stochastic_term` (times the medium's ``sampling_factor``) and photo-statistics
    ``a_pe^2 = 1/(1000 f_samp n_pe/MeV)``; electronic noise of the channels in a 2 R_M cluster
    is added per event; a constant term ``c`` multiplies the sum by ``(1 + c z)``. Energy
    leaving the back is lost. The calibration comes from the same sample (mean response), so
    the resolution is ``std/mean`` of ``E_rec / E_true``.

    ``__call__(params, choices, n_samples, generator)`` follows the study interface: ``params``
    holds ``absorber_mm`` and ``active_mm`` (0-d tensors), ``choices`` ``n_layers``,
    ``absorber`` and ``active``. It returns ``resolution`` (Estimate, %), ``cost`` (kEUR, 0-d),
    ``depth`` (cm, 0-d) and diagnostics (``depth_x0``, ``containment``, ``stochastic_term``,
    ``sampling_fraction``, cost items).
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
        active_media: Mapping[str, ActiveMedium] | None = None,
        cost_model: CostModel | None = None,
    ) -> None:
        super().__init__()
        energies = [float(e) for e in energies_gev]
        if not energies or any(not (math.isfinite(e) and e > 0) for e in energies):
            raise ValueError(f"energies_gev must be positive numbers, got {list(energies_gev)}")
        if constant_term < 0:
            raise ValueError(f"constant_term must be >= 0, got {constant_term}")
        self.energies_gev = tuple(energies)
        self.spectrum = spectrum
        self.constant_term = float(constant_term)
        self.noise = bool(noise)
        self.photostatistics = bool(photostatistics)
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

    def simulate_response(
        self,
        absorber: str,
        active: str,
        absorber_mm: torch.Tensor,
        active_mm: torch.Tensor,
        n_layers: int,
        n: int,
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        """Per-event ``response`` (``E_rec/E_true`` before calibration, shape ``(n,)``), the true
        ``energy_gev``, the per-event ``containment`` and the stack's properties."""
        medium = self.active_media[active]
        stack = stack_properties(absorber, medium.material, absorber_mm, active_mm)
        like = stack.layer_x0
        energy = self._energies(n, generator, like)
        boundaries = stack.layer_x0 * torch.arange(n_layers + 1, dtype=like.dtype, device=like.device)
        cells = self.shower(energy, stack.critical_energy_mev, stack.z_eff, boundaries, n, generator)
        a_samp = stochastic_term(absorber, medium.material, absorber_mm, active_mm) * medium.sampling_factor
        var_per_gev = a_samp**2
        if self.photostatistics and medium.photoelectrons_per_mev is not None:
            var_per_gev = var_per_gev + 1.0 / (1000.0 * stack.f_samp * medium.photoelectrons_per_mev)
        dep = energy[:, None] * cells  # GeV in each layer (shower energy scale)
        z = torch.randn(n, n_layers, generator=generator, dtype=like.dtype, device=like.device)
        signal = dep + torch.sqrt(dep.clamp_min(1e-12) * var_per_gev) * z
        total = signal.sum(-1)
        if self.noise and medium.noise_mev_per_channel > 0:
            segments = medium.readout_segments if medium.readout_segments is not None else n_layers
            sigma_gev = (
                medium.noise_mev_per_channel * math.sqrt(CLUSTER_TOWERS * segments) / stack.f_samp / 1000.0
            )
            total = total + sigma_gev * torch.randn(
                n, generator=generator, dtype=like.dtype, device=like.device
            )
        if self.constant_term > 0:
            total = total * (
                1.0
                + self.constant_term
                * torch.randn(n, generator=generator, dtype=like.dtype, device=like.device)
            )
        return {
            "response": total / energy,
            "energy_gev": energy,
            "containment": cells.sum(-1),
            "stochastic_term": a_samp,
            "stack": stack,  # type: ignore[dict-item]
        }

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
        if active not in self.active_media:
            raise ValueError(f"unknown active medium {active!r}; known {sorted(self.active_media)}")
        out = self.simulate_response(absorber, active, absorber_mm, active_mm, n_layers, n_samples, generator)
        stack: StackProperties = out["stack"]  # type: ignore[assignment]
        res, se = _resolution_estimate(out["response"])
        costs = self.cost_model.breakdown_keur(
            absorber, self.active_media[active], absorber_mm, active_mm, n_layers, stack.moliere_radius_cm
        )
        cost = sum(costs.values())
        return {
            "resolution": Estimate(100.0 * res, 100.0 * se),
            "cost": cost,
            "depth": n_layers * stack.layer_cm,
            "depth_x0": n_layers * stack.layer_x0,
            "containment": out["containment"].detach(),
            "stochastic_term": 100.0 * out["stochastic_term"].detach(),
            "sampling_fraction": stack.f_samp.detach(),
            "moliere_radius_cm": stack.moliere_radius_cm.detach(),
            **{f"cost_{k}": v.detach() for k, v in costs.items()},
        }


#: Inner-loop settings of the calorimeter study: Adam on fresh samples (the simulation is a
#: Monte Carlo), a few seconds per trial on one CPU core. The depth penalty is mild
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
    name: str = "calorimeter",
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
    """An EM sampling calorimeter study: minimise the energy resolution (%) and the cost
    (kEUR) over absorber / active thicknesses (mm, inner) and number of layers, absorber and
    active medium (outer), with total depth <= ``depth_max_cm``.

    ``prices`` overrides material prices (key -> ``{"price_eur_per_kg": .., "price_eur_per_m2":
    ..}``); ``active_media`` replaces the readout descriptions of :data:`ACTIVE_MEDIA`.
    """
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
            f"EM sampling calorimeter, {area_m2:g} m2 front, electrons of {energies} GeV; "
            f"depth <= {depth_max_cm:g} cm"
        ),
    )
