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
sub-steps then equals the formula for the whole slab. Energy is lost at the minimum-ionisation
rate of each material (PDG table, ``dedx_mip``); muons whose kinetic energy reaches zero stop
and are marked dead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

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


def _perpendicular_basis(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two unit vectors perpendicular to the unit vectors ``d (n, 3)`` and to each other
    (``u = y_hat x d`` normalised, ``v = d x u``; degenerate only for flight along y)."""
    u = torch.stack([d[:, 2], torch.zeros_like(d[:, 0]), -d[:, 0]], dim=1)
    u = u / torch.linalg.vector_norm(u, dim=1, keepdim=True).clamp_min(1e-12)
    v = torch.linalg.cross(d, u, dim=1)
    return u, v


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
    outside the grid in x, y cross ``grid.outside``). Per sub-step: path length ``s =
    dz / |cos theta|``, radiation lengths ``dT = s / X0``, variance increment of the cumulative
    Highland width (module docstring), correlated angle and displacement in two projections
    (PDG eqs. 34.16-34.19), then energy loss ``dE = dE/dx_mip * rho * s``. Muons whose total
    energy falls to the muon mass stop (``alive = False``) and are no longer moved.

    Batched over muons: the only Python loop is over the ``nz * n_substeps`` planes. Runs
    without gradients (the passive volume has no design parameters).

    Args:
        state: muons on (or above) the top plane of the grid; they are first moved onto it.
        grid: the voxelised volume.
        generator: the seeded ``torch.Generator`` for the scattering draws.
        n_substeps: planar sub-steps per layer.
        energy_loss: apply the minimum-ionisation energy loss.
        scattering: apply multiple scattering (False gives straight lines, for tests).
    Returns:
        The muons on the bottom plane.
    """
    if n_substeps < 1:
        raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
    nz, nx, ny = grid.shape
    with torch.no_grad():
        st = state.to_plane(grid.z_top_m)
        pos, d = st.position_m.clone(), st.direction.clone()
        p, alive, t = st.momentum_gev.clone(), st.alive.clone(), st.t_x0.clone()
        dtype, dev = pos.dtype, pos.device
        mats: Sequence[Material] = (*grid.materials, grid.outside)
        inv_x0 = torch.tensor([1.0 / m.x0_cm for m in mats], dtype=dtype, device=dev)
        dedx_gev_cm = torch.tensor([m.dedx_mip_mev_cm * 1e-3 for m in mats], dtype=dtype, device=dev)
        outside_idx = len(grid.materials)
        mat = grid.material.to(dev).long()
        ox, oy, _ = grid.origin_m
        dz = grid.layer_m / n_substeps
        mass2 = MUON_MASS_GEV**2
        for k in reversed(range(nz)):
            for j in range(n_substeps):
                z_end = grid.origin_m[2] + k * grid.layer_m + (n_substeps - j - 1) * dz
                cos_t = (-d[:, 2]).clamp_min(0.05)  # guard: a muon cannot turn back up here
                s_m = dz / cos_t
                mid = pos + 0.5 * s_m[:, None] * d
                ix = torch.floor((mid[:, 0] - ox) / grid.voxel_xy_m).long()
                iy = torch.floor((mid[:, 1] - oy) / grid.voxel_xy_m).long()
                inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
                m_idx = torch.full_like(ix, outside_idx)
                m_idx[inside] = mat[k, ix[inside], iy[inside]]
                s_cm = 100.0 * s_m
                new_pos = pos + s_m[:, None] * d
                new_d = d
                if scattering:
                    dt = s_cm * inv_x0[m_idx]
                    energy = torch.sqrt(p * p + mass2)
                    beta = p / energy
                    var = highland_variance_increment(p, t, dt, beta)
                    theta, y = sample_angle_displacement(torch.sqrt(var), s_m, generator)
                    u, v = _perpendicular_basis(d)
                    new_pos = new_pos + y[:, :1] * u + y[:, 1:] * v
                    new_d = d + torch.tan(theta[:, :1]) * u + torch.tan(theta[:, 1:]) * v
                    new_d = new_d / torch.linalg.vector_norm(new_d, dim=1, keepdim=True)
                    t = torch.where(alive, t + dt, t)
                # back onto the plane z_end along the new direction (the displacement is
                # perpendicular to the old direction, so it has a small z component)
                new_pos = new_pos + ((z_end - new_pos[:, 2]) / new_d[:, 2].clamp_max(-0.05))[:, None] * new_d
                if energy_loss:
                    energy = torch.sqrt(p * p + mass2) - dedx_gev_cm[m_idx] * s_cm
                    stopped = energy <= MUON_MASS_GEV
                    new_p = torch.sqrt((energy * energy - mass2).clamp_min(0.0))
                    p = torch.where(alive, new_p, p)
                    alive = alive & ~stopped
                keep = alive[:, None]
                pos = torch.where(keep, new_pos, pos)
                d = torch.where(keep, new_d, d)
        return MuonState(position_m=pos, direction=d, momentum_gev=p, alive=alive, t_x0=t)
