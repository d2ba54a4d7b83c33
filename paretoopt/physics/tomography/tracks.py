"""Detector response and reconstruction: hits on the panels (with scattering in the panels),
straight-line track fits with their covariance, and the point of closest approach."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paretoopt.physics.muons import MUON_MASS_GEV
from paretoopt.physics.scattering import HIGHLAND_LOG_COEF, HIGHLAND_SCALE_GEV
from paretoopt.physics.tomography.detector import Panels, Technology


@dataclass(frozen=True)
class SideHits:
    """Hits of one side: measured ``xy (n, K, 2)`` (m), hit weights ``w (n, K)`` (expected hit
    probability in training, 0/1 in evaluation), panel heights ``z (K,)``, the per-plane
    resolution (m), and the multiple scattering in the panels: ``ms_var (n, K, 2)`` the slope
    variance per view a muon picks up in each panel it crosses (0 where it misses the panel)
    and ``ms_lever (K, K)``, the lever arm (m) from panel ``p`` (column) to the hit on panel
    ``k`` (row) measured along the flight away from the volume (0 unless the panel lies between
    the hit and the volume)."""

    xy: torch.Tensor
    w: torch.Tensor
    z: torch.Tensor
    resolution_m: float
    ms_var: torch.Tensor | None = None
    ms_lever: torch.Tensor | None = None

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

    def select(self, keep: torch.Tensor) -> SideHits:
        """The hits of the muons ``keep`` (a boolean or index tensor)."""
        ms = self.ms_var[keep] if self.ms_var is not None else None
        return SideHits(self.xy[keep], self.w[keep], self.z, self.resolution_m, ms, self.ms_lever)


def soft_box(x: torch.Tensor, centre: torch.Tensor, span: torch.Tensor, smoothing_m: float) -> torch.Tensor:
    """Soft indicator of ``|x - centre| <= span / 2``: a product of two sigmoids of width
    ``smoothing_m`` (m) at the edges (training-time acceptance)."""
    half = 0.5 * span
    return torch.sigmoid((x - centre + half) / smoothing_m) * torch.sigmoid((centre + half - x) / smoothing_m)


def panel_kick_variance(momentum_gev: torch.Tensor, slope: torch.Tensor, x0_per_plane: float) -> torch.Tensor:
    """``(n, 2)`` slope variance per view that one plane of ``x0_per_plane`` radiation lengths
    (at normal incidence) adds: Highland (PDG eq. 34.15, beta and log term) for the slant
    thickness ``x0 r`` (``r^2 = 1 + |t|^2``), mapped to slope space by ``r^2 (1 + t_v^2)``
    (each view independently; the small x-y correlation ``r^2 t_x t_y`` is neglected, by the
    simulation and the fits alike)."""
    r2 = 1.0 + (slope * slope).sum(1)
    if x0_per_plane <= 0:
        return torch.zeros_like(slope)
    x = x0_per_plane * torch.sqrt(r2)
    e = torch.sqrt(momentum_gev**2 + MUON_MASS_GEV**2)
    beta = momentum_gev / e
    theta0 = (
        HIGHLAND_SCALE_GEV
        / (beta * momentum_gev)
        * torch.sqrt(x)
        * (1.0 + HIGHLAND_LOG_COEF * torch.log(x / (beta * beta)))
    )
    return (theta0 * theta0 * r2)[:, None] * (1.0 + slope * slope)


def _lever(z: torch.Tensor, z_ref: float) -> torch.Tensor:
    """``(K, K)`` lever arms ``lever[k, p]`` (m) from a kick in panel ``p`` to the hit on panel
    ``k``: ``|z_k - z_p|`` when ``p`` lies between the hit and the reference plane (the volume),
    else 0. Continuous in the heights (0 when two panels meet)."""
    above = bool(z.detach().mean() > z_ref)
    d = z[:, None] - z[None, :]
    return d.clamp_min(0.0) if above else (-d).clamp_min(0.0)


def panel_acceptance(
    line_xy: torch.Tensor,
    panels: Panels,
    technology: Technology,
    *,
    training: bool,
    smoothing_m: float,
    u: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(acc, w)``, both ``(n, K)``: whether the muons at ``line_xy (n, K, 2)`` cross each panel
    (a soft sigmoid box in training, the hard outline in evaluation) and their hit weights
    (training: efficiency x acceptance, the expected hit; evaluation: a hit where ``u <
    efficiency`` inside the outline)."""
    tx, ty = line_xy[..., 0], line_xy[..., 1]
    if training:
        acc = soft_box(tx, panels.x[None, :], panels.span_x[None, :], smoothing_m) * soft_box(
            ty, panels.y[None, :], panels.span_y[None, :], smoothing_m
        )
        return acc, technology.efficiency * acc
    inside = ((tx - panels.x[None, :]).abs() <= 0.5 * panels.span_x[None, :]) & (
        (ty - panels.y[None, :]).abs() <= 0.5 * panels.span_y[None, :]
    )
    hit = inside if u is None else inside & (u < technology.efficiency)
    return inside.to(line_xy.dtype), hit.to(line_xy.dtype)


