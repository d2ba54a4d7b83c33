"""Longitudinal electromagnetic shower profiles, differentiable, with event-by-event fluctuations.

Depth ``t`` is in radiation lengths of the medium. The profile is a mixture of two gamma
distributions (PDG "Passage of particles through matter", EM cascades: ``dE/dt = E b (bt)^(a-1)
e^(-bt) / Gamma(a)``):

* the **core** with Grindhammer & Peters' parametrisation (G. Grindhammer, S. Peters,
  hep-ex/0001020): mean profile ``T = ln y - 0.858``, ``a = 0.21 + (0.492 + 2.38/Z)
  ln y`` with ``y = E / E_c`` and ``b = (a - 1)/T``; individual showers draw ``(ln T, ln a)``
  from a correlated normal with ``<ln T> = ln(ln y - 0.812)``, ``sigma(ln T) = (-1.4 + 1.26
  ln y)^-1``, ``<ln a> = ln(0.81 + (0.458 + 2.26/Z) ln y)``, ``sigma(ln a) = (-0.58 + 0.86
  ln y)^-1``, ``rho = 0.705 + 0.023 ln y``;
* a **late tail** (the penetrating photons near the minimum of the attenuation coefficient)
  with weight ``w = 0.22 + 0.0023 Z - 0.017 ln y`` and slope ``1/lambda``, ``lambda = 6.0 +
  0.017 Z`` (X0), peaking at the same depth ``T``. A pure Grindhammer-Peters gamma reaches
  95 % containment 13-34 % too early against PDG's ``L(95 %) = t_max + 0.08 Z + 9.6``
  (PDG, EM cascades, from EGS4 simulations) for Fe-U at 1-100 GeV; these three coefficients were
  fitted (least squares over Fe, Cu, W, Pb at 1-100 GeV) to that formula, which the mixture
  then meets within 0.5 % while the maximum stays at GP's ``T`` (0.36 X0 before PDG's
  ``t_max = ln y - 0.5``).

Everything is a torch function of ``y`` and ``Z``, so profiles are differentiable in the
layer thicknesses that set the effective medium. :func:`gamma_p` (the regularised lower
incomplete gamma function ``P(a, x)``) carries a gradient in both ``a`` and ``x``; torch's
``gammainc`` has none in ``a``. Fluctuations are reparametrised: the standard normals come
from the caller's generator and the parameters are smooth functions of them.

Photons start their showers one radiation length later on average: PDG's ``C_gamma - C_e = 1``
(PDG, EM cascades) is applied as a shift of ``T``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

#: Grindhammer-Peters mean-profile constants (hep-ex/0001020; homogeneous media).
GP_T_OFFSET = -0.858
GP_ALPHA = (0.21, 0.492, 2.38)
#: Grindhammer-Peters fluctuation constants (hep-ex/0001020; homogeneous media).
GP_LN_T = (-0.812, -1.4, 1.26)
GP_LN_ALPHA = (0.81, 0.458, 2.26, -0.58, 0.86)
GP_RHO = (0.705, 0.023)
#: Late-tail constants, fitted here to PDG's L(95 %) = t_max + 0.08 Z + 9.6 (see module doc).
TAIL_WEIGHT = (0.22, 0.0023, -0.017)
TAIL_LENGTH_X0 = (6.0, 0.017)
#: PDG constants for t_max = ln y + C_j (EM cascades).
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


def pdg_t_max(energy_gev: float, critical_energy_mev: float, particle: str = "electron") -> float:
    """PDG's shower maximum ``t_max = ln(E/E_c) + C_j`` (X0), ``C_e = -0.5``, ``C_gamma = +0.5``."""
    c = PDG_C_ELECTRON if particle == "electron" else PDG_C_PHOTON
    return math.log(energy_gev * 1000.0 / critical_energy_mev) + c


def pdg_l95(energy_gev: float, critical_energy_mev: float, z: float, particle: str = "electron") -> float:
    """PDG's 95 % longitudinal containment depth ``L(95 %) = t_max + 0.08 Z + 9.6`` (X0)."""
    return pdg_t_max(energy_gev, critical_energy_mev, particle) + 0.08 * z + 9.6


