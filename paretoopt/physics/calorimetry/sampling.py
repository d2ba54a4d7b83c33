"""Sampling-calorimeter physics of one absorber/active stack, the active media and the cost model."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import torch

from paretoopt.physics import materials

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
        if not over:
            return mat
        return mat.with_prices(
            price_eur_per_kg=over.get("price_eur_per_kg"), price_eur_per_m2=over.get("price_eur_per_m2")
        )

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
