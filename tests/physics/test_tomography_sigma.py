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
    MomentumModel,
    RobustPrior,
    infer_x0,
)
from paretoopt.physics.tomography.fisher import linear_sigma, muon_fisher, posterior_precision, scatter_pairs
from paretoopt.physics.tomography.likelihood import KinkData, entry_loglik
from paretoopt.physics.tomography.scattering_model import ScatteringModel, covariance_model

torch.set_num_threads(1)

#: PDG X0 (cm): water, lead
WATER, LEAD = 36.08, 0.5612
PRIOR = RobustPrior(1.0, 0.5)


def _columns(
    n_columns: int, per_column: int, seed: int
) -> tuple[KinkData, InferenceGrid, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Vertical muons through ``n_columns`` independent columns of two 10 cm layers, water
    below; the top voxel of every fourth column is lead (the replicates), the rest water. True
    momenta drawn from the spectrum's 8 nodes over 0.5-50 GeV, kinks from the model's own
    Gaussian at the true momentum (1 mrad, 1 mm fit errors); the inference sees only the
    spectrum. Returns the data, grid, true ``lambda = 1/X0``, and the two information matrices:
    the Asimov one (true momenta, ``ln p`` profiled) and the outer product of the marginal
    likelihood's per-muon scores at the truth (an unbiased estimate of the exact expected
    information of the momentum-marginalised likelihood)."""
    k = n_columns
    grid = InferenceGrid((2, 1, k), (0.0, 0.0, 0.0), 0.1)
    n = k * per_column
    col = torch.arange(k).repeat_interleave(per_column)
    idx = torch.stack([col, k + col], 1)
    h = 10.0
    # PDG scattering moments of a vertical path through each 10 cm layer: H, H^2/2, H^3/3
    rows = [[h, 0.5 * (b * b - a * a), (b**3 - a**3) / 3.0] for a, b in ((0.0, h), (h, 2 * h))]
    moments = torch.tensor(rows, dtype=torch.float64)[None, :, None, :].expand(n, 2, 2, 3).clone()
    design = ScatteringModel(idx, moments, torch.full((n, 2), h, dtype=torch.float64), torch.arange(2))
    momentum = MomentumModel("unknown", n_nodes=8, range_gev=(0.5, 50.0))
    cos_t = torch.ones(n, dtype=torch.float64)
    log_prior, nodes = momentum.log_weights(cos_t), momentum.nodes()
    g = torch.Generator().manual_seed(seed)
    p_true = nodes[torch.multinomial(torch.exp(log_prior), 1, generator=g)[:, 0]]
    loss = LossModel()
    x0 = torch.full((2 * k,), WATER, dtype=torch.float64)
    x0[k::4] = LEAD
    lam = 1.0 / x0
    meas = torch.tensor([1e-6, 0.0, 1e-2], dtype=torch.float64).expand(n, 2, 3).clone()
    model = covariance_model(design, lam, p_true, loss, 2)
    s = model.s + meas
    z = torch.randn((n, 2, 2), generator=g, dtype=torch.float64)
    l11 = torch.sqrt(s[..., 0])
    l21 = s[..., 1] / l11
    l22 = torch.sqrt(s[..., 2] - l21 * l21)
    dt, dx = l11 * z[..., 0], l21 * z[..., 0] + l22 * z[..., 1]
    data = KinkData(
        design, dt, dx, meas, torch.ones(n, dtype=torch.float64), nodes[None, :].expand(n, -1),
        log_prior, momentum.log_p_precision(cos_t),
    )  # fmt: skip
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
