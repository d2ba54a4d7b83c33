"""What the inference knows of each muon's momentum: nothing but the spectrum (default), a
coarse measurement, or the true value.

A scattering-tomography scanner rarely measures momenta. The likelihood of a muon's kink is
then marginalised over the momentum: a mixture over ``n_nodes`` momenta ``p_q`` (log-spaced
over the generated range) with prior weights from the sea-level spectrum at the muon's
measured zenith angle, ``pi_q(theta) ~ I(E_q, cos theta) E_q d(ln E)`` (Guan et al. 2015,
:func:`paretoopt.physics.muons.sea_level_flux`; the factor ``cos theta`` of the rate through a
horizontal plane is common to all nodes). A coarse measurement of relative resolution ``r``
multiplies the weights by a log-normal likelihood ``N(ln p_meas; ln p_q, r)``.

For the expected (Asimov) information the per-muon momentum is a nuisance parameter ``ln p``
with a Gaussian constraint of the spectrum's (and measurement's) width in ``ln p``
(:meth:`MomentumModel.log_p_precision`); profiling it out is exact for a Gaussian prior and an
approximation of the mixture: a conservative one, its sigma 16-21 % above the spread of the
MAP estimate (10-15 % above the exact mixture's Fisher sigma) where the data follow the model
(tests/physics/test_tomography_sigma.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from paretoopt.physics.muons import MUON_MASS_GEV, sea_level_flux

MOMENTUM_MODES = ("unknown", "measured", "perfect")


@dataclass(frozen=True)
class MomentumModel:
    """``mode``: "unknown" (spectrum only, the default), "measured" (relative resolution
    ``resolution``, i.e. the standard deviation of ``ln p``), or "perfect" (the true momentum,
    TomOpt's assumption). ``n_nodes``: momenta of the marginalisation grid over
    ``range_gev``."""

    mode: str = "unknown"
    resolution: float = 0.5
    n_nodes: int = 16
    range_gev: tuple[float, float] = (0.5, 500.0)

    def __post_init__(self) -> None:
        if self.mode not in MOMENTUM_MODES:
            raise ValueError(f"momentum mode must be one of {MOMENTUM_MODES}, got {self.mode!r}")
        if self.mode == "measured" and not self.resolution > 0:
            raise ValueError("a measured momentum needs resolution > 0")
        if self.n_nodes < 2:
            raise ValueError("n_nodes must be >= 2")

    def nodes(
        self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """``(Q,)`` log-spaced momentum nodes (GeV/c) at the centres of equal ``ln p`` cells."""
        lo, hi = (math.log(v) for v in self.range_gev)
        edges = torch.linspace(lo, hi, self.n_nodes + 1, dtype=torch.float64)
        return torch.exp(0.5 * (edges[1:] + edges[:-1])).to(dtype=dtype, device=device)

    def log_weights(self, cos_theta: torch.Tensor, measured_gev: torch.Tensor | None = None) -> torch.Tensor:
        """``(n, Q)`` normalised log prior weights of the nodes for muons of zenith cosines
        ``cos_theta`` (and measured momenta, mode "measured")."""
        p = self.nodes(cos_theta.dtype, cos_theta.device)
        e = torch.sqrt(p * p + MUON_MASS_GEV**2)
        c = cos_theta.clamp(0.05, 1.0)[:, None]
        flux = sea_level_flux(e[None, :].cpu(), c.cpu()).to(dtype=cos_theta.dtype, device=cos_theta.device)
        # density per unit ln p: I(E) dE/d(ln p) = I(E) p^2 / E
        logw = torch.log(flux.clamp_min(1e-300)) + torch.log(p * p / e)[None, :]
        if self.mode == "measured":
            if measured_gev is None:
                raise ValueError("mode 'measured' needs the measured momenta")
            d = (torch.log(measured_gev)[:, None] - torch.log(p)[None, :]) / self.resolution
            logw = logw - 0.5 * d * d
        return logw - torch.logsumexp(logw, dim=1, keepdim=True)

    def log_p_precision(self, cos_theta: torch.Tensor) -> torch.Tensor:
        """``(n,)`` precision (1/variance) of ``ln p`` a muon's prior carries: the spectrum's
        (its variance over the nodes at the muon's zenith angle), plus ``1 / resolution^2``
        if measured; ``inf`` if perfect."""
        if self.mode == "perfect":
            return torch.full_like(cos_theta, math.inf)
        table = _spectrum_precision(self.range_gev).to(cos_theta.device, cos_theta.dtype)
        u = (cos_theta.clamp(0.0, 1.0) * (table.numel() - 1)).clamp(0.0, table.numel() - 1.001)
        j = u.long()
        prec = table[j] + (u - j) * (table[j + 1] - table[j])
        if self.mode == "measured":
            prec = prec + 1.0 / self.resolution**2
        return prec

    def measure(self, true_gev: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Simulated measurements: ``p exp(resolution z)`` (log-normal), drawn for every mode so
        that the random stream does not depend on the mode."""
        z = torch.randn(true_gev.shape, generator=generator, device=true_gev.device, dtype=torch.float32)
        return true_gev * torch.exp(self.resolution * z.to(true_gev.dtype))


@functools.lru_cache(maxsize=8)
def _spectrum_precision(range_gev: tuple[float, float], n_cos: int = 201) -> torch.Tensor:
    """``(n_cos,)`` precision of ``ln p`` under the spectrum at ``cos theta = 0 .. 1`` (64 nodes),
    tabulated once (linear interpolation in ``cos theta`` between the rows)."""
    spectrum = MomentumModel("unknown", n_nodes=64, range_gev=range_gev)
    c = torch.linspace(0.0, 1.0, n_cos, dtype=torch.float64)
    logw = spectrum.log_weights(c)
    lnp = torch.log(spectrum.nodes())[None, :]
    pw = torch.exp(logw)
    mean = (pw * lnp).sum(1, keepdim=True)
    return 1.0 / (pw * (lnp - mean) ** 2).sum(1)