def expected_hits(
    track_point: torch.Tensor,
    track_slope: torch.Tensor,
    z_ref: float,
    panels: Panels,
    technology: Technology,
    *,
    smoothing_m: float = 0.03,
    momentum_gev: torch.Tensor | None = None,
) -> SideHits:
    """The training-mode hits without random numbers: hit weights (efficiency x soft
    acceptance) and the panels' scattering, at the true crossing points (``xy`` holds the
    crossing points, unsmeared). All that the expected information needs of a side."""
    dz = (panels.z - z_ref)[None, :, None]
    line_xy = track_point[:, None, :] + dz * track_slope[:, None, :]
    acc, w = panel_acceptance(line_xy, panels, technology, training=True, smoothing_m=smoothing_m)
    ms_var = ms_lever = None
    if momentum_gev is not None and technology.x0_per_plane > 0:
        ms_var = (
            panel_kick_variance(momentum_gev, track_slope, technology.x0_per_plane)[:, None, :]
            * acc[..., None]
        )
        ms_lever = _lever(panels.z, z_ref)
    return SideHits(
        xy=line_xy, w=w, z=panels.z, resolution_m=technology.resolution_m, ms_var=ms_var, ms_lever=ms_lever
    )


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
    momentum_gev: torch.Tensor | None = None,
) -> SideHits:
    """Hits of muons on the panels of one side, with scattering in the panels.

    The muon's line at the volume (``track_point`` at ``z = z_ref``, ``track_slope``) is the
    reference: every panel between a hit and the volume has kicked the muon, so the hit lies off
    that line by ``-sum_p kick_p |z_k - z_p|`` (kicks Gaussian with :func:`panel_kick_variance`,
    for the panels the muon crosses). Hits are smeared by the resolution.

    Args:
        track_point: ``(n, 2)`` true xy (m) of the tracks at ``z = z_ref``.
        track_slope: ``(n, 2)`` true slopes ``(dx/dz, dy/dz)``.
        z_ref: the reference plane (m): the top of the volume for the incoming tracks, its
            bottom for the outgoing ones.
        panels: the side's panels.
        technology: resolution, efficiency and material per plane.
        generator: seeded generator for smearing, efficiency and kicks (both modes draw the
            same numbers, so train and eval see the same muons).
        training: soft acceptance and expected hit weights if True, hard outline and
            Bernoulli hits if False.
        smoothing_m: width of the sigmoid at the panel edges in training (m).
        momentum_gev: ``(n,)`` momenta for the panel scattering (None: no panel material).
    Returns:
        The side's :class:`SideHits`.
    """
    n, k = track_point.shape[0], panels.n
    dtype, dev = track_point.dtype, track_point.device
    dz = (panels.z - z_ref)[None, :, None]  # (1, K, 1)
    line_xy = track_point[:, None, :] + dz * track_slope[:, None, :]  # (n, K, 2)
    draws = torch.randn((n, k, 4), generator=generator, device=dev, dtype=torch.float32).to(dtype)
    u = torch.rand((n, k), generator=generator, device=dev, dtype=dtype)
    acc, w = panel_acceptance(line_xy, panels, technology, training=training, smoothing_m=smoothing_m, u=u)
    true_xy = line_xy
    ms_var = ms_lever = None
    if momentum_gev is not None and technology.x0_per_plane > 0:
        ms_var = (
            panel_kick_variance(momentum_gev, track_slope, technology.x0_per_plane)[:, None, :]
            * acc[..., None]
        )
        ms_lever = _lever(panels.z, z_ref)
        pos = ms_var > 0  # sqrt'(0) is infinite: missed panels (acceptance 0) get no kick
        kicks = (
            torch.where(pos, torch.sqrt(torch.where(pos, ms_var, torch.ones_like(ms_var))), 0.0)
            * draws[..., 2:]
        )
        true_xy = line_xy - torch.einsum("kp,npv->nkv", ms_lever, kicks)
    xy = true_xy + technology.resolution_m * draws[..., :2]
    return SideHits(
        xy=xy, w=w, z=panels.z, resolution_m=technology.resolution_m, ms_var=ms_var, ms_lever=ms_lever
    )


