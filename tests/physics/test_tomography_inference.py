"""The MAP inference's fit with the momentum unknown (the default): it reaches a stationary
point in few iterations, with full Newton steps near the optimum, and agrees with an
independent optimiser (scipy's L-BFGS-B) run to a tight tolerance on the same posterior."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from paretoopt.physics.tomography import (
    InferenceGrid,
    InferenceSettings,
    LossModel,
    RobustPrior,
    infer_x0,
)
from paretoopt.physics.tomography.likelihood import KinkData, mixture_loglik
from tests.physics.column_scans import column_scan

torch.set_num_threads(1)

#: 2 x 2 columns of two 10 cm layers: lead (PDG X0 0.5612 cm) and iron (1.757 cm) in the top
#: layer, water (36.08 cm) elsewhere
X0_CM = [36.08, 36.08, 36.08, 36.08, 0.5612, 1.757, 36.08, 36.08]


def _scan(n_per_column: int = 1000, seed: int = 7) -> tuple[KinkData, InferenceGrid, LossModel, torch.Tensor]:
    """Vertical muons through each column, true momenta drawn from the spectrum's 8 nodes
    (0.5-50 GeV at the zenith), kinks drawn from the model's own Gaussian at the true momentum;
    the inference sees only the spectrum (momentum unknown; ``column_scan``)."""
    grid = InferenceGrid((2, 2, 2), (0.0, 0.0, 0.0), 0.1)
    scan = column_scan(torch.tensor(X0_CM, dtype=torch.float64), n_per_column, seed)
    return scan.data, grid, scan.loss, scan.lam


def test_unknown_momentum_fit_converges_with_full_newton_steps() -> None:
    """Seeded, 8 voxels, 4,000 muons, momentum unknown: the observed-curvature trust-region
    Newton fit converges (Newton decrement below 1e-8) within 25 iterations, its last steps
    are full Newton steps taken whole, the log posterior's last relative change is below
    1e-10 and the gradient at the map is below 1e-4 (recomputed here by autograd through the
    voxel-table likelihood, a code path the fit does not use)."""
    data, grid, loss, _ = _scan()
    prior = RobustPrior(1.0, 0.5)
    settings = InferenceSettings(prior=prior, tol=1e-8, max_iter=60)
    trace: list[dict[str, float]] = []
    est = infer_x0(data, grid, loss=loss, settings=settings, trace=trace)
    assert est.converged
    assert est.iterations <= 25
    final = [t for t in trace if t["stage"] == trace[-1]["stage"]]
    assert final[-1]["full_newton"] == 1.0 and final[-2]["full_newton"] == 1.0
    assert final[-1]["ratio"] == pytest.approx(1.0, abs=0.05)
    last, before = final[-1]["log_posterior"], final[-2]["log_posterior"]
    assert abs(last - before) / abs(last) < 1e-10
    assert est.gradient_norm < 1e-4
    u = torch.log(est.inv_x0_per_cm.reshape(-1)).clone().requires_grad_(True)
    mu = torch.tensor(est.mu, dtype=torch.float64, requires_grad=True)
    ll, _ = mixture_loglik(data, torch.exp(u), loss, 2)
    (ll.sum() + prior.log_density(u, mu)).backward()
    assert u.grad is not None and mu.grad is not None
    # the voxel-table loss interpolates the rate (not its log) in ln p: ~1e-4 relative apart
    assert float(torch.cat([u.grad, mu.grad[None]]).norm()) < 1e-2


def test_unknown_momentum_fit_agrees_with_lbfgsb() -> None:
    """The same posterior maximised by scipy's L-BFGS-B from the uniform start (gradient by
    autograd through the voxel-table likelihood, pgtol 1e-10): the two maps agree within 2e-3
    in every voxel's ln X0 and the fitted matrix level within 2e-3, and the lead voxel's X0 is
    found (0.5612 cm, within 20 %)."""
    data, grid, loss, _ = _scan()
    prior = RobustPrior(1.0, 0.5)
    est = infer_x0(data, grid, loss=loss, settings=InferenceSettings(prior=prior, tol=1e-8))
    assert est.converged

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ll, _ = mixture_loglik(data, torch.exp(t[:-1]), loss, 2)
        f = -(ll.sum() + prior.log_density(t[:-1], t[-1]))
        f.backward()
        assert t.grad is not None
        return float(f.detach()), t.grad.numpy().copy()

    start = np.full(9, -math.log(30.0))
    res = minimize(
        objective, start, jac=True, method="L-BFGS-B",
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 30},
    )  # fmt: skip
    u_newton = torch.log(est.inv_x0_per_cm.reshape(-1)).numpy()
    assert np.abs(u_newton - res.x[:-1]).max() < 2e-3
    assert abs(est.mu - res.x[-1]) < 2e-3
    assert float(est.x0_cm.reshape(-1)[4]) == pytest.approx(0.5612, rel=0.2)


def test_unknown_momentum_fit_is_insensitive_to_its_settings() -> None:
    """Chunk size, continuation, starting map and tolerance do not move the converged map (every
    voxel's ln X0 within 1e-3 of the reference fit's; its Laplace sigma of the lead voxel within
    1e-3 relative): once converged, only the data and the prior determine it."""
    data, grid, loss, _ = _scan()
    prior = RobustPrior(1.0, 0.5)
    ref = infer_x0(data, grid, loss=loss, settings=InferenceSettings(prior=prior, tol=1e-8))
    variants = [
        InferenceSettings(prior=prior, tol=1e-6, chunk=700),
        InferenceSettings(prior=prior, tol=1e-6, continuation=(8.0, 2.0), start_x0_cm=10.0),
        InferenceSettings(prior=prior, tol=1e-6, continuation=(), start_x0_cm=100.0, max_step=0.5),
    ]
    u_ref = torch.log(ref.inv_x0_per_cm.reshape(-1))
    for settings in variants:
        est = infer_x0(data, grid, loss=loss, settings=settings)
        assert est.converged, settings
        u = torch.log(est.inv_x0_per_cm.reshape(-1))
        assert float((u - u_ref).abs().max()) < 1e-3, settings
        lead = (est.log_x0_stderr.reshape(-1)[4], ref.log_x0_stderr.reshape(-1)[4])
        assert float(lead[0]) == pytest.approx(float(lead[1]), rel=1e-3), settings
