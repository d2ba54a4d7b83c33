"""Information on the voxels' scattering densities: the per-muon Fisher matrix with the momentum
as a nuisance parameter, its accumulation over chunks of muons with recomputation in the
backward pass, the robust matrix prior and the posterior standard deviation of a linear
combination of ``ln(1/X0)``.

Per muon and view the kink ``(dt, dx)`` is zero-mean Gaussian with covariance ``S = sum_e
lambda_e c_e + M`` (2 x 2, stored as ``(tt, tx, xx)``). For parameters ``u = ln lambda`` the
Fisher information of a Gaussian covariance model is ``F_jk = 1/2 tr(S^-1 D_j S^-1 D_k)`` with
``D_j = dS/du_j = lambda_j c_j`` (e.g. Porat & Friedlander; the same matrix weights the moments
in Schultz et al. 2007's covariance fit). With the momentum unknown, ``eta = ln p`` enters every
``c_e`` and is profiled out under a Gaussian constraint of precision ``tau`` (the spectrum's
width): ``F_eff = F_uu - F_u_eta F_u_eta^T / (F_eta_eta + tau)`` (Schur complement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


def moment_metric(s: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` matrix ``W`` with ``a^T W b = tr(S^-1 A S^-1 B)`` for symmetric 2 x 2
    matrices stored as ``(tt, tx, xx)``; ``s (..., 3)`` is ``S``."""
    stt, stx, sxx = s[..., 0], s[..., 1], s[..., 2]
    det = (stt * sxx - stx * stx).clamp_min(1e-300)
    ptt, ptx, pxx = sxx / det, -stx / det, stt / det
    r0 = torch.stack([ptt * ptt, 2 * ptt * ptx, ptx * ptx], -1)
    r1 = torch.stack([2 * ptt * ptx, 2 * (ptt * pxx + ptx * ptx), 2 * ptx * pxx], -1)
    r2 = torch.stack([ptx * ptx, 2 * ptx * pxx, pxx * pxx], -1)
    return torch.stack([r0, r1, r2], -2)


def muon_fisher(
    d: torch.Tensor, nuisance: torch.Tensor, s: torch.Tensor, precision: torch.Tensor
) -> torch.Tensor:
    """Per-muon Fisher information ``(n, E, E)`` on ``u = ln lambda`` of its entries.

    Args:
        d: ``(n, E, 2, 3)`` derivatives ``dS/du_e`` per view.
        nuisance: ``(n, 2, 3)`` derivative ``dS/d ln p``.
        s: ``(n, 2, 3)`` the covariance ``S``.
        precision: ``(n,)`` Gaussian-constraint precision of ``ln p`` (``inf``: known momentum).
    """
    w = moment_metric(s)  # (n, 2, 3, 3)
    wd = torch.einsum("nvpq,nevq->nevp", w, d)
    f_uu = 0.5 * torch.einsum("nevp,nfvp->nef", d, wd)
    f_ue = 0.5 * torch.einsum("nevp,nvp->ne", wd, nuisance)
    f_ee = 0.5 * torch.einsum("nvp,nvpq,nvq->n", nuisance, w, nuisance)
    shrink = torch.where(torch.isinf(precision), torch.zeros_like(f_ee), 1.0 / (f_ee + precision))
    return f_uu - shrink[:, None, None] * f_ue[:, :, None] * f_ue[:, None, :]


def scatter_pairs(idx: torch.Tensor, vals: torch.Tensor, n_vox: int) -> torch.Tensor:
    """``(V, V)`` sum of per-muon ``(n, E, E)`` blocks at voxel pairs ``idx (n, E)``."""
    pair = (idx[:, :, None] * n_vox + idx[:, None, :]).reshape(-1)
    out = torch.zeros(n_vox * n_vox, dtype=vals.dtype, device=vals.device)
    return out.index_add(0, pair, vals.reshape(-1)).reshape(n_vox, n_vox)


class _ChunkedSum(torch.autograd.Function):
    """``sum_c fn(c, params)`` over chunks without keeping any chunk's graph: the forward runs
    each chunk without gradients; the backward runs each chunk again with gradients and
    back-propagates the incoming gradient through it (memory of one chunk, time of two
    forwards plus one backward)."""

    @staticmethod
    def forward(
        ctx: Any, fn: Callable[..., tuple[torch.Tensor, ...]], n_chunks: int, *params: torch.Tensor
    ) -> Any:  # type: ignore[override]
        total: list[torch.Tensor] | None = None
        with torch.no_grad():
            for c in range(n_chunks):
                out = fn(c, params)
                total = list(out) if total is None else [a + b for a, b in zip(total, out, strict=True)]
        assert total is not None
        ctx.fn, ctx.n_chunks = fn, n_chunks
        ctx.save_for_backward(*params)
        return tuple(total)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> Any:  # type: ignore[override]
        params = ctx.saved_tensors
        need = [i for i, p in enumerate(params) if ctx.needs_input_grad[i + 2]]
        acc: list[torch.Tensor | None] = [None] * len(params)
        for c in range(ctx.n_chunks):
            with torch.enable_grad():
                local = [p.detach().requires_grad_(i in need) for i, p in enumerate(params)]
                out = ctx.fn(c, tuple(local))
                pairs = [(o, g) for o, g in zip(out, grads, strict=True) if g is not None and o.requires_grad]
                if not pairs or not need:
                    continue
                got = torch.autograd.grad(
                    [o for o, _ in pairs], [local[i] for i in need], [g for _, g in pairs], allow_unused=True
                )
            for i, g in zip(need, got, strict=True):
                prev = acc[i]
                if g is not None:
                    acc[i] = g if prev is None else prev + g
        return (None, None, *acc)