@dataclass(frozen=True)
class TrackFit:
    """A straight-line fit per muon: the point ``point (n, 3)`` at the weighted mean height of
    the hits, slopes ``slope (n, 2)`` (dx/dz, dy/dz), and per view ``(n, 2)`` the variances of
    the fitted position (m^2) and slope and their covariance (m), relative to the muon's line
    at the volume (resolution and scattering in the panels)."""

    point: torch.Tensor
    slope: torch.Tensor
    point_var: torch.Tensor
    slope_var: torch.Tensor
    cov: torch.Tensor

    def xy_at(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, ..., 2)`` xy of the lines at heights ``z`` (broadcast against ``(n, ...)``)."""
        dz = (z - self.point[:, 2].reshape((-1,) + (1,) * (z.dim() - 1)))[..., None]
        shape = (-1,) + (1,) * (z.dim() - 1) + (2,)
        return self.point[:, :2].reshape(shape) + dz * self.slope.reshape(shape)

    @property
    def direction(self) -> torch.Tensor:
        """``(n, 3)`` direction vectors ``(dx/dz, dy/dz, 1)`` (not normalised)."""
        return torch.cat([self.slope, torch.ones_like(self.slope[:, :1])], dim=1)

    @classmethod
    def exact(cls, point_xy: torch.Tensor, z: float, slope: torch.Tensor) -> TrackFit:
        """A perfectly measured line through ``point_xy (n, 2)`` at height ``z`` (truth)."""
        zeros = torch.zeros_like(slope)
        point = torch.cat([point_xy, torch.full_like(point_xy[:, :1], z)], dim=1)
        return cls(point=point, slope=slope, point_var=zeros, slope_var=zeros, cov=zeros)


def fit_covariance(hits: SideHits, *, min_lever_m2: float = 1e-10) -> tuple[torch.Tensor, ...]:
    """The weighted least-squares fit's pieces: hit weights ``w / sigma^2``, ``sum w``, the
    reference height ``zbar``, ``z - zbar``, ``sum w (z - zbar)^2`` (all ``(n,)`` or ``(n, K)``)
    and the covariance per view ``(n, 2)`` of position, slope and their covariance. The
    resolution alone gives ``var(slope) = 1 / sum w (z - zbar)^2``, ``var(x) = 1 / sum w`` and no
    covariance at ``zbar``; the scattering in the panels adds ``A C A^T`` with the estimator's
    rows ``A`` and the hits' covariance ``C[k, l] = sum_p ms_var_p lever[k, p] lever[l, p]``."""
    w = hits.w / hits.resolution_m**2  # (n, K)
    z = hits.z[None, :]
    s0 = w.sum(dim=1).clamp_min(1e-30)
    zbar = (w * z).sum(dim=1) / s0
    dzc = z - zbar[:, None]
    szz = (w * dzc * dzc).sum(dim=1).clamp_min(min_lever_m2 / hits.resolution_m**2)
    point_var = (1.0 / s0)[:, None].expand(-1, 2)
    slope_var = (1.0 / szz)[:, None].expand(-1, 2)
    cov = torch.zeros_like(slope_var)
    if hits.ms_var is not None and hits.ms_lever is not None:
        a0 = w / s0[:, None]  # (n, K): row of the position estimator
        a1 = w * dzc / szz[:, None]  # (n, K): row of the slope estimator
        v0 = a0 @ hits.ms_lever  # (n, P): sum_k a0_k lever[k, p]
        v1 = a1 @ hits.ms_lever
        point_var = point_var + torch.einsum("np,npv->nv", v0 * v0, hits.ms_var)
        slope_var = slope_var + torch.einsum("np,npv->nv", v1 * v1, hits.ms_var)
        cov = cov + torch.einsum("np,npv->nv", v0 * v1, hits.ms_var)
    return w, s0, zbar, dzc, szz, point_var, slope_var, cov


def fit_tracks(hits: SideHits, *, min_lever_m2: float = 1e-10) -> TrackFit:
    """Weighted least-squares straight lines through the hits of one side (weights ``w /
    sigma^2``), independently in x-z and y-z, and their covariance (:func:`fit_covariance`)."""
    w, s0, zbar, dzc, szz, point_var, slope_var, cov = fit_covariance(hits, min_lever_m2=min_lever_m2)
    xbar = (w[..., None] * hits.xy).sum(dim=1) / s0[:, None]
    slope = (w[..., None] * dzc[..., None] * (hits.xy - xbar[:, None, :])).sum(dim=1) / szz[:, None]
    point = torch.cat([xbar, zbar[:, None]], dim=1)
    return TrackFit(point=point, slope=slope, point_var=point_var, slope_var=slope_var, cov=cov)


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
