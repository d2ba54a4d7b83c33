"""Muon tomography: technologies, panels, hits, track fits, POCA, the kink model against the
simulation, and the ladle's fill-level fit."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.func import jvp

from paretoopt.physics.energy_loss import material_dedx_mev_cm
from paretoopt.physics.materials import get
from paretoopt.physics.tomography import (
    TECHNOLOGIES,
    InferenceSettings,
    LadleFurnace,
    LossModel,
    MomentumModel,
    MuonTomography,
    Panels,
    SideHits,
    Technology,
    TrackFit,
    detector_hits,
    fit_tracks,
    lead_block_grid,
    poca,
    tomography_space,
)
from paretoopt.physics.tomography.scattering_model import covariance_model, kick_scale, kink_observables
from paretoopt.physics.tomography.tracks import panel_kick_variance
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


def _exact(name: str = "exact", **kw: float) -> Technology:
    fields = {
        "resolution_m": 1e-12,
        "efficiency": 1.0,
        "pitch_m": 1e-3,
        "readout_layers": 1,
        "sensor_layers": 1,
        "x0_per_plane": 0.0,
        "fixed_keur": 0.0,
        "eur_per_channel": 0.0,
        "keur_per_m2": 0.0,
    } | kw
    return Technology(name, **fields)  # type: ignore[arg-type]


def _wide_panels(zs: list[float]) -> Panels:
    k = len(zs)
    big = torch.full((k,), 100.0, dtype=torch.float64)
    zero = torch.zeros(k, dtype=torch.float64)
    return Panels(torch.tensor(zs, dtype=torch.float64), zero, zero, big, big)


def test_poca_recovers_a_single_scattering_point_exactly() -> None:
    """Straight tracks kinked at known points, hits without smearing: fit + POCA give the point."""
    g = torch.Generator().manual_seed(0)
    n = 50
    kink = torch.rand((n, 3), generator=g, dtype=torch.float64) + torch.tensor([0.0, 0.0, 0.5])
    slope_in = 0.5 * (torch.rand((n, 2), generator=g, dtype=torch.float64) - 0.5)
    slope_out = slope_in + 0.05 * torch.randn((n, 2), generator=g, dtype=torch.float64)
    z_top, z_bot = 1.5, 0.5
    at_top = kink[:, :2] + (z_top - kink[:, 2:3]) * slope_in
    at_bot = kink[:, :2] + (z_bot - kink[:, 2:3]) * slope_out
    exact = _exact()
    hits_in = detector_hits(at_top, slope_in, z_top, _wide_panels([1.6, 1.8, 2.0]), exact, g, training=False)
    hits_out = detector_hits(
        at_bot, slope_out, z_bot, _wide_panels([0.4, 0.2, 0.0]), exact, g, training=False
    )
    fit_in, fit_out = fit_tracks(hits_in), fit_tracks(hits_out)
    assert torch.allclose(fit_in.slope, slope_in, atol=1e-9)
    assert torch.allclose(fit_out.slope, slope_out, atol=1e-9)
    found = poca(fit_in.point, fit_in.direction, fit_out.point, fit_out.direction)
    assert torch.allclose(found, kink, atol=1e-8)
    par = poca(fit_in.point, fit_in.direction, fit_in.point + 0.01, fit_in.direction)
    assert torch.isfinite(par).all()  # parallel lines: no point exists, the result stays finite


def test_track_fit_variance_is_the_least_squares_value() -> None:
    sigma = 1e-3
    z = torch.tensor([0.0, 0.1, 0.3], dtype=torch.float64)
    ones = torch.ones((4, 3), dtype=torch.float64)
    fit = fit_tracks(
        SideHits(xy=torch.zeros((4, 3, 2), dtype=torch.float64), w=ones, z=z, resolution_m=sigma)
    )
    expected = sigma**2 / float(((z - z.mean()) ** 2).sum())  # textbook straight-line fit
    assert torch.allclose(fit.slope_var, torch.full((4, 2), expected, dtype=torch.float64))
    one = SideHits(
        xy=torch.zeros((4, 3, 2), dtype=torch.float64),
        w=torch.tensor([[1.0, 0.0, 0.0]] * 4, dtype=torch.float64),
        z=z,
        resolution_m=sigma,
    )
    assert float(one.prob_two_or_more().max()) == 0.0  # a line needs two hits
    soft = SideHits(xy=one.xy[:1], w=torch.full((1, 3), 0.5, dtype=torch.float64), z=z, resolution_m=sigma)
    assert float(soft.prob_two_or_more()) == pytest.approx(0.5)  # P(>= 2 of 3 fair coins)


def test_fit_covariance_with_panel_scattering_matches_monte_carlo() -> None:
    """The fits' covariance (resolution + scattering in the panels between the hits and the
    volume) against the scatter of fits of simulated hits, relative to the true line."""
    n = 40_000
    tech = _exact("rpc_like", resolution_m=1e-3, x0_per_plane=0.03)
    slope = torch.tensor([[0.3, -0.2]], dtype=torch.float64).expand(n, 2).contiguous()
    point = torch.zeros((n, 2), dtype=torch.float64)
    p = torch.full((n,), 1.0, dtype=torch.float64)
    hits = detector_hits(
        point,
        slope,
        1.5,
        _wide_panels([1.6, 1.7, 1.9, 2.0]),
        tech,
        torch.Generator().manual_seed(1),
        training=False,
        momentum_gev=p,
    )
    fit = fit_tracks(hits)
    zbar = fit.point[:, 2:3]
    err_slope = fit.slope - slope
    err_pos = fit.point[:, :2] - (point + (zbar - 1.5) * slope)
    for v in range(2):
        emp = torch.cov(torch.stack([err_pos[:, v], err_slope[:, v]]))
        pred = torch.tensor(
            [
                [float(fit.point_var[0, v]), float(fit.cov[0, v])],
                [float(fit.cov[0, v]), float(fit.slope_var[0, v])],
            ],
            dtype=torch.float64,
        )
        assert torch.allclose(emp, pred, rtol=0.04, atol=0.04 * float(pred.diagonal().min()))
    # the panels' scattering matters: 3 % X0 at 1 GeV is ~0.6 mrad per plane
    resolution_only = 1e-6 / float(((hits.z - hits.z.mean()) ** 2).sum())
    assert float(fit.slope_var[0, 0]) > 1.5 * resolution_only


def test_technologies_read_out_consistently() -> None:
    """Binary strip readout resolves pitch / sqrt(12) (PDG RPP, particle detectors); channels
    per panel = layers x (span_x + span_y) / pitch; cost = fixed + channels + sensor area."""
    for key in ("rpc", "rpc_fine", "silicon_strips"):
        t = TECHNOLOGIES[key]
        assert t.resolution_m == pytest.approx(t.pitch_m / math.sqrt(12.0))
    one = torch.tensor(1.0, dtype=torch.float64)
    assert float(TECHNOLOGIES["rpc_fine"].channels(one, one)) == pytest.approx(2 / 3e-3)  # ~670 per m2
    rpc = TECHNOLOGIES["rpc"]
    assert float(rpc.panel_cost_keur(one, one)) == pytest.approx(2.0 + 10.0 * 200 / 1000 + 0.5)
    si = TECHNOLOGIES["silicon_strips"]
    assert si.sensor_layers == 2  # single-sided strips: one layer per coordinate
    assert float(si.panel_cost_keur(one, one)) == pytest.approx(5.0 + 1.0 * 25000 / 1000 + 2 * 20.0)
    for t in TECHNOLOGIES.values():
        assert 0.005 <= t.x0_per_plane <= 0.035  # 1-3 % X0 per plane (issue #18, sources in detector.py)
    fine = [float(t.panel_cost_keur(one, one)) for t in TECHNOLOGIES.values() if t.resolution_m < 1e-4]
    assert min(fine) > 5 * float(rpc.panel_cost_keur(one, one))  # sub-0.1 mm panels: many channels
    with pytest.raises(ValueError, match="efficiency"):
        dataclasses.replace(rpc, efficiency=1.5)
    # Highland for one plane, PDG eq. 34.15 typed out (beta ~ 1 at 10 GeV)
    var = panel_kick_variance(
        torch.tensor([10.0], dtype=torch.float64), torch.zeros((1, 2), dtype=torch.float64), 0.03
    )
    theta0 = 0.0136 / 10.0 * math.sqrt(0.03) * (1 + 0.038 * math.log(0.03))
    assert float(var[0, 0]) == pytest.approx(theta0**2, rel=1e-3)


@pytest.fixture(scope="module")
def lead_block() -> tuple[MuonTomography, object]:
    sim = MuonTomography(momentum=MomentumModel("perfect"))
    return sim, sim.source.block(7, 40_000, torch.float64, torch.device("cpu"))


def test_kink_model_is_calibrated_against_the_simulation(lead_block: tuple[MuonTomography, object]) -> None:
    """The inference's covariance of the kink (true lines, true densities and momenta) against
    the simulated kinks: E[dt^2 / S_tt] = E[dx^2 / S_xx] = 1, for all muons and for those
    through the lead block (where energy loss and the log term matter most)."""
    sim, blk = lead_block
    line_in = TrackFit.exact(blk.entry_xy, sim.grid.z_top_m, blk.slope_in)
    line_out = TrackFit.exact(blk.exit_xy, sim.grid.z_bottom_m, blk.slope_out)
    dt, dx, _ = kink_observables(line_in, line_out, sim.grid.z_bottom_m)
    s = blk.s_scat
    ok = blk.alive & (s[:, 0, 0] > 0)
    cross = ok & (sim.block_mask[blk.design.idx] & (blk.design.length_cm > 0)).any(1)
    for sel, tol in ((ok, 0.04), (cross, 0.08)):
        for v in range(2):
            for obs, comp in ((dt, 0), (dx, 2)):
                ratio = obs[sel, v] ** 2 / s[sel, v, comp]
                stderr = float(ratio.std()) / math.sqrt(int(sel.sum()))
                assert abs(float(ratio.mean()) - 1.0) < max(tol, 3 * stderr), (v, comp, float(ratio.mean()))
    assert int(cross.sum()) > 500


def test_covariance_derivatives_match_autograd(lead_block: tuple[MuonTomography, object]) -> None:
    """The written-out dS/du and dS/d ln p (the Fisher matrix's inputs) against forward-mode
    autograd of the model itself, at 3 and 30 GeV (below ~1 GeV they neglect the loss rate's
    momentum dependence, see covariance_model)."""
    sim, blk = lead_block
    design = dataclasses.replace(blk.design)
    sel = torch.arange(3000)
    design = type(blk.design)(
        blk.design.idx[sel], blk.design.a[sel], blk.design.length_cm[sel], blk.design.entry_layer
    )
    u0 = sim.true_u
    for p_gev, tol in ((3.0, 2e-3), (30.0, 5e-4)):
        p = torch.full((3000,), p_gev, dtype=torch.float64)

        def f(u: torch.Tensor, lnp: torch.Tensor) -> torch.Tensor:
            lam = torch.exp(u)
            scale, _, _ = kick_scale(design, lam, torch.exp(lnp)[:, None], sim.loss, 10)
            return torch.einsum("neq,nevp->nqvp", scale * lam[design.idx][..., None], design.a)[:, 0]

        model = covariance_model(design, torch.exp(u0), p, sim.loss, 10)
        g = torch.Generator().manual_seed(0)
        for _ in range(2):
            dv = torch.randn(u0.shape, generator=g, dtype=torch.float64)
            _, jd = jvp(f, (u0, torch.log(p)), (dv, torch.zeros_like(p)))
            assert float((jd - (model.d * dv[design.idx][:, :, None, None]).sum(1)).norm() / jd.norm()) < tol
        _, jn = jvp(f, (u0, torch.log(p)), (torch.zeros_like(u0), torch.ones_like(p)))
        assert float((jn - model.nuisance).norm() / jn.norm()) < 20 * tol
        assert torch.allclose(model.s, f(u0, torch.log(p)), rtol=1e-12)


def test_loss_model_is_bethe_at_the_reference_materials() -> None:
    loss = LossModel()
    p = torch.tensor([0.5, 3.0, 50.0], dtype=torch.float64)
    for name in ("water", "Pb", "Fe", "air"):
        mat = get(name)
        got = loss.per_cm(torch.full_like(p, 1.0 / mat.x0_cm), p)
        assert torch.allclose(got, material_dedx_mev_cm(mat, p) * 1e-3, rtol=1e-3), name
    # against published numbers, not the code: the PDG's minimum ionisation (MeV cm2/g, material
    # pages at pdg.lbl.gov/AtomicNuclearProperties) times the density (g/cm3), typed here
    pdg = {"water": (1.992, 1.000), "Pb": (1.122, 11.35), "Fe": (1.451, 7.874)}
    grid = torch.exp(torch.linspace(math.log(0.2), math.log(1.0), 400, dtype=torch.float64))
    for name, (per_g, rho) in pdg.items():
        lam0 = torch.full_like(grid, 1.0 / get(name).x0_cm)
        assert float(loss.per_cm(lam0, grid).min()) * 1e3 == pytest.approx(per_g * rho, rel=3e-3), name
    lam = torch.exp(torch.linspace(math.log(1e-4), math.log(3.0), 200, dtype=torch.float64))
    rate = loss.per_cm(lam, torch.full_like(lam, 3.0))
    assert bool((rate[1:] > rate[:-1]).all())  # denser voxels lose more per cm


def test_lead_block_grid_and_validation() -> None:
    grid = lead_block_grid(block_voxels=((0, 2), (0, 1), (9, 10)))
    assert grid.shape == (10, 10, 10)
    x0 = grid.x0_cm()
    assert float(x0[9, 0, 0]) == pytest.approx(0.5612) and float(x0[0, 0, 0]) == pytest.approx(36.08)
    with pytest.raises(ValueError, match="momentum mode"):
        MomentumModel("guess")
    with pytest.raises(ValueError, match="max_iter"):
        InferenceSettings(max_iter=0)


def test_training_is_soft_and_evaluation_is_hard() -> None:
    sim = MuonTomography()
    params, choices = _params(), _choices()
    blk = sim.source.block(3, 3000, torch.float64, torch.device("cpu"))
    sim.train()
    w_soft, _ = sim.expected_response(blk, params, choices)
    sim.eval()
    hard = sim.respond(blk, params, choices)
    assert float(((w_soft > 0) & (w_soft < 1)).double().mean()) > 0.5
    assert set(hard.w.unique().tolist()) <= {0.0, 1.0}
    assert float(w_soft.sum()) == pytest.approx(float(hard.w.sum()), rel=0.15)


def test_cost_scan_time_and_inactive_slots() -> None:
    sim = MuonTomography()
    sim.train()
    params = _params(requires_grad=True)
    choices = _choices(2, 3, "rpc")
    out = sim(params, choices, 3000, torch.Generator().manual_seed(0))
    (out["x0_precision"].value + out["cost"] + out["scan_time"].value / 600).backward()
    for name, p in params.items():
        slot = int(name[5])
        active = slot <= (2 if name.startswith("above") else 3)
        assert p.grad is not None and math.isfinite(float(p.grad)), name
        if not active:
            assert float(p.grad) == 0.0, name
        elif name.endswith(("span_x", "span_y", "_z")):
            assert float(p.grad) != 0.0, name
    tech = TECHNOLOGIES["rpc"]
    fixed = {k: float(v.detach()) for k, v in params.items()}
    spans = [(fixed[f"above{k}_span_x"], fixed[f"above{k}_span_y"]) for k in (1, 2)]
    spans += [(fixed[f"below{k}_span_x"], fixed[f"below{k}_span_y"]) for k in (1, 2, 3)]
    expected = sum(
        tech.fixed_keur + tech.eur_per_channel * (sx + sy) / tech.pitch_m / 1000 + tech.keur_per_m2 * sx * sy
        for sx, sy in spans
    )
    assert _value(out["cost"]) == pytest.approx(expected)
    frac = _value(out["accepted_fraction"])
    assert _value(out["scan_time"]) == pytest.approx(
        sim.target_muons / (frac * 3000 / out["exposure_s"]), rel=1e-9
    )


def test_ladle_level_fit_is_accurate() -> None:
    """The fill level from 12,500 muons per level (drift tubes, three levels): within a few cm
    with the momentum known, worse (but still informative) with it unknown."""
    params, choices = _params(), _choices()
    errs = {}
    for mode in ("perfect", "unknown"):
        ladle = LadleFurnace(n_levels=3, momentum=MomentumModel(mode))
        ladle.eval()
        with torch.no_grad():
            errs[mode] = _value(
                ladle(params, choices, 37_500, torch.Generator().manual_seed(2))["fill_level_error"]
            )
    assert errs["perfect"] < 4.0
    assert errs["perfect"] < errs["unknown"] < 8.0  # 8 cm: a tenth of the 80 cm range


def test_ladle_level_gradient_agrees_with_finite_differences() -> None:
    sim = LadleFurnace(
        n_levels=2, momentum=MomentumModel("unknown", n_nodes=6), path_steps=2, scan_step_m=0.05
    )
    sim.train()
    choices = _choices(3, 3, "rpc")

    def loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        return sim(params, choices, 4000, torch.Generator().manual_seed(1))["fill_level_error"].value

    params = _params(requires_grad=True)
    loss(params).backward()
    h = 1e-6
    for name in ("above1_z", "below2_span_x"):
        plus = {k: v.detach().clone() for k, v in params.items()}
        minus = {k: v.detach().clone() for k, v in params.items()}
        plus[name] += h
        minus[name] -= h
        with torch.no_grad():
            fd = float(loss(plus) - loss(minus)) / (2 * h)
        assert float(params[name].grad) == pytest.approx(fd, rel=1e-4, abs=1e-7), name


def test_profiled_fisher_is_the_marginal_precision_computed_by_hand() -> None:
    """muon_fisher's Schur complement against a computation written here: the full Fisher matrix
    of (u_1..u_E, ln p) of a zero-mean Gaussian, F_jk = 1/2 sum_views tr(S^-1 D_j S^-1 D_k)
    with explicit 2 x 2 matrices, plus the prior precision tau on ln p, inverted; the inverse of
    its u block is the information left on u once the momentum is marginalised."""
    from paretoopt.physics.tomography.fisher import muon_fisher

    g = torch.Generator().manual_seed(3)
    n, e = 4, 3

    def spd(k: int) -> torch.Tensor:  # (k, 2, 3) random symmetric 2 x 2 (tt, tx, xx), positive
        a = torch.randn((k, 2, 2, 2), generator=g, dtype=torch.float64)
        m = a @ a.transpose(-1, -2) + 0.1 * torch.eye(2, dtype=torch.float64)
        return torch.stack([m[..., 0, 0], m[..., 0, 1], m[..., 1, 1]], -1)

    s = spd(n)
    d = spd(n * e).reshape(n, e, 2, 3)
    nu = spd(n)
    tau = torch.tensor([0.7, 2.0, 0.1, math.inf], dtype=torch.float64)
    got = muon_fisher(d, nu, s, tau)

    def mat(v: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[float(v[0]), float(v[1])], [float(v[1]), float(v[2])]], dtype=torch.float64)

    for i in range(n):
        derivs = [[mat(d[i, j, v]) for v in range(2)] for j in range(e)] + [[mat(nu[i, v]) for v in range(2)]]
        full = torch.zeros((e + 1, e + 1), dtype=torch.float64)
        for j in range(e + 1):
            for k in range(e + 1):
                for v in range(2):
                    sinv = torch.linalg.inv(mat(s[i, v]))
                    full[j, k] += 0.5 * torch.trace(sinv @ derivs[j][v] @ sinv @ derivs[k][v])
        if math.isinf(float(tau[i])):
            expected = full[:e, :e]
        else:
            full[e, e] += tau[i]
            expected = torch.linalg.inv(torch.linalg.inv(full)[:e, :e])
        assert torch.allclose(got[i], expected, rtol=1e-9, atol=1e-12), i
