"""The inference's likelihood: the kinks the inference sees (:class:`KinkData`), each muon's
log likelihood marginalised over its momentum (:func:`mixture_loglik`), its expected
information (:func:`chunk_fisher`) and its exact derivatives (:func:`entry_derivatives`).

Each muon's log likelihood depends on the densities of its own ``E`` path entries only (one per
layer, or four bilinear ones per layer when soft), so its exact Hessian is an ``E x E`` block:
:func:`entry_derivatives` treats every entry's ``u = ln lambda`` as a variable of its own,
computes the per-muon gradients with one backward pass and the ``(n, E, E)`` Hessian blocks with
``E`` Hessian-vector products (one per entry position, batched over all the chunk's muons), and
adds them up at the voxel pairs (:func:`~paretoopt.physics.tomography.fisher.scatter_pairs`).
That is the exact Hessian of the chunk's log likelihood in the voxels' ``u`` (the chain rule
through ``u_e = u[idx_e]``) at the cost of ``E + 1`` backward passes, not one per voxel. The
energy-loss rate is evaluated at each entry's own density (:class:`EntryRates`; the same spline
as :class:`~paretoopt.physics.tomography.scattering_model.LossModel`, interpolated in ``ln p``
of the log rate rather than of the rate: the two differ by ~1e-4 relative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from paretoopt.physics.tomography.fisher import muon_fisher, scatter_pairs
from paretoopt.physics.tomography.scattering_model import (
    EntryLoss,
    LossModel,
    ScatteringModel,
    covariance_model,
    kick_scale,
)


@dataclass
class KinkData:
    """What the inference sees of the reconstructed muons: the path model ``design``, the
    kinks ``dt, dx (n, 2)``, the track fits' covariance ``meas (n, 2, 3)``, the weights ``w
    (n,)``, momentum hypotheses ``p (n, Q)`` (GeV/c) with normalised log prior weights
    ``log_prior (n, Q)``, and the precision of ``ln p`` for the metric ``lnp_precision (n,)``."""

    design: ScatteringModel
    dt: torch.Tensor
    dx: torch.Tensor
    meas: torch.Tensor
    w: torch.Tensor
    p: torch.Tensor
    log_prior: torch.Tensor
    lnp_precision: torch.Tensor

    def __len__(self) -> int:
        return int(self.w.shape[0])

    def chunk(self, start: int, stop: int) -> KinkData:
        d = self.design
        sl = slice(start, stop)
        return KinkData(
            ScatteringModel(d.idx[sl], d.a[sl], d.length_cm[sl], d.entry_layer),
            self.dt[sl], self.dx[sl], self.meas[sl], self.w[sl], self.p[sl], self.log_prior[sl],
            self.lnp_precision[sl],
        )  # fmt: skip


#: Survival of a momentum hypothesis: a muon leaving the volume with less than ~10 MeV of
#: kinetic energy does not reach the lower panels (a smooth step of 10 MeV width, so the
#: likelihood stays differentiable in the densities).
STOP_GEV = 0.01
STOP_WIDTH_GEV = 0.01


def _log_gauss(s: torch.Tensor, dt: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """``log N((dt, dx); 0, S)`` summed over the two views; ``s (..., 2, 3)``, ``dt, dx`` broadcast."""
    stt, stx, sxx = s[..., 0], s[..., 1], s[..., 2]
    det = (stt * sxx - stx * stx).clamp_min(1e-300)
    quad = (sxx * dt * dt - 2.0 * stx * dt * dx + stt * dx * dx) / det
    return (-0.5 * (torch.log(det) + quad) - math.log(2.0 * math.pi)).sum(-1)


def mixture_loglik(
    data: KinkData, lam: torch.Tensor, loss: EntryLoss, nz: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n,)`` log likelihood of each muon's kink marginalised over its momentum hypotheses,
    given that it left the volume (the prior is truncated to the hypotheses that survive the
    material on its path), and the ``(n, Q)`` posterior responsibilities (detached)."""
    lam_e = lam[data.design.idx]  # (n, E)
    scale, _, exit_kinetic = kick_scale(data.design, lam, data.p, loss, nz)  # (n, E, Q)
    s = torch.einsum("neq,nevp->nqvp", scale * lam_e[:, :, None], data.design.a) + data.meas[:, None]
    # the muons seen are those that left the volume: the momentum prior is conditioned on it
    prior = data.log_prior + F.logsigmoid((exit_kinetic - STOP_GEV) / STOP_WIDTH_GEV)
    logn = _log_gauss(s, data.dt[:, None, :], data.dx[:, None, :]) + prior  # (n, Q)
    ll = torch.logsumexp(logn, dim=1) - torch.logsumexp(prior, dim=1)
    return ll, torch.softmax(logn.detach(), dim=1)


