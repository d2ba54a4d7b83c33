"""Muon ionisation energy loss: the Bethe formula with Sternheimer's density effect, per material.

Source: PDG Review of Particle Physics (2024), "Passage of particles through matter",
sec. 34.2, eq. 34.5:

    -<dE/dx> = K z^2 (Z/A) (1/beta^2) [ 1/2 ln(2 m_e c^2 beta^2 gamma^2 W_max / I^2) - beta^2
               - delta(beta gamma) / 2 ]                                   (MeV cm2/g)

with ``K = 4 pi N_A r_e^2 m_e c^2 = 0.307075 MeV mol^-1 cm2`` (PDG Table 34.1), the largest
energy transfer ``W_max = 2 m_e c^2 beta^2 gamma^2 / (1 + 2 gamma m_e/M + (m_e/M)^2)``
(eq. 34.4) and the mean excitation energy ``I``. The density effect is Sternheimer's
parametrisation (PDG eq. 34.7) in ``x = log10(beta gamma)``: ``delta = 2 ln10 x - C`` above
``x1``, plus ``a (x1 - x)^k`` between ``x0`` and ``x1``, ``delta0 10^(2 (x - x0))`` below
``x0``, with the constants of Sternheimer, Berger and Seltzer, At. Data Nucl. Data Tables 30
(1984) 261, as the PDG material pages list them. With them the minimum of the formula equals
the PDG "minimum ionisation" of every material below to 0.1 % (tests/physics/test_energy_loss.py),
and ``C`` equals ``2 ln(I / hbar omega_p) + 1`` with the plasma energy ``hbar omega_p = 28.816
sqrt(rho <Z/A>) eV`` (eq. 34.6) to four digits. Materials without tabulated constants get the
high-energy form alone, ``delta = max(0, 2 ln(beta gamma) - C)`` with ``C`` from the plasma
energy: it omits the transition term and overestimates dE/dx by up to 2-5 % near the minimum.

Radiative losses (bremsstrahlung, pair production, photonuclear; PDG sec. 34.6) are not
included: they equal the ionisation loss only at the muon critical energy (lead 141 GeV, iron
347 GeV; PDG muon tables, Groom, Mokhov and Striganov, At. Data Nucl. Data Tables 78 (2001)
183), above almost every cosmic muon that scatters measurably.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from paretoopt.physics.materials import Material
from paretoopt.physics.muons import MUON_MASS_GEV

#: PDG Table 34.1: K = 4 pi N_A r_e^2 m_e c^2 (MeV mol^-1 cm2) and the electron mass (MeV).
BETHE_K_MEV_CM2_MOL = 0.307075
ELECTRON_MASS_MEV = 0.51099895
#: PDG eq. 34.6: hbar omega_p = sqrt(rho <Z/A>) x 28.816 eV (rho in g/cm3).
PLASMA_ENERGY_EV = 28.816

#: Mean excitation energies (eV), ICRU Report 37 / Sternheimer, Berger & Seltzer 1984, as on the
#: PDG "Atomic and nuclear properties of materials" pages. Water: 75.0 eV (ICRU 37; ICRU 90 later
#: recommends 78 eV, 0.3 % less dE/dx). Be, C, polystyrene, LAr, PbWO4, concrete: PDG pages,
#: quoted from memory of them (the last digit is uncertain; they serve the fallback form only).
#: Keys are material names of paretoopt.physics.materials.
MEAN_EXCITATION_EV: dict[str, float] = {
    "Be": 63.7,
    "C": 78.0,
    "Al": 166.0,
    "Si": 173.0,
    "Fe": 286.0,
    "liquid_steel": 286.0,
    "Cu": 322.0,
    "W": 727.0,
    "Pb": 823.0,
    "U": 890.0,
    "water": 75.0,
    "LAr": 188.0,
    "polystyrene": 68.7,
    "PbWO4": 600.7,
    "concrete": 135.2,
    "air": 85.7,
}


#: Sternheimer density-effect constants ``(C, x0, x1, a, k, delta0)``, Sternheimer, Berger &
#: Seltzer 1984 (Table 1), as listed on the PDG material pages. Liquid steel takes iron's
#: constants except ``C``, which follows its density (``C = 2 ln(I / hbar omega_p) + 1``).
STERNHEIMER: dict[str, tuple[float, float, float, float, float, float]] = {
    "water": (3.5017, 0.2400, 2.8004, 0.09116, 3.4773, 0.0),
    "Pb": (6.2018, 0.3776, 3.8073, 0.09359, 3.1608, 0.14),
    "Fe": (4.2911, -0.0012, 3.1531, 0.14680, 2.9632, 0.12),
    "Al": (4.2395, 0.1708, 3.0127, 0.08024, 3.6345, 0.12),
    "Si": (4.4355, 0.2015, 2.8716, 0.14921, 3.2546, 0.14),
    "air": (10.5961, 1.7418, 4.2759, 0.10914, 3.3994, 0.0),
    "Cu": (4.4190, -0.0254, 3.2792, 0.14339, 2.9044, 0.08),
    "W": (5.4059, 0.2167, 3.4960, 0.15509, 2.8447, 0.14),
    "U": (5.8694, 0.2260, 3.3721, 0.19677, 2.8171, 0.14),
}


def mean_excitation_ev(material: Material) -> float:
    """``I`` (eV) of a material: the table above, or, for materials not in it, the rough rule
    ``I ~ 16 Z^0.9 eV`` (PDG sec. 34.2.3, Fig. 34.5's trend) on its effective Z."""
    if material.name in MEAN_EXCITATION_EV:
        return MEAN_EXCITATION_EV[material.name]
    return 16.0 * material.z_eff**0.9


def plasma_c_bar(mean_excitation: float, density_g_cm3: float, z_over_a: float) -> float:
    """Sternheimer's ``C = 2 ln(I / hbar omega_p) + 1`` from the plasma energy (PDG eq. 34.6)."""
    plasma_ev = PLASMA_ENERGY_EV * math.sqrt(density_g_cm3 * z_over_a)
    return 2.0 * math.log(mean_excitation / plasma_ev) + 1.0


def density_effect(
    beta_gamma: torch.Tensor, constants: tuple[float, float, float, float, float, float]
) -> torch.Tensor:
    """Sternheimer's ``delta(beta gamma)`` (PDG eq. 34.7) for constants ``(C, x0, x1, a, k,
    delta0)``."""
    c_bar, x0, x1, a, k, d0 = constants
    x = torch.log10(beta_gamma)
    high = 2.0 * math.log(10.0) * x - c_bar
    mid = high + a * (x1 - x).clamp_min(0.0) ** k
    low = d0 * 10.0 ** (2.0 * (x - x0))
    return torch.where(x >= x1, high, torch.where(x >= x0, mid, low)).clamp_min(0.0)


def bethe_dedx_mev_cm2_g(
    momentum_gev: torch.Tensor | float,
    *,
    z_over_a: float,
    mean_excitation: float,
    density_constants: tuple[float, float, float, float, float, float],
    mass_gev: float = MUON_MASS_GEV,
) -> torch.Tensor:
    """Mean ionisation loss ``-<dE/dx>`` (MeV cm2/g) of a unit-charge particle, PDG eq. 34.5.

    Args:
        momentum_gev: momentum (GeV/c), any shape (float64 unless a tensor of another dtype).
        z_over_a: ``<Z/A>`` (mol/g).
        mean_excitation: ``I`` (eV).
        density_constants: Sternheimer's ``(C, x0, x1, a, k, delta0)``.
        mass_gev: the particle's mass (GeV), the muon's by default.
    """
    p = momentum_gev if torch.is_tensor(momentum_gev) else torch.as_tensor(momentum_gev, dtype=torch.float64)
    bg = p / mass_gev
    gamma = torch.sqrt(1.0 + bg * bg)
    beta2 = (bg / gamma) ** 2
    me = ELECTRON_MASS_MEV
    ratio = me / (mass_gev * 1e3)
    w_max = 2.0 * me * bg * bg / (1.0 + 2.0 * gamma * ratio + ratio * ratio)
    i_mev = mean_excitation * 1e-6
    log_term = 0.5 * torch.log(2.0 * me * bg * bg * w_max / (i_mev * i_mev))
    delta = density_effect(bg, density_constants)
    return BETHE_K_MEV_CM2_MOL * z_over_a / beta2 * (log_term - beta2 - 0.5 * delta)


def sternheimer_constants(material: Material) -> tuple[float, float, float, float, float, float]:
    """The material's density-effect constants: the table, iron's for liquid steel with ``C``
    from its density, else the high-energy form alone (``x0 = x1 = C / (2 ln 10)``)."""
    c_bar = plasma_c_bar(mean_excitation_ev(material), material.density_g_cm3, material.z_over_a)
    if material.name in STERNHEIMER:
        return STERNHEIMER[material.name]
    if material.name == "liquid_steel":
        _, x0, x1, a, k, d0 = STERNHEIMER["Fe"]
        return (c_bar, x0, x1, a, k, d0)
    xa = c_bar / (2.0 * math.log(10.0))
    return (c_bar, xa, xa, 0.0, 1.0, 0.0)


def material_dedx_mev_cm(material: Material, momentum_gev: torch.Tensor | float) -> torch.Tensor:
    """``-<dE/dx>`` in MeV/cm of a muon of the given momentum in ``material`` (Bethe x density)."""
    return material.density_g_cm3 * bethe_dedx_mev_cm2_g(
        momentum_gev,
        z_over_a=material.z_over_a,
        mean_excitation=mean_excitation_ev(material),
        density_constants=sternheimer_constants(material),
    )


class DedxTable:
    """``dE/dx`` (GeV per cm) of muons in a list of materials on a grid in ``ln p``, linearly
    interpolated: the stepper and the inference look the loss up per muon and step instead of
    evaluating logarithms (the table reproduces the formula to better than 1e-4 relative).

    ``lookup(material_index, p)`` returns GeV/cm for ``(n,)`` indices and momenta.
    """

    def __init__(
        self,
        materials: Sequence[Material],
        *,
        p_range_gev: tuple[float, float] = (0.02, 1.0e4),
        n_points: int = 512,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        lo, hi = math.log(p_range_gev[0]), math.log(p_range_gev[1])
        self.log_p0 = lo
        self.step = (hi - lo) / (n_points - 1)
        self.n_points = n_points
        grid = torch.exp(torch.linspace(lo, hi, n_points, dtype=torch.float64))
        rows = [material_dedx_mev_cm(m, grid) * 1e-3 for m in materials]
        self.table = torch.stack(rows).to(dtype=dtype, device=device).reshape(-1)

    def lookup(self, material_index: torch.Tensor, momentum_gev: torch.Tensor) -> torch.Tensor:
        u = ((torch.log(momentum_gev.clamp_min(1e-6)) - self.log_p0) / self.step).clamp(
            0.0, self.n_points - 1.001
        )
        j = u.long()
        frac = u - j
        base = material_index * self.n_points + j
        lo = self.table[base]
        hi = self.table[base + 1]
        return lo + frac * (hi - lo)
