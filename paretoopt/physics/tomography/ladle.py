"""LadleFurnace: the fill level of a ladle furnace, fitted by maximum likelihood or read off the X0 map."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from paretoopt.physics.materials import get
from paretoopt.physics.tomography.detector import Geometry
from paretoopt.physics.tomography.inference import InferenceSettings, X0Estimate, infer_x0
from paretoopt.physics.tomography.scattering_model import (
    build_scattering_model,
    kink_observables,
    scattering_coefficients,
)
from paretoopt.physics.tomography.simulation import MuonTomography, Reconstruction
from paretoopt.physics.tomography.volumes import ladle_grid, liquid_steel
from paretoopt.problem import Estimate


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
        geometry: Geometry = Geometry(),  # noqa: B008
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
        design = build_scattering_model(reco.fit_in, reco.fit_out, grid, "path", soft)
        dt, dx, meas = kink_observables(reco.fit_in, reco.fit_out, grid.origin_m[2])
        eloss = self.inference.eloss_mev_per_x0 * 1e-3
        p, w = reco.momentum_gev, reco.weight_used
        lo = grid.origin_m[2] + grid.voxel_m  # top of the floor
        hi = grid.origin_m[2] + nz * grid.voxel_m

        def nll(h: torch.Tensor) -> torch.Tensor:
            lam_e = self._level_densities(h)[design.idx]
            coef = scattering_coefficients(design, lam_e, p, eloss, nz)
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
