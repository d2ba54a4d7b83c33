"""Muon tomography: panels, hits, track fits, POCA, X0 inference and the study simulations."""

from __future__ import annotations

import math

import pytest
import torch

from paretoopt.physics.tomography import (
    TECHNOLOGIES,
    InferenceSettings,
    LadleFurnace,
    MuonTomography,
    Panels,
    SideHits,
    Technology,
    detector_hits,
    fit_tracks,
    lead_block_grid,
    poca,
    tomography_space,
    true_inv_x0,
)
from paretoopt.problem import Estimate

torch.set_num_threads(1)

SPACE = tomography_space()


def _params(requires_grad: bool = False) -> dict[str, torch.Tensor]:
    return {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad)
        for k, v in SPACE.default_inner().items()
    }


def _choices(n_above: int = 4, n_below: int = 4, technology: str = "drift_tubes") -> dict[str, object]:
    return {"n_above": n_above, "n_below": n_below, "technology": technology}


def _value(out: object) -> float:
    value = out.value if isinstance(out, Estimate) else out
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)  # type: ignore[arg-type]


def test_poca_recovers_a_single_scattering_point_exactly() -> None:
    """Straight tracks kinked at known points, hits without smearing: fit + POCA give the point."""
    g = torch.Generator().manual_seed(0)
    n = 50
    kink = torch.rand((n, 3), generator=g, dtype=torch.float64) * torch.tensor(
        [1.0, 1.0, 1.0]
    ) + torch.tensor([0.0, 0.0, 0.5])
    slope_in = 0.5 * (torch.rand((n, 2), generator=g, dtype=torch.float64) - 0.5)
    slope_out = slope_in + 0.05 * torch.randn((n, 2), generator=g, dtype=torch.float64)
    exact = Technology("exact", resolution_m=1e-12, efficiency=1.0, cost_keur_per_m2=0.0)

    def panels(zs: list[float]) -> Panels:
        k = len(zs)
        big = torch.full((k,), 100.0, dtype=torch.float64)
        return Panels(torch.tensor(zs, dtype=torch.float64), torch.zeros(k, dtype=torch.float64),
                      torch.zeros(k, dtype=torch.float64), big, big)  # fmt: skip

    z_top, z_bot = 1.5, 0.5
    at_top = kink[:, :2] + (z_top - kink[:, 2:3]) * slope_in
    at_bot = kink[:, :2] + (z_bot - kink[:, 2:3]) * slope_out
    hits_in = detector_hits(at_top, slope_in, z_top, panels([1.6, 1.8, 2.0]), exact, g, training=False)
    hits_out = detector_hits(at_bot, slope_out, z_bot, panels([0.4, 0.2, 0.0]), exact, g, training=False)
    fit_in, fit_out = fit_tracks(hits_in), fit_tracks(hits_out)
    assert torch.allclose(fit_in.slope, slope_in, atol=1e-9)
    assert torch.allclose(fit_out.slope, slope_out, atol=1e-9)
    found = poca(fit_in.point, fit_in.direction, fit_out.point, fit_out.direction)
    assert torch.allclose(found, kink, atol=1e-8)
    # parallel lines: no point exists, the result stays finite
    par = poca(fit_in.point, fit_in.direction, fit_in.point + 0.01, fit_in.direction)
    assert torch.isfinite(par).all()


def test_track_fit_slope_variance_is_the_least_squares_value() -> None:
    sigma = 1e-3
    z = torch.tensor([0.0, 0.1, 0.3], dtype=torch.float64)
    hits = SideHits(xy=torch.zeros((4, 3, 2), dtype=torch.float64), w=torch.ones((4, 3), dtype=torch.float64),
                    z=z, resolution_m=sigma)  # fmt: skip
    fit = fit_tracks(hits)
    expected = sigma**2 / float(((z - z.mean()) ** 2).sum())
    assert torch.allclose(fit.slope_var, torch.full((4,), expected, dtype=torch.float64))
    # a muon with fewer than two hits has zero probability of a track
    hits_one = SideHits(xy=hits.xy, w=torch.tensor([[1.0, 0.0, 0.0]] * 4, dtype=torch.float64), z=z,
                        resolution_m=sigma)  # fmt: skip
    assert float(hits_one.prob_two_or_more().max()) == 0.0
    p = torch.tensor([[0.5, 0.5, 0.5]], dtype=torch.float64)
    soft = SideHits(xy=hits.xy[:1], w=p, z=z, resolution_m=sigma)
    assert float(soft.prob_two_or_more()) == pytest.approx(0.5)  # P(>=2 of 3 fair coins)


