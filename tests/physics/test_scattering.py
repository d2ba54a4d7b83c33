"""Highland's formula and the multiple-scattering stepper (PDG "Passage of particles through
matter", multiple scattering through small angles)."""

from __future__ import annotations

import math

import pytest
import torch

from paretoopt.physics.materials import get
from paretoopt.physics.muons import MUON_MASS_GEV
from paretoopt.physics.scattering import (
    HIGHLAND_ACCURACY,
    MaterialGrid,
    MuonState,
    highland_theta0,
    propagate,
    sample_angle_displacement,
)

torch.set_num_threads(1)


def _pdg(p: float, x: float, beta: float, z: int) -> float:
    """PDG eq. 34.15 typed out: 13.6 MeV/(beta c p) z sqrt(x/X0) [1 + 0.038 ln(x z^2/(X0 beta^2))]."""
    return 13.6e-3 / (beta * p) * z * math.sqrt(x) * (1 + 0.038 * math.log(x * z * z / (beta * beta)))


@pytest.mark.parametrize("p", [0.3, 1.0, 5.0, 100.0])
@pytest.mark.parametrize("x", [1e-3, 0.05, 1.0, 30.0, 100.0])
@pytest.mark.parametrize(("beta", "z"), [(1.0, 1), (0.9, 1), (0.6, 1), (0.95, 2)])
def test_highland_equals_the_pdg_formula(p: float, x: float, beta: float, z: int) -> None:
    assert float(highland_theta0(p, x, beta, z)) == pytest.approx(_pdg(p, x, beta, z), rel=1e-12)


def test_highland_broadcasts_and_keeps_gradients() -> None:
    p = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    th = highland_theta0(p, torch.tensor(1.0))
    assert th.shape == (3,)
    th.sum().backward()
    assert torch.allclose(p.grad, -th.detach() / p.detach())  # theta0 ~ 1/p
    # 1 GeV through 1 X0: 13.6 mrad exactly (the log term vanishes at x/X0 = 1)
    assert float(highland_theta0(1.0, 1.0)) == pytest.approx(0.0136)


def _slab(
    material: str,
    x_over_x0: float,
    *,
    p: float = 10.0,
    n: int = 20_000,
    n_substeps: int = 5,
    n_layers: int = 1,
    energy_loss: bool = False,
    seed: int = 0,
) -> tuple[MuonState, float]:
    mat = get(material)
    thickness_m = x_over_x0 * mat.x0_cm / 100.0
    grid = MaterialGrid(
        material=torch.zeros((n_layers, 1, 1), dtype=torch.long),
        materials=(mat,),
        origin_m=(-1e3, -1e3, 0.0),
        voxel_xy_m=2e3,
        layer_m=thickness_m / n_layers,
    )
    pos = torch.zeros((n, 3), dtype=torch.float64)
    pos[:, 2] = grid.z_top_m
    d = torch.zeros((n, 3), dtype=torch.float64)
    d[:, 2] = -1.0
    state = MuonState.start(pos, d, torch.full((n,), p, dtype=torch.float64))
    out = propagate(
        state, grid, torch.Generator().manual_seed(seed), n_substeps=n_substeps, energy_loss=energy_loss
    )
    return out, thickness_m