def chunk_fisher(
    data: KinkData, lam: torch.Tensor, p: torch.Tensor, loss: EntryLoss, nz: int, n_vox: int
) -> torch.Tensor:
    """``(V, V)`` expected information on ``u`` of a chunk of muons at momenta ``p (n,)``,
    the momentum profiled with precision ``data.lnp_precision``."""
    model = covariance_model(data.design, lam, p, loss, nz)
    s = model.s + data.meas
    per = muon_fisher(model.d, model.nuisance, s, data.lnp_precision) * data.w[:, None, None]
    return scatter_pairs(data.design.idx, per, n_vox)


class EntryRates:
    """The energy-loss rates of a path's entries evaluated at each entry's own density (an
    :class:`~paretoopt.physics.tomography.scattering_model.EntryLoss` whose ``lam`` holds one
    value per entry, ``idx`` indexing it), so that a muon's likelihood is a function of its
    entries alone."""

    def __init__(self, model: LossModel) -> None:
        self.model = model

    def entry_rates(
        self, idx: torch.Tensor, lam: torch.Tensor | None, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, E, Q)`` rates and ``d rate / d ln lambda`` (GeV/cm) of entries ``idx (n, E)``
        at momenta ``p (n, Q)``."""
        assert lam is not None
        return self.model.per_cm_and_derivative(lam[idx][:, :, None], p[:, None, :])


def entry_loglik(data: KinkData, u_e: torch.Tensor, loss: LossModel, nz: int) -> torch.Tensor:
    """``(n,)`` weighted log likelihood of each muon as a function of its entries' ``u_e (n,
    E)`` (:func:`mixture_loglik` with every entry a variable of its own)."""
    n, n_e = u_e.shape
    d = data.design
    local = torch.arange(n * n_e, device=u_e.device).reshape(n, n_e)
    own = KinkData(
        ScatteringModel(local, d.a, d.length_cm, d.entry_layer),
        data.dt, data.dx, data.meas, data.w, data.p, data.log_prior, data.lnp_precision,
    )  # fmt: skip
    ll, _ = mixture_loglik(own, torch.exp(u_e).reshape(-1), EntryRates(loss), nz)
    return data.w * ll


@dataclass(frozen=True)
class ChunkDerivatives:
    """A chunk's weighted log likelihood ``value``, its gradient ``grad (V,)`` and (if asked)
    its exact Hessian ``hess (V, V)`` in the voxels' ``u = ln(1/X0)``."""

    value: float
    grad: torch.Tensor | None
    hess: torch.Tensor | None


def entry_derivatives(
    data: KinkData, u: torch.Tensor, loss: LossModel, nz: int, order: int
) -> ChunkDerivatives:
    """The chunk's log likelihood at voxel values ``u (V,)`` and its derivatives up to
    ``order`` (0, 1 or 2) by the per-entry construction of the module docstring."""
    idx = data.design.idx
    n_vox = u.numel()
    if order == 0:
        with torch.no_grad():
            return ChunkDerivatives(float(entry_loglik(data, u[idx], loss, nz).sum()), None, None)
    with torch.enable_grad():
        u_e = u.detach()[idx].clone().requires_grad_(True)
        total = entry_loglik(data, u_e, loss, nz).sum()
        (g_e,) = torch.autograd.grad(total, u_e, create_graph=order >= 2)
        hess = None
        if order >= 2:
            n_e = idx.shape[1]
            rows = []
            for k in range(n_e):
                row = None
                if g_e.requires_grad:
                    (row,) = torch.autograd.grad(
                        g_e[:, k].sum(), u_e, retain_graph=k < n_e - 1, allow_unused=True
                    )
                rows.append(torch.zeros_like(u_e) if row is None else row.detach())
            hess = scatter_pairs(idx, torch.stack(rows, dim=1), n_vox)
    grad = torch.zeros(n_vox, dtype=u.dtype, device=u.device).index_add(
        0, idx.reshape(-1), g_e.detach().reshape(-1)
    )
    return ChunkDerivatives(float(total.detach()), grad, hess)


__all__ = [
    "STOP_GEV",
    "STOP_WIDTH_GEV",
    "ChunkDerivatives",
    "EntryRates",
    "KinkData",
    "chunk_fisher",
    "entry_derivatives",
    "entry_loglik",
    "mixture_loglik",
]
