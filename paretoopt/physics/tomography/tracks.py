"""Detector response and reconstruction: hits on the panels, straight-line track fits and the POCA."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paretoopt.physics.tomography.detector import Panels, Technology


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