@pytest.mark.parametrize("x_over_x0", [0.1, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("material", ["Pb", "Fe", "water"])
def test_slab_rms_reproduces_highland(material: str, x_over_x0: float) -> None:
    out, _ = _slab(material, x_over_x0, n_substeps=4, n_layers=3)
    theta_x = torch.atan2(out.direction[:, 0], -out.direction[:, 2])
    theta_y = torch.atan2(out.direction[:, 1], -out.direction[:, 2])
    expected = float(highland_theta0(10.0, x_over_x0))
    for th in (theta_x, theta_y):
        assert abs(float(th.std()) / expected - 1.0) < HIGHLAND_ACCURACY
    # sub-stepping does not change the width (the cumulative-thickness scheme)
    assert abs(float(theta_x.std()) / expected - 1.0) < 0.03


def test_slab_with_energy_loss_stays_within_highland_accuracy() -> None:
    out, _ = _slab("Pb", 50.0, p=5.0, energy_loss=True)
    theta_x = torch.atan2(out.direction[:, 0], -out.direction[:, 2])
    expected = float(highland_theta0(5.0, 50.0))
    ratio = float(theta_x.std()) / expected
    assert 1.0 < ratio < 1.0 + HIGHLAND_ACCURACY  # momentum falls: a little more scattering


def test_angle_displacement_correlation_is_sqrt3_over_2() -> None:
    theta0 = torch.full((200_000,), 0.01, dtype=torch.float64)
    length = torch.full_like(theta0, 0.5)
    theta, y = sample_angle_displacement(theta0, length, torch.Generator().manual_seed(1))
    for k in range(2):
        rho = float(torch.corrcoef(torch.stack([theta[:, k], y[:, k]]))[0, 1])
        assert rho == pytest.approx(math.sqrt(3) / 2, abs=0.005)
        # PDG eq. 34.18: y_rms = x theta0 / sqrt(3)
        assert float(y[:, k].std()) == pytest.approx(0.5 * 0.01 / math.sqrt(3), rel=0.01)
    # the stepper keeps the correlation for a single step through a slab
    out, _ = _slab("Fe", 2.0, n_substeps=1)
    theta_x = torch.atan2(out.direction[:, 0], -out.direction[:, 2])
    rho = float(torch.corrcoef(torch.stack([theta_x, out.position_m[:, 0]]))[0, 1])
    assert rho == pytest.approx(math.sqrt(3) / 2, abs=0.01)


def test_energy_loss_and_stopping() -> None:
    fe = get("Fe")
    out, _ = _slab("Fe", 10.0 / fe.x0_cm, p=20.0, n=100, energy_loss=True)  # 10 cm of iron
    e_in = math.sqrt(20.0**2 + MUON_MASS_GEV**2)
    e_out = torch.sqrt(out.momentum_gev**2 + MUON_MASS_GEV**2)
    loss_gev = fe.dedx_mip_mev_cm * 10.0 * 1e-3
    # the path is a little longer than 10 cm for scattered muons: loss within 0.5 %
    assert float((e_in - e_out).mean()) == pytest.approx(loss_gev, rel=5e-3)
    assert bool(out.alive.all())
    # 0.3 GeV/c muons stop in 50 cm of lead (about 640 MeV of ionisation)
    pb = get("Pb")
    slow, _ = _slab("Pb", 50.0 / pb.x0_cm, p=0.3, n=100, energy_loss=True)
    assert not bool(slow.alive.any())


def test_grid_validation_and_outside_material() -> None:
    with pytest.raises(ValueError, match="material indices"):
        MaterialGrid(material=torch.full((1, 1, 1), 2, dtype=torch.long), materials=(get("Pb"),))
    with pytest.raises(ValueError, match="n_substeps"):
        propagate(MuonState.start(torch.zeros(1, 3), torch.tensor([[0.0, 0.0, -1.0]]), torch.ones(1)),
                  MaterialGrid(material=torch.zeros((1, 1, 1), dtype=torch.long), materials=(get("Pb"),)),
                  torch.Generator(), n_substeps=0)  # fmt: skip
    # muons that miss the voxels cross air: almost no scattering
    grid = MaterialGrid(
        material=torch.zeros((1, 1, 1), dtype=torch.long), materials=(get("Pb"),), layer_m=0.5
    )
    n = 5000
    pos = torch.zeros((n, 3), dtype=torch.float64)
    pos[:, 0] = 5.0
    pos[:, 2] = 0.5
    d = torch.zeros((n, 3), dtype=torch.float64)
    d[:, 2] = -1.0
    out = propagate(MuonState.start(pos, d, torch.full((n,), 3.0, dtype=torch.float64)), grid,
                    torch.Generator().manual_seed(0))  # fmt: skip
    air = get("air")
    expected = float(highland_theta0(3.0, 50.0 / air.x0_cm))
    assert float(torch.atan2(out.direction[:, 0], -out.direction[:, 2]).std()) == pytest.approx(
        expected, rel=0.05
    )