@pytest.fixture(scope="module")
def lead_scan() -> tuple[torch.Tensor, torch.Tensor]:
    sim = MuonTomography()
    sim.eval()
    params = _params()
    for side, zs in (("above", [1.55, 1.7, 1.85, 2.0]), ("below", [0.45, 0.3, 0.15, 0.0])):
        for k, z in enumerate(zs, 1):
            params[f"{side}{k}_z"] = torch.tensor(z, dtype=torch.float64)
    scan = sim.scan(
        sim.grid, params, _choices(technology="silicon_strips"), 150_000, torch.Generator().manual_seed(0)
    )
    return scan.estimate.x0_cm, true_inv_x0(sim.grid, sim.inference_grid)


def test_x0_map_separates_lead_from_water(lead_scan: tuple[torch.Tensor, torch.Tensor]) -> None:
    x0, true_inv = lead_scan
    lead = true_inv > 1.0
    assert int(lead.sum()) == 18  # the 3 x 3 x 2 block
    # every lead voxel is denser than every water voxel
    assert float(x0[lead].max()) < float(x0[~lead].min())
    # and the typical values are right within a factor 1.6 (PDG: Pb 0.5612 cm, water 36.08 cm)
    assert 0.5612 / 1.6 < float(x0[lead].median()) < 0.5612 * 1.6
    assert 36.08 / 1.6 < float(x0[~lead].median()) < 36.08 * 1.6


def test_more_panels_and_better_resolution_reduce_the_error() -> None:
    sim = MuonTomography()
    sim.eval()
    params = _params()

    def error(choices: dict[str, object]) -> float:
        return _value(sim(params, choices, 30_000, torch.Generator().manual_seed(0))["x0_error"])

    by_tech = [
        error(_choices(technology=t))
        for t in ("rpc", "drift_tubes", "scintillating_fibres", "silicon_strips")
    ]
    assert [
        TECHNOLOGIES[t].resolution_m for t in ("rpc", "drift_tubes", "scintillating_fibres", "silicon_strips")
    ] == sorted((TECHNOLOGIES[t].resolution_m for t in TECHNOLOGIES), reverse=True)
    assert by_tech == sorted(by_tech, reverse=True), by_tech
    by_panels = [error(_choices(k, k)) for k in (2, 3, 4)]
    assert by_panels == sorted(by_panels, reverse=True), by_panels


def _central_difference(loss, params: dict[str, torch.Tensor], name: str, h: float) -> float:
    """(loss(params + h e_name) - loss(params - h e_name)) / 2h, without gradients."""
    plus = {k: v.detach().clone() for k, v in params.items()}
    minus = {k: v.detach().clone() for k, v in params.items()}
    plus[name] += h
    minus[name] -= h
    with torch.no_grad():
        return float(loss(plus) - loss(minus)) / (2 * h)


def test_gradients_agree_with_finite_differences() -> None:
    sim = MuonTomography()
    sim.train()
    choices = _choices(3, 3)

    def loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        out = sim(params, choices, 3000, torch.Generator().manual_seed(3))
        return out["x0_error"].value + out["scan_time"].value / 600.0 + out["cost"] / 100.0

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
        fd = _central_difference(loss, params, name, h)
        grad = float(params[name].grad)
        assert grad != 0.0
        assert grad == pytest.approx(fd, rel=1e-4, abs=1e-7), name


def test_every_gradient_is_finite_and_inactive_slots_get_zero() -> None:
    sim = MuonTomography()
    sim.train()
    params = _params(requires_grad=True)
    out = sim(params, _choices(2, 3, "rpc"), 3000, torch.Generator().manual_seed(0))
    (out["x0_error"].value + out["cost"]).backward()
    for name, p in params.items():
        assert p.grad is not None and math.isfinite(float(p.grad)), name
        side, slot = ("above", int(name[5])) if name.startswith("above") else ("below", int(name[5]))
        if slot > (2 if side == "above" else 3):
            assert float(p.grad) == 0.0, name
        elif name.endswith(("span_x", "span_y", "_z")):
            assert float(p.grad) != 0.0, name


