"""Which sigma of the block is right, with the momentum unknown: the empirical spread of the MAP
estimate over seeded replicate scans against the inference's Laplace sigma (its observed
information), the exact momentum-marginalised Fisher information (estimated here by the outer
product of the per-muon scores at the truth, a computation the package does not make) and the
figure of merit's Asimov sigma (expected information, ``ln p`` profiled with a Gaussian of the
spectrum's width)."""

from __future__ import annotations

import numpy as np
import torch

from paretoopt.physics.tomography import (
    InferenceGrid,
    InferenceSettings,
    LossModel,
    RobustPrior,
    infer_x0,
)
from paretoopt.physics.tomography.fisher import linear_sigma, muon_fisher, posterior_precision, scatter_pairs
from paretoopt.physics.tomography.likelihood import KinkData, entry_loglik
from tests.physics.column_scans import column_scan

torch.set_num_threads(1)

#: PDG X0 (cm): water, lead
WATER, LEAD = 36.08, 0.5612
PRIOR = RobustPrior(1.0, 0.5)


def _columns(
    n_columns: int, per_column: int, seed: int
) -> tuple[KinkData, InferenceGrid, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Vertical muons through ``n_columns`` independent columns of two 10 cm layers, water
    below; the top voxel of every fourth column is lead (the replicates), the rest water
    (``column_scan``: momentum unknown to the inference). Returns the data, grid, true
    ``lambda = 1/X0``, and the two information matrices: the Asimov one (true momenta, ``ln p``
    profiled) and the outer product of the marginal likelihood's per-muon scores at the truth
    (an unbiased estimate of the exact expected information of the momentum-marginalised
    likelihood)."""
    k = n_columns
    grid = InferenceGrid((2, 1, k), (0.0, 0.0, 0.0), 0.1)
    x0 = torch.full((2 * k,), WATER, dtype=torch.float64)
    x0[k::4] = LEAD
    scan = column_scan(x0, per_column, seed)
    data, idx, lam, model, s, loss = scan.data, scan.idx, scan.lam, scan.model, scan.s, scan.loss
    asimov = scatter_pairs(idx, muon_fisher(model.d, model.nuisance, s, data.lnp_precision), 2 * k)
    u_e = torch.log(lam)[idx].clone().requires_grad_(True)
    (score,) = torch.autograd.grad(entry_loglik(data, u_e, loss, 2).sum(), u_e)
    # sum_i s_i s_i^T with s_i the muon's score in the voxels: entry pairs summed at voxel pairs
    opg = scatter_pairs(idx, score[:, :, None] * score[:, None, :], 2 * k)
    return data, grid, lam, asimov, opg


def test_laplace_sigma_is_the_spread_and_the_asimov_figure_is_conservative() -> None:
    """Seeded, 6 scans x 32 lead voxels (192 replicates, each lead voxel seen by 250 muons of
    unknown momentum, fits started at the truth and converged). The seed-to-seed spread of the
    lead voxels' MAP ``ln X0`` (standard deviation, bootstrap error from 2,000 resamples) is
    matched within 2 bootstrap errors by the inference's Laplace sigma and by the exact
    marginal Fisher sigma; the figure's Asimov sigma lies above the spread by more than 2
    bootstrap errors and by less than 30 %: its Gaussian profile of each muon's ``ln p``
    discards information that the exact momentum mixture keeps. Measured (these seeds): spread
    0.114 +- 0.007, Laplace 0.113, marginal Fisher 0.118, Asimov 0.136 (+19 %); the same with
    16 nodes over 0.5-500 GeV and 500 muons per voxel (112 replicates, not run here: minutes):
    0.082 +- 0.006, 0.084, 0.087, 0.099 (+21 %); with fit errors ten times larger (coarse
    panels, 128 replicates): 0.120 +- 0.009, 0.120, 0.126, 0.139 (+16 %)."""
    n_columns, per_column = 128, 250
    lead = list(range(n_columns, 2 * n_columns, 4))
    errors, laplace, marginal, asimov = [], [], [], []
    for seed in range(6):
        data, grid, lam, f_asimov, f_opg = _columns(n_columns, per_column, 500 + seed)
        u_true = torch.log(lam)
        mu = u_true.median()
        weights = PRIOR.weights(u_true, mu)
        h_asimov, h_opg = posterior_precision(f_asimov, weights), posterior_precision(f_opg, weights)
        est = infer_x0(data, grid, loss=LossModel(), settings=InferenceSettings(prior=PRIOR), start=u_true)
        assert est.converged
        u = torch.log(est.inv_x0_per_cm.reshape(-1))
        for j in lead:
            c = torch.zeros(2 * n_columns + 1, dtype=torch.float64)
            c[j] = 1.0
            errors.append(float(u[j] - u_true[j]))
            laplace.append(float(linear_sigma(est.precision, c)))
            marginal.append(float(linear_sigma(h_opg, c)))
            asimov.append(float(linear_sigma(h_asimov, c)))
    e = np.array(errors)
    spread = float(e.std(ddof=1))
    rng = np.random.default_rng(0)
    boot = float(np.std([e[rng.integers(0, e.size, e.size)].std(ddof=1) for _ in range(2000)]))
    assert boot < 0.07 * spread  # enough replicates to tell 15 % apart
    assert abs(float(np.mean(laplace)) - spread) < 2 * boot
    assert abs(float(np.mean(marginal)) - spread) < 2 * boot
    a = float(np.mean(asimov))
    assert spread + 2 * boot < a < 1.3 * spread
