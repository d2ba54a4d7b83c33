"""MuonTomography: one scan of the lead block, its figure of merit, cost and scan time.

The figure of merit measures the detector: the posterior standard deviation of the block's
mean ``ln X0`` after a fixed exposure (the scan-time budget), i.e. how well the scan measures
what the block is made of. It is the Laplace posterior of the inference on the Asimov data set
(Cowan, Cranmer, Gross, Vitells, Eur. Phys. J. C 71 (2011) 1554: the data set whose estimate is
the truth, whose observed information is the expected one): the expected information of the
detected muons on their true paths at the true densities, momentum profiled
(:mod:`~paretoopt.physics.tomography.fisher`), scaled from the simulated sample's exposure to
``exposure_s``, plus the robust matrix prior. It is a sum over muons, accumulated over blocks
with recomputation in the backward pass (memory flat in the number of muons). In evaluation
mode the scan can also be reconstructed and the converged MAP inference run on it
(``infer=True``; :func:`~paretoopt.physics.tomography.inference.infer_x0`): its estimate of the
block, its pull and the map error are then reported beside the figure (20-60 s per evaluation
of 50,000 muons, hence off by default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from paretoopt.physics.scattering import MaterialGrid
from paretoopt.physics.tomography.detector import SIDES, TECHNOLOGIES, Geometry, Panels, Technology
from paretoopt.physics.tomography.fisher import (
    RobustPrior,
    block_vector,
    chunked_sum,
    linear_sigma,
    muon_fisher,
    posterior_precision,
    scatter_pairs,
)
from paretoopt.physics.tomography.inference import (
    InferenceSettings,
    KinkData,
    X0Estimate,
    block_log_density,
    infer_x0,
    log_x0_mse,
)
from paretoopt.physics.tomography.momentum import MomentumModel
from paretoopt.physics.tomography.scattering_model import (
    InferenceGrid,
    LossModel,
    ScatteringModel,
    build_scattering_model,
    kink_observables,
    true_inv_x0,
)
from paretoopt.physics.tomography.source import MuonBlock, MuonSource, concatenate
from paretoopt.physics.tomography.tracks import (
    TrackFit,
    detector_hits,
    expected_hits,
    fit_covariance,
    fit_tracks,
)
from paretoopt.physics.tomography.volumes import lead_block_grid
from paretoopt.problem import Estimate


@dataclass
class Response:
    """The detector's response to a block: muon weights ``w (n,)`` (two hits on each side,
    soft in training), the track fits and the kink observables with their covariance."""

    w: torch.Tensor
    fit_in: TrackFit
    fit_out: TrackFit
    dt: torch.Tensor
    dx: torch.Tensor
    meas: torch.Tensor


class MuonTomography(nn.Module):
    """The lead-block study's simulation: ``simulate(params, choices, n_samples, generator)``.

    Choices: ``n_above`` and ``n_below`` (panels per side, 1-4: a side with one panel cannot fit
    a line, so such designs see no muons) and ``technology`` (a key of ``technologies``).
    Parameters: the panel z, centre and span per slot; slots beyond ``n_above`` / ``n_below``
    are inactive. ``.train()`` selects soft acceptance and expected hit weights, ``.eval()`` the
    hard detector.

    Returns ``x0_precision`` (%: 100 x the posterior sigma of the block's mean ln X0 after
    ``exposure_s``), ``cost`` (kEUR), ``scan_time`` (s to reconstruct ``target_muons``), and
    diagnostics: ``block_significance`` (the block's contrast to the matrix in sigmas),
    ``accepted_fraction``, ``exposure_s`` of the sample, and in evaluation with ``infer=True``:
    ``block_error`` (inferred minus true ln X0 of the block's mean density,
    :func:`~paretoopt.physics.tomography.inference.block_log_density`), ``block_pull`` (that
    over the inference's own sigma), ``block_error_mean_u`` (the error of the mean of the
    voxels' MAP ln X0, biased high), ``inferred_precision`` (%: that sigma scaled to
    ``exposure_s``), ``x0_map_mse`` (diagnostic only), ``inference_iterations``,
    ``inference_converged`` and ``inference_gradient_norm`` (of the log posterior at the map).
    """

    def __init__(
        self,
        grid: MaterialGrid | None = None,
        geometry: Geometry = Geometry(),  # noqa: B008
        *,
        technologies: Mapping[str, Technology] | None = None,
        inference: InferenceSettings = InferenceSettings(),  # noqa: B008
        momentum: MomentumModel | None = None,
        exposure_s: float = 600.0,
        smoothing_m: float = 0.03,
        n_substeps: int = 1,
        energy_range_gev: tuple[float, float] = (0.5, 500.0),
        max_zenith_deg: float = 70.0,
        target_muons: int = 20_000,
        block_size: int = 16384,
        path_steps: int = 1,
        checkpoint: bool = True,
        infer: bool = False,
    ) -> None:
        super().__init__()
        self.geometry = geometry
        self.grid = grid if grid is not None else lead_block_grid(geometry)
        self.technologies = dict(technologies if technologies is not None else TECHNOLOGIES)
        self.inference = inference
        self.momentum = momentum if momentum is not None else MomentumModel(range_gev=energy_range_gev)
        self.exposure_s = float(exposure_s)
        self.smoothing_m = float(smoothing_m)
        self.target_muons = int(target_muons)
        self.checkpoint = bool(checkpoint)
        self.infer = bool(infer)
        self.inference_grid = InferenceGrid.matching(self.grid)
        self.loss = LossModel()
        self.source = MuonSource(
            self.grid, self.inference_grid, geometry, self.momentum, self.loss,
            energy_range_gev, float(max_zenith_deg), int(n_substeps), int(block_size), int(path_steps),
        )  # fmt: skip
        truth = true_inv_x0(self.grid, self.inference_grid)
        self.true_u = torch.log(truth).reshape(-1)
        self.matrix_u = float(self.true_u.median())
        self.block_mask = (self.true_u - self.matrix_u).abs() > 1e-9

    # -- detector --------------------------------------------------------------------------
    def panels(self, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]) -> tuple[Panels, Panels]:
        return (
            Panels.from_params(params, "above", int(choices["n_above"])),
            Panels.from_params(params, "below", int(choices["n_below"])),
        )

    def cost(self, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]) -> torch.Tensor:
        """Detector cost (kEUR): per panel the fixed cost, the channels and the sensor area of the
        technology (:meth:`Technology.panel_cost_keur`). Inactive slots enter with weight 0 so that
        every parameter is attached to the graph (their gradient is exactly 0, not missing)."""
        tech = self.technologies[str(choices["technology"])]
        above, below = self.panels(params, choices)
        total = (
            tech.panel_cost_keur(above.span_x, above.span_y).sum()
            + tech.panel_cost_keur(below.span_x, below.span_y).sum()
        )
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

    def respond(
        self, block: MuonBlock, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]
    ) -> Response:
        """Hits, weights, track fits and kinks of a block (differentiable in the panels)."""
        tech = self.technologies[str(choices["technology"])]
        above, below = self.panels(params, choices)
        gen = torch.Generator(device=block.p_in.device).manual_seed(block.detector_seed)
        training, smooth = self.training, self.smoothing_m
        hits_in = detector_hits(
            block.entry_xy, block.slope_in, self.grid.z_top_m, above, tech, gen,
            training=training, smoothing_m=smooth, momentum_gev=block.p_in,
        )  # fmt: skip
        hits_out = detector_hits(
            block.exit_xy, block.slope_out, self.grid.z_bottom_m, below, tech, gen,
            training=training, smoothing_m=smooth, momentum_gev=block.p_out,
        )  # fmt: skip
        w = hits_in.prob_two_or_more() * hits_out.prob_two_or_more() * block.alive.to(block.p_in.dtype)
        fit_in, fit_out = fit_tracks(hits_in), fit_tracks(hits_out)
        dt, dx, meas = kink_observables(fit_in, fit_out, self.grid.z_bottom_m)
        return Response(w, fit_in, fit_out, dt, dx, meas)

    def expected_response(
        self, block: MuonBlock, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training mode's response without random numbers: ``(w (n,), meas (n, 2, 3))``, the
        expected weights (two hits on each side of efficiency x soft acceptance) and the track
        fits' covariance of the kink, all the expected information needs."""
        tech = self.technologies[str(choices["technology"])]
        above, below = self.panels(params, choices)
        sides = []
        for point, slope, z_ref, panels, p in (
            (block.entry_xy, block.slope_in, self.grid.z_top_m, above, block.p_in),
            (block.exit_xy, block.slope_out, self.grid.z_bottom_m, below, block.p_out),
        ):
            hits = expected_hits(
                point, slope, z_ref, panels, tech, smoothing_m=self.smoothing_m, momentum_gev=p
            )
            _, _, zbar, _, _, pv, sv, cov = fit_covariance(hits)
            fit = TrackFit(torch.cat([torch.zeros_like(slope), zbar[:, None]], 1), slope, pv, sv, cov)
            sides.append((hits.prob_two_or_more(), fit))
        (p_in, fit_in), (p_out, fit_out) = sides
        _, _, meas = kink_observables(fit_in, fit_out, self.grid.z_bottom_m)
        return p_in * p_out * block.alive.to(block.p_in.dtype), meas

    def block_statistics(
        self,
        block: MuonBlock,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        response: Response | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """``(F (V, V), sum w, sum w^2, sum w over muons crossing the block)``: the block's
        expected information on ``u`` (true paths, true densities, momentum profiled, the
        detector's measurement covariance) and its weights."""
        if response is not None:
            w, meas = response.w, response.meas
        elif self.training:
            w, meas = self.expected_response(block, params, choices)
        else:
            resp = self.respond(block, params, choices)
            w, meas = resp.w, resp.meas
        s = block.s_scat + meas
        per = muon_fisher(block.d, block.nuisance, s, block.lnp_precision) * w[:, None, None]
        fisher = scatter_pairs(block.design.idx, per, self.inference_grid.n_voxels)
        mask = self.block_mask.to(block.design.idx.device)
        crosses = (mask[block.design.idx] & (block.design.length_cm > 0)).any(1)
        return fisher, w.sum(), (w * w).sum(), (w * crosses).sum()

    # -- one scan --------------------------------------------------------------------------
    def information(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_muons: int,
        generator: torch.Generator,
        *,
        checkpoint: bool | None = None,
        blocks: Sequence[MuonBlock] | None = None,
        kinks: list[KinkData] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """``(F, sum w, sum w^2, sum w through the block)`` of ``n_muons`` generated muons, block by block
        (``checkpoint``: recompute each block in the backward pass). ``blocks`` replaces the
        generation (tests pass pre-generated blocks, e.g. their concatenation). Without
        gradients, ``kinks`` collects each block's reconstruction for the inference."""
        ref = next(iter(params.values()))
        names = list(params)
        tensors = [torch.as_tensor(params[k]) for k in names]
        if blocks is None:
            seeds, sizes = self.source.seeds(n_muons, generator), self.source.sizes(n_muons)

            def get(c: int) -> MuonBlock:
                return self.source.block(seeds[c], sizes[c], ref.dtype, ref.device)

            n_chunks = len(seeds)
        else:
            fixed = list(blocks)

            def get(c: int) -> MuonBlock:
                return fixed[c]

            n_chunks = len(fixed)

        def fn(c: int, ps: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
            block, pdict = get(c), dict(zip(names, ps, strict=True))
            if kinks is not None and not torch.is_grad_enabled():
                resp = self.respond(block, pdict, choices)
                kinks.append(self.kink_data(block, resp))
                return self.block_statistics(block, pdict, choices, resp)
            return self.block_statistics(block, pdict, choices)

        use = self.checkpoint if checkpoint is None else checkpoint
        return chunked_sum(fn, n_chunks, tensors, checkpoint=use)

    def precision_matrix(self, fisher: torch.Tensor, exposure_ratio: float | torch.Tensor) -> torch.Tensor:
        """Posterior precision of ``(u, mu)`` after ``exposure_ratio`` times the sample's
        exposure: scaled information plus the robust prior's weights at the truth."""
        prior: RobustPrior = self.inference.prior
        mu = torch.tensor(self.matrix_u, dtype=fisher.dtype, device=fisher.device)
        pw = prior.weights(self.true_u.to(fisher), mu)
        return posterior_precision(exposure_ratio * fisher, pw)

    def figure_of_merit(self, fisher: torch.Tensor, sample_exposure_s: float) -> torch.Tensor:
        """Posterior sigma of the block's mean ``ln X0`` after ``exposure_s`` (not in %)."""
        h = self.precision_matrix(fisher, self.exposure_s / sample_exposure_s)
        return linear_sigma(h, block_vector(self.block_mask.to(fisher.device), fisher.dtype))

    def forward(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        n = int(n_samples)
        kinks: list[KinkData] | None = (
            [] if (not self.training and self.infer and not torch.is_grad_enabled()) else None
        )
        fisher, sw, sw2, s_block = self.information(params, choices, n, generator, kinks=kinks)
        rate = self.source.rate_hz()
        sample_exposure = n / rate
        sigma = self.figure_of_merit(fisher, sample_exposure)
        frac = (sw / n).clamp_min(1e-12)
        scan_time = self.target_muons / (rate * frac)
        w_var = (sw2 / n - (sw / n) ** 2).clamp_min(0.0).detach()
        scan_se = scan_time.detach() * torch.sqrt(w_var / n) / frac.detach()
        contrast = float((self.true_u[self.block_mask].mean() - self.matrix_u).abs())
        out: dict[str, Any] = {
            # sampling error of the figure: the information is a sum over the N muons crossing
            # the block, relative error ~ 1/sqrt(N), half of it on a sigma (approximate; the
            # seed-to-seed scatter is checked against it in the tests)
            "x0_precision": Estimate(
                100.0 * sigma, 50.0 * sigma.detach() / math.sqrt(max(float(s_block.detach()), 1.0))
            ),
            "cost": self.cost(params, choices),
            "scan_time": Estimate(scan_time, scan_se),
            "block_significance": contrast / float(sigma.detach()),
            "accepted_fraction": float(frac.detach()),
            "exposure_s": sample_exposure,
        }
        if kinks:
            out.update(self._inference_report(cat_kinks(kinks), sample_exposure))
        return out

    # -- the reconstruction, evaluation only ----------------------------------------------------
    def kink_data(
        self, block: MuonBlock, resp: Response, *, soft: bool = False, min_weight: float = 0.0
    ) -> KinkData:
        """What the inference sees of a block (reconstructed paths, kinks, momentum hypotheses)
        for the muons of weight above ``min_weight``; ``soft``: bilinear voxel entries."""
        keep = resp.w > min_weight
        fit_in = _select_fit(resp.fit_in, keep)
        fit_out = _select_fit(resp.fit_out, keep)
        design = build_scattering_model(
            fit_in, fit_out, self.inference_grid, soft=soft, steps=self.source.path_steps
        )
        cos_t = 1.0 / torch.sqrt(1.0 + (fit_in.slope**2).sum(1))
        if self.momentum.mode == "perfect":
            p = block.p_in[keep][:, None]
            log_prior = torch.zeros_like(p)
        else:
            nodes = self.momentum.nodes(cos_t.dtype, cos_t.device)
            p = nodes[None, :].expand(cos_t.shape[0], -1)
            log_prior = self.momentum.log_weights(cos_t, block.p_measured[keep])
        return KinkData(
            design, resp.dt[keep], resp.dx[keep], resp.meas[keep], resp.w[keep], p, log_prior,
            self.momentum.log_p_precision(cos_t),
        )  # fmt: skip

    def infer_map(self, data: KinkData) -> X0Estimate:
        return infer_x0(data, self.inference_grid, loss=self.loss, settings=self.inference)

    def _inference_report(self, data: KinkData, sample_exposure: float) -> dict[str, float]:
        """Run the converged inference on the reconstructed scan and compare it with the truth."""
        if len(data) < 2:
            return {"inference_converged": 0.0, "inference_iterations": 0.0}
        est = self.infer_map(data)
        # ln of the block's mean scattering density (block_log_density); its Asimov sigma is
        # the figure's (same weights at the truth)
        mean, mean_u, sigma = block_log_density(est, self.block_mask)
        truth_block = math.log(float(torch.exp(self.true_u[self.block_mask]).mean()))
        err = -(mean - truth_block)
        truth = torch.exp(self.true_u).reshape(self.inference_grid.shape)
        return {
            "block_error": err,
            "block_pull": err / sigma,
            "block_error_mean_u": -(mean_u - truth_block),
            "inferred_precision": 100.0 * sigma * math.sqrt(sample_exposure / self.exposure_s),
            "x0_map_mse": float(log_x0_mse(est, truth).value),
            "inference_iterations": float(est.iterations),
            "inference_converged": float(est.converged),
            "inference_gradient_norm": est.gradient_norm,
        }


def _select_fit(fit: TrackFit, keep: torch.Tensor) -> TrackFit:
    return TrackFit(fit.point[keep], fit.slope[keep], fit.point_var[keep], fit.slope_var[keep], fit.cov[keep])


def cat_kinks(parts: list[KinkData]) -> KinkData:
    """One :class:`KinkData` holding the muons of several."""
    first = parts[0]

    def cat(get: Any) -> torch.Tensor:
        return torch.cat([get(p) for p in parts])

    design = ScatteringModel(
        cat(lambda p: p.design.idx), cat(lambda p: p.design.a), cat(lambda p: p.design.length_cm),
        first.design.entry_layer,
    )  # fmt: skip
    return KinkData(
        design, cat(lambda p: p.dt), cat(lambda p: p.dx), cat(lambda p: p.meas), cat(lambda p: p.w),
        cat(lambda p: p.p), cat(lambda p: p.log_prior), cat(lambda p: p.lnp_precision),
    )  # fmt: skip


__all__ = ["MuonTomography", "Response", "cat_kinks", "concatenate"]
