"""Differentiable EM shower profiles: Grindhammer-Peters longitudinal fluctuations, lateral containment.

Depth ``t`` is in radiation lengths of the medium, radii in Moliere radii. Everything follows
G. Grindhammer and S. Peters, *The parameterized simulation of electromagnetic showers in
homogeneous and sampling calorimeters*, hep-ex/0001020 (homogeneous media; the same constants
are Geant4's GFlash defaults, ``GVFlashHomoShowerTuning``):

* **longitudinal profile** ``dE/dt = E b (bt)^(a-1) e^(-bt) / Gamma(a)`` (the gamma form of
  PDG "Passage of particles through matter", EM cascades). Mean profile: ``T = ln y - 0.858``,
  ``a = 0.21 + (0.492 + 2.38/Z) ln y``, ``y = E / E_c``, ``b = (a - 1)/T``. Individual showers
  draw ``(ln T, ln a)`` from a correlated normal with ``<ln T> = ln(ln y - 0.812)``,
  ``sigma(ln T) = (-1.4 + 1.26 ln y)^-1``, ``<ln a> = ln(0.81 + (0.458 + 2.26/Z) ln y)``,
  ``sigma(ln a) = (-0.58 + 0.86 ln y)^-1`` and correlation ``rho = 0.705 - 0.023 ln y``;
* **lateral profile** at relative depth ``tau = t/T``: ``f(r) = p f_C(r) + (1 - p) f_T(r)``,
  ``f_i(r) = 2 r R_i^2 / (r^2 + R_i^2)^2`` (so the fraction within ``r`` is
  ``r^2/(r^2 + R_i^2)``), with ``R_C = z1 + z2 tau``, ``R_T = k1 (exp(k3 (tau - k2)) +
  exp(k4 (tau - k2)))``, ``p = p1 exp((p2 - tau)/p3 - exp((p2 - tau)/p3))`` and the constants
  of :data:`GP_LATERAL` (``E`` in GeV).

No late tail is added: the gamma profile alone puts 98.4 % of a 10 GeV shower inside 20 X0
of lead and agrees with PDG's own gamma fits (``t_max = ln y - 0.5``, ``b ~ 0.5``) on the
rear leakage of 25 X0 stacks (tests/physics/test_showers.py). PDG's older rule of thumb
``L(95 %) = t_max + 0.08 Z + 9.6`` asks for 20-35 % more depth in lead and tungsten; an
earlier version fitted a tail to it, which made a 25.8 X0 PbWO4 crystal leak 3.8 % at
100 GeV, irreconcilable with the 0.3 % constant term such crystals reach. Far beyond the
maximum the gamma falls as ``exp(-b t)`` (``1/b ~ 2 X0``) while the penetrating photons at
the minimum of the attenuation coefficient fall more slowly (3.7 X0 in lead): leakage
beyond ~3 ``T`` is underestimated (docs/physics-calorimeter.md, omissions).

:func:`gamma_p` (the regularised lower incomplete gamma function ``P(a, x)``) carries a
gradient in both ``a`` and ``x``; torch's ``gammainc`` has none in ``a``. Fluctuations are
reparametrised: the standard normals come from the caller's generator and the parameters are
smooth functions of them. Photons start their showers one radiation length later on average:
PDG's ``C_gamma - C_e = 1`` (PDG, EM cascades) is applied as a shift of ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

#: Grindhammer-Peters mean longitudinal profile, homogeneous media (hep-ex/0001020):
#: T = ln y + GP_T_OFFSET, alpha = c0 + (c1 + c2/Z) ln y.
GP_T_OFFSET = -0.858
GP_ALPHA = (0.21, 0.492, 2.38)
#: Grindhammer-Peters fluctuations (hep-ex/0001020; GFlash ParAveT1, ParSigLogT1/2):
#: <ln T> = ln(ln y + t0), sigma(ln T) = 1/(s0 + s1 ln y).
GP_LN_T = (-0.812, -1.4, 1.26)
#: <ln alpha> = ln(a0 + (a1 + a2/Z) ln y), sigma(ln alpha) = 1/(s0 + s1 ln y)
#: (hep-ex/0001020; GFlash ParAveA1-3, ParSigLogA1/2).
GP_LN_ALPHA = (0.81, 0.458, 2.26, -0.58, 0.86)
#: Correlation of ln T and ln alpha, rho = r0 + r1 ln y: 0.705 - 0.023 ln y (hep-ex/0001020;
#: GFlash ParRho1 = 0.705, ParRho2 = -0.023). An earlier version had +0.023.
GP_RHO = (0.705, -0.023)
#: Grindhammer-Peters lateral profile, homogeneous media (hep-ex/0001020; GFlash ParRC1-4,
#: ParRT1-6, ParWC1-6), E in GeV, radii in Moliere radii:
#: z1 = rc1 + rc2 ln E, z2 = rc3 + rc4 Z; k1 = rt1 + rt2 Z, k2 = rt3, k3 = rt4,
#: k4 = rt5 + rt6 ln E; p1 = wc1 + wc2 Z, p2 = wc3 + wc4 Z, p3 = wc5 + wc6 ln E.
#: (Transcribed from the paper's homogeneous-media table as GFlash uses it; checked against
#: PDG's "90 % within R_M, 99 % within 3.5 R_M" in the tests.)
GP_LATERAL = {
    "rc": (0.0251, 0.00319, 0.1162, -0.000381),
    "rt": (0.659, -0.00309, 0.645, -2.59, 0.3585, 0.0412),
    "wc": (2.632, -0.00094, 0.401, 0.00187, 1.313, -0.0686),
}
#: PDG constants for t_max = ln y + C_j (EM cascades); only their difference (the photon's
#: later start) is used.
PDG_C_ELECTRON = -0.5
PDG_C_PHOTON = 0.5

#: ln y is clamped here in the fluctuation widths, which diverge at ln y = 1.1 (y ~ 3); the
#: parametrisation is valid for y >~ 20 (E >~ 20 E_c).
_LN_Y_MIN = 2.5
#: Step of the central difference for dP/da (relative to max(1, a)), in float64.
_DA_REL = 1e-5


class _GammaP(torch.autograd.Function):
    """``P(a, x)`` with gradients in both arguments: ``dP/dx`` analytic, ``dP/da`` by a central
    difference in float64 (``P`` is smooth in ``a``; relative accuracy ~1e-9)."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(a, x)
        return torch.special.gammainc(a, x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        a, x = ctx.saved_tensors
        ga = gx = None
        if ctx.needs_input_grad[1]:
            xc = x.clamp_min(1e-300)
            log_pdf = (a - 1.0) * torch.log(xc) - xc - torch.lgamma(a)
            gx = grad * torch.where(x > 0, torch.exp(log_pdf), torch.zeros_like(x))
        if ctx.needs_input_grad[0]:
            a64, x64 = a.double(), x.double()
            h = _DA_REL * a64.abs().clamp_min(1.0)
            dp = torch.special.gammainc(a64 + h, x64) - torch.special.gammainc(a64 - h, x64)
            ga = grad * (dp / (2.0 * h)).to(a.dtype)
        if ga is not None:
            ga = _sum_to(ga, a.shape)
        if gx is not None:
            gx = _sum_to(gx, x.shape)
        return ga, gx


def _sum_to(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if g.shape == shape:
        return g
    while g.dim() > len(shape):
        g = g.sum(0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


def gamma_p(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Regularised lower incomplete gamma ``P(a, x)`` (the gamma CDF), broadcast over ``a, x``,
    differentiable in both (``x < 0`` is treated as 0)."""
    a, x = torch.broadcast_tensors(torch.as_tensor(a), torch.as_tensor(x))
    return _GammaP.apply(a, x.clamp_min(0.0))


def _t(value: torch.Tensor | float, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    dtype = like.dtype if like is not None else torch.float64
    device = like.device if like is not None else None
    return torch.tensor(float(value), dtype=dtype, device=device)


def ln_y(energy_gev: torch.Tensor | float, critical_energy_mev: torch.Tensor | float) -> torch.Tensor:
    """``ln(E / E_c)`` with ``E`` in GeV and ``E_c`` in MeV."""
    e = _t(energy_gev, critical_energy_mev if isinstance(critical_energy_mev, torch.Tensor) else None)
    return torch.log(e * 1000.0 / _t(critical_energy_mev, e))


def _particle_shift(particle: str) -> float:
    if particle == "electron":
        return 0.0
    if particle == "photon":
        return PDG_C_PHOTON - PDG_C_ELECTRON
    raise ValueError(f"particle must be 'electron' or 'photon', got {particle!r}")


@dataclass
class LongitudinalProfile:
    """A (batch of) longitudinal profile(s): ``Gamma(alpha, beta)`` in depth ``t`` (X0).

    ``alpha`` and ``beta`` are tensors of the batch shape (e.g. ``(n,)`` for ``n`` events);
    the methods take depths ``t`` of shape ``(..., k)`` where ``...`` is the batch shape, or
    any shape broadcastable to it."""

    alpha: torch.Tensor
    beta: torch.Tensor

    @property
    def t_max(self) -> torch.Tensor:
        """Depth of the maximum, ``T = (alpha - 1)/beta`` (X0)."""
        return (self.alpha - 1.0) / self.beta

    def _expand(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        extra = t.dim() - self.alpha.dim()
        if extra <= 0:
            return self.alpha, self.beta
        return tuple(f.reshape(*f.shape, *([1] * extra)) for f in (self.alpha, self.beta))  # type: ignore[return-value]

    def cdf(self, t: torch.Tensor) -> torch.Tensor:
        """Fraction of the energy deposited before depth ``t`` (X0): the containment fraction."""
        a, b = self._expand(t)
        return gamma_p(a, b * t)

    def pdf(self, t: torch.Tensor) -> torch.Tensor:
        """``(1/E) dE/dt`` at depth ``t`` (per X0)."""
        a, b = self._expand(t)
        x = (b * t).clamp_min(1e-300)
        return b * torch.exp((a - 1.0) * torch.log(x) - x - torch.lgamma(a))

    def cell_fractions(self, boundaries_x0: torch.Tensor) -> torch.Tensor:
        """Energy fraction deposited between consecutive depths: ``(..., k+1) -> (..., k)``."""
        c = self.cdf(boundaries_x0)
        return c[..., 1:] - c[..., :-1]

    @torch.no_grad()
    def quantile(self, q: float, t_hi: float = 400.0, iterations: int = 80) -> torch.Tensor:
        """The depth (X0) containing a fraction ``q`` of the energy, by bisection (no gradient)."""
        lo = torch.zeros_like(self.alpha * self.beta)
        hi = torch.full_like(lo, t_hi)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid.unsqueeze(-1)).squeeze(-1) < q
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    @torch.no_grad()
    def mode(self, t_hi: float = 60.0, points: int = 6001) -> torch.Tensor:
        """The depth (X0) of the profile's maximum, on a grid of ``points`` (no gradient)."""
        grid = torch.linspace(1e-3, t_hi, points, dtype=self.alpha.dtype, device=self.alpha.device)
        shape = (*self.alpha.shape, points)
        pdf = self.pdf(grid.expand(shape) if self.alpha.dim() else grid)
        return grid[pdf.argmax(-1)]


def mean_profile(
    energy_gev: torch.Tensor | float,
    critical_energy_mev: torch.Tensor | float,
    z: torch.Tensor | float,
    *,
    particle: str = "electron",
) -> LongitudinalProfile:
    """The average longitudinal profile of showers of energy ``energy_gev`` (GeV) in a medium
    with critical energy ``critical_energy_mev`` (MeV) and (effective) atomic number ``z``."""
    log_y = ln_y(energy_gev, critical_energy_mev)
    z = _t(z, log_y)
    t_max = log_y + GP_T_OFFSET + _particle_shift(particle)
    c0, c1, c2 = GP_ALPHA
    alpha = c0 + (c1 + c2 / z) * log_y
    return LongitudinalProfile(alpha, (alpha - 1.0) / t_max)


def sample_profiles(
    energy_gev: torch.Tensor | float,
    critical_energy_mev: torch.Tensor | float,
    z: torch.Tensor | float,
    n: int,
    generator: torch.Generator | None = None,
    *,
    particle: str = "electron",
    normals: torch.Tensor | None = None,
) -> LongitudinalProfile:
    """``n`` individual shower profiles with Grindhammer-Peters fluctuations (reparametrised).

    ``energy_gev`` may be a scalar or an ``(n,)`` tensor (one energy per event). The two
    standard normals per event are drawn from ``generator`` (or given as ``normals``, shape
    ``(n, 2)``), so the profiles are differentiable in ``critical_energy_mev`` and ``z``.
    """
    log_y = ln_y(energy_gev, critical_energy_mev)
    dtype = log_y.dtype
    if normals is None:
        normals = torch.randn(n, 2, generator=generator, dtype=dtype, device=log_y.device)
    z = _t(z, log_y)
    ly_w = log_y.clamp_min(_LN_Y_MIN)
    mu_ln_t = torch.log(log_y + GP_LN_T[0] + _particle_shift(particle))
    sd_ln_t = 1.0 / (GP_LN_T[1] + GP_LN_T[2] * ly_w)
    a0, a1, a2, s0, s1 = GP_LN_ALPHA
    mu_ln_a = torch.log(a0 + (a1 + a2 / z) * log_y)
    sd_ln_a = 1.0 / (s0 + s1 * ly_w)
    rho = (GP_RHO[0] + GP_RHO[1] * log_y).clamp(-0.99, 0.99)
    z1, z2 = normals[:, 0], normals[:, 1]
    t_max = torch.exp(mu_ln_t + sd_ln_t * z1)
    alpha = torch.exp(mu_ln_a + sd_ln_a * (rho * z1 + torch.sqrt(1.0 - rho**2) * z2)).clamp_min(1.05)
    return LongitudinalProfile(alpha, (alpha - 1.0) / t_max)


def lateral_containment(
    radius_rm: torch.Tensor | float,
    tau: torch.Tensor,
    energy_gev: torch.Tensor | float,
    z: torch.Tensor | float,
) -> torch.Tensor:
    """Fraction of the energy deposited at relative depth ``tau = t/T`` that lies within
    ``radius_rm`` Moliere radii of the shower axis (Grindhammer-Peters, homogeneous media).

    Broadcasts over ``tau``, ``energy_gev`` (GeV) and ``z``; differentiable in all of them."""
    tau = tau.clamp_min(0.0)
    log_e = torch.log(_t(energy_gev, tau))
    z = _t(z, tau)
    r2 = _t(radius_rm, tau) ** 2
    rc1, rc2, rc3, rc4 = GP_LATERAL["rc"]
    rt1, rt2, rt3, rt4, rt5, rt6 = GP_LATERAL["rt"]
    wc1, wc2, wc3, wc4, wc5, wc6 = GP_LATERAL["wc"]
    r_core = rc1 + rc2 * log_e + (rc3 + rc4 * z) * tau
    k4 = rt5 + rt6 * log_e
    r_tail = (rt1 + rt2 * z) * (torch.exp(rt4 * (tau - rt3)) + torch.exp(k4 * (tau - rt3)))
    x = (wc3 + wc4 * z - tau) / (wc5 + wc6 * log_e)
    p = ((wc1 + wc2 * z) * torch.exp(x - torch.exp(x))).clamp(0.0, 1.0)
    return p * r2 / (r2 + r_core**2) + (1.0 - p) * r2 / (r2 + r_tail**2)


class LongitudinalShower(torch.nn.Module):
    """The shower block on its own: energy fractions deposited in consecutive depth cells.

    ``forward(energy_gev, critical_energy_mev, z, boundaries_x0, n, generator)`` returns an
    ``(n, k)`` tensor of the fractions of each event's energy in the ``k`` cells between the
    ``k + 1`` increasing depths ``boundaries_x0`` (X0; shape ``(k+1,)``). With
    ``fluctuate=False`` every event gets the mean profile. Differentiable in the boundaries,
    ``critical_energy_mev`` and ``z``.
    """

    def __init__(self, *, particle: str = "electron", fluctuate: bool = True) -> None:
        super().__init__()
        _particle_shift(particle)
        self.particle = particle
        self.fluctuate = fluctuate

    def profiles(
        self,
        energy_gev: torch.Tensor | float,
        critical_energy_mev: torch.Tensor | float,
        z: torch.Tensor | float,
        n: int,
        generator: torch.Generator | None = None,
    ) -> LongitudinalProfile:
        if self.fluctuate:
            return sample_profiles(energy_gev, critical_energy_mev, z, n, generator, particle=self.particle)
        prof = mean_profile(energy_gev, critical_energy_mev, z, particle=self.particle)
        ones = torch.ones(n, dtype=prof.alpha.dtype, device=prof.alpha.device)
        return LongitudinalProfile(prof.alpha * ones, prof.beta * ones)

    def forward(
        self,
        energy_gev: torch.Tensor | float,
        critical_energy_mev: torch.Tensor | float,
        z: torch.Tensor | float,
        boundaries_x0: torch.Tensor,
        n: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        prof = self.profiles(energy_gev, critical_energy_mev, z, n, generator)
        return prof.cell_fractions(boundaries_x0.expand(n, -1))
