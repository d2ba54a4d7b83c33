"""Sea-level cosmic muons: the flux of Guan et al. (2015) and exact sampling from it.

The differential flux is the modified Gaisser formula of M. Guan, M.-C. Chu, J. Cao, K.-B. Luk
and C. Yang, "A parametrization of the cosmic-ray muon flux at sea-level", arXiv:1509.06176,
eqs. (2) and (3): the Gaisser formula (PDG "Cosmic rays", eq. 30.4) with a low-energy factor
``(1 + 3.64 GeV / (E cos(theta*)^1.29))^-2.7`` and the zenith angle replaced by the effective
angle ``theta*`` that accounts for the curvature of the Earth (the parametrisation of D.
Chirkin, hep-ph/0407078, with the constants ``P1..P5`` below). It holds at low energies and
large zenith angles, where the plain Gaisser formula fails.

Muons are sampled from the rate through a **horizontal** plane, ``I(E, theta) cos(theta)``,
by inverting the cumulative distribution of a bilinear interpolant on a fine
``(ln E, cos theta)`` grid: each draw picks a cell from the cumulative cell masses
(``torch.searchsorted``) and inverts the bilinear density inside it in closed form. There is
no rejection loop; the cost is linear in the number of muons.

Units: energies and momenta in GeV, the flux in (cm2 s sr GeV)^-1, positions in m.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate

#: Muon mass (GeV), PDG 2024 "Leptons" summary table (105.6583755 MeV).
MUON_MASS_GEV = 0.1056583755

#: Guan et al. 2015 (arXiv:1509.06176) eq. (3): effective zenith angle theta* (Chirkin's fit).
GUAN_P1 = 0.102573
GUAN_P2 = -0.068287
GUAN_P3 = 0.958633
GUAN_P4 = 0.0407253
GUAN_P5 = 0.817285

#: Guan et al. eq. (2) / PDG "Cosmic rays" eq. (30.4): normalisation (cm2 s sr GeV)^-1,
#: spectral index, pion and kaon critical-energy terms (GeV) and the kaon fraction.
GAISSER_NORM = 0.14
GAISSER_INDEX = 2.7
GUAN_LOW_ENERGY_GEV = 3.64
GUAN_LOW_ENERGY_POWER = 1.29
PION_EPS_GEV = 115.0
KAON_EPS_GEV = 850.0
KAON_FRACTION = 0.054

#: PDG "Cosmic rays" (sec. 30.3.1): integral vertical intensity of muons above 1 GeV/c at sea
#: level, "I_v(>1 GeV) ~ 70 m^-2 s^-1 sr^-1". The Guan formula gives 60.5 (14 % lower).
PDG_VERTICAL_INTENSITY_ABOVE_1GEV_M2_S_SR = 70.0

#: Grid of the inverse-CDF sampler: cells in ln(E) and in cos(theta).
_N_LOG_E = 1024
_N_COS = 256


def cos_theta_star(cos_theta: torch.Tensor | float) -> torch.Tensor:
    """Effective cosine of the zenith angle at the muon production height (Guan eq. 3)."""
    c = torch.as_tensor(cos_theta, dtype=torch.float64).clamp(0.0, 1.0)
    num = c**2 + GUAN_P1**2 + GUAN_P2 * c**GUAN_P3 + GUAN_P4 * c**GUAN_P5
    den = 1.0 + GUAN_P1**2 + GUAN_P2 + GUAN_P4
    return torch.sqrt(num / den)


def sea_level_flux(energy_gev: torch.Tensor | float, cos_theta: torch.Tensor | float) -> torch.Tensor:
    """Differential sea-level muon intensity ``dN / (dA dt dOmega dE)`` in (cm2 s sr GeV)^-1.

    Guan et al. 2015 (arXiv:1509.06176) eq. (2): the modified Gaisser formula, valid from
    about 0.5 GeV and up to large zenith angles. ``dA`` is an area perpendicular to the muon
    direction (an intensity); for the rate through a horizontal surface multiply by
    ``cos_theta``.

    Args:
        energy_gev: muon (total) energy in GeV, any shape.
        cos_theta: cosine of the zenith angle, broadcastable with ``energy_gev``.
    Returns:
        float64 tensor of the broadcast shape.
    """
    e = torch.as_tensor(energy_gev, dtype=torch.float64)
    cs = cos_theta_star(cos_theta)
    low = (e * (1.0 + GUAN_LOW_ENERGY_GEV / (e * cs**GUAN_LOW_ENERGY_POWER))) ** (-GAISSER_INDEX)
    pion = 1.0 / (1.0 + 1.1 * e * cs / PION_EPS_GEV)
    kaon = KAON_FRACTION / (1.0 + 1.1 * e * cs / KAON_EPS_GEV)
    return GAISSER_NORM * low * (pion + kaon)


def _flux_np(e: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    return sea_level_flux(torch.as_tensor(e), torch.as_tensor(c)).numpy()


def vertical_intensity(e_min_gev: float = 1.0, e_max_gev: float = math.inf) -> float:
    """Integral vertical intensity ``int I(E, cos theta = 1) dE`` in m^-2 s^-1 sr^-1 (quadrature)."""
    val, _ = integrate.quad(lambda e: float(_flux_np(e, 1.0)), e_min_gev, e_max_gev, limit=400)
    return val * 1e4


def _integrate(weight_power: int, energy_range_gev: tuple[float, float], max_zenith_deg: float) -> float:
    """``int int E^weight_power I(E, c) c dc dE`` by adaptive quadrature in ``(ln E, c)``."""
    c_min = math.cos(math.radians(max_zenith_deg))
    lo, hi = math.log(energy_range_gev[0]), math.log(energy_range_gev[1])

    def integrand(u: float, c: float) -> float:
        e = math.exp(u)
        return e ** (weight_power + 1) * float(_flux_np(e, c)) * c

    val, _ = integrate.dblquad(integrand, c_min, 1.0, lo, hi, epsrel=1e-7)
    return val


def horizontal_rate_density(
    energy_range_gev: tuple[float, float] = (0.5, 500.0), max_zenith_deg: float = 70.0
) -> float:
    """Muons per cm2 of horizontal surface per second in the given energy and zenith ranges:
    ``2 pi int int I(E, c) c dc dE`` (adaptive quadrature, independent of the sampler's grid)."""
    return 2.0 * math.pi * _integrate(0, energy_range_gev, max_zenith_deg)


def mean_energy(energy_range_gev: tuple[float, float] = (0.5, 500.0), max_zenith_deg: float = 70.0) -> float:
    """Flux-weighted mean energy (GeV) of muons crossing a horizontal plane (quadrature)."""
    return _integrate(1, energy_range_gev, max_zenith_deg) / _integrate(0, energy_range_gev, max_zenith_deg)


@dataclass(frozen=True)
class _Table:
    """Sampler grid: node values of the density in (u = ln E, c = cos theta) and cell CDF."""

    u_edges: torch.Tensor  # (nu+1,)
    c_edges: torch.Tensor  # (nc+1,)
    f: torch.Tensor  # (nc+1, nu+1) density per unit u per unit c (per sr / 2 pi)
    cdf: torch.Tensor  # (nc*nu,) normalised cumulative cell masses, row-major (c, u)
    total_per_cm2_s: float  # muons per cm2 (horizontal) per s, 2 pi included


@functools.lru_cache(maxsize=16)
def _table(e_lo: float, e_hi: float, c_min: float) -> _Table:
    u = torch.linspace(math.log(e_lo), math.log(e_hi), _N_LOG_E + 1, dtype=torch.float64)
    c = torch.linspace(c_min, 1.0, _N_COS + 1, dtype=torch.float64)
    e = torch.exp(u)
    # density in (ln E, cos theta) of the rate through a horizontal plane: I * E * cos(theta)
    f = sea_level_flux(e[None, :], c[:, None]) * e[None, :] * c[:, None]
    du = (u[1:] - u[:-1])[None, :]
    dc = (c[1:] - c[:-1])[:, None]
    mass = 0.25 * (f[:-1, :-1] + f[1:, :-1] + f[:-1, 1:] + f[1:, 1:]) * du * dc
    flat = mass.reshape(-1)
    cdf = torch.cumsum(flat, 0)
    total = float(cdf[-1])
    return _Table(u_edges=u, c_edges=c, f=f, cdf=cdf / total, total_per_cm2_s=2.0 * math.pi * total)


def _invert_linear(a: torch.Tensor, b: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Inverse CDF on [0, 1] of the density proportional to ``a (1 - x) + b x`` at quantile ``r``
    (closed form, stable when ``a == b``)."""
    disc = torch.sqrt((a * a + r * (b * b - a * a)).clamp_min(0.0))
    den = a + disc
    return torch.where(den > 0, r * (a + b) / den.clamp_min(1e-300), r)


@dataclass(frozen=True)
class MuonSample:
    """Muons crossing a horizontal generation plane.

    Attributes:
        position_m: ``(n, 3)`` positions on the plane ``z = z_m`` (m).
        direction: ``(n, 3)`` unit vectors of flight, pointing down (``direction[:, 2] < 0``).
        momentum_gev: ``(n,)`` momenta (GeV/c).
        energy_gev: ``(n,)`` total energies (GeV).
        rate_hz: expected number of muons per second through the generation area in the
            chosen energy and zenith ranges; ``n / rate_hz`` is the exposure the sample stands for.
        area_m2: the generation area (m2).
    """

    position_m: torch.Tensor
    direction: torch.Tensor
    momentum_gev: torch.Tensor
    energy_gev: torch.Tensor
    rate_hz: float
    area_m2: float

    def __len__(self) -> int:
        return int(self.momentum_gev.shape[0])

    @property
    def exposure_s(self) -> float:
        """The time (s) it takes nature to send this many muons through the area."""
        return len(self) / self.rate_hz

    @property
    def cos_theta(self) -> torch.Tensor:
        return -self.direction[:, 2]


def expected_rate_hz(
    area_m2: float, energy_range_gev: tuple[float, float] = (0.5, 500.0), max_zenith_deg: float = 70.0
) -> float:
    """Muons per second through a horizontal area of ``area_m2`` (same grid as the sampler)."""
    c_min = math.cos(math.radians(max_zenith_deg))
    tab = _table(float(energy_range_gev[0]), float(energy_range_gev[1]), c_min)
    return tab.total_per_cm2_s * area_m2 * 1e4


def sample_muons(
    n: int,
    *,
    generator: torch.Generator,
    energy_range_gev: tuple[float, float] = (0.5, 500.0),
    max_zenith_deg: float = 70.0,
    area: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0),
    z_m: float = 0.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> MuonSample:
    """Draw ``n`` muons from the Guan et al. sea-level flux through a horizontal rectangle.

    Energy and zenith angle come from the joint density ``I(E, theta) cos(theta)`` (exact
    inverse CDF of its bilinear interpolant on a 1024 x 256 grid in ``(ln E, cos theta)``),
    the azimuth is uniform and the position uniform over ``area = (x_min, x_max, y_min,
    y_max)`` (m) at height ``z_m``. All random numbers come from ``generator`` (on ``device``).

    Args:
        n: number of muons.
        generator: the seeded ``torch.Generator``.
        energy_range_gev: total-energy range (GeV); must start above the muon mass.
        max_zenith_deg: largest zenith angle (degrees, < 90).
        area: the generation rectangle (m).
        z_m: height of the generation plane (m).
    Returns:
        A :class:`MuonSample` with the expected rate for the area.
    """
    e_lo, e_hi = float(energy_range_gev[0]), float(energy_range_gev[1])
    if not (MUON_MASS_GEV < e_lo < e_hi):
        raise ValueError(
            f"energy_range_gev must satisfy {MUON_MASS_GEV} < low < high, got {energy_range_gev}"
        )
    if not (0.0 < max_zenith_deg < 90.0):
        raise ValueError(f"max_zenith_deg must lie in (0, 90), got {max_zenith_deg}")
    x0, x1, y0, y1 = (float(v) for v in area)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"area must be (x_min, x_max, y_min, y_max) with max > min, got {area}")
    dev = torch.device(device) if device is not None else generator.device
    tab = _table(e_lo, e_hi, math.cos(math.radians(max_zenith_deg)))
    n = int(n)
    r = torch.rand((n, 6), generator=generator, device=dev, dtype=torch.float64)
    cdf, f = tab.cdf.to(dev), tab.f.to(dev)
    u_edges, c_edges = tab.u_edges.to(dev), tab.c_edges.to(dev)
    cell = torch.searchsorted(cdf, r[:, 0].contiguous(), right=True).clamp_max(cdf.numel() - 1)
    nu = u_edges.numel() - 1
    ic, iu = cell // nu, cell % nu
    f00, f01 = f[ic, iu], f[ic, iu + 1]  # (c0, u0), (c0, u1)
    f10, f11 = f[ic + 1, iu], f[ic + 1, iu + 1]  # (c1, u0), (c1, u1)
    # exact draw from the bilinear density in the cell: u from its marginal, then c given u
    s = _invert_linear(0.5 * (f00 + f10), 0.5 * (f01 + f11), r[:, 1])
    t = _invert_linear(f00 * (1 - s) + f01 * s, f10 * (1 - s) + f11 * s, r[:, 2])
    u = u_edges[iu] + s * (u_edges[iu + 1] - u_edges[iu])
    cos_t = c_edges[ic] + t * (c_edges[ic + 1] - c_edges[ic])
    energy = torch.exp(u)
    momentum = torch.sqrt((energy**2 - MUON_MASS_GEV**2).clamp_min(0.0))
    phi = 2.0 * math.pi * r[:, 3]
    sin_t = torch.sqrt((1.0 - cos_t**2).clamp_min(0.0))
    direction = torch.stack([sin_t * torch.cos(phi), sin_t * torch.sin(phi), -cos_t], dim=1)
    position = torch.stack(
        [x0 + (x1 - x0) * r[:, 4], y0 + (y1 - y0) * r[:, 5], torch.full_like(cos_t, float(z_m))], dim=1
    )
    area_m2 = (x1 - x0) * (y1 - y0)
    return MuonSample(
        position_m=position.to(device=dev, dtype=dtype),
        direction=direction.to(device=dev, dtype=dtype),
        momentum_gev=momentum.to(device=dev, dtype=dtype),
        energy_gev=energy.to(device=dev, dtype=dtype),
        rate_hz=tab.total_per_cm2_s * area_m2 * 1e4,
        area_m2=area_m2,
    )
