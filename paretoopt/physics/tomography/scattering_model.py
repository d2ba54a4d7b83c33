"""The inference voxels and the linear model of the muons' kinks in their scattering densities."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from paretoopt.physics.energy_loss import material_dedx_mev_cm
from paretoopt.physics.materials import get
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
    """The linear model of one scan: per muon, voxel entries ``idx (n, E)`` (one per layer, or
    four bilinear ones per layer when soft) and, per view (x, y) and moment (``dt^2``, ``dt dx``,
    ``dx^2``), the coefficient of each voxel's ``lambda`` in the expected moment, ``a (n, E, 2,
    3)`` (before the factor ``k f``), the path length per entry ``length_cm (n, E)`` and the
    layer of each entry ``entry_layer (E,)``."""

    idx: torch.Tensor
    a: torch.Tensor
    length_cm: torch.Tensor
    entry_layer: torch.Tensor

    def select(self, keep: torch.Tensor) -> ScatteringModel:
        return ScatteringModel(self.idx[keep], self.a[keep], self.length_cm[keep], self.entry_layer)


def _layer_geometry(
    fit_in: TrackFit, fit_out: TrackFit, kink_z: torch.Tensor, z_lo: float, v: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For the slab ``[z_lo, z_lo + v]``: the xy ``(n, 2)`` of the reconstructed path at its
    centre (incoming line above the kink height, outgoing below, blended in the slab that
    holds the kink), the path length per unit height ``r`` and the slope-kick factors ``r^2 (1 +
    t^2)`` per view ``(n, 2)``, blended by the share of the slab above the kink."""
    z_c = torch.full_like(kink_z, z_lo + 0.5 * v)
    frac_in = ((z_lo + v - kink_z) / v).clamp(0.0, 1.0)
    # the two lines (nearly) meet at the kink: blend them by the share of the slab above it,
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
    fit_in: TrackFit, fit_out: TrackFit, grid: InferenceGrid, *, soft: bool = False, steps: int = 2
) -> ScatteringModel:
    """Build the linear model of the kinks in the voxels' scattering densities.

    A slope kick of projected width ``theta`` in the plane perpendicular to a track of slopes
    ``t`` changes the slope in view x by a variance ``theta^2 r^2 (1 + t_x^2)`` (``r^2 = 1 +
    |t|^2``). Kicks spread uniformly along the path in a slab at heights ``h`` (cm) above the
    bottom plane of the volume, where the displacement ``dx = dt h`` is measured, give per cm
    of height ``(1, h, h^2)`` to the moments ``(dt^2, dt dx, dx^2)``: integrated over the
    slab, ``(H, (h_hi^2 - h_lo^2)/2, (h_hi^3 - h_lo^3)/3)``, times ``r`` (path per height):
    the PDG continuous-scattering moments (PDG eqs. 34.16-34.19), as in Schultz et al., IEEE
    Trans. Image Process. 16 (2007) 1985. The path is the incoming line down to the point of
    closest approach of the two lines and the outgoing line below it, sampled at ``steps``
    slabs per voxel layer (an inclined muon crosses several voxels in one layer: at 60 degrees
    a 10 cm layer spans 17 cm sideways); ``soft`` spreads each slab's entry over the four
    nearest voxels with bilinear weights (differentiable in xy).
    """
    nz, _, _ = grid.shape
    oz, v = grid.origin_m[2], grid.voxel_m
    dz = v / steps
    kink = poca(fit_in.point, fit_in.direction, fit_out.point, fit_out.direction)
    kz = kink[:, 2]
    idx_all, a_all, len_all, layer_all = [], [], [], []
    for layer in range(nz):
        for sub in range(steps):
            z_slab = oz + layer * v + sub * dz
            xy, r, g = _layer_geometry(fit_in, fit_out, kz, z_slab, dz)
            idx, w = _voxel_entries(xy, layer, grid, soft)
            h_lo, h_hi = 100.0 * (z_slab - oz), 100.0 * (z_slab + dz - oz)  # cm above the bottom
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
        entry_layer=torch.cat(layer_all),
    )


