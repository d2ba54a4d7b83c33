"""The part of a scan that does not depend on the detector: cosmic muons carried through the
passive volume, generated in blocks of fixed size, each from its own seed, so that any block can
be generated again (bit for bit) when the backward pass recomputes it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paretoopt.physics.muons import expected_rate_hz, sample_muons
from paretoopt.physics.scattering import MaterialGrid, MuonState, propagate
from paretoopt.physics.tomography.detector import Geometry
from paretoopt.physics.tomography.momentum import MomentumModel
from paretoopt.physics.tomography.scattering_model import (
    InferenceGrid,
    LossModel,
    ScatteringModel,
    VoxelLoss,
    build_scattering_model,
    covariance_model,
    true_inv_x0,
)
from paretoopt.physics.tomography.tracks import TrackFit


@dataclass
class MuonBlock:
    """One block of muons after the volume: their true lines at the top (``entry_xy``,
    ``slope_in``) and the bottom (``exit_xy``, ``slope_out``) of the volume, momenta on entry
    and exit, ``alive`` (not stopped), the measured momentum (used in mode "measured"), the
    seed of the detector's random numbers, and the expected-information model of each muon on
    its true path at the true densities: entries ``idx (n, E)``, ``d = dS/du (n, E, 2, 3)``,
    the momentum direction ``nuisance = dS/d ln p (n, 2, 3)``, the scattering covariance
    ``s_scat (n, 2, 3)`` and the precision of ``ln p`` ``lnp_precision (n,)``."""

    entry_xy: torch.Tensor
    slope_in: torch.Tensor
    exit_xy: torch.Tensor
    slope_out: torch.Tensor
    p_in: torch.Tensor
    p_out: torch.Tensor
    alive: torch.Tensor
    p_measured: torch.Tensor
    detector_seed: int
    design: ScatteringModel
    d: torch.Tensor
    nuisance: torch.Tensor
    s_scat: torch.Tensor
    lnp_precision: torch.Tensor

    def __len__(self) -> int:
        return int(self.p_in.shape[0])

    @property
    def cos_theta(self) -> torch.Tensor:
        return 1.0 / torch.sqrt(1.0 + (self.slope_in**2).sum(1))


@dataclass(frozen=True)
class MuonSource:
    """Generates :class:`MuonBlock` s for a volume: ``n`` muons are ``ceil(n / block_size)``
    blocks whose seeds are drawn from the caller's generator, so a scan is a deterministic
    function of (seed, n, block_size); the last block is shorter."""

    grid: MaterialGrid
    inference_grid: InferenceGrid
    geometry: Geometry
    momentum: MomentumModel
    loss: LossModel
    energy_range_gev: tuple[float, float] = (0.5, 500.0)
    max_zenith_deg: float = 70.0
    n_substeps: int = 1
    block_size: int = 16384
    path_steps: int = 2

    def seeds(self, n: int, generator: torch.Generator) -> list[int]:
        n_blocks = max(1, math.ceil(n / self.block_size))
        draw = torch.randint(0, 2**62, (n_blocks,), generator=generator, device=generator.device)
        return [int(v) for v in draw.cpu()]

    def sizes(self, n: int) -> list[int]:
        n_blocks = max(1, math.ceil(n / self.block_size))
        return [min(self.block_size, n - b * self.block_size) for b in range(n_blocks)]

    def rate_hz(self) -> float:
        """Muons per second through the generation area (the sample's exposure is n / rate)."""
        x0, x1, y0, y1 = self.geometry.generation_area
        return expected_rate_hz((x1 - x0) * (y1 - y0), self.energy_range_gev, self.max_zenith_deg)

    def _truth(self, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, VoxelLoss]:
        """The true densities of the inference voxels and their loss table (cached)."""
        key = (dtype, str(device))
        cache = self.__dict__.setdefault("_truth_cache", {})
        if key not in cache:
            lam = true_inv_x0(self.grid, self.inference_grid, dtype).to(device).reshape(-1)
            cache[key] = (lam, self.loss.voxel_table(lam))
        return cache[key]  # type: ignore[no-any-return]

    def block(self, seed: int, size: int, dtype: torch.dtype, device: torch.device) -> MuonBlock:
        """Generate one block (no gradients: nothing here depends on the detector)."""
        with torch.no_grad():
            gen = torch.Generator(device=device).manual_seed(seed)
            geo, grid = self.geometry, self.grid
            mu = sample_muons(
                size,
                generator=gen,
                energy_range_gev=self.energy_range_gev,
                max_zenith_deg=self.max_zenith_deg,
                area=geo.generation_area,
                z_m=geo.generation_z,
                dtype=dtype,
                device=device,
            )
            entry = MuonState.start(mu.position_m, mu.direction, mu.momentum_gev).to_plane(grid.z_top_m)
            exit_ = propagate(entry, grid, gen, n_substeps=self.n_substeps)
            slope_in = entry.direction[:, :2] / entry.direction[:, 2:3]
            slope_out = exit_.direction[:, :2] / exit_.direction[:, 2:3]
            p_meas = self.momentum.measure(mu.momentum_gev, gen)
            det_seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device).cpu())
            entry_xy, exit_xy = entry.position_m[:, :2], exit_.position_m[:, :2]
            line_in = TrackFit.exact(entry_xy, grid.z_top_m, slope_in)
            line_out = TrackFit.exact(exit_xy, grid.z_bottom_m, slope_out)
            design = build_scattering_model(line_in, line_out, self.inference_grid, steps=self.path_steps)
            lam, table = self._truth(dtype, device)
            model = covariance_model(design, lam, mu.momentum_gev, table, self.inference_grid.shape[0])
            cos_t = 1.0 / torch.sqrt(1.0 + (slope_in**2).sum(1))
            return MuonBlock(
                entry_xy=entry_xy,
                slope_in=slope_in,
                exit_xy=exit_xy,
                slope_out=slope_out,
                p_in=mu.momentum_gev,
                p_out=exit_.momentum_gev,
                alive=exit_.alive,
                p_measured=p_meas,
                detector_seed=det_seed,
                design=design,
                d=model.d,
                nuisance=model.nuisance,
                s_scat=model.s,
                lnp_precision=self.momentum.log_p_precision(cos_t),
            )


def concatenate(blocks: list[MuonBlock]) -> MuonBlock:
    """One block holding the muons of several (the unchunked reference; detector seeds are not
    merged: use it only where the detector draws no random numbers, i.e. in training)."""
    first = blocks[0]

    def cat(name: str) -> torch.Tensor:
        return torch.cat([getattr(b, name) for b in blocks])

    design = ScatteringModel(
        torch.cat([b.design.idx for b in blocks]),
        torch.cat([b.design.a for b in blocks]),
        torch.cat([b.design.length_cm for b in blocks]),
        first.design.entry_layer,
    )
    return MuonBlock(
        entry_xy=cat("entry_xy"),
        slope_in=cat("slope_in"),
        exit_xy=cat("exit_xy"),
        slope_out=cat("slope_out"),
        p_in=cat("p_in"),
        p_out=cat("p_out"),
        alive=cat("alive"),
        p_measured=cat("p_measured"),
        detector_seed=first.detector_seed,
        design=design,
        d=cat("d"),
        nuisance=cat("nuisance"),
        s_scat=cat("s_scat"),
        lnp_precision=cat("lnp_precision"),
    )
