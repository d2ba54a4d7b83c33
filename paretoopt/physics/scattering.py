"""Multiple Coulomb scattering of muons: the Highland formula and a batched voxel stepper.

Sources: PDG Review of Particle Physics, "Passage of particles through matter", section
"Multiple scattering through small angles" (eq. 34.15 of the 2022/2024 editions): the width of
the central 98 % of the projected-angle distribution is

    theta0 = 13.6 MeV / (beta c p) * z * sqrt(x/X0) * [1 + 0.038 ln(x z^2 / (X0 beta^2))],

accurate to 11 % or better for 1e-3 < x/X0 < 100 (for singly charged particles with beta = 1).
The projected angle and the lateral displacement after a step of length ``x`` are sampled
jointly from two independent unit Gaussians ``z1, z2`` (PDG eqs. 34.16-34.19):

    y_plane     = z1 x theta0 / sqrt(12) + z2 x theta0 / 2,
    theta_plane = z2 theta0,

which gives the correlation ``rho_{y theta} = sqrt(3) / 2``; the two projections (along two
axes perpendicular to the flight direction) are independent.

Because of the logarithm, theta0 is not additive over sub-steps: applying the formula to each
of N thin sub-steps underestimates the width of the whole slab. :func:`propagate` therefore
accumulates the thickness ``T = sum x_i / X0_i`` (radiation lengths, Bragg-additive over
materials, as PDG recommends for mixtures) and gives each sub-step the variance increment
``theta0^2(T + dT) - theta0^2(T)`` at the current momentum; the RMS after any number of
sub-steps then equals the formula for the whole slab. The stepper works in slope space
``(x, y, dx/dz, dy/dz)``: a kick of projected width ``theta`` perpendicular to a track of
slopes ``t`` has the slope covariance ``theta^2 r^2 (I + t t^T)`` (``r^2 = 1 + |t|^2``), drawn
as ``r theta L z`` with the symmetric square root ``L = I + t t^T / (1 + r)``; displacements
likewise. Energy is lost at the Bethe rate of each material at the muon's current momentum
(paretoopt.physics.energy_loss, PDG eq. 34.5 with the density effect); muons whose kinetic
energy reaches zero stop and are marked dead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

from paretoopt.physics.energy_loss import DedxTable
from paretoopt.physics.materials import Material, get
from paretoopt.physics.muons import MUON_MASS_GEV

#: PDG "Passage of particles through matter", eq. 34.15: 13.6 MeV scale and the log coefficient.
HIGHLAND_SCALE_GEV = 0.0136
HIGHLAND_LOG_COEF = 0.038

#: The formula's stated range of validity in x/X0 and its accuracy (PDG, same section).
HIGHLAND_VALID_X_OVER_X0 = (1e-3, 100.0)
HIGHLAND_ACCURACY = 0.11

#: Smallest thickness (radiation lengths) fed to the logarithm; below it theta0^2 is ~0.
_MIN_T = 1e-9


def highland_theta0(
    momentum_gev: torch.Tensor | float,
    x_over_x0: torch.Tensor | float,
    beta: torch.Tensor | float = 1.0,
    charge: int | float = 1,
) -> torch.Tensor:
    """Highland's projected-angle width ``theta0`` (rad), PDG eq. 34.15, with beta and the log term.

    Args:
        momentum_gev: momentum p (GeV/c), any shape.
        x_over_x0: thickness in radiation lengths (> 0), broadcastable.
        beta: velocity v/c, broadcastable.
        charge: charge number z of the particle.
    Returns:
        ``theta0`` in radians (float64 unless the inputs are tensors of another float dtype).
    """
    if isinstance(momentum_gev, torch.Tensor):
        p = momentum_gev if momentum_gev.is_floating_point() else momentum_gev.to(torch.float64)
    else:
        p = torch.as_tensor(momentum_gev, dtype=torch.float64)
    x = torch.as_tensor(x_over_x0, dtype=p.dtype, device=p.device)
    b = torch.as_tensor(beta, dtype=p.dtype, device=p.device)
    z = float(abs(charge))
    log_term = 1.0 + HIGHLAND_LOG_COEF * torch.log(x * z * z / (b * b))
    return HIGHLAND_SCALE_GEV / (b * p) * z * torch.sqrt(x) * log_term


def _highland_g(t: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``t (1 + 0.038 ln(t / beta^2))^2``: theta0^2 in units of (13.6 MeV / beta p)^2."""
    t = t.clamp_min(_MIN_T)
    return t * (1.0 + HIGHLAND_LOG_COEF * torch.log(t / (beta * beta))) ** 2


def highland_variance_increment(
    momentum_gev: torch.Tensor, t_before: torch.Tensor, dt: torch.Tensor, beta: torch.Tensor
) -> torch.Tensor:
    """``theta0^2(t + dt) - theta0^2(t)`` (rad^2) at momentum p for a unit-charge particle:
    the share of a sub-step in the Highland variance of the whole traversed thickness."""
    scale = (HIGHLAND_SCALE_GEV / (beta * momentum_gev)) ** 2
    return (scale * (_highland_g(t_before + dt, beta) - _highland_g(t_before, beta))).clamp_min(0.0)


