"""Seeded scans of vertical muons through columns of two 10 cm layers, with the momentum
unknown to the inference, shared by the tomography inference and sigma tests: true momenta
drawn from the spectrum's 8 nodes over 0.5-50 GeV, kinks drawn from the model's own Gaussian at
the true momentum (1 mrad, 1 mm fit errors); the inference sees only the spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paretoopt.physics.tomography import LossModel, MomentumModel
from paretoopt.physics.tomography.likelihood import KinkData
from paretoopt.physics.tomography.scattering_model import CovarianceModel, ScatteringModel, covariance_model

#: thickness of each layer (cm)
LAYER_CM = 10.0


@dataclass(frozen=True)
class ColumnScan:
    """A scan's data, each muon's two voxel indices (bottom, top), the true ``1/X0`` per voxel,
    the energy-loss model, the covariance model at the true momenta and the kinks' total
    covariance (scattering plus measurement) the data were drawn from."""

    data: KinkData
    idx: torch.Tensor
    lam: torch.Tensor
    loss: LossModel
    model: CovarianceModel
    s: torch.Tensor


def column_scan(x0_cm: torch.Tensor, per_column: int, seed: int) -> ColumnScan:
    """``per_column`` vertical muons through each of ``k = len(x0_cm) // 2`` columns; voxel ``c``
    is column ``c``'s bottom layer and ``k + c`` its top one, of radiation length ``x0_cm``."""
    k = len(x0_cm) // 2
    n = k * per_column
    col = torch.arange(k).repeat_interleave(per_column)
    idx = torch.stack([col, k + col], 1)
    h = LAYER_CM
    # PDG scattering moments of a vertical path through each layer: H, H^2/2, H^3/3
    rows = [[h, 0.5 * (b * b - a * a), (b**3 - a**3) / 3.0] for a, b in ((0.0, h), (h, 2 * h))]
    moments = torch.tensor(rows, dtype=torch.float64)[None, :, None, :].expand(n, 2, 2, 3).clone()
    design = ScatteringModel(idx, moments, torch.full((n, 2), h, dtype=torch.float64), torch.arange(2))
    momentum = MomentumModel("unknown", n_nodes=8, range_gev=(0.5, 50.0))
    cos_t = torch.ones(n, dtype=torch.float64)
    log_prior, nodes = momentum.log_weights(cos_t), momentum.nodes()
    g = torch.Generator().manual_seed(seed)
    p_true = nodes[torch.multinomial(torch.exp(log_prior), 1, generator=g)[:, 0]]
    loss = LossModel()
    lam = 1.0 / x0_cm.to(torch.float64)
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
    return ColumnScan(data, idx, lam, loss, model, s)