def _particle_shift(particle: str) -> float:
    if particle == "electron":
        return 0.0
    if particle == "photon":
        return PDG_C_PHOTON - PDG_C_ELECTRON
    raise ValueError(f"particle must be 'electron' or 'photon', got {particle!r}")


@dataclass
class LongitudinalProfile:
    """A (batch of) longitudinal profile(s): ``(1 - w) Gamma(alpha, beta) + w Gamma(alpha_tail,
    beta_tail)`` in depth ``t`` (X0). All fields are tensors broadcastable to the batch shape
    (e.g. ``(n,)`` for ``n`` events); the methods take depths ``t`` of shape ``(..., k)``
    where ``...`` is the batch shape, or any shape broadcastable to it."""

    alpha: torch.Tensor
    beta: torch.Tensor
    tail_weight: torch.Tensor
    alpha_tail: torch.Tensor
    beta_tail: torch.Tensor

    def _expand(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        extra = t.dim() - self.alpha.dim()
        fields = []
        for f in (self.alpha, self.beta, self.tail_weight, self.alpha_tail, self.beta_tail):
            fields.append(f.reshape(*f.shape, *([1] * max(extra, 0))) if extra > 0 else f)
        return tuple(fields)

    def cdf(self, t: torch.Tensor) -> torch.Tensor:
        """Fraction of the energy deposited before depth ``t`` (X0): the containment fraction."""
        a, b, w, a2, b2 = self._expand(t)
        return (1.0 - w) * gamma_p(a, b * t) + w * gamma_p(a2, b2 * t)

    def pdf(self, t: torch.Tensor) -> torch.Tensor:
        """``(1/E) dE/dt`` at depth ``t`` (per X0)."""
        a, b, w, a2, b2 = self._expand(t)

        def g(al: torch.Tensor, be: torch.Tensor) -> torch.Tensor:
            x = (be * t).clamp_min(1e-300)
            return be * torch.exp((al - 1.0) * torch.log(x) - x - torch.lgamma(al))

        return (1.0 - w) * g(a, b) + w * g(a2, b2)

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


def tail_parameters(
    t_max: torch.Tensor, z: torch.Tensor | float, log_y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The late-tail component: ``(weight, alpha_tail, beta_tail)`` for a core peaking at
    ``t_max`` (X0), in a medium of (effective) atomic number ``z``."""
    z = _t(z, t_max)
    w0, w1, w2 = TAIL_WEIGHT
    weight = (w0 + w1 * z + w2 * log_y).clamp(0.0, 0.6)
    beta_tail = 1.0 / (TAIL_LENGTH_X0[0] + TAIL_LENGTH_X0[1] * z)
    alpha_tail = 1.0 + beta_tail * t_max
    return weight * torch.ones_like(t_max), alpha_tail, beta_tail * torch.ones_like(t_max)


def mean_profile(
    energy_gev: torch.Tensor | float,
    critical_energy_mev: torch.Tensor | float,
    z: torch.Tensor | float,
    *,
    particle: str = "electron",
    with_tail: bool = True,
) -> LongitudinalProfile:
    """The average longitudinal profile of showers of energy ``energy_gev`` (GeV) in a medium
    with critical energy ``critical_energy_mev`` (MeV) and (effective) atomic number ``z``.

    ``with_tail=False`` gives the pure Grindhammer-Peters gamma (for comparison)."""
    log_y = ln_y(energy_gev, critical_energy_mev)
    z = _t(z, log_y)
    t_max = log_y + GP_T_OFFSET + _particle_shift(particle)
    c0, c1, c2 = GP_ALPHA
    alpha = c0 + (c1 + c2 / z) * log_y
    beta = (alpha - 1.0) / t_max
    weight, alpha_tail, beta_tail = tail_parameters(t_max, z, log_y)
    if not with_tail:
        weight = torch.zeros_like(weight)
    return LongitudinalProfile(alpha, beta, weight, alpha_tail, beta_tail)


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
    beta = (alpha - 1.0) / t_max
    weight, alpha_tail, beta_tail = tail_parameters(t_max, z, log_y)
    return LongitudinalProfile(alpha, beta, weight, alpha_tail, beta_tail)


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
        return LongitudinalProfile(
            *(f * ones for f in (prof.alpha, prof.beta, prof.tail_weight, prof.alpha_tail, prof.beta_tail))
        )

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