def kink_observables(
    fit_in: TrackFit, fit_out: TrackFit, z_bottom_m: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per view ``(n, 2)``: the slope change ``dt`` and the displacement ``dx`` (cm) at the
    bottom plane of the volume (incoming line extrapolated minus outgoing line), and the
    ``(n, 2, 3)`` contribution of the track fits' errors (resolution and panel scattering,
    including their position-slope covariance) to ``(var dt, cov, var dx)``."""
    dt = fit_out.slope - fit_in.slope  # (n, 2)
    x_out = fit_out.xy_at(torch.full_like(fit_out.point[:, 2], z_bottom_m))
    x_in = fit_in.xy_at(torch.full_like(fit_in.point[:, 2], z_bottom_m))
    dx = 100.0 * (x_in - x_out)  # a kick dt at height h above the plane gives dx = dt h
    lo = (z_bottom_m - fit_out.point[:, 2])[:, None]
    li = (z_bottom_m - fit_in.point[:, 2])[:, None]
    v_tt = fit_in.slope_var + fit_out.slope_var
    v_tx = -100.0 * (lo * fit_out.slope_var + fit_out.cov + li * fit_in.slope_var + fit_in.cov)
    v_xx = 1e4 * (
        fit_out.point_var + lo * lo * fit_out.slope_var + 2.0 * lo * fit_out.cov
        + fit_in.point_var + li * li * fit_in.slope_var + 2.0 * li * fit_in.cov
    )  # fmt: skip
    meas = torch.stack([v_tt, v_tx, v_xx], dim=-1)  # (n, 2, 3)
    return dt, dx, meas


class LossModel:
    """Material-aware ionisation loss for the inference, which knows only each voxel's
    ``lambda = 1/X0``: ``ln(dE/dx per cm)`` is interpolated in ``ln lambda`` between reference
    materials (air, water, aluminium, iron, lead, uranium: 0.0022, 1.99, 4.36, 11.4, 12.7 and
    20.5 MeV/cm at minimum ionisation) by a monotone cubic Hermite spline (Fritsch and Carlson,
    SIAM J. Numer. Anal. 17 (1980) 238: smooth, so its derivative is well defined at the
    reference materials themselves), and linearly in ``ln p`` along each one's Bethe curve
    (paretoopt.physics.energy_loss). For a voxel of a reference material the loss is exact;
    in between it follows the trend of the periodic table, beyond air and uranium it continues
    along the end slope. ``per_cm(lam, p)`` gives GeV/cm."""

    def __init__(
        self, anchors: tuple[str, ...] = ("U", "Pb", "Fe", "Al", "water", "air"), n_points: int = 256
    ) -> None:
        mats = sorted((get(a) for a in anchors), key=lambda m: -m.x0_cm)  # ascending lambda
        self.x = torch.tensor([-math.log(m.x0_cm) for m in mats], dtype=torch.float64)  # ln lambda
        lo, hi = math.log(0.02), math.log(1.0e4)
        self.log_p0, self.step, self.n_points = lo, (hi - lo) / (n_points - 1), n_points
        p = torch.exp(torch.linspace(lo, hi, n_points, dtype=torch.float64))
        y = torch.stack([torch.log(material_dedx_mev_cm(m, p) * 1e-3) for m in mats])  # (M, J)
        h = self.x[1:] - self.x[:-1]
        sec = (y[1:] - y[:-1]) / h[:, None]  # (M-1, J)
        slope = torch.empty_like(y)
        slope[0], slope[-1] = sec[0], sec[-1]
        inner = 2.0 / (1.0 / sec[:-1] + 1.0 / sec[1:])  # harmonic mean (all secants > 0 here)
        slope[1:-1] = torch.where(sec[:-1] * sec[1:] > 0, inner, torch.zeros_like(inner))
        self.y, self.slope = y, slope

    def log_rate(self, lam: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``ln(dE/dx / (GeV/cm))`` and its derivative in ``ln lambda`` (broadcast shapes)."""
        dev, dt = lam.device, lam.dtype
        xs, ys, ss = self.x.to(dev, dt), self.y.to(dev, dt), self.slope.to(dev, dt)
        x = torch.log(lam).clamp(float(xs[0]), float(xs[-1]))
        m = (torch.searchsorted(xs, x.detach().contiguous(), right=True) - 1).clamp(0, xs.numel() - 2)
        h = xs[m + 1] - xs[m]
        t = (x - xs[m]) / h
        u = ((torch.log(p) - self.log_p0) / self.step).clamp(0.0, self.n_points - 1.001)
        j = u.detach().long()
        fj = u - j
        m, j = torch.broadcast_tensors(m, j)
        n = self.n_points
        yf, sf = ys.reshape(-1), ss.reshape(-1)

        def at(flat: torch.Tensor, mm: torch.Tensor) -> torch.Tensor:
            a = flat[mm * n + j]
            return a + fj * (flat[mm * n + j + 1] - a)

        y0, y1, s0, s1 = at(yf, m), at(yf, m + 1), at(sf, m) * h, at(sf, m + 1) * h
        t2, t3 = t * t, t * t * t
        val = (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * s0 + (3 * t2 - 2 * t3) * y1 + (t3 - t2) * s1
        der = (
            (6 * t2 - 6 * t) * y0 + (3 * t2 - 4 * t + 1) * s0 + (6 * t - 6 * t2) * y1 + (3 * t2 - 2 * t) * s1
        ) / h
        # beyond the lightest and heaviest anchors: continued along the end slope (C1, so the
        # inference's Newton steps see no kink there; a clamp stalled fits at uranium's X0)
        return val + der * (torch.log(lam) - x), der

    def per_cm(self, lam: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Mean ionisation loss (GeV/cm) in voxels of densities ``lam`` (1/cm) at momenta ``p``."""
        return torch.exp(self.log_rate(lam, p)[0])

    def entry_rates(
        self, idx: torch.Tensor, lam: torch.Tensor | None, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, E, Q)`` rates and ``d rate / d ln lambda`` (GeV/cm) of the entries ``idx (n, E)``
        at momenta ``p (n, Q)`` for voxel densities ``lam (V,)`` (through :meth:`voxel_table`)."""
        assert lam is not None
        return self.voxel_table(lam).entry_rates(idx, None, p)

    def per_cm_and_derivative(self, lam: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rate, d rate / d ln lambda)`` in GeV/cm."""
        val, der = self.log_rate(lam, p)
        rate = torch.exp(val)
        return rate, rate * der

    def voxel_table(self, lam: torch.Tensor) -> VoxelLoss:
        """The rates and their derivatives of every voxel on the momentum grid, for per-entry
        lookups (:meth:`VoxelLoss.lookup`) that cost a few gathers instead of the spline."""
        grid = torch.exp(
            self.log_p0 + self.step * torch.arange(self.n_points, dtype=lam.dtype, device=lam.device)
        )
        rate, drate = self.per_cm_and_derivative(lam[:, None], grid[None, :])
        return VoxelLoss(rate, drate, self.log_p0, self.step, self.n_points)


@dataclass(frozen=True)
class VoxelLoss:
    """``(V, J)`` loss rates (GeV/cm) and ``d rate / d ln lambda`` of the voxels on a log grid in
    momentum (:meth:`LossModel.voxel_table`); ``lookup(idx, p)`` interpolates linearly in ``ln
    p`` for entries ``idx`` and momenta ``p`` (broadcast)."""

    rate: torch.Tensor
    drate: torch.Tensor
    log_p0: float
    step: float
    n_points: int

    def entry_rates(
        self, idx: torch.Tensor, lam: torch.Tensor | None, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, E, Q)`` rates and ``d rate / d ln lambda`` (GeV/cm) of the entries ``idx (n, E)``
        at momenta ``p (n, Q)`` (``lam`` is already in the table)."""
        del lam
        return self.lookup(idx[:, :, None], p[:, None, :])

    def lookup(self, idx: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = ((torch.log(p) - self.log_p0) / self.step).clamp(0.0, self.n_points - 1.001)
        j = u.detach().long()
        fj = u - j
        idx, j = torch.broadcast_tensors(idx, j)
        fj = fj.expand_as(j)
        base = idx * self.n_points + j
        r, d = self.rate.reshape(-1), self.drate.reshape(-1)
        r0, d0 = r[base], d[base]
        return r0 + fj * (r[base + 1] - r0), d0 + fj * (d[base + 1] - d0)


def momentum_profile(
    design: ScatteringModel, lam: torch.Tensor, p: torch.Tensor, loss: EntryLoss, nz: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Momentum of each entry ``(n, E, Q)`` for momenta ``p (n, Q)`` at the top of the volume:
    layer by layer from the top, each layer takes ``sum_e rate(lambda_e, P) L_e`` of energy at
    the momentum ``P`` entering it (the rate is re-evaluated as the muon slows down) and its
    entries sit half-way through it (energy bookkeeping: ``p = sqrt(E^2 - m^2)``). Also returns
    the entries' ``d rate / d ln lambda`` times their path length ``(n, E, Q)`` (GeV), their
    energies ``(n, E, Q)`` and the kinetic energy leaving the volume ``(n, Q)`` (negative: the
    muon stops inside)."""
    n_e = design.idx.shape[1]
    per = n_e // nz
    m2 = MUON_MASS_GEV**2
    top = torch.sqrt(p * p + m2)  # energy entering the layer
    mids, dlosses = [], []
    for layer in reversed(range(nz)):
        sl = slice(layer * per, (layer + 1) * per)
        p_top = torch.sqrt((top * top - m2).clamp_min(0.0025))
        rate, drate = loss.entry_rates(design.idx[:, sl], lam, p_top)
        length = design.length_cm[:, sl, None]
        de = (rate * length).sum(1)  # (n, Q)
        mids.append((top - 0.5 * de)[:, None, :].expand(-1, per, -1))
        dlosses.append(drate * length)
        top = top - de
    e_mid = torch.cat(mids[::-1], dim=1)
    p_mid = torch.sqrt((e_mid * e_mid - m2).clamp_min(0.0025))
    return p_mid, torch.cat(dlosses[::-1], dim=1), e_mid, top - MUON_MASS_GEV


@dataclass(frozen=True)
class CovarianceModel:
    """A muon's scattering covariance per view ``s (n, 2, 3)`` at one momentum, and its
    derivatives: ``d (n, E, 2, 3)`` with respect to each entry's ``u = ln lambda`` and
    ``nuisance (n, 2, 3)`` with respect to ``ln p``."""

    s: torch.Tensor
    d: torch.Tensor
    nuisance: torch.Tensor


def covariance_model(
    design: ScatteringModel, lam: torch.Tensor, p: torch.Tensor, loss: EntryLoss, nz: int
) -> CovarianceModel:
    """The scattering covariance ``S = sum_e lambda_e k_e f a_e`` of muons of momenta ``p (n,)``
    (the model of :func:`kick_scale`) with its derivatives, written out: ``dS/du_j`` has the
    direct term ``lambda_j k_j f a_j``, Highland's log factor ``(d ln f / dT) t_j S`` and the
    energy loss in entry ``j``, which lowers the momentum (raises ``k``) of every entry below
    it: ``-(d loss_j / du_j) sum_e w_je lambda_e f a_e dk_e/dp_e`` (``w = 1`` below, ``1/2`` in
    the same layer). ``dS/d ln p = p sum_e lambda_e f a_e dk_e/dp_e``. Neglected: the loss
    rate's momentum dependence in these derivatives (the rate changes by a few % per unit of
    ``ln p`` above minimum ionisation: a per-mille effect) and ``f``'s through ``beta``. Checked
    against autograd in tests/physics/test_tomography.py."""
    b = HIGHLAND_LOG_COEF
    lam_e = lam[design.idx]
    t_e = design.length_cm * lam_e
    t_tot = t_e.sum(1).clamp_min(1e-6)
    beta2 = p * p / (p * p + MUON_MASS_GEV**2)
    logterm = 1.0 + b * torch.log(t_tot / beta2)
    f = logterm * logterm
    p_e, dde, e_e, _ = momentum_profile(design, lam, p[:, None], loss, nz)
    p_e, dde, e_e = p_e[..., 0], dde[..., 0], e_e[..., 0]
    n = lam_e.shape[0]
    e2 = p_e * p_e + MUON_MASS_GEV**2
    k = HIGHLAND_SCALE_GEV**2 * e2 / p_e**4
    # dk/dE along the path (dp/dE = E/p); 0 where the momentum floor holds
    live = e_e * e_e - MUON_MASS_GEV**2 > 0.0025
    dk_dp = torch.where(live, k * (2.0 * p_e / e2 - 4.0 / p_e) * torch.sqrt(e2) / p_e, torch.zeros_like(k))
    base = (lam_e * k * f[:, None])[:, :, None, None] * design.a
    s = base.sum(1)
    g = (lam_e * dk_dp * f[:, None])[:, :, None, None] * design.a  # (n, E, 2, 3)
    per = g.shape[1] // nz  # entries are stored layer by layer
    g_layer = g.reshape(n, nz, per, 2, 3).sum(2) if per > 1 else g
    below = g_layer.cumsum(1) - 0.5 * g_layer  # layers under l, half of l itself
    dlogf = (2.0 * b / (t_tot * logterm))[:, None] * t_e  # (n, E)
    below_e = below if per == 1 else below.repeat_interleave(per, dim=1)
    d = base + dlogf[:, :, None, None] * s[:, None] - dde[:, :, None, None] * below_e
    nuisance = (p * p / torch.sqrt(p * p + MUON_MASS_GEV**2))[:, None, None] * g.sum(1)  # dE/d ln p
    return CovarianceModel(s=s, d=d, nuisance=nuisance)


class EntryLoss(Protocol):
    """What :func:`kick_scale` needs of an energy-loss model (:class:`LossModel`, or a model of
    known materials such as the ladle's)."""

    def entry_rates(
        self, idx: torch.Tensor, lam: torch.Tensor | None, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


def kick_scale(
    design: ScatteringModel,
    lam: torch.Tensor,
    p: torch.Tensor,
    loss: EntryLoss | None,
    nz: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scale of each entry's ``a`` in the expected moments for momenta ``p (n, Q)`` at the top of
    the volume (Q hypotheses per muon): ``k_eq f_q`` with ``k = (13.6 MeV / beta p_e)^2`` at the
    momentum of the entry's layer (:func:`momentum_profile`) and Highland's log factor
    ``f = (1 + 0.038 ln(T / beta^2))^2`` for the muon's
    total thickness ``T = sum_e L_e lambda_e``. Returns ``(n, E, Q)`` scales and ``(n, E, Q)``
    ``d ln k_e / d ln p`` (the direction of the momentum nuisance, energy loss neglected) and
    the ``(n, Q)`` kinetic energy leaving the volume. ``lam (V,)``: the voxels' densities (1/cm)."""
    t_e = design.length_cm * lam[design.idx]  # (n, E) radiation lengths per entry
    beta2 = p * p / (p * p + MUON_MASS_GEV**2)  # (n, Q)
    f = (1.0 + HIGHLAND_LOG_COEF * torch.log(t_e.sum(1).clamp_min(1e-6)[:, None] / beta2)) ** 2
    if loss is not None:
        p_e, _, _, exit_kinetic = momentum_profile(design, lam, p, loss, nz)
    else:
        p_e = p[:, None, :].expand(-1, t_e.shape[1], -1)
        exit_kinetic = torch.sqrt(p * p + MUON_MASS_GEV**2) - MUON_MASS_GEV
    e2 = p_e * p_e + MUON_MASS_GEV**2
    k = HIGHLAND_SCALE_GEV**2 * e2 / (p_e**4)
    dlnk = (2.0 * p_e * p_e / e2 - 4.0) * p[:, None, :] / p_e
    return k * f[:, None, :], dlnk, exit_kinetic
