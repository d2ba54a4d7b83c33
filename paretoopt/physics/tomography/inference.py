"""Per-voxel X0 inference: the maximum a posteriori map of ``u = ln(1/X0)`` under the
momentum-marginalised likelihood of every muon's kink and a robust matrix prior.

Model (per muon ``i`` and view): ``(dt, dx) ~ sum_q pi_iq N(0, S_iq)`` with ``S_iq = sum_e
lambda_e k_eq f a_e + M_i`` (:func:`paretoopt.physics.tomography.scattering_model.kick_scale`;
``pi_iq`` the momentum prior of :class:`~paretoopt.physics.tomography.momentum.MomentumModel`,
one node at the known momentum if it is known). ``lambda = exp(u)`` stays positive. The prior
is :class:`~paretoopt.physics.tomography.fisher.RobustPrior` around a matrix level ``mu`` fitted
with the map.

The fit is Newton's method on ``(u, mu)`` with the *observed* curvature: the exact gradient and
the exact Hessian of the log posterior (the likelihood's from per-muon ``E x E`` blocks,
:func:`~paretoopt.physics.tomography.likelihood.entry_derivatives`; the Student-t prior's own
second derivative), safeguarded by a trust region (the subproblem solved exactly from the
Hessian's eigendecomposition, More & Sorensen 1983; radius update of Nocedal & Wright,
*Numerical Optimization*, 2nd ed., alg. 4.1), since the posterior is not concave (the prior is
not log-concave, and a kink within the measurement noise or explained by a lower momentum
makes a muon's likelihood convex in places); voxels at a bound of ``x0_range_cm`` whose
gradient points outwards are held there (projected Newton, Bertsekas 1982). Near the optimum
the full Newton step is taken (quadratic convergence). Why not the expected information as the
metric (the previous Fisher scoring): with the momentum unknown it underestimates the
momentum-marginalised likelihood's curvature, and the line search cut its steps to
1/8-1/128 without converging in 60 iterations (docs/physics-muon-tomography.md, *The
inference*). The fit stops when the Hessian of the free variables is positive definite and the
Newton decrement ``g^T H^-1 g / 2`` is below ``tol`` (log-likelihood units), reporting
iterations, convergence and the gradient norm; ``H^-1`` at the optimum is the posterior
covariance (Laplace).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import torch

from paretoopt.physics.tomography.fisher import (
    RobustPrior,
    SPDSolve,
    linear_sigma,
    posterior_precision,
)
from paretoopt.physics.tomography.likelihood import (
    KinkData,
    chunk_fisher,
    entry_derivatives,
    mixture_loglik,
)
from paretoopt.physics.tomography.scattering_model import InferenceGrid, LossModel
from paretoopt.problem import Estimate


@dataclass(frozen=True)
class InferenceSettings:
    """Knobs of :func:`infer_x0`: ``max_iter`` Newton iterations at most, ``tol`` the Newton
    decrement at which the fit counts as converged (log-likelihood units), ``max_step`` the
    initial trust-region radius (Euclidean norm of the step in ``(u, mu)``; it grows to
    ``max_step sqrt(V + 1)``), ``prior`` the robust matrix prior,
    ``start_x0_cm`` the uniform starting map, ``chunk`` muons per chunk (memory), and
    ``x0_range_cm`` the range ``X0`` is kept in (a voxel no muon constrains sits at the
    prior), ``continuation`` the factors by which the prior starts wider than its scale
    (graduated non-convexity)."""

    max_iter: int = 150
    tol: float = 1e-2
    max_step: float = 2.0
    prior: RobustPrior = field(default_factory=RobustPrior)
    start_x0_cm: float = 30.0
    chunk: int = 8192
    #: the densest elements' X0 is about 0.3 cm (uranium 0.317 cm in paretoopt.physics.materials):
    #: with the momentum unknown, a voxel can otherwise run off to ever higher density (only
    #: the hardest muons survive it, and they scatter less: the likelihood flattens out)
    x0_range_cm: tuple[float, float] = (0.25, 1.0e5)
    continuation: tuple[float, ...] = (4.0,)

    def __post_init__(self) -> None:
        if self.max_iter < 1:
            raise ValueError("max_iter must be >= 1")
        if not (self.tol > 0 and self.max_step > 0 and self.start_x0_cm > 0 and self.chunk >= 1):
            raise ValueError("tol, max_step, start_x0_cm and chunk must be > 0")


@dataclass(frozen=True)
class X0Estimate:
    """The inferred map, ``(nz, nx, ny)`` tensors: ``inv_x0_per_cm`` (1/cm), ``x0_cm``, the
    posterior standard deviation of ``ln X0`` and the muon weight seen per voxel; ``mu`` the
    fitted matrix level (``ln(1/X0)``), ``precision`` the ``(V + 1, V + 1)`` posterior precision
    of ``(u, mu)`` (the observed information at the optimum when converged), ``iterations``,
    ``converged`` and ``gradient_norm`` (the log posterior's, at the returned map)."""

    inv_x0_per_cm: torch.Tensor
    x0_cm: torch.Tensor
    log_x0_stderr: torch.Tensor
    weight: torch.Tensor
    mu: float
    precision: torch.Tensor
    iterations: int
    converged: bool
    gradient_norm: float = math.nan


def _prior_terms(prior: RobustPrior, u: torch.Tensor, mu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Student-t prior's first and second derivatives of ``-log p(u | mu)`` in ``u``:
    ``(nu + 1) z / (nu s^2 + z^2)`` and ``(nu + 1)(nu s^2 - z^2) / (nu s^2 + z^2)^2`` (``z = u -
    mu``; negative beyond ``|z| = sqrt(nu) s``, where the prior is not log-concave)."""
    z = u - mu
    den = prior.dof * prior.scale**2 + z * z
    return (prior.dof + 1.0) * z / den, (prior.dof + 1.0) * (prior.dof * prior.scale**2 - z * z) / (den * den)


class _Posterior:
    """The log posterior of the fit at one prior, summed over chunks of muons: its value, its
    gradient and observed information (exact), and the expected information (the momentum
    profiled at each muon's posterior-mean momentum, plus the prior's majorising weights), the
    Laplace precision's stand-in where the observed one is not positive definite. Vectors and
    matrices are over ``(u, mu)``."""

    def __init__(self, parts: list[KinkData], loss: LossModel, nz: int, n_vox: int, prior: RobustPrior):
        self.parts, self.loss, self.nz, self.n_vox, self.prior = parts, loss, nz, n_vox, prior

    def value(self, u: torch.Tensor, mu: torch.Tensor) -> float:
        tot = sum(entry_derivatives(p, u, self.loss, self.nz, 0).value for p in self.parts)
        return tot + float(self.prior.log_density(u, mu))

    def derivatives(self, u: torch.Tensor, mu: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
        g = torch.zeros(self.n_vox, dtype=u.dtype, device=u.device)
        info = torch.zeros((self.n_vox, self.n_vox), dtype=u.dtype, device=u.device)
        tot = 0.0
        for part in self.parts:
            d = entry_derivatives(part, u, self.loss, self.nz, 2)
            assert d.grad is not None and d.hess is not None
            tot, g, info = tot + d.value, g + d.grad, info - d.hess
        pull, curv = _prior_terms(self.prior, u, mu)
        grad = torch.cat([g - pull, pull.sum()[None]])
        return tot + float(self.prior.log_density(u, mu)), grad, posterior_precision(info, curv)

    def metric(self, u: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        fish = torch.zeros((self.n_vox, self.n_vox), dtype=u.dtype, device=u.device)
        with torch.no_grad():
            lam = torch.exp(u)
            table = self.loss.voxel_table(lam)
            for part in self.parts:
                _, resp = mixture_loglik(part, lam, table, self.nz)
                p_hat = torch.exp((resp * torch.log(part.p)).sum(1))
                fish = fish + chunk_fisher(part, lam, p_hat, table, self.nz, self.n_vox)
        return posterior_precision(fish, self.prior.weights(u, mu))


def _trust_region_step(
    eig: torch.Tensor, vec: torch.Tensor, gq: torch.Tensor, radius: float
) -> tuple[torch.Tensor, bool]:
    """The step ``s`` maximising the quadratic model ``g^T s - s^T H s / 2`` within ``|s| <=
    radius``, from ``H``'s eigendecomposition ``(eig, vec)`` and ``gq = vec^T g`` (More &
    Sorensen, SIAM J. Sci. Stat. Comput. 4 (1983) 553; Nocedal & Wright ch. 4.3): the Newton
    step if ``H`` is positive definite and the step fits (then ``True``), else ``s(sigma) = (H
    + sigma I)^-1 g`` on the boundary with ``sigma > max(0, -eig_min)`` found by bisection, or
    in the hard case (``g`` orthogonal to the lowest eigenvector) that plus a move along it."""
    lo = float(eig[0])
    if lo > 0:
        newton = gq / eig
        if float(newton.norm()) <= radius:
            return vec @ newton, True

    def length(sigma: float) -> float:
        return float((gq / (eig + sigma)).norm())

    floor = max(0.0, -lo)
    tiny = 1e-12 * (1.0 + abs(lo) + float(eig[-1]))
    if length(floor + tiny) <= radius:  # the hard case
        shift = eig + floor
        coef = torch.where(shift > tiny, gq / shift.clamp_min(tiny), torch.zeros_like(gq))
        extra = math.sqrt(max(radius * radius - float(coef.norm()) ** 2, 0.0))
        coef[0] = coef[0] + extra
        return vec @ coef, False
    a, b = floor + tiny, floor + float(gq.norm()) / radius + tiny
    for _ in range(200):  # length() falls monotonically in sigma; bisect in log(sigma - floor)
        mid = floor + math.sqrt((a - floor) * (b - floor))
        a, b = (mid, b) if length(mid) > radius else (a, mid)
        if b - a <= 1e-12 * (b - floor):
            break
    return vec @ (gq / (eig + b)), False


def _free(u: torch.Tensor, g: torch.Tensor, u_lo: float, u_hi: float) -> torch.Tensor:
    """``(V + 1,)`` mask of the variables the step moves: all but the voxels at a bound whose
    gradient ``g`` (ascent) points outwards (``mu`` is always free)."""
    held = ((u >= u_hi) & (g[:-1] > 0)) | ((u <= u_lo) & (g[:-1] < 0))
    return torch.cat([~held, torch.ones(1, dtype=torch.bool, device=u.device)])


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
    detector (evaluation mode). ``trace`` collects per iteration the stage, the log posterior
    after the step, the Newton decrement and gradient norm before it, the damping ``d`` and step
    cap used, whether it was a full Newton step (``d = 0``, uncapped) and the ratio of actual to
    predicted gain; ``start`` (``(V,)`` values of ``u``) replaces the uniform start (then no
    continuation is run)."""
    n_vox, nz = grid.n_voxels, grid.shape[0]
    dtype, dev = data.w.dtype, data.w.device
    u_lo, u_hi = -math.log(settings.x0_range_cm[1]), -math.log(settings.x0_range_cm[0])
    u = torch.full((n_vox,), -math.log(settings.start_x0_cm), dtype=dtype, device=dev)
    if start is not None:
        u = start.to(dtype=dtype, device=dev).reshape(-1).clone()
    mu = u.median().clone()
    bounds = [(a, min(a + settings.chunk, len(data))) for a in range(0, len(data), settings.chunk)]
    parts = [data.chunk(a, b) for a, b in bounds]

    def posterior(scale: float) -> _Posterior:
        return _Posterior(parts, loss, nz, n_vox, RobustPrior(settings.prior.dof, scale))

    # graduated non-convexity (Blake & Zisserman 1987): the Student-t prior is not log-concave,
    # so the fit starts with a wide prior (every voxel follows its data) and narrows it to the
    # target scale; the last stage runs to the tolerance
    scales = [] if start is not None else [settings.prior.scale * f for f in settings.continuation]
    stages = [*scales, settings.prior.scale]
    converged, it, h, g_norm = False, 0, None, math.nan
    radius, max_radius = settings.max_step, settings.max_step * math.sqrt(n_vox + 1)
    for stage, scale in enumerate(stages):
        post = posterior(scale)
        last = stage == len(stages) - 1
        tol = settings.tol if last else max(settings.tol, 1.0)
        while it < settings.max_iter:
            it += 1
            current, g, h = post.derivatives(u, mu)
            # projected Newton (Bertsekas 1982): a voxel at a bound of x0_range_cm whose
            # gradient points outwards is held there; the step is taken in the others
            free = _free(u, g, u_lo, u_hi)
            g_free, h_free = g[free], h[free][:, free]
            g_norm = float(g_free.norm())
            eig, vec = torch.linalg.eigh(h_free)
            gq = vec.T @ g_free
            decrement = 0.5 * float((gq * gq / eig).sum()) if float(eig[0]) > 0 else math.nan
            if decrement < tol:
                converged = last
                break
            while True:  # shrink the trust region until the step gains
                step_free, interior = _trust_region_step(eig, vec, gq, radius)
                norm = float(step_free.norm())
                predicted = float((g_free * step_free).sum() - 0.5 * (step_free * (h_free @ step_free)).sum())
                step = torch.zeros_like(g).masked_scatter(free, step_free)
                u_new = (u + step[:-1]).clamp(u_lo, u_hi)
                mu_new = mu + step[-1]
                new = post.value(u_new, mu_new)
                ratio = (new - current) / predicted if predicted > 0 else -math.inf
                if ratio < 0.25:
                    radius = 0.25 * norm
                elif ratio > 0.75 and not interior:
                    radius = min(2.0 * radius, max_radius)
                if new > current or radius < 1e-10:
                    break
            if trace is not None:
                trace.append(
                    {
                        "iteration": it,
                        "stage": stage,
                        "log_posterior": max(new, current),
                        "decrement": decrement,
                        "gradient_norm": g_norm,
                        "step_norm": norm,
                        "full_newton": float(interior),
                        "ratio": ratio,
                    }
                )
            if new <= current:  # no step gains any more: stalled at the numerical precision
                break
            u, mu = u_new, mu_new
    post = posterior(settings.prior.scale)
    if not converged:
        warnings.warn(
            f"infer_x0 did not converge in {settings.max_iter} iterations", RuntimeWarning, stacklevel=2
        )
        _, g, h = post.derivatives(u, mu)
        g_norm = float(g[_free(u, g, u_lo, u_hi)].norm())
    assert h is not None
    if int(torch.linalg.cholesky_ex(h)[1]) != 0:
        # not a maximum in every direction (not converged, or voxels held at a bound): the
        # expected information stands in for the observed one as the Laplace precision
        h = post.metric(u, mu)
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
        gradient_norm=g_norm,
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
