"""Energy resolution from responses: width with its error, fit of stochastic and constant terms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

#: Floor added to a^2 and b^2 before the square root, so that a term (and its gradient) stays
#: finite when the data are consistent with zero: terms are reported as >= 0.01 %.
TERM_FLOOR = 1e-4


def resolution_with_error(response: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``std/mean`` of per-event responses and its asymptotic standard error, both
    differentiable (kurtosis-aware: ``se = R sqrt((kappa - 1)/(4n) + R^2/n)``)."""
    n = response.shape[0]
    mean = response.mean()
    d = response - mean
    m2 = (d**2).mean()
    r = response.std() / mean
    kappa = (d**4).mean() / m2**2
    se = r * torch.sqrt((kappa - 1.0).clamp_min(0.0) / (4 * n) + r**2 / n)
    return r, se


def resolution_estimate(response: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``std/mean`` of per-event responses (differentiable) and its standard error (a float):
    :func:`resolution_with_error`."""
    r, se = resolution_with_error(response)
    return r, float(se.detach())


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


@dataclass
class ResolutionFit:
    """The fitted ``sigma/E = a/sqrt(E) (+) b (+) N/E`` (fractions; ``N`` in GeV was known,
    not fitted) and the resolution it gives at the reference energy, each with its error.

    ``a``, ``b`` and ``at_reference`` are differentiable tensors; the errors are floats from
    the weighted least-squares covariance (delta method)."""

    a: torch.Tensor
    a_stderr: float
    b: torch.Tensor
    b_stderr: float
    noise_gev: torch.Tensor
    reference_energy_gev: float
    at_reference: torch.Tensor
    at_reference_stderr: float
    chi2: float


def _root_with_error(square: torch.Tensor, var: float) -> tuple[torch.Tensor, float]:
    """``sqrt(max(square, 0) + floor^2)`` and its error from ``var`` = Var(square)."""
    root = torch.sqrt(square.clamp_min(0.0) + TERM_FLOOR**2)
    sd = math.sqrt(max(var, 0.0))
    if float(square.detach()) > 2.0 * sd:
        return root, sd / (2.0 * float(root.detach()))
    return root, math.sqrt(sd)


def fit_resolution_terms(
    energies_gev: Sequence[float],
    resolutions: torch.Tensor,
    stderrs: torch.Tensor | Sequence[float],
    *,
    noise_gev: torch.Tensor | float = 0.0,
    reference_energy_gev: float = 10.0,
) -> ResolutionFit:
    """Weighted linear least squares of ``r_k^2 - N^2/E_k^2 = A/E_k + B`` over the energies
    (weights ``1/(2 r_k se_k)^2``), ``a = sqrt(max(A, 0) + floor^2)``, likewise ``b``.
    A term's error is ``se(A)/(2a)`` where ``A`` exceeds twice its error, else ``sqrt(se(A))``
    (the size of term the data can resolve).

    Differentiable in ``resolutions``, ``stderrs`` (the weights: pass tensors from
    :func:`resolution_with_error` for the total derivative) and ``noise_gev``: the closed-form
    solution of a 2 x 2 system. Needs at least two distinct energies."""
    e = torch.as_tensor(list(energies_gev), dtype=resolutions.dtype, device=resolutions.device)
    if e.numel() != resolutions.numel() or len(set(map(float, energies_gev))) < 2:
        raise ValueError("fit_resolution_terms needs one resolution per energy and >= 2 distinct energies")
    noise = torch.as_tensor(noise_gev, dtype=resolutions.dtype, device=resolutions.device)
    se = torch.as_tensor(
        stderrs if isinstance(stderrs, torch.Tensor) else list(stderrs),
        dtype=resolutions.dtype,
        device=resolutions.device,
    )
    var_y = (2.0 * resolutions * se).clamp_min(1e-15) ** 2
    w = 1.0 / var_y
    y = resolutions**2 - noise**2 / e**2
    x = torch.stack([1.0 / e, torch.ones_like(e)], dim=1)
    m = x.T @ (w[:, None] * x)
    cov = torch.linalg.inv(m)
    theta = cov @ (x.T @ (w * y))
    big_a, big_b = theta[0], theta[1]
    a, a_se = _root_with_error(big_a, float(cov[0, 0].detach()))
    b, b_se = _root_with_error(big_b, float(cov[1, 1].detach()))
    g = torch.tensor([1.0 / reference_energy_gev, 1.0], dtype=cov.dtype, device=cov.device)
    r2_ref = big_a / reference_energy_gev + big_b + noise**2 / reference_energy_gev**2
    at_ref = torch.sqrt(r2_ref.clamp_min(1e-12))
    at_ref_se = math.sqrt(max(float((g @ cov @ g).detach()), 0.0)) / (2.0 * float(at_ref.detach()))
    with torch.no_grad():
        resid = y - x @ theta
        chi2 = float((w * resid**2).sum())
    return ResolutionFit(
        a=a,
        a_stderr=a_se,
        b=b,
        b_stderr=b_se,
        noise_gev=noise,
        reference_energy_gev=float(reference_energy_gev),
        at_reference=at_ref,
        at_reference_stderr=at_ref_se,
        chi2=chi2,
    )