def sample_angle_displacement(
    theta0: torch.Tensor, step_length: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Correlated projected angles and lateral displacements for one step (PDG eqs. 34.16-34.19).

    Args:
        theta0: ``(n,)`` width of the projected angle for the step (rad).
        step_length: ``(n,)`` path length of the step (any length unit; the displacement has it).
        generator: the seeded ``torch.Generator``.
    Returns:
        ``(theta, y)``: ``(n, 2)`` projected angles (rad) and ``(n, 2)`` displacements
        perpendicular to the incoming direction, for two orthogonal projections.
    """
    n = theta0.shape[0]
    z = torch.randn((n, 2, 2), generator=generator, device=theta0.device, dtype=theta0.dtype)
    z1, z2 = z[:, 0], z[:, 1]
    th = theta0[:, None]
    x = step_length[:, None]
    y = z1 * x * th / math.sqrt(12.0) + z2 * x * th / 2.0
    return z2 * th, y


@dataclass(frozen=True)
class MaterialGrid:
    """A voxelised passive volume for the stepper.

    ``material`` is an ``(nz, nx, ny)`` integer tensor of indices into ``materials``; layer
    ``k = 0`` is the **bottom** layer. The volume spans ``x in [origin_x, origin_x + nx *
    voxel_xy_m]`` (likewise y) and ``z in [origin_z, origin_z + nz * layer_m]`` (m). Outside
    the grid (in x, y) muons cross ``outside`` (air by default).
    """

    material: torch.Tensor
    materials: tuple[Material, ...]
    origin_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    voxel_xy_m: float = 0.1
    layer_m: float = 0.1
    outside: Material = field(default_factory=lambda: get("air"))

    def __post_init__(self) -> None:
        if self.material.dim() != 3:
            raise ValueError(f"material must be (nz, nx, ny), got shape {tuple(self.material.shape)}")
        if int(self.material.min()) < 0 or int(self.material.max()) >= len(self.materials):
            raise ValueError("material indices must lie in [0, len(materials))")
        if not (self.voxel_xy_m > 0 and self.layer_m > 0):
            raise ValueError("voxel_xy_m and layer_m must be > 0")

    @property
    def shape(self) -> tuple[int, int, int]:
        nz, nx, ny = self.material.shape
        return int(nz), int(nx), int(ny)

    @property
    def z_bottom_m(self) -> float:
        return self.origin_m[2]

    @property
    def z_top_m(self) -> float:
        return self.origin_m[2] + self.shape[0] * self.layer_m

    def inv_x0_per_cm(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``(nz, nx, ny)`` 1/X0 (1/cm) of every voxel."""
        table = torch.tensor([1.0 / m.x0_cm for m in self.materials], dtype=dtype)
        return table[self.material.long().cpu()].to(self.material.device)

    def x0_cm(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``(nz, nx, ny)`` radiation length (cm) of every voxel."""
        return 1.0 / self.inv_x0_per_cm(dtype)


@dataclass(frozen=True)
class MuonState:
    """Muons in flight: ``position_m (n, 3)``, unit ``direction (n, 3)``, ``momentum_gev (n,)``,
    ``alive (n,)`` (False once stopped) and ``t_x0 (n,)`` radiation lengths traversed so far."""

    position_m: torch.Tensor
    direction: torch.Tensor
    momentum_gev: torch.Tensor
    alive: torch.Tensor
    t_x0: torch.Tensor

    @classmethod
    def start(
        cls, position_m: torch.Tensor, direction: torch.Tensor, momentum_gev: torch.Tensor
    ) -> MuonState:
        n = momentum_gev.shape[0]
        return cls(
            position_m=position_m,
            direction=direction,
            momentum_gev=momentum_gev,
            alive=torch.ones(n, dtype=torch.bool, device=momentum_gev.device),
            t_x0=torch.zeros_like(momentum_gev),
        )

    def to_plane(self, z_m: float) -> MuonState:
        """Move every muon along a straight line to the plane ``z = z_m`` (no material)."""
        dz = z_m - self.position_m[:, 2]
        s = dz / self.direction[:, 2]
        return replace(self, position_m=self.position_m + s[:, None] * self.direction)


def propagate(
    state: MuonState,
    grid: MaterialGrid,
    generator: torch.Generator,
    *,
    n_substeps: int = 5,
    energy_loss: bool = True,
    scattering: bool = True,
) -> MuonState:
    """Carry muons from the top plane of ``grid`` to its bottom plane with multiple scattering.

    Each layer is crossed in ``n_substeps`` planar steps of ``layer_m / n_substeps`` in z; the
    material of a sub-step is that of the voxel at its midpoint on the straight path (muons
    outside the grid in x, y cross ``grid.outside``). Per sub-step: path length ``s = dz r``,
    radiation lengths ``dT = s / X0``, the variance increment of the cumulative Highland width
    (module docstring) at the momentum half-way through the step, correlated angle and
    displacement in two projections (PDG eqs. 34.16-34.19) mapped to slope space, then the
    Bethe energy loss ``dE = dE/dx(p) s``. Muons
    whose total energy falls to the muon mass stop (``alive = False``; their later positions
    are meaningless).

    Batched over muons: the only Python loop is over the ``nz * n_substeps`` planes. Runs
    without gradients (the passive volume has no design parameters).

    Args:
        state: muons on (or above) the top plane of the grid; they are first moved onto it.
        grid: the voxelised volume.
        generator: the seeded ``torch.Generator`` for the scattering draws.
        n_substeps: planar sub-steps per layer.
        energy_loss: apply the Bethe energy loss.
        scattering: apply multiple scattering (False gives straight lines, for tests).
    Returns:
        The muons on the bottom plane.
    """
    if n_substeps < 1:
        raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
    nz, nx, ny = grid.shape
    with torch.no_grad():
        st = state.to_plane(grid.z_top_m)
        dtype, dev = st.position_m.dtype, st.position_m.device
        d = st.direction
        tx, ty = d[:, 0] / d[:, 2], d[:, 1] / d[:, 2]  # slopes dx/dz, dy/dz
        x, y = st.position_m[:, 0].clone(), st.position_m[:, 1].clone()
        p, alive, tx0 = st.momentum_gev.clone(), st.alive.clone(), st.t_x0.clone()
        mats: Sequence[Material] = (*grid.materials, grid.outside)
        inv_x0 = torch.tensor([1.0 / m.x0_cm for m in mats], dtype=dtype, device=dev)
        dedx = DedxTable(mats, dtype=dtype, device=dev) if energy_loss else None
        outside_idx = len(grid.materials)
        mat = grid.material.to(dev).long().reshape(-1)
        ox, oy, _ = grid.origin_m
        dz = grid.layer_m / n_substeps
        mass2 = MUON_MASS_GEV**2
        inv_sqrt12 = 1.0 / math.sqrt(12.0)
        for k in reversed(range(nz)):
            for _ in range(n_substeps):
                r = torch.sqrt(1.0 + tx * tx + ty * ty)
                s_cm = (100.0 * dz) * r
                ix = torch.floor((x - 0.5 * dz * tx - ox) / grid.voxel_xy_m).long()
                iy = torch.floor((y - 0.5 * dz * ty - oy) / grid.voxel_xy_m).long()
                inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
                flat = (k * nx + ix.clamp(0, nx - 1)) * ny + iy.clamp(0, ny - 1)
                m_idx = torch.where(inside, mat[flat], outside_idx)
                x = x - dz * tx
                y = y - dz * ty
                e_loss = dedx.lookup(m_idx, p) * s_cm * alive if dedx is not None else None
                if scattering:
                    dtx = s_cm * inv_x0[m_idx]
                    # the kick uses the momentum half-way through the step (midpoint rule: a
                    # 10 cm step of lead takes 0.13 GeV from a 1 GeV muon)
                    p_mid = p
                    if e_loss is not None:
                        e_mid = torch.sqrt(p * p + mass2) - 0.5 * e_loss
                        p_mid = torch.sqrt((e_mid * e_mid - mass2).clamp_min(1e-6))
                    beta = p_mid / torch.sqrt(p_mid * p_mid + mass2)
                    # stopped muons are frozen (no kick: their momentum is meaningless)
                    sigma = torch.sqrt(highland_variance_increment(p_mid, tx0, dtx, beta)) * alive
                    # float32 draws (8x faster than float64 on CPU), used in the state's dtype
                    z = torch.randn((4, p.shape[0]), generator=generator, device=dev).to(dtype)
                    # L = (I + t t^T)^(1/2) = I + t t^T / (1 + r) maps an isotropic kick
                    # perpendicular to the track to slope (and plane-position) space
                    c = 1.0 / (1.0 + r)
                    proj2 = c * (tx * z[2] + ty * z[3])
                    u1, u2 = z[0] * inv_sqrt12 + 0.5 * z[2], z[1] * inv_sqrt12 + 0.5 * z[3]
                    proj1 = c * (tx * u1 + ty * u2)
                    ks = r * sigma
                    ds = 0.01 * s_cm * sigma
                    # physical angle = -slope for downward flight: angle and displacement are
                    # positively correlated in space, so the slope kick takes the other sign
                    x = x + ds * (u1 + proj1 * tx)
                    y = y + ds * (u2 + proj1 * ty)
                    tx, ty = tx - ks * (z[2] + proj2 * tx), ty - ks * (z[3] + proj2 * ty)
                    tx0 = tx0 + dtx
                if e_loss is not None:
                    energy = torch.sqrt(p * p + mass2) - e_loss
                    alive = alive & (energy > MUON_MASS_GEV)
                    p = torch.sqrt((energy * energy - mass2).clamp_min(1e-6))
        r = torch.sqrt(1.0 + tx * tx + ty * ty)
        direction = -torch.stack([tx, ty, torch.ones_like(r)], dim=1) / r[:, None]
        pos = torch.stack([x, y, torch.full_like(r, grid.z_bottom_m)], dim=1)
        return MuonState(position_m=pos, direction=direction, momentum_gev=p, alive=alive, t_x0=tx0)