def chunked_sum(
    fn: Callable[[int, Sequence[torch.Tensor]], tuple[torch.Tensor, ...]],
    n_chunks: int,
    params: Sequence[torch.Tensor],
    *,
    checkpoint: bool = True,
) -> tuple[torch.Tensor, ...]:
    """``sum_c fn(c, params)`` (a tuple of tensors). With ``checkpoint`` (the default) the
    memory is that of one chunk, whatever the number of chunks, and the backward recomputes
    each chunk; without it, plain autograd keeps every chunk's graph (the reference the
    chunked computation is tested against)."""
    if not checkpoint or not torch.is_grad_enabled() or not any(p.requires_grad for p in params):
        total: list[torch.Tensor] | None = None
        for c in range(n_chunks):
            out = fn(c, params)
            total = list(out) if total is None else [a + b for a, b in zip(total, out, strict=True)]
        assert total is not None
        return tuple(total)
    return _ChunkedSum.apply(fn, n_chunks, *params)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RobustPrior:
    """The matrix prior on ``u = ln(1/X0)``: Student-t with ``dof`` degrees of freedom and scale
    ``scale`` around the matrix level ``mu`` (a free parameter of the fit): most voxels are
    matrix, a few (the objects sought) may lie far off, and those are barely pulled back (the
    t density's curvature falls as ``1 / (u - mu)^2``). The fit uses the majorising quadratic
    weights ``(dof + 1) / (dof scale^2 + (u - mu)^2)`` (iteratively reweighted, as for any
    Student-t model)."""

    dof: float = 1.0
    scale: float = 0.5

    def __post_init__(self) -> None:
        if not (self.dof > 0 and self.scale > 0):
            raise ValueError("RobustPrior needs dof > 0 and scale > 0")

    def log_density(self, u: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        z = (u - mu) / self.scale
        return -0.5 * (self.dof + 1.0) * torch.log1p(z * z / self.dof).sum()

    def weights(self, u: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        return (self.dof + 1.0) / (self.dof * self.scale**2 + (u - mu) ** 2)


def posterior_precision(fisher: torch.Tensor, prior_weights: torch.Tensor) -> torch.Tensor:
    """``(V + 1, V + 1)`` precision of ``(u, mu)``: the data's Fisher matrix plus the prior's
    quadratic weights ``sum_v w_v (u_v - mu)^2 / 2`` (the matrix level ``mu`` is a parameter)."""
    n = fisher.shape[0]
    h = torch.zeros((n + 1, n + 1), dtype=fisher.dtype, device=fisher.device)
    h[:n, :n] = fisher + torch.diag(prior_weights)
    h[:n, n] = -prior_weights
    h[n, :n] = -prior_weights
    h[n, n] = prior_weights.sum()
    return h


class SPDSolve(torch.autograd.Function):
    """``x = M^-1 r`` for a symmetric positive-definite ``M`` by Cholesky, with the implicit
    backward ``dr = M^-1 g``, ``dM = -(M^-1 g) x^T``, reusing the factor (O(V^2) instead of
    differentiating through the factorisation, O(V^3))."""

    @staticmethod
    def forward(ctx: Any, m: torch.Tensor, r: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        chol = torch.linalg.cholesky(m)
        x = torch.cholesky_solve(r[:, None], chol)[:, 0]
        ctx.save_for_backward(chol, x)
        return x

    @staticmethod
    def backward(ctx: Any, gx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        chol, x = ctx.saved_tensors
        v = torch.cholesky_solve(gx[:, None], chol)[:, 0]
        return -v[:, None] * x[None, :], v


def linear_sigma(precision: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Posterior standard deviation ``sqrt(c^T H^-1 c)`` of the combination ``c`` of the
    parameters with precision ``H`` (differentiable in ``H``)."""
    x = SPDSolve.apply(precision, c)
    return torch.sqrt((c * x).sum())


def block_vector(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(V + 1,)`` weights of the mean of ``u`` over the voxels in ``mask`` (0 for ``mu``)."""
    flat = mask.reshape(-1).to(dtype)
    c = torch.zeros(flat.numel() + 1, dtype=dtype, device=mask.device)
    c[:-1] = flat / flat.sum().clamp_min(1.0)
    return c


__all__ = [
    "RobustPrior",
    "SPDSolve",
    "block_vector",
    "chunked_sum",
    "linear_sigma",
    "moment_metric",
    "muon_fisher",
    "posterior_precision",
    "scatter_pairs",
]
