"""The local surrogate of the ``surrogate`` inner mode: every output (objective or constraint)
as a quadratic in the unit box around a centre, fitted by weighted least squares to the
simulations inside the trust region.

Coordinates are scaled to the region, ``s = (t - centre) / radius``. The model has cross terms
when ``d <= FULL_MAX_DIM`` (``1 + d + d(d+1)/2`` coefficients), else a diagonal quadratic
(``1 + 2d``). Each simulation is weighted by ``1 / stderr^2`` of its output (equal weights for
exact outputs); a small ridge on the second-order terms keeps a poorly spread sample from
inventing curvature. Predictions are torch tensors, so the scalarised loss of the model has an
autograd gradient: the surrogate's gradient the inner loop descends (as L-GSO, Shirobokov et
al. 2020, arXiv:2002.04632, does with a learned local generative model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Largest dimension with cross terms; above it the model is a diagonal quadratic.
FULL_MAX_DIM = 4
#: Ridge on the second-order coefficients, relative to the (standardised) data.
RIDGE = 1e-4


def n_features(d: int) -> int:
    """Coefficients of the model in ``d`` dimensions."""
    return 1 + d + d * (d + 1) // 2 if d <= FULL_MAX_DIM else 1 + 2 * d


def features(s: torch.Tensor) -> torch.Tensor:
    """The model's features of scaled points ``s`` (``n x d``): 1, linear, squares[, products]."""
    n, d = s.shape
    cols = [torch.ones(n, dtype=s.dtype), *[s[:, i] for i in range(d)]]
    if d <= FULL_MAX_DIM:
        cols += [s[:, i] * s[:, j] for i in range(d) for j in range(i, d)]
    else:
        cols += [s[:, i] ** 2 for i in range(d)]
    return torch.stack(cols, dim=1)


@dataclass(frozen=True)
class LocalModel:
    """Quadratics of every output around ``centre`` (unit box, radius ``radius``), fitted on
    ``n_points`` simulations; ``coef`` is ``p x k`` in standardised outputs (``mean``, ``scale``)."""

    centre: np.ndarray
    radius: float
    coef: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    n_points: int

    def predict(self, t: torch.Tensor) -> torch.Tensor:
        """The outputs (natural units) at unit-box points ``t`` (``d`` or ``n x d``)."""
        single = t.dim() == 1
        tt = t.reshape(1, -1) if single else t
        c = torch.as_tensor(self.centre, dtype=tt.dtype)
        y = features((tt - c) / self.radius) @ self.coef * self.scale + self.mean
        return y[0] if single else y


def fit_local_model(
    t: np.ndarray, y: np.ndarray, stderr: np.ndarray, centre: np.ndarray, radius: float
) -> LocalModel:
    """Fit the quadratics to simulations at ``t`` (``n x d`` unit box) with outputs ``y`` and
    their standard errors ``stderr`` (``n x k``); needs ``n >= n_features(d)`` for a unique fit
    (fewer points are fitted with the ridge alone holding the curvature)."""
    n, d = t.shape
    tt = torch.as_tensor(t, dtype=torch.float64)
    phi = features((tt - torch.as_tensor(centre, dtype=torch.float64)) / radius)
    yy = torch.as_tensor(y, dtype=torch.float64)
    mean = yy.mean(dim=0)
    scale = yy.std(dim=0, correction=0) if n > 1 else torch.ones_like(mean)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    ys = (yy - mean) / scale
    se = torch.as_tensor(stderr, dtype=torch.float64) / scale
    p = phi.shape[1]
    ridge = torch.zeros(p, dtype=torch.float64)
    ridge[1 + d :] = RIDGE
    ridge[1 : 1 + d] = 1e-10
    coefs = []
    for k in range(yy.shape[1]):
        var = se[:, k] ** 2
        w = (
            1.0 / (var + 1e-3 * var.mean())
            if bool(torch.any(var > 0))
            else torch.ones(n, dtype=torch.float64)
        )
        w = w / w.mean()
        a = phi.T @ (w[:, None] * phi) + torch.diag(ridge) * n
        b = phi.T @ (w * ys[:, k])
        # numpy's LAPACK on a p x p system: the same bits in every process (torch's threaded
        # lstsq is not, and a resumed run must ask the simulator for the same designs)
        coefs.append(torch.from_numpy(np.linalg.lstsq(a.numpy(), b.numpy(), rcond=None)[0]))
    return LocalModel(
        np.asarray(centre, dtype=float), float(radius), torch.stack(coefs, dim=1), mean, scale, n
    )
