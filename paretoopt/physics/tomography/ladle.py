"""LadleFurnace: the fill level of a ladle furnace, fitted by maximum likelihood."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch

from paretoopt.physics.energy_loss import DedxTable
from paretoopt.physics.materials import get
from paretoopt.physics.tomography.detector import Geometry
from paretoopt.physics.tomography.likelihood import KinkData, mixture_loglik
from paretoopt.physics.tomography.momentum import MomentumModel
from paretoopt.physics.tomography.simulation import MuonTomography, cat_kinks
from paretoopt.physics.tomography.volumes import ladle_grid, liquid_steel
from paretoopt.problem import Estimate


class LadleFurnace(MuonTomography):
    """The ladle-furnace variant: the objective is the error of the inferred fill level.

    Each call scans ``n_levels`` furnaces whose liquid-steel levels are drawn by stratified
    sampling over ``fill_range_m`` (absolute z), each with ``n_samples // n_levels`` muons.
    ``fill_level_error`` is the RMS error over the scanned levels (cm). The walls, the floor and
    the two fill materials are known, so the level is the only unknown of the likelihood of
    every muon's kink (:meth:`fit_level`), marginalised over the momentum like the X0 map's
    (momentum unknown by default, 16 nodes: with 12 the level errors triple, the likelihood of
    a muon through a metre of steel being narrow in ln p; ``momentum=MomentumModel("perfect")``
    gives TomOpt's assumption). The same detector realism applies: panel material, Bethe energy loss in the
    simulation and the material-aware loss in the fit, channel-based costs.
    """

    def __init__(
        self,
        geometry: Geometry = Geometry(),  # noqa: B008
        *,
        fill_range_m: tuple[float, float] | None = None,
        n_levels: int = 4,
        layer_m: float = 0.02,
        n_substeps: int = 1,
        scan_step_m: float = 0.04,
        **kwargs: Any,
    ) -> None:
        grid, _ = ladle_grid(0.5 * sum(geometry.volume_z), geometry, layer_m=layer_m)
        kwargs.setdefault("momentum", MomentumModel(n_nodes=16))
        kwargs.setdefault("infer", False)
        kwargs.setdefault("path_steps", 3)
        super().__init__(grid, geometry, n_substeps=n_substeps, **kwargs)
        z0, z1 = geometry.volume_z
        self.fill_range_m = fill_range_m if fill_range_m is not None else (z0 + 0.15, z1 - 0.05)
        self.n_levels = int(n_levels)
        self.layer_m = float(layer_m)
        self.scan_step_m = float(scan_step_m)
        self.lambda_steel = 1.0 / liquid_steel().x0_cm
        self.lambda_wall = 1.0 / get("Fe").x0_cm
        self.lambda_air = 1.0 / get("air").x0_cm
        self._dedx = DedxTable((liquid_steel(), get("air"), get("Fe")))

    def _fill_fraction(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(V,)`` share of each inference voxel below the level ``h`` (absolute z, m) and the
        ``(V,)`` mask of the interior voxels (the rest is wall or floor)."""
        nz, nx, ny = self.inference_grid.shape
        v, oz = self.inference_grid.voxel_m, self.inference_grid.origin_m[2]
        dev, dtype = h.device, h.dtype
        interior = torch.zeros((nz, nx, ny), dtype=torch.bool, device=dev)
        interior[1:, 1:-1, 1:-1] = True
        z_lo = (oz + v * torch.arange(nz, device=dev, dtype=dtype))[:, None, None].expand(nz, nx, ny)
        frac = ((h - z_lo) / v).clamp(0.0, 1.0)
        return frac.reshape(-1), interior.reshape(-1)

    def _level_densities(self, h: torch.Tensor) -> torch.Tensor:
        """``(V,)`` 1/X0 (1/cm) of the inference voxels for a level ``h`` (absolute z, m)."""
        frac, interior = self._fill_fraction(h)
        fill = self.lambda_air + (self.lambda_steel - self.lambda_air) * frac
        return torch.where(interior, fill, torch.full_like(frac, self.lambda_wall))

    def fit_level(self, data: KinkData) -> torch.Tensor:
        """Maximum-likelihood fill level (absolute z, m), differentiable in the detector.

        The negative log-likelihood ``-sum_i w_i ln sum_q pi_iq N(kink_i; 0, S_iq(h))`` (the
        model of :func:`~paretoopt.physics.tomography.inference.mixture_loglik` with the known
        materials) is scanned on a grid of ``scan_step_m``, refined by Newton steps to 1 um, and the
        last Newton step is taken on the autograd graph, which gives the implicit-function
        gradient ``dh/dtheta = -d_theta NLL' / NLL''``.
        """
        grid = self.inference_grid
        nz = grid.shape[0]
        lo = grid.origin_m[2] + grid.voxel_m  # top of the floor
        hi = grid.origin_m[2] + nz * grid.voxel_m
        w = data.w

        def nll(h: torch.Tensor) -> torch.Tensor:
            ll, _ = mixture_loglik(data, self._level_densities(h), _KnownLoss(self, h), nz)
            return -(w * ll).sum()

        if len(data) == 0 or float(w.detach().sum()) <= 0:  # nothing seen: the middle of the range
            return torch.tensor(0.5 * (lo + hi), dtype=w.dtype, device=w.device) + 0.0 * w.sum()
        with torch.no_grad():
            grid_h = torch.arange(lo, hi + 1e-9, self.scan_step_m, dtype=w.dtype, device=w.device)
            values = torch.stack([nll(h) for h in grid_h])
            h_best = grid_h[int(torch.argmin(values))].clone()
        keep_graph = torch.is_grad_enabled()  # False in the final (no-grad) evaluation
        with torch.enable_grad():
            for _ in range(10):  # Newton to 1 um: the implicit gradient needs the minimum
                h = h_best.clone().requires_grad_(True)
                g, hess = _grad_hess(nll, h, create_graph=False)
                step = (-g / hess if hess > 0 else -0.01 * torch.sign(g)).clamp(-0.02, 0.02)
                h_best = (h_best + step).clamp(lo, hi).detach()
                if float(step.abs()) < 1e-6:
                    break
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
        per_level = max(2, n_samples // k)
        errors, weights = [], []
        for level in levels:
            grid, true_level = ladle_grid(level, self.geometry, layer_m=self.layer_m)
            source = dataclasses.replace(self.source, grid=grid)
            parts = []
            for seed, size in zip(source.seeds(per_level, generator), source.sizes(per_level), strict=True):
                block = source.block(seed, size, ref.dtype, ref.device)
                resp = self.respond(block, params, choices)
                weights.append(resp.w)
                parts.append(
                    self.kink_data(block, resp, soft=self.training, min_weight=1e-4 if self.training else 0.0)
                )
            h = self.fit_level(cat_kinks(parts))
            errors.append(100.0 * (h - true_level))
        err = torch.stack(errors)
        ms = (err * err).mean()
        rms = torch.sqrt(ms + 1e-12)
        se_ms = (err.detach() ** 2).std() / math.sqrt(k) if k > 1 else torch.zeros(())
        w = torch.cat(weights)
        rate = self.source.rate_hz()
        frac = w.mean().clamp_min(1e-12)
        scan_time = self.target_muons / (rate * frac)
        scan_se = scan_time.detach() * (w.detach().std() / math.sqrt(w.numel())) / frac.detach()
        return {
            "fill_level_error": Estimate(rms, se_ms / (2.0 * rms.detach())),
            "cost": self.cost(params, choices),
            "scan_time": Estimate(scan_time, scan_se),
            "accepted_fraction": float(w.mean().detach()),
            "exposure_s": per_level / rate,
        }


class _KnownLoss:
    """The ladle's energy loss with its materials known: per voxel the liquid-steel fraction
    below the level (Bethe for liquid steel, the rest air), iron in the walls and the floor."""

    def __init__(self, ladle: LadleFurnace, h: torch.Tensor) -> None:
        self.frac, self.interior = ladle._fill_fraction(h)
        self.table = ladle._dedx

    def entry_rates(
        self, idx: torch.Tensor, lam: torch.Tensor | None, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        del lam  # the materials are known
        frac, inside = self.frac[idx][:, :, None], self.interior[idx][:, :, None]
        pe = p[:, None, :].expand(-1, idx.shape[1], -1)
        steel, air, iron = (self.table.lookup(torch.full_like(pe, i, dtype=torch.long), pe) for i in range(3))
        rate = torch.where(inside, frac * steel + (1.0 - frac) * air, iron)
        return rate, torch.zeros_like(rate)


def _grad_hess(fn: Any, h: torch.Tensor, *, create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """First and second derivative of a scalar function of a 0-d tensor ``h`` (autograd)."""
    value = fn(h)
    (g,) = torch.autograd.grad(value, h, create_graph=True)
    (hess,) = torch.autograd.grad(g, h, create_graph=create_graph)
    return (g, hess) if create_graph else (g.detach(), hess.detach())
