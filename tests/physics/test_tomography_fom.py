"""The tomography figure of merit (posterior sigma of the lead block's mean ln X0 at a fixed
exposure): chunked accumulation, gradients, ordering of detectors, exposure, seeds, and the
converged inference it stands for."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
import torch

from paretoopt.physics.tomography import (
    InferenceSettings,
    MomentumModel,
    MuonTomography,
    concatenate,
    tomography_space,
)
from paretoopt.physics.tomography.simulation import cat_kinks
from paretoopt.problem import Estimate

torch.set_num_threads(1)

SPACE = tomography_space()
CHOICES = {"n_above": 4, "n_below": 4, "technology": "drift_tubes"}


def _params(requires_grad: bool = False, **overrides: float) -> dict[str, torch.Tensor]:
    values = dict(SPACE.default_inner())
    for key in values:
        for suffix, v in overrides.items():
            if key.endswith(suffix):
                values[key] = v
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad) for k, v in values.items()}


def _value(out: object) -> float:
    value = out.value if isinstance(out, Estimate) else out
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)  # type: ignore[arg-type]


def test_chunked_information_equals_unchunked() -> None:
    """Blocks accumulated with recomputation in the backward pass give the values and gradients
    of one autograd graph over all muons (float64, relative 1e-10)."""
    sim = MuonTomography(block_size=700)
    sim.train()
    src = sim.source
    seeds = src.seeds(2500, torch.Generator().manual_seed(5))
    blocks = [
        src.block(s, n, torch.float64, torch.device("cpu"))
        for s, n in zip(seeds, src.sizes(2500), strict=True)
    ]
    assert len(blocks) == 4
    choices = {"n_above": 3, "n_below": 2, "technology": "rpc"}
    results = []
    for chunked in (True, False):
        params = _params(requires_grad=True)
        used = blocks if chunked else [concatenate(blocks)]
        f, sw, _, _ = sim.information(
            params, choices, 2500, torch.Generator(), checkpoint=chunked, blocks=used
        )
        sigma = sim.figure_of_merit(f, 2500 / src.rate_hz())
        (sigma + sw / 1000).backward()
        grads = {k: float(v.grad) for k, v in params.items() if v.grad is not None and float(v.grad) != 0.0}
        results.append((float(sigma), float(sw), grads, f.detach()))
    (s1, w1, g1, f1), (s2, w2, g2, f2) = results
    assert s1 == pytest.approx(s2, rel=1e-10) and w1 == pytest.approx(w2, rel=1e-10)
    assert torch.allclose(f1, f2, rtol=1e-10, atol=1e-12 * float(f2.abs().max()))
    assert g1.keys() == g2.keys() and len(g1) >= 20
    for k in g1:
        assert g1[k] == pytest.approx(g2[k], rel=1e-10, abs=1e-14), k


def test_figure_gradients_agree_with_finite_differences() -> None:
    sim = MuonTomography(block_size=2000)
    sim.train()

    def loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        out = sim(params, CHOICES, 3000, torch.Generator().manual_seed(3))
        return out["x0_precision"].value + out["scan_time"].value / 600.0 + out["cost"] / 100.0

    params = _params(requires_grad=True)
    loss(params).backward()
    h = 1e-6
    for name in (
        "above1_z",
        "above3_z",
        "below2_z",
        "above1_span_x",
        "below3_span_y",
        "above2_x",
        "below1_y",
    ):
        plus = {k: v.detach().clone() for k, v in params.items()}
        minus = {k: v.detach().clone() for k, v in params.items()}
        plus[name] += h
        minus[name] -= h
        with torch.no_grad():
            fd = float(loss(plus) - loss(minus)) / (2 * h)
        assert float(params[name].grad) != 0.0
        assert float(params[name].grad) == pytest.approx(fd, rel=1e-4, abs=1e-7), name


def _figures(
    choices: dict[str, object], params: dict[str, torch.Tensor], seeds: range, n: int = 20_000
) -> list[float]:
    sim = MuonTomography()
    sim.eval()
    with torch.no_grad():
        return [
            _value(sim(params, choices, n, torch.Generator().manual_seed(s))["x0_precision"]) for s in seeds
        ]


def _better(good: list[float], bad: list[float]) -> None:
    """``good`` has the smaller figure by more than 3 seed-to-seed standard deviations."""
    spread = max(statistics.stdev(good), statistics.stdev(bad))
    assert statistics.mean(bad) - statistics.mean(good) > 3 * spread, (good, bad)


SEEDS = range(4)


@pytest.fixture(scope="module")
def reference() -> list[float]:
    return _figures(CHOICES, _params(), SEEDS)


def test_more_planes_improve_the_figure(reference: list[float]) -> None:
    _better(reference, _figures({**CHOICES, "n_above": 2, "n_below": 2}, _params(), SEEDS))


def test_better_resolution_improves_the_figure(reference: list[float]) -> None:
    _better(reference, _figures({**CHOICES, "technology": "rpc"}, _params(), SEEDS))
    _better(_figures({**CHOICES, "technology": "silicon_strips"}, _params(), SEEDS), reference)


def test_larger_acceptance_improves_the_figure(reference: list[float]) -> None:
    _better(_figures(CHOICES, _params(span_x=1.8, span_y=1.8), SEEDS), reference)


def test_figure_is_stable_across_seeds_and_reports_a_conservative_error(reference: list[float]) -> None:
    assert statistics.stdev(reference) / statistics.mean(reference) < 0.03
    sim = MuonTomography()
    sim.eval()
    with torch.no_grad():
        out = sim(_params(), CHOICES, 20_000, torch.Generator().manual_seed(0))["x0_precision"]
    # the reported standard error is an approximation (see simulation.py): not below the scatter
    assert float(out.stderr) > statistics.stdev(reference)


def test_figure_improves_monotonically_with_exposure() -> None:
    """More exposure, better precision: the same detector with 1, 4 and 16 times the muons at the
    samples' own exposure, and one sample's information scaled to longer exposures."""
    figures = []
    for n in (5_000, 20_000, 80_000):
        sim = MuonTomography(exposure_s=n / MuonTomography().source.rate_hz())
        sim.eval()
        with torch.no_grad():
            figures.append(
                _value(sim(_params(), CHOICES, n, torch.Generator().manual_seed(1))["x0_precision"])
            )
    assert figures[0] > figures[1] > figures[2]
    # roughly 1/sqrt(exposure) (the prior keeps it from being exact)
    assert figures[0] / figures[2] == pytest.approx(4.0, rel=0.35)
    sim = MuonTomography()
    sim.eval()
    with torch.no_grad():
        f, _, _, _ = sim.information(_params(), CHOICES, 10_000, torch.Generator().manual_seed(1))
    t_sample = 10_000 / sim.source.rate_hz()
    scaled = []
    for exposure in (60.0, 300.0, 1200.0, 4800.0):
        sim.exposure_s = exposure
        scaled.append(float(sim.figure_of_merit(f, t_sample)))
    assert all(a > b for a, b in itertools.pairwise(scaled))


@pytest.fixture(scope="module")
def perfect_scan() -> tuple[MuonTomography, object, float]:
    """A scan with the momentum known, reconstructed for the inference, and its Asimov figure."""
    sim = MuonTomography(momentum=MomentumModel("perfect"))
    sim.eval()
    kinks: list = []
    n = 40_000
    with torch.no_grad():
        f, _, _, _ = sim.information(_params(), CHOICES, n, torch.Generator().manual_seed(11), kinks=kinks)
    t_sample = n / sim.source.rate_hz()
    sim.exposure_s = t_sample
    return sim, cat_kinks(kinks), float(sim.figure_of_merit(f, t_sample))


def _block_estimate(
    sim: MuonTomography, settings: InferenceSettings, data: object, **kw: object
) -> tuple[float, float, bool]:
    """(error of ln of the block's mean density, its sigma, converged) of one fit."""
    from paretoopt.physics.tomography import block_log_density, infer_x0

    est = infer_x0(data, sim.inference_grid, loss=sim.loss, settings=settings, **kw)  # type: ignore[arg-type]
    value, _, sigma = block_log_density(est, sim.block_mask)
    # truth: PDG's X0 of lead, 0.5612 cm, typed here
    return -(value - math.log(1.0 / 0.5612)), sigma, est.converged


def test_converged_inference_agrees_with_the_figure(
    perfect_scan: tuple[MuonTomography, object, float],
) -> None:
    """The MAP map converges; its Laplace sigma of the block is the Asimov figure (within 15 %).
    Its estimate of the block's X0 (truth: PDG's 0.5612 cm) is still biased upwards at this
    exposure (about +20 % in this seed: reconstruction blurring, the simulated kinks against
    the Gaussian model, the prior's pull; docs/physics-muon-tomography.md, *The inference*):
    within 25 %."""
    sim, data, asimov = perfect_scan
    err, sigma, converged = _block_estimate(sim, sim.inference, data)
    assert converged
    assert sigma == pytest.approx(asimov, rel=0.15)
    assert abs(err) < 0.25


def test_inference_is_insensitive_to_its_settings_once_converged(
    perfect_scan: tuple[MuonTomography, object, float],
) -> None:
    """Tolerance, chunk size, continuation and the starting map change the block's estimate by
    less than a tenth of its sigma once the fit has converged."""
    sim, data, _ = perfect_scan
    base, sigma, _ = _block_estimate(sim, sim.inference, data)
    variants = [
        InferenceSettings(tol=1e-3, max_iter=150),
        InferenceSettings(chunk=1000),
        InferenceSettings(continuation=(8.0, 2.0), start_x0_cm=10.0),
    ]
    for settings in variants:
        err, _, converged = _block_estimate(sim, settings, data)
        assert converged
        assert abs(err - base) < 0.1 * sigma, settings


def test_block_estimate_is_unbiased_where_the_map_of_a_log_scale_is_not() -> None:
    """A pure scale problem with a known answer: 900 water voxels, 5 vertical 100 GeV muons
    each, every kink drawn from the model's own Gaussian (dt, dx in two views: d = 20 degrees
    of freedom per voxel), a prior too wide to matter. The MAP of each voxel's u = ln(1/X0)
    lies low by E[ln(chi^2_d / d)] = psi(d/2) - ln(d/2) = -0.0508 (digamma, computed here), the
    reason the mean of a block's voxel logs overstates its X0; block_log_density's estimate
    (ln of the mean density) is unbiased within 3 standard errors."""
    from scipy.special import digamma

    from paretoopt.physics.tomography import (
        InferenceGrid,
        LossModel,
        RobustPrior,
        block_log_density,
        infer_x0,
    )
    from paretoopt.physics.tomography.inference import KinkData
    from paretoopt.physics.tomography.scattering_model import ScatteringModel, covariance_model

    side, per, h = 30, 5, 10.0
    grid = InferenceGrid((1, side, side), (0.0, 0.0, 0.0), 0.1)
    n = side * side * per
    idx = torch.arange(side * side).repeat_interleave(per)[:, None]
    # a vertical path through a 10 cm slab above the plane where dx is measured (PDG eqs.
    # 34.16-34.19 integrated: H, H^2/2, H^3/3 per unit lambda k f)
    a = torch.tensor([h, h * h / 2, h**3 / 3], dtype=torch.float64).expand(n, 1, 2, 3).clone()
    design = ScatteringModel(
        idx, a, torch.full((n, 1), h, dtype=torch.float64), torch.zeros(1, dtype=torch.long)
    )
    p = torch.full((n,), 100.0, dtype=torch.float64)
    lam_true = torch.full((side * side,), 1.0 / 36.08, dtype=torch.float64)
    loss = LossModel()
    meas = torch.tensor([1e-12, 0.0, 1e-8], dtype=torch.float64).expand(n, 2, 3).clone()
    s = covariance_model(design, lam_true, p, loss, 1).s + meas
    g = torch.Generator().manual_seed(2024)
    z = torch.randn((n, 2, 2), generator=g, dtype=torch.float64)
    l11 = torch.sqrt(s[..., 0])
    l21 = s[..., 1] / l11
    l22 = torch.sqrt(s[..., 2] - l21 * l21)
    dt, dx = l11 * z[..., 0], l21 * z[..., 0] + l22 * z[..., 1]
    ones, zeros = torch.ones(n, dtype=torch.float64), torch.zeros((n, 1), dtype=torch.float64)
    data = KinkData(design, dt, dx, meas, ones, p[:, None], zeros, torch.full_like(ones, math.inf))
    settings = InferenceSettings(prior=RobustPrior(1.0, 50.0), continuation=(), start_x0_cm=36.0, tol=1e-4)
    est = infer_x0(data, grid, loss=loss, settings=settings)
    assert est.converged
    u_err = torch.log(est.inv_x0_per_cm.reshape(-1)) - torch.log(lam_true)
    d = 2 * 2 * per
    expected_map_bias = float(digamma(d / 2) - math.log(d / 2))
    se = float(u_err.std()) / math.sqrt(u_err.numel())
    assert float(u_err.mean()) == pytest.approx(expected_map_bias, abs=3 * se)
    assert float(u_err.mean()) < -3 * se  # the MAP of the logs is biased, detectably
    value, mean_u, sigma = block_log_density(est, torch.ones(side * side, dtype=torch.bool))
    assert mean_u == pytest.approx(float(torch.log(est.inv_x0_per_cm).mean()))
    assert abs(value - math.log(1.0 / 36.08)) < 3 * sigma
    assert sigma == pytest.approx(se, rel=0.25)  # the Laplace sigma of the mean density


def test_figure_is_insensitive_to_the_inference_settings() -> None:
    """The figure is the converged inference's expected precision, so the fit's numerical knobs
    (iterations, tolerance, chunking, continuation, start) cannot move it, and the prior's
    shape moves it by less than the seed-to-seed spread (3 %) while a detector change (2 + 2
    instead of 4 + 4 panels) moves it by more than 25 % (measured: -1.5 % and +2.4 % for prior
    scales 0.25 and 1.0, +0.5 % for 4 degrees of freedom; 4 vs 2 panels: 3.9 vs 5.0 %)."""
    from paretoopt.physics.tomography import RobustPrior

    sim = MuonTomography()
    sim.eval()
    t_sample = 20_000 / sim.source.rate_hz()
    with torch.no_grad():
        f, _, _, _ = sim.information(_params(), CHOICES, 20_000, torch.Generator().manual_seed(0))
        f2, _, _, _ = sim.information(
            _params(), {**CHOICES, "n_above": 2, "n_below": 2}, 20_000, torch.Generator().manual_seed(0)
        )
    base = float(sim.figure_of_merit(f, t_sample))
    fewer_panels = float(sim.figure_of_merit(f2, t_sample))
    sim.inference = InferenceSettings(max_iter=1, tol=10.0, chunk=100, continuation=(), start_x0_cm=5.0)
    assert float(sim.figure_of_merit(f, t_sample)) == base
    for prior in (RobustPrior(1.0, 0.25), RobustPrior(1.0, 1.0), RobustPrior(4.0, 0.5)):
        sim.inference = InferenceSettings(prior=prior)
        assert float(sim.figure_of_merit(f, t_sample)) == pytest.approx(base, rel=0.03), prior
    assert fewer_panels > 1.25 * base
