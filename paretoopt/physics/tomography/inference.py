"""Per-voxel X0 inference: the maximum a posteriori map of ``u = ln(1/X0)`` under the
momentum-marginalised likelihood of every muon's kink and a robust matrix prior.

Model (per muon ``i`` and view): ``(dt, dx) ~ sum_q pi_iq N(0, S_iq)`` with ``S_iq = sum_e
lambda_e k_eq f a_e + M_i`` (:func:`paretoopt.physics.tomography.scattering_model.kick_scale`;
``pi_iq`` the momentum prior of :class:`~paretoopt.physics.tomography.momentum.MomentumModel`,
one node at the known momentum if it is known). ``lambda = exp(u)`` stays positive. The prior
is :class:`~paretoopt.physics.tomography.fisher.RobustPrior` around a matrix level ``mu`` fitted
with the map.

The fit is a damped Newton (Fisher-scoring) iteration on ``(u, mu)``: the exact gradient of the
log posterior (autograd, chunked over muons), the expected information with the momentum
profiled (:func:`~paretoopt.physics.tomography.fisher.muon_fisher` at each muon's posterior-mean
momentum) plus the prior's majorising weights as the metric, an Armijo backtracking line search
on the log posterior and a step cap of ``max_step`` in ``u``. It stops when the Newton decrement
``g^T H^-1 g / 2`` falls below ``tol`` (log-likelihood units) and reports the iterations used and
whether it converged; ``H^-1`` at the optimum is the posterior covariance (Laplace).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from paretoopt.physics.tomography.fisher import (
    RobustPrior,
    SPDSolve,
    linear_sigma,
    muon_fisher,
    posterior_precision,
    scatter_pairs,
)
from paretoopt.physics.tomography.scattering_model import (
    EntryLoss,
    InferenceGrid,
    LossModel,
    ScatteringModel,
    covariance_model,
    kick_scale,
)
from paretoopt.problem import Estimate


@dataclass(frozen=True)
class InferenceSettings:
    """Knobs of :func:`infer_x0`: ``max_iter`` Newton iterations at most, ``tol`` the Newton
    decrement at which the fit counts as converged (log-likelihood units), ``max_step`` the
    largest change of any ``u`` per iteration, ``prior`` the robust matrix prior,
    ``start_x0_cm`` the uniform starting map, ``chunk`` muons per chunk (memory), and
    ``x0_range_cm`` the range ``X0`` is kept in (a voxel no muon constrains sits at the
    prior), ``continuation`` the factors by which the prior starts wider than its scale
    (graduated non-convexity)."""

    max_iter: int = 60
    tol: float = 1e-2
    max_step: float = 2.0
    prior: RobustPrior = field(default_factory=RobustPrior)
    start_x0_cm: float = 30.0
    chunk: int = 8192
    x0_range_cm: tuple[float, float] = (0.05, 1.0e5)
    continuation: tuple[float, ...] = (4.0,)

    def __post_init__(self) -> None:
        if self.max_iter < 1:
            raise ValueError("max_iter must be >= 1")
        if not (self.tol > 0 and self.max_step > 0 and self.start_x0_cm > 0 and self.chunk >= 1):
            raise ValueError("tol, max_step, start_x0_cm and chunk must be > 0")


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


@dataclass(frozen=True)
class X0Estimate:
    """The inferred map, ``(nz, nx, ny)`` tensors: ``inv_x0_per_cm`` (1/cm), ``x0_cm``, the
    posterior standard deviation of ``ln X0`` and the muon weight seen per voxel; ``mu`` the
    fitted matrix level (``ln(1/X0)``), ``precision`` the ``(V + 1, V + 1)`` posterior precision
    of ``(u, mu)``, ``iterations`` and ``converged``."""

    inv_x0_per_cm: torch.Tensor
    x0_cm: torch.Tensor
    log_x0_stderr: torch.Tensor
    weight: torch.Tensor
    mu: float
    precision: torch.Tensor
    iterations: int
    converged: bool


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


def infer_x0(
    data: KinkData,
    grid: InferenceGrid,
    *,
    loss: LossModel,
    settings: InferenceSettings = InferenceSettings(),
    trace: list[dict[str, float]] | None = None,
    start: torch.Tensor | None = None,
) -> X0Estimate:
    """The MAP map of ``u = ln(1/X0)`` (module docstring); runs without gradients to the
    detector (evaluation mode). ``trace`` collects per iteration the log posterior, the Newton
    decrement and the step length taken; ``start`` (``(V,)`` values of ``u``) replaces the
    uniform start (then no continuation is run)."""
    n_vox, nz = grid.n_voxels, grid.shape[0]
    dtype, dev = data.w.dtype, data.w.device
    prior = settings.prior
    u_lo, u_hi = -math.log(settings.x0_range_cm[1]), -math.log(settings.x0_range_cm[0])
    u = torch.full((n_vox,), -math.log(settings.start_x0_cm), dtype=dtype, device=dev)
    if start is not None:
        u = start.to(dtype=dtype, device=dev).reshape(-1).clone()
    mu = u.median().clone()
    chunks = [(a, min(a + settings.chunk, len(data))) for a in range(0, max(len(data), 1), settings.chunk)]

    def value(u_: torch.Tensor, mu_: torch.Tensor, pr: RobustPrior) -> float:
        with torch.no_grad():
            lam = torch.exp(u_)
            tot = sum(
                float((data.chunk(a, b).w * mixture_loglik(data.chunk(a, b), lam, loss, nz)[0]).sum())
                for a, b in chunks
                if b > a
            )
            return tot + float(pr.log_density(u_, mu_))

    def grad_and_metric(u_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.zeros(n_vox, dtype=dtype, device=dev)
        fish = torch.zeros((n_vox, n_vox), dtype=dtype, device=dev)
        with torch.no_grad():
            table = loss.voxel_table(torch.exp(u_))
        for a, b in chunks:
            if b <= a:
                continue
            part = data.chunk(a, b)
            with torch.enable_grad():
                uu = u_.detach().clone().requires_grad_(True)
                ll, resp = mixture_loglik(part, torch.exp(uu), loss, nz)
                (gc,) = torch.autograd.grad((part.w * ll).sum(), uu)
            g = g + gc
            with torch.no_grad():
                p_hat = torch.exp((resp * torch.log(part.p)).sum(1))
                fish = fish + chunk_fisher(part, torch.exp(u_), p_hat, table, nz, n_vox)
        return g, fish

    # graduated non-convexity (Blake & Zisserman 1987): the Student-t prior is not log-concave,
    # so the fit starts with a wide prior (every voxel follows its data) and narrows it to the
    # target scale; the last stage runs to the tolerance
    stages = ([] if start is not None else [prior.scale * f for f in settings.continuation]) + [prior.scale]
    converged, it, h = False, 0, None
    for stage, scale in enumerate(stages):
        pr = RobustPrior(prior.dof, scale)
        last = stage == len(stages) - 1
        tol = settings.tol if last else max(settings.tol, 1.0)
        current = value(u, mu, pr)
        while it < settings.max_iter:
            it += 1
            g_data, fish = grad_and_metric(u)
            z = u - mu
            pull = (pr.dof + 1.0) * z / (pr.dof * pr.scale**2 + z * z)
            g = torch.cat([g_data - pull, pull.sum()[None]])
            h = posterior_precision(fish, pr.weights(u, mu))
            step = torch.cholesky_solve(g[:, None], torch.linalg.cholesky(h))[:, 0]
            slope = float((g * step).sum())
            if 0.5 * slope < tol:
                converged = last
                break
            big = float(step.abs().max())
            alpha = min(1.0, settings.max_step / big) if big > 0 else 1.0
            while True:
                u_new = (u + alpha * step[:-1]).clamp(u_lo, u_hi)
                mu_new = mu + alpha * step[-1]
                new = value(u_new, mu_new, pr)
                if new >= current + 1e-4 * alpha * slope or alpha < 1e-8:
                    break
                alpha *= 0.5
            if trace is not None:
                trace.append(
                    {
                        "iteration": it,
                        "stage": stage,
                        "log_posterior": new,
                        "decrement": 0.5 * slope,
                        "step": alpha,
                    }
                )
            u, mu, current = u_new, mu_new, new
    if not converged:
        warnings.warn(
            f"infer_x0 did not converge in {settings.max_iter} iterations", RuntimeWarning, stacklevel=2
        )
        _, fish = grad_and_metric(u)
        h = posterior_precision(fish, prior.weights(u, mu))
    assert h is not None
    with torch.no_grad():
        var = torch.diagonal(torch.cholesky_inverse(torch.linalg.cholesky(h)))[:-1]
        seen = (data.design.length_cm > 0).to(dtype) * data.w[:, None]
        vox_w = torch.zeros(n_vox, dtype=dtype, device=dev).index_add(
            0, data.design.idx.reshape(-1), seen.reshape(-1)
        )
    shape = grid.shape
    lam = torch.exp(u)
    return X0Estimate(
        inv_x0_per_cm=lam.reshape(shape),
        x0_cm=(1.0 / lam).reshape(shape),
        log_x0_stderr=var.sqrt().reshape(shape),
        weight=vox_w.reshape(shape),
        mu=float(mu),
        precision=h,
        iterations=it,
        converged=converged,
    )


def block_log_density(estimate: X0Estimate, mask: torch.Tensor) -> tuple[float, float, float]:
    """The inferred ``ln Lambda`` of the block's mean scattering density ``Lambda = mean_v 1/X0_v``
    over the voxels in ``mask``, as ``(estimate, mean of the voxels' ln(1/X0), sigma)``.

    Why not the mean of the voxels' ``u = ln(1/X0)``: the MAP of a log-scale from ``d``
    Gaussian degrees of freedom lies ``1/d`` low on average (``ln`` of a chi^2 mean: ``psi(d/2)
    - ln(d/2)``), and the voxels of a block are poorly separated from each other (a muon
    crossing two of them constrains their sum), so the mean of their logs is biased low by
    about half their mean posterior variance, though their sum is well measured. The MAP of
    the densities themselves is unbiased for a pure scale (the ML variance is), so ``ln`` of
    their mean, plus half the posterior variance of ``ln Lambda`` (its own log bias, small),
    is the estimate. The sigma is the delta method with weights ``lambda_v / sum lambda`` (at
    the truth, the Asimov figure's weights). Tested on a pure scale problem against the
    digamma formula in tests/physics/test_tomography_fom.py."""
    lam = estimate.inv_x0_per_cm.reshape(-1)
    m = mask.reshape(-1).to(lam.device)
    c = torch.zeros(lam.numel() + 1, dtype=lam.dtype, device=lam.device)
    c[:-1] = m.to(lam.dtype) * lam / lam[m].sum()
    sigma = float(linear_sigma(estimate.precision, c))
    value = math.log(float(lam[m].mean())) + 0.5 * sigma * sigma
    return value, float(torch.log(lam[m]).mean()), sigma


def log_x0_mse(estimate: X0Estimate, true_inv_x0_per_cm: torch.Tensor) -> Estimate:
    """Diagnostic only: mean over voxels of ``(ln X0_est - ln X0_true)^2`` (dominated by the
    matrix voxels; not a figure of merit) with a delta-method standard error."""
    e = torch.log(estimate.x0_cm) + torch.log(true_inv_x0_per_cm.to(estimate.x0_cm))
    sq = e * e
    s2 = estimate.log_x0_stderr.detach() ** 2
    var = (4.0 * sq.detach() * s2 + 2.0 * s2 * s2).sum() / sq.numel() ** 2
    return Estimate(sq.mean(), var.sqrt())


__all__ = [
    "InferenceSettings",
    "KinkData",
    "SPDSolve",
    "X0Estimate",
    "block_log_density",
    "infer_x0",
    "log_x0_mse",
    "mixture_loglik",
]
