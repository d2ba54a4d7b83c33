"""Differentiable muon scattering tomography: volume, detector panels, hits, track fits, POCA,
per-voxel X0 inference, and the study simulations (a lead block in a light matrix; the fill
level of a ladle furnace).

Data flow (each step reads only the one before, as in TomOpt, Strong et al. arXiv:2309.14027):

1. **Source**: cosmic muons from :func:`paretoopt.physics.muons.sample_muons` on a plane above
   the upper detector (Guan et al. 2015 flux).
2. **Passive volume**: :func:`paretoopt.physics.scattering.propagate` through a
   :class:`~paretoopt.physics.scattering.MaterialGrid` (Highland with beta and log term,
   correlated angle/displacement, dE/dx). The volume has no design parameters, so this runs
   without gradients.
3. **Detector response** (:func:`detector_hits`): thin panels (planes) above and below the
   volume with differentiable z, xy centre and xy span; a technology sets the hit resolution,
   the efficiency and the cost per m2. Training mode (``.train()``) uses a soft sigmoid
   acceptance at the panel edges and expected hit weights; evaluation (``.eval()``) uses the
   hard panel outline and Bernoulli hit efficiency. Hits are smeared in both modes (the
   noise is reparametrised, so gradients flow through hit positions).
4. **Reconstruction** (:meth:`MuonTomography.reconstruct`): weighted least-squares straight
   lines above and below (:func:`fit_tracks`), the point of closest approach of the two lines
   (:func:`poca`), and per view the slope change and the displacement at the bottom of the
   volume, with the track fits' contribution to their covariance.
5. **Inference** (:func:`infer_x0`): per-voxel scattering densities ``lambda = 1/X0``. The
   covariance of slope change and displacement is linear in ``lambda`` along the muon path
   once Highland's log factor is fixed (the PDG continuous-scattering moments, with ``k =
   (13.6 MeV / beta p)^2``); their three second moments are fitted by generalised least
   squares over all voxels of the reconstructed path (incoming line down to the POCA,
   outgoing line below), iteratively reweighted, with a Gaussian and an edge-preserving
   smoothness prior; the inverse normal matrix gives each voxel's uncertainty.
   ``method="poca"`` is the TomOpt-style estimator (the angle only, all of it in the POCA
   voxel), kept to show its bias. The ladle study fits the fill level directly by maximum
   likelihood instead (:meth:`LadleFurnace.fit_level`).
6. **Figures of merit**: mean squared error of ``ln X0`` over voxels (or the fill-level error
   of the ladle), the detector cost, and the scan time to collect a target number of
   reconstructed muons.

Everything is batched over muons; the Python loops run over panels (at most 8), layers and
reweighting iterations only, so the cost is linear in the number of muons.

Units: lengths in m unless the name says cm; momenta in GeV/c; angles in rad; cost in kEUR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from paretoopt.physics.materials import Material, get
from paretoopt.physics.muons import MUON_MASS_GEV, sample_muons
from paretoopt.physics.scattering import (
    HIGHLAND_LOG_COEF,
    HIGHLAND_SCALE_GEV,
    MaterialGrid,
    MuonState,
    propagate,
)
from paretoopt.problem import Constraint, Estimate, InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer, Real

# ----------------------------------------------------------------------------------------------
# Detector technologies
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Technology:
    """A tracking-plane technology: per-plane hit resolution (1 sigma in x and in y, m), hit
    efficiency, and an indicative cost per m2 of plane (kEUR, sensors + readout + mechanics)."""

    name: str
    resolution_m: float
    efficiency: float
    cost_keur_per_m2: float
    source: str = ""

    def __post_init__(self) -> None:
        if not self.resolution_m > 0:
            raise ValueError(f"Technology {self.name!r}: resolution_m must be > 0, got {self.resolution_m}")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"Technology {self.name!r}: efficiency must be in (0, 1], got {self.efficiency}")
        if not self.cost_keur_per_m2 >= 0:
            raise ValueError(f"Technology {self.name!r}: cost_keur_per_m2 must be >= 0")


#: Indicative values, meant for an order-of-magnitude trade-off, not for procurement.
#: Resolutions follow the ranges of PDG RPP "Particle detectors at accelerators", Table 35.1
#: ("typical resolutions of common charged-particle detectors": RPC <~ 10 mm down to ~1 mm with
#: fine strips, drift tubes/chambers 50-300 um, scintillating fibres ~100 um, silicon strips
#: pitch/(3 to 7)); efficiencies are typical single-plane values. Costs per m2 are rough 2024
#: orders of magnitude for instrumented planes (the area-dominated part of the cost).
TECHNOLOGIES: dict[str, Technology] = {
    "rpc": Technology(
        "rpc",
        resolution_m=1.0e-3,
        efficiency=0.95,
        cost_keur_per_m2=1.5,
        source="PDG RPP Table 35.1 (RPC); ~3 mm strip pitch / sqrt(12); cheap large-area gas planes",
    ),
    "drift_tubes": Technology(
        "drift_tubes",
        resolution_m=0.3e-3,
        efficiency=0.95,
        cost_keur_per_m2=5.0,
        source="PDG RPP Table 35.1 (drift chambers); CMS DT cell ~250 um (JINST 5 T03015)",
    ),
    "scintillating_fibres": Technology(
        "scintillating_fibres",
        resolution_m=0.1e-3,
        efficiency=0.98,
        cost_keur_per_m2=30.0,
        source="PDG RPP Table 35.1 (scintillation tracker ~100 um); LHCb SciFi TDR (<100 um)",
    ),
    "silicon_strips": Technology(
        "silicon_strips",
        resolution_m=0.02e-3,
        efficiency=0.99,
        cost_keur_per_m2=100.0,
        source="PDG RPP Table 35.1 (Si strips, pitch/(3-7): 80 um pitch -> ~20 um)",
    ),
}


# ----------------------------------------------------------------------------------------------
# Geometry and panels
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """Where the volume and the detector regions are (m).

    The passive volume spans ``volume_xy`` = (x_min, x_max, y_min, y_max) and ``volume_z`` =
    (z_min, z_max); panels above live in ``above_z``, panels below in ``below_z``. Each of the
    ``max_panels`` slots of a side has its own z range inside its region, staggered by
    ``stagger_m`` so that the default (centre) start has distinct panel heights (a straight
    line needs two distinct z); slot 1 is the one nearest the volume. Muons are generated on
    the top plane of the upper region over the volume footprint widened by ``margin_m``.
    """

    volume_xy: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)
    volume_z: tuple[float, float] = (0.5, 1.5)
    above_z: tuple[float, float] = (1.55, 2.0)
    below_z: tuple[float, float] = (0.0, 0.45)
    max_panels: int = 4
    stagger_m: float = 0.05
    margin_m: float = 0.5
    span_range_m: tuple[float, float] = (0.2, 2.0)

    def slot_z_range(self, side: str, slot: int) -> tuple[float, float]:
        """z range (m) of slot ``slot`` (1-based) on ``side`` ("above" or "below")."""
        n, s = self.max_panels, self.stagger_m
        if side == "above":
            lo, hi = self.above_z
            return lo + (slot - 1) * s, hi - (n - slot) * s
        lo, hi = self.below_z
        return lo + (n - slot) * s, hi - (slot - 1) * s

    @property
    def generation_area(self) -> tuple[float, float, float, float]:
        x0, x1, y0, y1 = self.volume_xy
        m = self.margin_m
        return x0 - m, x1 + m, y0 - m, y1 + m

    @property
    def generation_z(self) -> float:
        return self.above_z[1]


SIDES = ("above", "below")
PANEL_FIELDS = ("z", "x", "y", "span_x", "span_y")


def panel_param_name(side: str, slot: int, field_name: str) -> str:
    """Name of a panel parameter, e.g. ``above1_z``, ``below3_span_x``."""
    return f"{side}{slot}_{field_name}"


def panel_parameters(geometry: Geometry) -> list[Real]:
    """The differentiable panel parameters (m): per slot and side, z, xy centre and xy span."""
    x0, x1, y0, y1 = geometry.volume_xy
    out: list[Real] = []
    for side in SIDES:
        for slot in range(1, geometry.max_panels + 1):
            zlo, zhi = geometry.slot_z_range(side, slot)
            out += [
                Real(panel_param_name(side, slot, "z"), zlo, zhi, unit="m"),
                Real(panel_param_name(side, slot, "x"), x0, x1, unit="m"),
                Real(panel_param_name(side, slot, "y"), y0, y1, unit="m"),
                Real(panel_param_name(side, slot, "span_x"), *geometry.span_range_m, unit="m"),
                Real(panel_param_name(side, slot, "span_y"), *geometry.span_range_m, unit="m"),
            ]
    return out


@dataclass(frozen=True)
class Panels:
    """The active panels of one side: ``(K,)`` tensors z, centre x/y, span x/y (m)."""

    z: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    span_x: torch.Tensor
    span_y: torch.Tensor

    @property
    def n(self) -> int:
        return int(self.z.shape[0])

    def area_m2(self) -> torch.Tensor:
        return (self.span_x * self.span_y).sum()

    @classmethod
    def from_params(cls, params: Mapping[str, torch.Tensor], side: str, n: int) -> Panels:
        cols = [
            torch.stack([torch.as_tensor(params[panel_param_name(side, k, f)]) for k in range(1, n + 1)])
            for f in PANEL_FIELDS
        ]
        return cls(*cols)


# ----------------------------------------------------------------------------------------------
# Hits and track fits
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SideHits:
    """Hits of one side: measured ``xy (n, K, 2)`` (m), hit weights ``w (n, K)`` (expected hit
    probability in training, 0/1 in evaluation), panel heights ``z (K,)`` and the per-plane
    resolution (m)."""

    xy: torch.Tensor
    w: torch.Tensor
    z: torch.Tensor
    resolution_m: float

    def prob_two_or_more(self) -> torch.Tensor:
        """``(n,)`` probability of at least two hits (training) or its 0/1 value (evaluation):
        a straight line needs two points (TomOpt's ``compute_efficiency`` does the same)."""
        w = self.w
        k = w.shape[1]
        if k < 2:
            return torch.zeros_like(w[:, 0])
        miss = 1.0 - w
        p_none = miss.prod(dim=1)
        p_one = torch.zeros_like(p_none)
        for i in range(k):
            others = torch.cat([miss[:, :i], miss[:, i + 1 :]], dim=1).prod(dim=1)
            p_one = p_one + w[:, i] * others
        return (1.0 - p_none - p_one).clamp(0.0, 1.0)


def soft_box(x: torch.Tensor, centre: torch.Tensor, span: torch.Tensor, smoothing_m: float) -> torch.Tensor:
    """Soft indicator of ``|x - centre| <= span / 2``: a product of two sigmoids of width
    ``smoothing_m`` (m) at the edges (training-time acceptance)."""
    half = 0.5 * span
    return torch.sigmoid((x - centre + half) / smoothing_m) * torch.sigmoid((centre + half - x) / smoothing_m)


def detector_hits(
    track_point: torch.Tensor,
    track_slope: torch.Tensor,
    z_ref: float,
    panels: Panels,
    technology: Technology,
    generator: torch.Generator,
    *,
    training: bool,
    smoothing_m: float = 0.03,
) -> SideHits:
    """Hits of straight tracks on the panels of one side.

    Args:
        track_point: ``(n, 2)`` true xy (m) of the tracks at ``z = z_ref``.
        track_slope: ``(n, 2)`` true slopes ``(dx/dz, dy/dz)``.
        z_ref: the reference plane (m): the top of the volume for the incoming tracks, its
            bottom for the outgoing ones (panels are massless: no scattering between them).
        panels: the side's panels.
        technology: resolution and efficiency.
        generator: seeded generator for the smearing noise and the efficiency draws (both
            modes draw the same numbers, so train and eval see the same muons).
        training: soft acceptance and expected hit weights if True, hard outline and
            Bernoulli hits if False.
        smoothing_m: width of the sigmoid at the panel edges in training (m).
    Returns:
        The side's :class:`SideHits`.
    """
    n, k = track_point.shape[0], panels.n
    dtype, dev = track_point.dtype, track_point.device
    dz = (panels.z - z_ref)[None, :, None]  # (1, K, 1)
    true_xy = track_point[:, None, :] + dz * track_slope[:, None, :]  # (n, K, 2)
    noise = torch.randn((n, k, 2), generator=generator, device=dev, dtype=dtype)
    u = torch.rand((n, k), generator=generator, device=dev, dtype=dtype)
    xy = true_xy + technology.resolution_m * noise
    tx, ty = true_xy[..., 0], true_xy[..., 1]
    if training:
        acc = soft_box(tx, panels.x[None, :], panels.span_x[None, :], smoothing_m) * soft_box(
            ty, panels.y[None, :], panels.span_y[None, :], smoothing_m
        )
        w = technology.efficiency * acc
    else:
        inside = ((tx - panels.x[None, :]).abs() <= 0.5 * panels.span_x[None, :]) & (
            (ty - panels.y[None, :]).abs() <= 0.5 * panels.span_y[None, :]
        )
        w = (inside & (u < technology.efficiency)).to(dtype)
    return SideHits(xy=xy, w=w, z=panels.z, resolution_m=technology.resolution_m)


@dataclass(frozen=True)
class TrackFit:
    """A straight-line fit per muon: the point ``point (n, 3)`` at the weighted mean height of
    the hits, slopes ``slope (n, 2)`` (dx/dz, dy/dz), and the variances (m^2 and slope^2) of the
    fitted position and slope in each view (the two views have equal variances here)."""

    point: torch.Tensor
    slope: torch.Tensor
    point_var: torch.Tensor
    slope_var: torch.Tensor

    def xy_at(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, ..., 2)`` xy of the lines at heights ``z`` (broadcast against ``(n, ...)``)."""
        dz = (z - self.point[:, 2].reshape((-1,) + (1,) * (z.dim() - 1)))[..., None]
        shape = (-1,) + (1,) * (z.dim() - 1) + (2,)
        return self.point[:, :2].reshape(shape) + dz * self.slope.reshape(shape)

    @property
    def direction(self) -> torch.Tensor:
        """``(n, 3)`` direction vectors ``(dx/dz, dy/dz, 1)`` (not normalised)."""
        return torch.cat([self.slope, torch.ones_like(self.slope[:, :1])], dim=1)


def fit_tracks(hits: SideHits, *, min_lever_m2: float = 1e-10) -> TrackFit:
    """Weighted least-squares straight lines through the hits of one side (weights ``w /
    sigma^2``), independently in x-z and y-z. The reference point is the weighted mean z, where
    position and slope are uncorrelated: ``var(slope) = 1 / sum w (z - zbar)^2`` and ``var(x) =
    1 / sum w``."""
    w = hits.w / hits.resolution_m**2  # (n, K)
    z = hits.z[None, :]
    s0 = w.sum(dim=1).clamp_min(1e-30)
    zbar = (w * z).sum(dim=1) / s0
    dzc = z - zbar[:, None]
    szz = (w * dzc * dzc).sum(dim=1).clamp_min(min_lever_m2 / hits.resolution_m**2)
    xbar = (w[..., None] * hits.xy).sum(dim=1) / s0[:, None]
    slope = (w[..., None] * dzc[..., None] * (hits.xy - xbar[:, None, :])).sum(dim=1) / szz[:, None]
    point = torch.cat([xbar, zbar[:, None]], dim=1)
    return TrackFit(point=point, slope=slope, point_var=1.0 / s0, slope_var=1.0 / szz)


def poca(
    p1: torch.Tensor, d1: torch.Tensor, p2: torch.Tensor, d2: torch.Tensor, eps: float = 1e-12
) -> torch.Tensor:
    """Point of closest approach of two lines ``p1 + s d1`` and ``p2 + t d2`` (``(n, 3)`` each):
    the midpoint of the shortest segment between them. For (nearly) parallel lines, where the
    point is undefined, the denominator is floored at ``eps`` and the result lies near ``p2``."""
    w0 = p1 - p2
    a = (d1 * d1).sum(1)
    b = (d1 * d2).sum(1)
    c = (d2 * d2).sum(1)
    d = (d1 * w0).sum(1)
    e = (d2 * w0).sum(1)
    den = (a * c - b * b).clamp_min(eps)
    s = (b * e - c * d) / den
    t = (a * e - b * d) / den
    return 0.5 * (p1 + s[:, None] * d1 + p2 + t[:, None] * d2)


def scattering_angle_sq(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """Squared 3D angle (rad^2) between directions ``d1`` and ``d2`` (``(n, 3)``), via atan2 for
    accuracy at small angles."""
    cross = torch.linalg.cross(d1, d2, dim=1)
    sin_n = torch.sqrt((cross * cross).sum(1) + 1e-30)
    cos_n = (d1 * d2).sum(1)
    return torch.atan2(sin_n, cos_n) ** 2


def angle_meas_var(fit: TrackFit) -> torch.Tensor:
    """``(n,)`` variance (rad^2) a fit's slope errors add to one projected angle: a slope error
    ``delta`` in x turns the direction by ``delta sqrt(1 + ty^2) / r^2`` with ``r^2 = 1 + tx^2 +
    ty^2``; averaged over the two projections, ``var(slope) (1 + r^2) / (2 r^4)``."""
    r2 = 1.0 + (fit.slope * fit.slope).sum(1)
    return fit.slope_var * (1.0 + r2) / (2.0 * r2 * r2)


# ----------------------------------------------------------------------------------------------
# Inference
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceGrid:
    """The voxels X0 is inferred on: ``shape = (nz, nx, ny)`` cubes of ``voxel_m`` with their low
    corner at ``origin_m``; layer 0 is the bottom layer."""

    shape: tuple[int, int, int]
    origin_m: tuple[float, float, float]
    voxel_m: float

    @property
    def n_voxels(self) -> int:
        nz, nx, ny = self.shape
        return nz * nx * ny

    @classmethod
    def matching(cls, grid: MaterialGrid, voxel_m: float | None = None) -> InferenceGrid:
        """Inference voxels covering a material grid, cubes of its xy voxel size by default."""
        v = voxel_m if voxel_m is not None else grid.voxel_xy_m
        nz, nx, ny = grid.shape
        height = nz * grid.layer_m
        return cls(
            shape=(round(height / v), round(nx * grid.voxel_xy_m / v), round(ny * grid.voxel_xy_m / v)),
            origin_m=grid.origin_m,
            voxel_m=v,
        )


def true_inv_x0(
    grid: MaterialGrid, inference: InferenceGrid, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``(nz, nx, ny)`` true 1/X0 (1/cm) averaged over each inference voxel (the material grid
    may be finer in z; its xy voxels must equal the inference voxels)."""
    lam = grid.inv_x0_per_cm(dtype)
    nz, nx, ny = inference.shape
    if (lam.shape[1], lam.shape[2]) != (nx, ny) or lam.shape[0] % nz:
        raise ValueError(f"material grid {tuple(lam.shape)} does not refine inference grid {inference.shape}")
    return lam.reshape(nz, lam.shape[0] // nz, nx, ny).mean(dim=1)


@dataclass(frozen=True)
class X0Estimate:
    """Per-voxel inference result, ``(nz, nx, ny)`` tensors: the scattering density
    ``inv_x0_per_cm`` (1/cm, unclamped least-squares solution), ``x0_cm`` (clamped to the
    plausible range), the standard error of ``ln X0``, and the muon weight seen per voxel."""

    inv_x0_per_cm: torch.Tensor
    x0_cm: torch.Tensor
    log_x0_stderr: torch.Tensor
    weight: torch.Tensor


def _voxel_entries(
    xy: torch.Tensor, layer: int, grid: InferenceGrid, soft: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat voxel indices and weights ``(n, 1 or 4)`` of positions ``xy (n, 2)`` in layer
    ``layer``: the containing voxel (hard) or the four nearest with bilinear (tent) weights
    (soft, differentiable in xy). Entries outside the grid get weight 0 and index 0."""
    _, nx, ny = grid.shape
    ox, oy, _ = grid.origin_m
    ux = (xy[:, 0] - ox) / grid.voxel_m
    uy = (xy[:, 1] - oy) / grid.voxel_m
    if not soft:
        ix, iy = torch.floor(ux.detach()).long(), torch.floor(uy.detach()).long()
        ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        idx = torch.where(ok, (layer * nx + ix.clamp(0, nx - 1)) * ny + iy.clamp(0, ny - 1), 0)
        return idx[:, None], ok.to(xy.dtype)[:, None]
    ux, uy = ux - 0.5, uy - 0.5  # voxel centres at integers
    i0, j0 = torch.floor(ux.detach()).long(), torch.floor(uy.detach()).long()
    fx, fy = ux - i0, uy - j0
    idxs, wts = [], []
    for di, wx in ((0, 1.0 - fx), (1, fx)):
        for dj, wy in ((0, 1.0 - fy), (1, fy)):
            ix, iy = i0 + di, j0 + dj
            ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
            idxs.append(torch.where(ok, (layer * nx + ix.clamp(0, nx - 1)) * ny + iy.clamp(0, ny - 1), 0))
            wts.append(torch.where(ok, wx * wy, torch.zeros_like(wx)))
    return torch.stack(idxs, dim=1), torch.stack(wts, dim=1)


def _neighbour_pairs(grid: InferenceGrid, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices ``(P,)``, ``(P,)`` of face-adjacent voxel pairs of the grid."""
    nz, nx, ny = grid.shape
    flat = torch.arange(grid.n_voxels, device=device).reshape(nz, nx, ny)
    a = [flat[1:].reshape(-1), flat[:, 1:].reshape(-1), flat[:, :, 1:].reshape(-1)]
    b = [flat[:-1].reshape(-1), flat[:, :-1].reshape(-1), flat[:, :, :-1].reshape(-1)]
    return torch.cat(a), torch.cat(b)


def _smoothness_matrix(grid: InferenceGrid, scale: torch.Tensor, strength: float) -> torch.Tensor:
    """Precision matrix of an edge-preserving smoothness prior: ``sum_(i,j) beta_ij (lambda_i -
    lambda_j)^2`` over face neighbours with ``beta_ij = strength / max(scale_i, scale_j)^2``, so
    that a voxel already seen to be dense (lead next to water) is not smeared into its
    neighbours, while noise between light voxels is damped."""
    i, j = _neighbour_pairs(grid, scale.device)
    beta = strength / torch.maximum(scale[i], scale[j]) ** 2
    n = grid.n_voxels
    q = torch.zeros(n * n, dtype=scale.dtype, device=scale.device)
    q = q.index_add(0, i * n + i, beta).index_add(0, j * n + j, beta)
    q = q.index_add(0, i * n + j, -beta).index_add(0, j * n + i, -beta)
    return q.reshape(n, n)


class _SPDSolve(torch.autograd.Function):
    """``x = M^-1 r`` for a symmetric positive-definite ``M`` by Cholesky, with the implicit
    backward ``dr = M^-1 g``, ``dM = -(M^-1 g) x^T``, reusing the factor (O(V^2) instead of
    differentiating through the factorisation, O(V^3))."""

    @staticmethod
    def forward(ctx: Any, m: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        chol = torch.linalg.cholesky(m)
        x = torch.cholesky_solve(r[:, None], chol)[:, 0]
        ctx.save_for_backward(chol, x)
        ctx.mark_non_differentiable(chol)
        return x, chol

    @staticmethod
    def backward(ctx: Any, gx: torch.Tensor, _gchol: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        chol, x = ctx.saved_tensors
        v = torch.cholesky_solve(gx[:, None], chol)[:, 0]
        return -v[:, None] * x[None, :], v


@dataclass(frozen=True)
class _Design:
    """The linear model of one scan: per muon, voxel entries ``idx (n, E)`` and, per view
    (x, y) and moment (``dt^2``, ``dt dx``, ``dx^2``), the coefficient of each voxel's
    ``lambda`` in the expected moment, ``a (n, E, 2, 3)`` (before the factor ``k f``), the
    path length per entry ``length_cm (n, E)`` (for Highland's log term), and which moments
    the estimator uses."""

    idx: torch.Tensor
    a: torch.Tensor
    length_cm: torch.Tensor
    moments: tuple[int, ...]
    entry_layer: torch.Tensor | None = None  # (E,) layer of each entry (path method)


def _layer_geometry(
    fit_in: TrackFit, fit_out: TrackFit, kink_z: torch.Tensor, z_lo: float, v: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For the layer ``[z_lo, z_lo + v]``: the xy ``(n, 2)`` of the reconstructed path at its
    centre (incoming line above the kink height, outgoing below, blended in the layer that
    holds the kink), the path length per unit
    height ``r`` and the slope-kick factors ``r^2 (1 + t^2)`` per view ``(n, 2)``, blended by
    the share of the layer above the kink."""
    z_c = torch.full_like(kink_z, z_lo + 0.5 * v)
    frac_in = ((z_lo + v - kink_z) / v).clamp(0.0, 1.0)
    # the two lines (nearly) meet at the kink: blend them by the share of the layer above it,
    # which is continuous in the kink height
    xy = frac_in[:, None] * fit_in.xy_at(z_c) + (1.0 - frac_in[:, None]) * fit_out.xy_at(z_c)
    r2_in = 1.0 + (fit_in.slope**2).sum(1)
    r2_out = 1.0 + (fit_out.slope**2).sum(1)
    r = frac_in * torch.sqrt(r2_in) + (1.0 - frac_in) * torch.sqrt(r2_out)
    g_in = r2_in[:, None] * (1.0 + fit_in.slope**2)
    g_out = r2_out[:, None] * (1.0 + fit_out.slope**2)
    g = frac_in[:, None] * g_in + (1.0 - frac_in[:, None]) * g_out
    return xy, r, g


def _design(fit_in: TrackFit, fit_out: TrackFit, grid: InferenceGrid, method: str, soft: bool) -> _Design:
    """Build the linear model (see :func:`infer_x0`).

    A slope kick of projected width ``theta`` in the plane perpendicular to a track of slopes
    ``t`` changes the slope in view x by a variance ``theta^2 r^2 (1 + t_x^2)`` (``r^2 = 1 +
    |t|^2``). Kicks spread uniformly along the path in a layer at heights ``h`` (cm) above the
    bottom plane of the volume, where the displacement ``dx = dt h`` is measured, give per cm
    of height ``(1, h, h^2)`` to the moments ``(dt^2, dt dx, dx^2)``: integrated over the
    layer, ``(H, (h_hi^2 - h_lo^2)/2, (h_hi^3 - h_lo^3)/3)``, times ``r`` (path per height).
    "path" uses the three moments along the whole reconstructed path; "poca" is TomOpt's
    estimator: the angle alone, all of it in the voxel of the point of closest approach.
    """
    nz, _, _ = grid.shape
    oz, v = grid.origin_m[2], grid.voxel_m
    kink = poca(fit_in.point, fit_in.direction, fit_out.point, fit_out.direction)
    kz = kink[:, 2]
    if method == "poca":
        layer_f = torch.floor((kz.detach() - oz) / v).long()
        inside = (layer_f >= 0) & (layer_f < nz)
        pick = torch.where(inside, layer_f, 0)
        # slopes of the layer holding the POCA (blended by the share above the kink)
        z_lo = oz + pick.to(kz.dtype) * v
        frac_in = ((z_lo + v - kz) / v).clamp(0.0, 1.0)
        r2_in = 1.0 + (fit_in.slope**2).sum(1)
        r2_out = 1.0 + (fit_out.slope**2).sum(1)
        r = frac_in * torch.sqrt(r2_in) + (1.0 - frac_in) * torch.sqrt(r2_out)
        g_in = r2_in[:, None] * (1.0 + fit_in.slope**2)
        g_out = r2_out[:, None] * (1.0 + fit_out.slope**2)
        g = frac_in[:, None] * g_in + (1.0 - frac_in[:, None]) * g_out
        idx0, w = _voxel_entries(kink[:, :2], 0, grid, soft)
        _, nx, ny = grid.shape
        idx = idx0 + (pick * nx * ny)[:, None]
        w = w * inside.to(kz.dtype)[:, None]
        length = w * (100.0 * v * r)[:, None]  # one voxel's worth of path, (n, E)
        a = torch.zeros((*idx.shape, 2, 3), dtype=kz.dtype, device=kz.device)
        a[..., 0] = length[..., None] * g[:, None, :]
        return _Design(idx=idx, a=a, length_cm=length, moments=(0,))
    if method != "path":
        raise ValueError(f"method must be 'path' or 'poca', got {method!r}")
    idx_all, a_all, len_all, layer_all = [], [], [], []
    for layer in range(nz):
        z_lo = oz + layer * v
        xy, r, g = _layer_geometry(fit_in, fit_out, kz, z_lo, v)
        idx, w = _voxel_entries(xy, layer, grid, soft)
        h_lo, h_hi = 100.0 * layer * v, 100.0 * (layer + 1) * v  # cm above the bottom plane
        ints = torch.tensor(
            [h_hi - h_lo, 0.5 * (h_hi**2 - h_lo**2), (h_hi**3 - h_lo**3) / 3.0],
            dtype=kz.dtype,
            device=kz.device,
        )
        wr = w * r[:, None]  # (n, E)
        a_all.append(wr[:, :, None, None] * g[:, None, :, None] * ints)  # (n, E, 2, 3)
        idx_all.append(idx)
        len_all.append(wr * (h_hi - h_lo))
        layer_all.append(torch.full((idx.shape[1],), layer, dtype=torch.long, device=idx.device))
    return _Design(
        idx=torch.cat(idx_all, 1),
        a=torch.cat(a_all, 1),
        length_cm=torch.cat(len_all, 1),
        moments=(0, 1, 2),
        entry_layer=torch.cat(layer_all),
    )


def _kink_observables(
    fit_in: TrackFit, fit_out: TrackFit, z_bottom_m: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per view ``(n, 2)``: the slope change ``dt`` and the displacement ``dx`` (cm) at the
    bottom plane of the volume (incoming line extrapolated minus outgoing line), and the
    ``(n, 2, 3)`` contribution of the track fits' errors to ``(var dt, cov, var dx)``."""
    dt = fit_out.slope - fit_in.slope  # (n, 2)
    x_out = fit_out.xy_at(torch.full_like(fit_out.point[:, 2], z_bottom_m))
    x_in = fit_in.xy_at(torch.full_like(fit_in.point[:, 2], z_bottom_m))
    dx = 100.0 * (x_in - x_out)  # a kick dt at height h above the plane gives dx = dt h
    lo, li = z_bottom_m - fit_out.point[:, 2], z_bottom_m - fit_in.point[:, 2]
    v_tt = fit_in.slope_var + fit_out.slope_var
    v_tx = -100.0 * (lo * fit_out.slope_var + li * fit_in.slope_var)
    v_xx = 1e4 * (
        fit_out.point_var + lo * lo * fit_out.slope_var + fit_in.point_var + li * li * fit_in.slope_var
    )
    meas = torch.stack([v_tt, v_tx, v_xx], dim=-1)[:, None, :].expand(-1, 2, -1)
    return dt, dx, meas


def _moments(fit_in: TrackFit, fit_out: TrackFit, z_bottom_m: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Observed moments ``(n, 2, 3)`` per view, ``(dt^2, dt dx, dx^2)`` (see
    :func:`_kink_observables`), and the track fits' contribution to their expectations."""
    dt, dx, meas = _kink_observables(fit_in, fit_out, z_bottom_m)
    return torch.stack([dt * dt, dt * dx, dx * dx], dim=-1), meas


def _scattering_coefficients(
    design: _Design, lam_e: torch.Tensor, momentum_gev: torch.Tensor, eloss_gev_per_x0: float, nz: int
) -> torch.Tensor:
    """``(n, E, 2, 3)`` coefficients of each entry's ``lambda`` in the expected moments:
    ``k f a`` with ``k = (13.6 MeV / beta p)^2`` at the momentum of the entry's layer (the
    measured momentum less ``eloss_gev_per_x0`` per radiation length above it, for "path") and
    Highland's log factor ``f`` for the muon's total thickness, both from the densities
    ``lam_e (n, E)`` of the entries."""
    t_e = design.length_cm * lam_e  # radiation lengths per entry
    p = momentum_gev
    beta = p / torch.sqrt(p**2 + MUON_MASS_GEV**2)
    f = (1.0 + HIGHLAND_LOG_COEF * torch.log(t_e.sum(1).clamp_min(1e-6) / beta**2)) ** 2
    if eloss_gev_per_x0 > 0 and design.entry_layer is not None:
        t_layer = torch.zeros((t_e.shape[0], nz), dtype=t_e.dtype, device=t_e.device).index_add(
            1, design.entry_layer, t_e
        )
        t_above = t_layer.flip(1).cumsum(1).flip(1) - 0.5 * t_layer
        p_e = (p[:, None] - eloss_gev_per_x0 * t_above).clamp_min(0.1)[:, design.entry_layer]
        k_e = (HIGHLAND_SCALE_GEV * torch.sqrt(p_e**2 + MUON_MASS_GEV**2) / p_e**2) ** 2
    else:
        k_e = ((HIGHLAND_SCALE_GEV / (beta * p)) ** 2)[:, None].expand_as(t_e)
    return (k_e * f[:, None])[:, :, None, None] * design.a


def _moment_weights(pred: torch.Tensor, moments: tuple[int, ...]) -> torch.Tensor:
    """Inverse covariance ``(n, 2, 3, 3)`` of the moments of a zero-mean bivariate Gaussian
    with covariance ``[[pred0, pred1], [pred1, pred2]]`` (Isserlis): ``var(dt^2) = 2 S_tt^2``,
    ``var(dt dx) = S_tt S_xx + S_tx^2``, ``var(dx^2) = 2 S_xx^2``, ``cov(dt^2, dt dx) = 2 S_tt
    S_tx``, ``cov(dt^2, dx^2) = 2 S_tx^2``, ``cov(dt dx, dx^2) = 2 S_xx S_tx``. Unused moments
    get weight 0."""
    stt, stx, sxx = pred[..., 0], pred[..., 1], pred[..., 2]
    if moments == (0,):
        w = torch.zeros((*pred.shape, 3), dtype=pred.dtype, device=pred.device)
        w[..., 0, 0] = 1.0 / (2.0 * stt * stt).clamp_min(1e-300)
        return w
    c = torch.stack(
        [
            torch.stack([2 * stt * stt, 2 * stt * stx, 2 * stx * stx], -1),
            torch.stack([2 * stt * stx, stt * sxx + stx * stx, 2 * sxx * stx], -1),
            torch.stack([2 * stx * stx, 2 * sxx * stx, 2 * sxx * sxx], -1),
        ],
        -2,
    )
    return torch.linalg.inv(c)


def _normal_equations(
    idx: torch.Tensor, coef: torch.Tensor, resid: torch.Tensor, w: torch.Tensor, n_vox: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``M = sum_i A_i^T W_i A_i`` and ``b = sum_i A_i^T W_i y_i`` for muons whose rows ``A_i``
    are sparse: entries ``idx (n, E)``, coefficients ``coef (n, E, 2, 3)`` (2 views x 3
    moments), weights ``w (n, 2, 3, 3)``, observations ``resid (n, 2, 3)``. Built by
    ``index_add`` over the ``E^2`` entry pairs of each muon (linear in the number of muons)."""
    wa = torch.einsum("nvpq,nevq->nevp", w, coef)  # W a
    vals = torch.einsum("nevp,nfvp->nef", coef, wa)
    pair = (idx[:, :, None] * n_vox + idx[:, None, :]).reshape(-1)
    m = torch.zeros(n_vox * n_vox, dtype=coef.dtype, device=coef.device).index_add(0, pair, vals.reshape(-1))
    rhs = torch.einsum("nevp,nvp->ne", wa, resid)
    b = torch.zeros(n_vox, dtype=coef.dtype, device=coef.device).index_add(
        0, idx.reshape(-1), rhs.reshape(-1)
    )
    return m.reshape(n_vox, n_vox), b


@dataclass(frozen=True)
class InferenceSettings:
    """Knobs of :func:`infer_x0`.

    ``method``: "path" (angle and displacement moments along the reconstructed path) or
    "poca" (TomOpt-like: the angle only, all in the POCA voxel). ``n_iter``: reweighting
    iterations after the uniform-volume fit that seeds the weights and the log factor.
    ``prior_width``: every voxel has a Gaussian prior centred on the uniform-volume value with
    a standard deviation ``prior_width`` times the larger of that value and the voxel's
    previous estimate (weakly seen voxels stay near the uniform value; a dense voxel, once
    seen, is not pulled back). ``smoothness``: strength of the edge-preserving prior on
    differences between face neighbours (0 switches it off). ``prior_x0_cm``: the value
    assumed with no muons at all. ``x0_range_cm``: plausible range the estimate is clamped to
    before taking logs. ``eloss_mev_per_x0``: assumed ionisation loss per radiation length
    (MeV) to follow the muon's momentum down its path ("path" only; 0 keeps the measured
    momentum throughout). It is about the critical energy of the dominant material (Rossi:
    loss per X0 ~ E_c; PDG: iron 21.7 MeV, lead 7.4 MeV, water 78 MeV); the default 10 MeV
    suits heavy-metal targets, the ladle study uses 20 MeV (steel).
    """

    method: str = "path"
    n_iter: int = 3
    prior_width: float = 1.0
    smoothness: float = 5.0
    prior_x0_cm: float = 10.0
    x0_range_cm: tuple[float, float] = (0.1, 1000.0)
    eloss_mev_per_x0: float = 10.0

    def __post_init__(self) -> None:
        if self.method not in ("path", "poca"):
            raise ValueError(f"method must be 'path' or 'poca', got {self.method!r}")
        if self.n_iter < 1:
            raise ValueError("n_iter must be >= 1")
        if not self.prior_width > 0:
            raise ValueError("prior_width must be > 0")
        if self.smoothness < 0:
            raise ValueError("smoothness must be >= 0")


def infer_x0(
    fit_in: TrackFit,
    fit_out: TrackFit,
    momentum_gev: torch.Tensor,
    weight: torch.Tensor,
    grid: InferenceGrid,
    *,
    settings: InferenceSettings = InferenceSettings(),
    soft: bool = False,
) -> X0Estimate:
    """Per-voxel X0 from the scattering of reconstructed muons (differentiable end to end).

    Model: per muon and view, the slope change ``dt`` and the displacement ``dx`` at the
    bottom of the volume are zero-mean Gaussian with a covariance linear in the scattering
    densities ``lambda_v = 1/X0_v`` (1/cm): ``k f sum_v lambda_v a_v`` plus the track fits'
    contribution, with ``k = (13.6 MeV / beta p)^2``, Highland's log factor ``f = (1 + 0.038
    ln T)^2`` for the muon's total thickness ``T = sum_v L_v lambda_v`` and the geometric
    coefficients ``a_v`` of :func:`_design` (the PDG continuous-scattering moments of angle
    and displacement, so the ratio of displacement to angle localises the scattering in
    depth). The three second moments ``(dt^2, dt dx, dx^2)`` are fitted by generalised least
    squares with their Gaussian (Isserlis) covariance, iteratively reweighted from the
    previous estimate, with a Gaussian prior per voxel and an edge-preserving smoothness
    prior (:class:`InferenceSettings`); ``Cov(lambda)`` is the inverse of the normal matrix.

    Args:
        fit_in, fit_out: track fits above and below the volume.
        momentum_gev: ``(n,)`` momentum used in ``k`` (measured or assumed).
        weight: ``(n,)`` muon weights (soft acceptance x two-hit probabilities, or 0/1).
        grid: the inference voxels.
        settings: method, iterations, priors, clamping range.
        soft: bilinear voxel weights in xy (training; differentiable in the positions).
    """
    n_vox = grid.n_voxels
    dtype, dev = momentum_gev.dtype, momentum_gev.device
    design = _design(fit_in, fit_out, grid, settings.method, soft)
    idx = design.idx
    obs, meas = _moments(fit_in, fit_out, grid.origin_m[2])
    resid = obs - meas
    nz = grid.shape[0]
    eloss = settings.eloss_mev_per_x0 * 1e-3 if design.entry_layer is not None else 0.0
    lam0 = 1.0 / settings.prior_x0_cm
    lam_lo, lam_hi = 1.0 / settings.x0_range_cm[1], 1.0 / settings.x0_range_cm[0]
    lam_cur = torch.full((n_vox,), lam0, dtype=dtype, device=dev)
    lam_uniform = torch.tensor(lam0, dtype=dtype, device=dev)
    lam_hat = lam_cur
    chol = None
    for it in range(settings.n_iter + 1):
        lam_w = lam_cur.clamp(lam_lo, lam_hi)
        lam_e = lam_w[idx]  # (n, E)
        coef = _scattering_coefficients(design, lam_e, momentum_gev, eloss, nz)  # (n, E, 2, 3)
        pred = (coef * lam_e[:, :, None, None]).sum(1) + meas  # (n, 2, 3)
        w = weight[:, None, None, None] * _moment_weights(pred, design.moments)
        if it == 0:
            # a uniform volume (one lambda), with a vanishing pull to the prior value so that
            # a design that sees no muons returns the prior
            a_sum = coef.sum(1)  # (n, 2, 3)
            wa = torch.einsum("nvpq,nvq->nvp", w, a_sum)
            info = (wa * a_sum).sum()
            tiny = 1e-9 / lam0**2
            lam_uniform = (((wa * resid).sum() + tiny * lam0) / (info + tiny)).clamp(lam_lo, lam_hi)
            lam_cur = lam_uniform.expand(n_vox)
            continue
        m, b = _normal_equations(idx, coef, resid, w, n_vox)
        scale = torch.maximum(lam_w, lam_uniform)
        alpha = 1.0 / (settings.prior_width * scale) ** 2
        if settings.smoothness > 0:
            m = m + _smoothness_matrix(grid, scale, settings.smoothness)
        lam_hat, chol = _SPDSolve.apply(m + torch.diag(alpha), b + alpha * lam_uniform)
        lam_cur = lam_hat
    assert chol is not None
    with torch.no_grad():
        var = torch.diagonal(torch.cholesky_inverse(chol))
        seen = (design.length_cm > 0).to(dtype) * weight[:, None]
        vox_w = torch.zeros(n_vox, dtype=dtype, device=dev).index_add(0, idx.reshape(-1), seen.reshape(-1))
    lam_c = lam_hat.clamp(lam_lo, lam_hi)
    shape = grid.shape
    return X0Estimate(
        inv_x0_per_cm=lam_hat.reshape(shape),
        x0_cm=(1.0 / lam_c).reshape(shape),
        log_x0_stderr=(var.sqrt() / lam_c.detach()).clamp_max(math.log(lam_hi / lam_lo)).reshape(shape),
        weight=vox_w.reshape(shape),
    )


def log_x0_mse(estimate: X0Estimate, true_inv_x0_per_cm: torch.Tensor) -> Estimate:
    """Mean over voxels of ``(ln X0_est - ln X0_true)^2`` with a delta-method standard error
    from the per-voxel uncertainties: ``var(e^2) ~ 4 e^2 s^2 + 2 s^4`` per voxel."""
    e = torch.log(estimate.x0_cm) + torch.log(true_inv_x0_per_cm.to(estimate.x0_cm))
    sq = e * e
    s2 = estimate.log_x0_stderr.detach() ** 2
    var = (4.0 * sq.detach() * s2 + 2.0 * s2 * s2).sum() / sq.numel() ** 2
    return Estimate(sq.mean(), var.sqrt())


# ----------------------------------------------------------------------------------------------
# Volumes
# ----------------------------------------------------------------------------------------------


def lead_block_grid(
    geometry: Geometry = Geometry(),
    *,
    voxel_m: float = 0.1,
    matrix: str | Material = "water",
    block: str | Material = "Pb",
    block_voxels: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((3, 6), (5, 8), (4, 6)),
) -> MaterialGrid:
    """A volume of ``voxel_m`` cubes of ``matrix`` holding a block of ``block`` that occupies
    voxel ranges ``((x0, x1), (y0, y1), (z0, z1))`` (half-open, z counted from the bottom)."""
    x0, x1, y0, y1 = geometry.volume_xy
    z0, z1 = geometry.volume_z
    nx, ny, nz = round((x1 - x0) / voxel_m), round((y1 - y0) / voxel_m), round((z1 - z0) / voxel_m)
    mat = torch.zeros((nz, nx, ny), dtype=torch.long)
    (bx0, bx1), (by0, by1), (bz0, bz1) = block_voxels
    mat[bz0:bz1, bx0:bx1, by0:by1] = 1
    return MaterialGrid(
        material=mat,
        materials=(get(matrix), get(block)),
        origin_m=(x0, y0, z0),
        voxel_xy_m=voxel_m,
        layer_m=voxel_m,
    )


def liquid_steel() -> Material:
    """Molten steel: iron's PDG properties per g/cm2 at the density of liquid steel near 1600 C,
    7.0 g/cm3 (the value TomOpt's ladle benchmark uses; solid iron is 7.874). Not in the shared
    materials table, so built here."""
    fe = get("Fe")
    rho = 7.0
    return Material(
        name="liquid_steel",
        density_g_cm3=rho,
        x0_g_cm2=fe.x0_g_cm2,
        x0_cm=fe.x0_g_cm2 / rho,
        critical_energy_mev=fe.critical_energy_mev,
        moliere_radius_cm=fe.moliere_radius_cm * fe.density_g_cm3 / rho,
        dedx_mip_mev_cm2_g=fe.dedx_mip_mev_cm2_g,
        z_over_a=fe.z_over_a,
        lambda_int_g_cm2=fe.lambda_int_g_cm2,
        lambda_int_cm=fe.lambda_int_g_cm2 / rho,
        z_eff=fe.z_eff,
        description="liquid steel (iron at 7.0 g/cm3)",
    )


def ladle_grid(
    fill_level_m: float,
    geometry: Geometry = Geometry(),
    *,
    voxel_m: float = 0.1,
    layer_m: float = 0.02,
    wall_voxels: int = 1,
) -> tuple[MaterialGrid, float]:
    """A ladle furnace: steel (Fe) walls ``wall_voxels`` thick on the four sides and the bottom,
    liquid steel inside up to ``fill_level_m`` (absolute z, m), air above. The material grid
    has ``layer_m`` layers in z (finer than the inference voxels) so the level is resolved to
    ``layer_m``; returns the grid and the simulated level (rounded to a layer boundary)."""
    x0, x1, y0, y1 = geometry.volume_xy
    z0, z1 = geometry.volume_z
    nx, ny = round((x1 - x0) / voxel_m), round((y1 - y0) / voxel_m)
    nz = round((z1 - z0) / layer_m)
    per_voxel = round(voxel_m / layer_m)
    floor_layers = wall_voxels * per_voxel
    n_fill = round((fill_level_m - z0) / layer_m)
    n_fill = max(floor_layers, min(nz, n_fill))
    mat = torch.zeros((nz, nx, ny), dtype=torch.long)  # 0: air
    mat[:n_fill] = 2  # liquid steel
    w = wall_voxels
    mat[:, :w, :] = 1
    mat[:, nx - w :, :] = 1
    mat[:, :, :w] = 1
    mat[:, :, ny - w :] = 1
    mat[:floor_layers] = 1
    grid = MaterialGrid(
        material=mat,
        materials=(get("air"), get("Fe"), liquid_steel()),
        origin_m=(x0, y0, z0),
        voxel_xy_m=voxel_m,
        layer_m=layer_m,
    )
    return grid, z0 + n_fill * layer_m


# ----------------------------------------------------------------------------------------------
# The simulation modules
# ----------------------------------------------------------------------------------------------


@dataclass
class Reconstruction:
    """Reconstructed muons of one scan: the track fits above and below and the momentum used
    by the inference for the kept muons, their weights ``weight_used``, and the weights of
    all generated muons ``weight (n,)`` (soft acceptance in training, 0/1 in evaluation)."""

    fit_in: TrackFit
    fit_out: TrackFit
    momentum_gev: torch.Tensor
    weight_used: torch.Tensor
    weight: torch.Tensor
    rate_hz: float
    exposure_s: float


@dataclass
class ScanResult:
    """One simulated scan: the X0 estimate, the muon weights ``(n,)`` (acceptance in training,
    0/1 in evaluation), and the muon sample's rate and size."""

    estimate: X0Estimate
    weight: torch.Tensor
    rate_hz: float
    n_generated: int
    extras: dict[str, float] = field(default_factory=dict)


class MuonTomography(nn.Module):
    """The lead-block study's simulation: ``simulate(params, choices, n_samples, generator)``.

    Choices: ``n_above`` and ``n_below`` (panels per side, 1-4: a side with one panel cannot
    fit a line, so such designs see no muons, as in TomOpt) and ``technology`` (a key of
    ``technologies``). Parameters: the panel z, centre and span per slot (see
    :func:`panel_parameters`); slots beyond ``n_above`` / ``n_below`` are inactive.

    Returns per call: ``x0_error`` (mean squared error of ln X0 over the voxels, an
    :class:`~paretoopt.problem.Estimate`), ``cost`` (kEUR), ``scan_time`` (s to reconstruct
    ``target_muons`` muons at this design's acceptance), and diagnostics (accepted fraction,
    exposure of the sample in s).

    ``.train()`` (set by the inner loop while optimising) selects soft acceptance, expected
    hit weights and bilinear voxel weights; ``.eval()`` the hard detector.

    The momentum fed to the inference is the muon's true momentum on entry smeared by
    ``momentum_resolution`` (relative; TomOpt uses the true momentum), or, with
    ``momentum_resolution=None``, the spectrum's ``<1/p^2>``-equivalent momentum for every muon
    (no momentum measurement).
    """

    def __init__(
        self,
        grid: MaterialGrid | None = None,
        geometry: Geometry = Geometry(),
        *,
        technologies: Mapping[str, Technology] | None = None,
        inference: InferenceSettings = InferenceSettings(),
        smoothing_m: float = 0.03,
        n_substeps: int = 2,
        energy_range_gev: tuple[float, float] = (0.5, 500.0),
        max_zenith_deg: float = 70.0,
        target_muons: int = 20_000,
        momentum_resolution: float | None = 0.0,
        min_weight: float = 1e-4,
    ) -> None:
        super().__init__()
        self.min_weight = float(min_weight)
        self.geometry = geometry
        self.grid = grid if grid is not None else lead_block_grid(geometry)
        self.technologies = dict(technologies if technologies is not None else TECHNOLOGIES)
        self.inference = inference
        self.smoothing_m = float(smoothing_m)
        self.n_substeps = int(n_substeps)
        self.energy_range_gev = energy_range_gev
        self.max_zenith_deg = float(max_zenith_deg)
        self.target_muons = int(target_muons)
        self.momentum_resolution = momentum_resolution
        self.inference_grid = InferenceGrid.matching(self.grid)

    # -- the pieces, usable on their own --------------------------------------------------
    def panels(self, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]) -> tuple[Panels, Panels]:
        return (
            Panels.from_params(params, "above", int(choices["n_above"])),
            Panels.from_params(params, "below", int(choices["n_below"])),
        )

    def cost(self, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]) -> torch.Tensor:
        """Detector cost (kEUR): cost per m2 of the technology times the active panel area.

        Inactive slots enter with weight 0 so that every parameter is attached to the graph
        (their gradient is exactly 0, not missing)."""
        tech = self.technologies[str(choices["technology"])]
        above, below = self.panels(params, choices)
        total = tech.cost_keur_per_m2 * (above.area_m2() + below.area_m2())
        unused = sum(
            torch.as_tensor(v).sum() * 0.0
            for k, v in params.items()
            if k.startswith(SIDES) and not self._active(k, choices)
        )
        return total + unused

    @staticmethod
    def _active(name: str, choices: Mapping[str, Any]) -> bool:
        for side in SIDES:
            if name.startswith(side):
                slot = int(name[len(side) : name.index("_")])
                return slot <= int(choices[f"n_{side}"])
        return True

    def reconstruct(
        self,
        grid: MaterialGrid,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_muons: int,
        generator: torch.Generator,
    ) -> Reconstruction:
        """Generate ``n_muons`` muons, carry them through ``grid``, record hits, fit tracks."""
        ref = next(iter(params.values()))
        dtype, dev = ref.dtype, ref.device
        geo = self.geometry
        tech = self.technologies[str(choices["technology"])]
        above, below = self.panels(params, choices)
        mu = sample_muons(
            n_muons,
            generator=generator,
            energy_range_gev=self.energy_range_gev,
            max_zenith_deg=self.max_zenith_deg,
            area=geo.generation_area,
            z_m=geo.generation_z,
            dtype=dtype,
            device=dev,
        )
        entry = MuonState.start(mu.position_m, mu.direction, mu.momentum_gev).to_plane(grid.z_top_m)
        exit_ = propagate(entry, grid, generator, n_substeps=self.n_substeps)
        slope_in = entry.direction[:, :2] / entry.direction[:, 2:3]
        slope_out = exit_.direction[:, :2] / exit_.direction[:, 2:3]
        training = self.training
        hits_in = detector_hits(
            entry.position_m[:, :2], slope_in, grid.z_top_m, above, tech, generator,
            training=training, smoothing_m=self.smoothing_m,
        )  # fmt: skip
        hits_out = detector_hits(
            exit_.position_m[:, :2], slope_out, grid.z_bottom_m, below, tech, generator,
            training=training, smoothing_m=self.smoothing_m,
        )  # fmt: skip
        weight = hits_in.prob_two_or_more() * hits_out.prob_two_or_more() * exit_.alive.to(dtype)
        p_meas = self._measured_momentum(mu.momentum_gev, generator)
        # evaluation keeps the reconstructed muons; training drops muons whose soft weight is
        # negligible (far outside the panels: they would add nothing but cost)
        keep = weight > (self.min_weight if training else 0.0)
        hits_in, hits_out = _select(hits_in, keep), _select(hits_out, keep)
        return Reconstruction(
            fit_in=fit_tracks(hits_in),
            fit_out=fit_tracks(hits_out),
            momentum_gev=p_meas[keep],
            weight_used=weight[keep],
            weight=weight,
            rate_hz=mu.rate_hz,
            exposure_s=mu.exposure_s,
        )

    def scan(
        self,
        grid: MaterialGrid,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_muons: int,
        generator: torch.Generator,
    ) -> ScanResult:
        """Simulate one scan of ``grid`` with ``n_muons`` generated muons and infer X0."""
        reco = self.reconstruct(grid, params, choices, n_muons, generator)
        est = infer_x0(
            reco.fit_in,
            reco.fit_out,
            reco.momentum_gev,
            reco.weight_used,
            self.inference_grid,
            settings=self.inference,
            soft=self.training,
        )
        return ScanResult(
            estimate=est,
            weight=reco.weight,
            rate_hz=reco.rate_hz,
            n_generated=n_muons,
            extras={"n_reconstructed": float(reco.weight.detach().sum()), "exposure_s": reco.exposure_s},
        )

    def _measured_momentum(self, p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        if self.momentum_resolution is None:
            # no measurement: the momentum whose 1/p^2 equals the spectrum's mean 1/p^2
            return torch.full_like(p, float(1.0 / torch.sqrt((1.0 / p**2).mean())))
        return (p * (1.0 + self.momentum_resolution * noise)).clamp_min(0.1 * float(p.min()))

    def scan_time(self, scan: ScanResult) -> Estimate:
        """Seconds to reconstruct ``target_muons`` muons: target / (rate x accepted fraction)."""
        w = scan.weight
        frac = w.mean().clamp_min(1e-12)
        value = self.target_muons / (scan.rate_hz * frac)
        rel = (w.detach().std() / math.sqrt(w.numel())) / frac.detach()
        return Estimate(value, value.detach() * rel)

    def forward(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        scan = self.scan(self.grid, params, choices, n_samples, generator)
        truth = true_inv_x0(self.grid, self.inference_grid, scan.estimate.x0_cm.dtype).to(scan.estimate.x0_cm)
        return {
            "x0_error": log_x0_mse(scan.estimate, truth),
            "cost": self.cost(params, choices),
            "scan_time": self.scan_time(scan),
            "accepted_fraction": Estimate(scan.weight.mean().detach()),
            "exposure_s": scan.extras["exposure_s"],
        }


def _select(h: SideHits, keep: torch.Tensor) -> SideHits:
    return SideHits(xy=h.xy[keep], w=h.w[keep], z=h.z, resolution_m=h.resolution_m)


class LadleFurnace(MuonTomography):
    """The ladle-furnace variant: the objective is the error of the inferred fill level.

    Each call scans ``n_levels`` furnaces whose liquid-steel levels are drawn by stratified
    sampling over ``fill_range_m`` (absolute z), each with ``n_samples // n_levels`` muons.
    ``fill_level_error`` is the RMS error over the scanned levels (cm).

    ``level_method="fit"`` (default, :meth:`fit_level`) fits the level directly: the walls,
    floor and the two fill materials are known, so the level is the only unknown of the
    Gaussian likelihood of every muon's slope change and displacement. ``"map"`` reads it off
    the general X0 map (:meth:`fill_level`), which needs far more muons in a metre of steel.
    """

    def __init__(
        self,
        geometry: Geometry = Geometry(),
        *,
        fill_range_m: tuple[float, float] | None = None,
        n_levels: int = 4,
        layer_m: float = 0.02,
        level_method: str = "fit",
        **kwargs: Any,
    ) -> None:
        grid, _ = ladle_grid(0.5 * sum(geometry.volume_z), geometry, layer_m=layer_m)
        kwargs.setdefault("inference", InferenceSettings(eloss_mev_per_x0=20.0))
        super().__init__(grid, geometry, **kwargs)
        if level_method not in ("fit", "map"):
            raise ValueError(f"level_method must be 'fit' or 'map', got {level_method!r}")
        z0, z1 = geometry.volume_z
        self.fill_range_m = fill_range_m if fill_range_m is not None else (z0 + 0.15, z1 - 0.05)
        self.n_levels = int(n_levels)
        self.layer_m = float(layer_m)
        self.level_method = level_method
        self.lambda_steel = 1.0 / liquid_steel().x0_cm
        self.lambda_wall = 1.0 / get("Fe").x0_cm
        self.lambda_air = 1.0 / get("air").x0_cm

    def fill_level(self, estimate: X0Estimate) -> torch.Tensor:
        """Fill level (absolute z, m) read off an X0 map: ``z_floor + voxel * sum_l clip((lambda_l
        - lambda_air) / (lambda_steel - lambda_air), 0, 1)`` over the interior voxels of each
        layer above the floor (a partly filled voxel scatters in proportion to its steel)."""
        lam = estimate.inv_x0_per_cm[:, 1:-1, 1:-1].mean(dim=(1, 2))  # (nz,)
        frac = ((lam - self.lambda_air) / (self.lambda_steel - self.lambda_air)).clamp(0.0, 1.0)
        v = self.inference_grid.voxel_m
        z0 = self.grid.z_bottom_m + v  # top of the floor
        return z0 + v * frac[1:].sum()

    def _level_densities(self, h: torch.Tensor) -> torch.Tensor:
        """``(V,)`` 1/X0 (1/cm) of the inference voxels for a level ``h`` (absolute z, m)."""
        nz, nx, ny = self.inference_grid.shape
        v, oz = self.inference_grid.voxel_m, self.inference_grid.origin_m[2]
        dev, dtype = h.device, h.dtype
        interior = torch.zeros((nz, nx, ny), dtype=torch.bool, device=dev)
        interior[1:, 1:-1, 1:-1] = True
        z_lo = (oz + v * torch.arange(nz, device=dev, dtype=dtype))[:, None, None].expand(nz, nx, ny)
        frac = ((h - z_lo) / v).clamp(0.0, 1.0)
        fill = self.lambda_air + (self.lambda_steel - self.lambda_air) * frac
        lam = torch.where(interior, fill, torch.full_like(frac, self.lambda_wall))
        return lam.reshape(-1)

    def fit_level(self, reco: Reconstruction, *, soft: bool) -> torch.Tensor:
        """Maximum-likelihood fill level (absolute z, m), differentiable in the detector.

        Per muon and view, ``(dt, dx)`` is zero-mean Gaussian with covariance ``S(h) = sum_v
        lambda_v(h) k f a_v + S_meas`` (the model of :func:`infer_x0`, with the known materials
        and the momentum followed down the path). The negative log-likelihood ``sum_i w_i
        sum_views (ln det S + u^T S^-1 u) / 2`` is minimised over a 1 cm grid of levels, refined
        by Newton steps, and the last Newton step is taken on the autograd graph so the result
        carries the implicit-function gradient ``dh/dtheta = -d_theta NLL' / NLL''``.
        """
        grid = self.inference_grid
        nz = grid.shape[0]
        design = _design(reco.fit_in, reco.fit_out, grid, "path", soft)
        dt, dx, meas = _kink_observables(reco.fit_in, reco.fit_out, grid.origin_m[2])
        eloss = self.inference.eloss_mev_per_x0 * 1e-3
        p, w = reco.momentum_gev, reco.weight_used
        lo = grid.origin_m[2] + grid.voxel_m  # top of the floor
        hi = grid.origin_m[2] + nz * grid.voxel_m

        def nll(h: torch.Tensor) -> torch.Tensor:
            lam_e = self._level_densities(h)[design.idx]
            coef = _scattering_coefficients(design, lam_e, p, eloss, nz)
            s = (coef * lam_e[:, :, None, None]).sum(1) + meas  # (n, 2, 3)
            stt, stx, sxx = s[..., 0], s[..., 1], s[..., 2]
            det = (stt * sxx - stx * stx).clamp_min(1e-300)
            quad = (sxx * dt * dt - 2 * stx * dt * dx + stt * dx * dx) / det
            return 0.5 * (w[:, None] * (torch.log(det) + quad)).sum()

        if float(w.detach().sum()) <= 0:  # nothing seen: the middle of the range
            return torch.tensor(0.5 * (lo + hi), dtype=p.dtype, device=p.device) + 0.0 * w.sum()
        with torch.no_grad():
            grid_h = torch.arange(lo, hi + 1e-9, 0.01, dtype=p.dtype, device=p.device)
            values = torch.stack([nll(h) for h in grid_h])
            h_best = grid_h[int(torch.argmin(values))].clone()
        keep_graph = torch.is_grad_enabled()  # False in the final (no-grad) evaluation
        with torch.enable_grad():
            for _ in range(3):
                h = h_best.clone().requires_grad_(True)
                g, hess = _grad_hess(nll, h, create_graph=False)
                step = -g / hess if hess > 0 else -0.01 * torch.sign(g)
                h_best = (h_best + step.clamp(-0.02, 0.02)).clamp(lo, hi).detach()
            h = h_best.clone().requires_grad_(True)
            g, hess = _grad_hess(nll, h, create_graph=keep_graph)
        if not keep_graph:
            return (h_best - g / hess).detach() if float(hess) > 0 else h_best
        if float(hess.detach()) <= 0:
            return h_best + 0.0 * g
        return h_best - g / hess

    def forward(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        ref = next(iter(params.values()))
        k = self.n_levels
        lo, hi = self.fill_range_m
        u = torch.rand(k, generator=generator, device=ref.device, dtype=torch.float64).cpu()
        levels = [lo + (hi - lo) * (i + float(u[i])) / k for i in range(k)]
        errors, weights, exposure, rate = [], [], 0.0, 0.0
        for level in levels:
            grid, true_level = ladle_grid(level, self.geometry, layer_m=self.layer_m)
            reco = self.reconstruct(grid, params, choices, max(2, n_samples // k), generator)
            if self.level_method == "fit":
                h = self.fit_level(reco, soft=self.training)
            else:
                est = infer_x0(
                    reco.fit_in, reco.fit_out, reco.momentum_gev, reco.weight_used, self.inference_grid,
                    settings=self.inference, soft=self.training,
                )  # fmt: skip
                h = self.fill_level(est)
            errors.append(100.0 * (h - true_level))
            weights.append(reco.weight)
            exposure += reco.exposure_s
            rate = reco.rate_hz
        err = torch.stack(errors)
        ms = (err * err).mean()
        rms = torch.sqrt(ms + 1e-12)
        se_ms = (err.detach() ** 2).std() / math.sqrt(k) if k > 1 else torch.zeros(())
        w = torch.cat(weights)
        frac = w.mean().clamp_min(1e-12)
        scan_time = self.target_muons / (rate * frac)
        scan_se = scan_time.detach() * (w.detach().std() / math.sqrt(w.numel())) / frac.detach()
        return {
            "fill_level_error": Estimate(rms, se_ms / (2.0 * rms.detach())),
            "cost": self.cost(params, choices),
            "scan_time": Estimate(scan_time, scan_se),
            "accepted_fraction": Estimate(w.mean().detach()),
            "exposure_s": exposure / k,
        }


def _grad_hess(fn: Any, h: torch.Tensor, *, create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """First and second derivative of a scalar function of a 0-d tensor ``h`` (autograd)."""
    value = fn(h)
    (g,) = torch.autograd.grad(value, h, create_graph=True)
    (hess,) = torch.autograd.grad(g, h, create_graph=create_graph)
    return (g, hess) if create_graph else (g.detach(), hess.detach())


# ----------------------------------------------------------------------------------------------
# Study definitions
# ----------------------------------------------------------------------------------------------

#: Inner-loop settings chosen so one trial takes about 20-40 s on one CPU core: Adam on fresh
#: samples of 10,000 generated muons (about 700 reconstructed at the start), at most 40 steps,
#: and a final evaluation on 50,000 generated muons (about 110 s of exposure).
TOMOGRAPHY_INNER = InnerSettings(
    optimizer="adam", max_steps=40, lr=0.1, n_samples=10_000, n_eval_samples=50_000, patience=15, tol=1e-4
)


def tomography_space(
    geometry: Geometry = Geometry(), technologies: Sequence[str] | None = None
) -> DesignSpace:
    """Panels above / below (1-4 each), the technology, and per slot z, xy centre and xy span."""
    techs = tuple(technologies if technologies is not None else TECHNOLOGIES)
    return DesignSpace(
        Integer("n_above", 1, geometry.max_panels),
        Integer("n_below", 1, geometry.max_panels),
        Choice("technology", techs),
        *panel_parameters(geometry),
    )


def tomography_study(
    scenario: str = "lead_block",
    *,
    geometry: Geometry = Geometry(),
    inner: InnerSettings = TOMOGRAPHY_INNER,
    max_scan_time_s: float = 600.0,
    nadir_physics: float | None = None,
    nadir_cost_keur: float = 1000.0,
    **kwargs: Any,
) -> StudyDefinition:
    """The muon-tomography study: ``scenario="lead_block"`` (X0 map of a lead block in water)
    or ``"ladle"`` (fill level of a ladle furnace). Objectives: the physics figure and the
    detector cost (kEUR), both minimised; constraint: the scan time to reconstruct
    ``target_muons`` muons stays below ``max_scan_time_s``. The normalisation runs from 0 to
    ``nadir_physics`` (default 3 for the ln X0 MSE, 3 cm for the fill level) and
    ``nadir_cost_keur``; other keyword arguments go to the simulation module."""
    space = tomography_space(geometry)
    if scenario == "lead_block":
        sim: MuonTomography = MuonTomography(geometry=geometry, **kwargs)
        physics = Objective(
            "x0_error",
            "minimize",
            None,
            description="mean over 10 cm voxels of (ln X0_inferred - ln X0_true)^2",
        )
        name, desc = "muon_tomography", "Muon scattering tomography of a lead block in water"
        default_nadir = 3.0
    elif scenario == "ladle":
        sim = LadleFurnace(geometry=geometry, **kwargs)
        physics = Objective(
            "fill_level_error", "minimize", "cm", description="RMS error of the inferred steel level"
        )
        name, desc = "ladle_furnace", "Muon tomography of the fill level of a ladle furnace"
        default_nadir = 3.0
    else:
        raise ValueError(f"scenario must be 'lead_block' or 'ladle', got {scenario!r}")
    return StudyDefinition(
        name,
        space,
        [physics, Objective("cost", "minimize", "kEUR", description="area x cost per m2")],
        sim,
        [Constraint("scan_time", upper=max_scan_time_s, unit="s", scale=max_scan_time_s)],
        inner,
        description=desc,
        ideal=(0.0, 0.0),
        nadir=(nadir_physics if nadir_physics is not None else default_nadir, nadir_cost_keur),
    )