def test_training_is_soft_and_evaluation_is_hard() -> None:
    sim = MuonTomography()
    params = _params()
    sim.train()
    soft = sim.scan(sim.grid, params, _choices(), 3000, torch.Generator().manual_seed(1))
    sim.eval()
    hard = sim.scan(sim.grid, params, _choices(), 3000, torch.Generator().manual_seed(1))
    frac_soft = ((soft.weight > 0) & (soft.weight < 1)).float().mean()
    assert float(frac_soft) > 0.5  # soft weights everywhere
    assert set(hard.weight.unique().tolist()) <= {0.0, 1.0}
    # both see about the same number of reconstructed muons
    assert float(soft.weight.sum()) == pytest.approx(float(hard.weight.sum()), rel=0.15)


def test_cost_scan_time_and_one_panel_designs() -> None:
    sim = MuonTomography()
    sim.eval()
    params = _params()
    tech = TECHNOLOGIES["rpc"]
    out = sim(params, _choices(2, 3, "rpc"), 5000, torch.Generator().manual_seed(0))
    area = sum(float(params[f"above{k}_span_x"] * params[f"above{k}_span_y"]) for k in (1, 2)) + sum(
        float(params[f"below{k}_span_x"] * params[f"below{k}_span_y"]) for k in (1, 2, 3)
    )
    assert _value(out["cost"]) == pytest.approx(tech.cost_keur_per_m2 * area)
    frac = _value(out["accepted_fraction"])
    assert 0.0 < frac < 1.0
    assert _value(out["scan_time"]) == pytest.approx(
        sim.target_muons / (frac * 5000 / out["exposure_s"]), rel=1e-9
    )
    # one panel on a side cannot make a track: no muons, the map stays at the prior
    lone = sim(params, _choices(1, 4), 5000, torch.Generator().manual_seed(0))
    assert _value(lone["accepted_fraction"]) == 0.0
    truth = true_inv_x0(sim.grid, sim.inference_grid)
    prior = InferenceSettings().prior_x0_cm
    expected = float(((math.log(prior) + torch.log(truth)) ** 2).mean())
    assert _value(lone["x0_error"]) == pytest.approx(expected, rel=1e-6)


def test_lead_block_grid_and_validation() -> None:
    grid = lead_block_grid(block_voxels=((0, 2), (0, 1), (9, 10)))
    assert grid.shape == (10, 10, 10)
    x0 = grid.x0_cm()
    assert float(x0[9, 0, 0]) == pytest.approx(0.5612) and float(x0[0, 0, 0]) == pytest.approx(36.08)
    with pytest.raises(ValueError, match="efficiency"):
        Technology("bad", resolution_m=1e-3, efficiency=1.5, cost_keur_per_m2=1.0)
    with pytest.raises(ValueError, match="method"):
        InferenceSettings(method="magic")


def test_ladle_level_fit_is_accurate_and_beats_the_map() -> None:
    params = _params()
    choices = _choices(technology="silicon_strips")
    fit = LadleFurnace(n_levels=2)
    fit.eval()
    err_fit = _value(fit(params, choices, 8000, torch.Generator().manual_seed(2))["fill_level_error"])
    assert err_fit < 2.0  # cm, from 4,000 generated muons per level
    read = LadleFurnace(n_levels=2, level_method="map")
    read.eval()
    few = _value(read(params, choices, 8000, torch.Generator().manual_seed(2))["fill_level_error"])
    many = _value(read(params, choices, 60_000, torch.Generator().manual_seed(2))["fill_level_error"])
    assert many < few
    assert err_fit < many
    with pytest.raises(ValueError, match="level_method"):
        LadleFurnace(level_method="guess")


def test_ladle_level_gradient_agrees_with_finite_differences() -> None:
    sim = LadleFurnace(n_levels=2)
    sim.train()
    choices = _choices(3, 3, "rpc")

    def loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        return sim(params, choices, 6000, torch.Generator().manual_seed(1))["fill_level_error"].value

    params = _params(requires_grad=True)
    loss(params).backward()
    h = 1e-6
    for name in ("above1_z", "below2_span_x"):
        fd = _central_difference(loss, params, name, h)
        assert float(params[name].grad) == pytest.approx(fd, rel=1e-4, abs=1e-7), name
