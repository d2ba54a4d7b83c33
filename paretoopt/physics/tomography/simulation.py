"""MuonTomography: one scan from muon source to X0 map, its cost and scan time (the lead-block study)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from paretoopt.physics.muons import sample_muons
from paretoopt.physics.scattering import MaterialGrid, MuonState, propagate
from paretoopt.physics.tomography.detector import SIDES, TECHNOLOGIES, Geometry, Panels, Technology
from paretoopt.physics.tomography.inference import InferenceSettings, X0Estimate, infer_x0, log_x0_mse
from paretoopt.physics.tomography.scattering_model import InferenceGrid, true_inv_x0
from paretoopt.physics.tomography.tracks import SideHits, TrackFit, detector_hits, fit_tracks
from paretoopt.physics.tomography.volumes import lead_block_grid
from paretoopt.problem import Estimate


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
        geometry: Geometry = Geometry(),  # noqa: B008
        *,
        technologies: Mapping[str, Technology] | None = None,
        inference: InferenceSettings = InferenceSettings(),  # noqa: B008
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
