"""The inference voxels and the linear model of the muons' kinks in their scattering densities."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paretoopt.physics.muons import MUON_MASS_GEV
from paretoopt.physics.scattering import HIGHLAND_LOG_COEF, HIGHLAND_SCALE_GEV, MaterialGrid
from paretoopt.physics.tomography.tracks import TrackFit, poca


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


@dataclass(frozen=True)
class ScatteringModel:
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


def build_scattering_model(
    fit_in: TrackFit, fit_out: TrackFit, grid: InferenceGrid, method: str, soft: bool
) -> ScatteringModel:
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
        return ScatteringModel(idx=idx, a=a, length_cm=length, moments=(0,))
    if method != "path":
        raise ValueError(f"method must be 'path' or 'poca', got {method!r}")
    idx_all, a_all, len_all, layer_all = [], [], [], []
    for layer in range(nz):
        z_layer = oz + layer * v
        xy, r, g = _layer_geometry(fit_in, fit_out, kz, z_layer, v)
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
    return ScatteringModel(
        idx=torch.cat(idx_all, 1),
        a=torch.cat(a_all, 1),
        length_cm=torch.cat(len_all, 1),
        moments=(0, 1, 2),
        entry_layer=torch.cat(layer_all),
    )


def kink_observables(
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


def scattering_coefficients(
    design: ScatteringModel, lam_e: torch.Tensor, momentum_gev: torch.Tensor, eloss_gev_per_x0: float, nz: int
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
