"""Inner settings chosen for the study (InnerSettings.mode), convergence tests instead of step
counts, the stop reasons, and the inner loop's known traps. References are computed here (the
analytic Pareto set of two quadratics, stationary points solved by hand) or recorded from main's
code where the behaviour must not change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paretoopt import (
    AugmentedChebyshev,
    Constraint,
    DesignSpace,
    Estimate,
    InnerSettings,
    Normalization,
    Objective,
    Real,
    SimulationError,
    StudyDefinition,
    WeightedSum,
    optimize,
    optimize_inner,
)
from paretoopt.analytic import LEGACY_ANALYTIC_INNER, mixed_study, zdt_study
from paretoopt.exceptions import NonFiniteError, StudyDefinitionError
from paretoopt.inner.plan import make_plan
from paretoopt.inner.population import PopulationSettings, optimize_population
from paretoopt.inner.result import STOP_REASONS
from paretoopt.storage import STOP_REASONS as STORED_REASONS

A = np.array([1.0, 2.0, 1.0])
B = np.array([-1.0, 1.0, -2.0])


def _two_quadratics(inner: InnerSettings | None = None) -> StudyDefinition:
    """f1 = |x - A|^2 (per event, expanded: a deterministic simulation written as a Monte Carlo
    one), f2 = 1000 |x - B|^2 (another magnitude). Its Pareto set is the segment from A to B."""

    def simulate(params, choices, n, gen):
        x = torch.stack([params["x"], params["y"], params["z"]])
        f1 = ((x - torch.as_tensor(A)) ** 2).sum()
        f2 = 1000.0 * ((x - torch.as_tensor(B)) ** 2).sum()
        return {"f1": f1.expand(n), "f2": f2}

    space = DesignSpace(Real("x", -3, 3), Real("y", -3, 3), Real("z", -3, 3))
    return StudyDefinition("quadratics", space, [Objective("f1"), Objective("f2")], simulate, inner=inner)


def _distance_to_segment(p: np.ndarray) -> float:
    s = np.clip(np.dot(p - A, B - A) / np.dot(B - A, B - A), 0.0, 1.0)
    return float(np.linalg.norm(p - (A + s * (B - A))))


def test_stop_reasons_are_the_stored_ones():
    assert STOP_REASONS == STORED_REASONS


def test_warm_started_trials_of_a_smooth_deterministic_study_cost_few_calls(tmp_path):
    """Default settings (no InnerSettings): after the first ten trials, warm-started inner loops
    cost at most 15 simulator calls each (median), converge, and land on the Pareto set."""
    d = _two_quadratics()
    study = optimize(d, storage=f"sqlite:///{tmp_path / 'q.db'}", engine="grid", n_trials=30, seed=0)
    trials = sorted(study.trials, key=lambda t: t.number)
    warm = [t for t in trials[10:] if t.init is not None]
    assert len(warm) >= 15
    calls = [t.n_calls for t in warm]
    assert np.median(calls) <= 15, calls
    assert all(t.stop_reason == "converged" and t.converged for t in trials)
    for t in trials:
        p = np.array([t.params["x"], t.params["y"], t.params["z"]])
        assert _distance_to_segment(p) < 1e-3, (t.number, p)
    assert study.convergence_summary() == "30 of 30 inner loops converged"


def test_a_deterministic_study_runs_the_exact_mode_on_one_sample():
    seen: list[int] = []
    base = _two_quadratics()

    def counting(params, choices, n, gen):
        seen.append(n)
        return base.simulate(params, choices, n, gen)

    d = StudyDefinition("counted", base.space, base.objectives, counting)
    plan = make_plan(d, {}, d.inner, torch.device("cpu"))
    assert plan.method == "exact" and plan.exact and plan.settings.n_samples == 1
    assert "deterministic" in plan.detail and plan.probe_calls == 2
    seen.clear()
    r = optimize_inner(
        d, {}, AugmentedChebyshev([0.5, 0.5], Normalization([0, 0], [20, 20000], [1, 1])), seed=0
    )
    assert r.optimizer == "exact" and r.stop_reason == "converged"
    assert set(seen) == {1}  # every call, the final evaluation included, on one sample (probe memoised)
    assert r.stderr == {"f1": 0.0, "f2": 0.0} and r.n_calls == len(seen)


def _noisy(inner: InnerSettings | None = None, record: list[int] | None = None) -> StudyDefinition:
    """A Monte Carlo study: f = (x - 1 + 0.3 e)^2 + 0.5 (y - 0.5)^2 per event (E f = (x - 1)^2 +
    0.09 + 0.5 (y - 0.5)^2), g = (x + 1)^2 + (y - 1)^2 (1 + 0.2 e), e ~ N(0, 1)."""

    def simulate(params, choices, n, gen):
        if record is not None:
            record.append(n)
        x, y = params["x"], params["y"]
        e = torch.randn(n, generator=gen, dtype=torch.float64)
        return {
            "f": (x - 1 + 0.3 * e) ** 2 + 0.5 * (y - 0.5) ** 2,
            "g": (x + 1) ** 2 + (y - 1) ** 2 * (1 + 0.2 * e),
        }

    return StudyDefinition(
        "mc",
        DesignSpace(Real("x", -3, 3), Real("y", -3, 3)),
        [Objective("f"), Objective("g")],
        simulate,
        inner=inner,
    )


@pytest.mark.parametrize("mode", ["auto", "adam"])
@pytest.mark.parametrize("w", [0.3, 0.7])
def test_a_monte_carlo_study_without_settings_converges_to_the_known_optimum(w, mode):
    """The weighted sum w E f + (1 - w) E g is minimised at x = 2w - 1 and
    y = (0.5 w + 2 (1 - w)) / (w + 2 (1 - w)) (set its gradient to zero)."""
    x_star = 2 * w - 1
    y_star = (0.5 * w + 2 * (1 - w)) / (w + 2 * (1 - w))
    f_star = (x_star - 1) ** 2 + 0.09 + 0.5 * (y_star - 0.5) ** 2
    g_star = (x_star + 1) ** 2 + (y_star - 1) ** 2
    # no InnerSettings at all: the probe finds a smooth Monte Carlo loss
    d = _noisy(None if mode == "auto" else InnerSettings(mode="adam"))
    r = optimize_inner(d, {}, WeightedSum([w, 1 - w], Normalization.identity([1, 1])), seed=1)
    assert r.optimizer == ("lbfgs" if mode == "auto" else "adam")
    assert r.stop_reason == "converged" and r.converged
    # the loss reached is the optimal one within 3 standard errors of the final evaluation
    # (n_eval_samples = 10,000; f and g come from one sample, so their errors add up at most)
    loss = w * r.objectives["f"] + (1 - w) * r.objectives["g"]
    loss_se = w * r.stderr["f"] + (1 - w) * r.stderr["g"]
    assert abs(loss - (w * f_star + (1 - w) * g_star)) < 3 * loss_se
    assert r.params["x"] == pytest.approx(x_star, abs=0.02)
    assert r.params["y"] == pytest.approx(y_star, abs=0.02)
    assert r.n_calls < (30 if mode == "auto" else 300)


def test_the_monte_carlo_sample_grows_and_a_set_sample_size_wins():
    sizes: list[int] = []
    s = WeightedSum([0.5, 0.5], Normalization.identity([1, 1]))
    optimize_inner(_noisy(record=sizes), {}, s, seed=1)
    probe, loop, final = sizes[:4], sizes[4:-1], sizes[-1]
    assert probe == [64, 1, 64, 64] and final == 10000
    assert loop[0] == 250 and max(loop) > 250 and loop == sorted(loop)  # grown stage by stage
    sizes.clear()
    optimize_inner(_noisy(InnerSettings(n_samples=300), record=sizes), {}, s, seed=1)
    assert set(sizes[4:-1]) == {300} and sizes[-1] == 10000


def test_a_population_skips_the_smoothness_test_and_reuses_a_full_probe():
    """A population runs Adam on fresh samples whatever the probe says, so its plan
    (``smoothness=False``) probes a Monte Carlo study with the two determinism calls only (64
    events, then one), where a full probe adds the two smoothness calls; a full probe memoised
    for the same choices is reused at no cost."""
    sizes: list[int] = []
    d = _noisy(record=sizes)
    plan = make_plan(d, {}, d.inner, torch.device("cpu"), smoothness=False)
    assert (plan.method, plan.probe_calls, sizes) == ("adam", 2, [64, 1])
    assert "smoothness not tested" in plan.detail
    assert make_plan(d, {}, d.inner, torch.device("cpu"), smoothness=False).probe_calls == 0  # memoised
    sizes.clear()
    full = make_plan(d, {}, d.inner, torch.device("cpu"))
    assert (full.method, full.probe_calls, sizes) == ("lbfgs", 4, [64, 1, 64, 64])
    other = _noisy(record=sizes)
    make_plan(other, {}, other.inner, torch.device("cpu"))
    sizes.clear()
    assert make_plan(other, {}, other.inner, torch.device("cpu"), smoothness=False).probe_calls == 0
    assert sizes == []
    # a population on the Monte Carlo study pays the short probe, counted in its calls
    sizes.clear()
    fresh = _noisy(record=sizes)
    norm = Normalization([0.0, 0.0], [5.0, 5.0], [1, 1])
    result = optimize_population(
        fresh, {}, norm, n_points=2, settings=PopulationSettings(max_steps=1), seed=0
    )
    assert sizes[:2] == [64, 1] and result.n_calls == len(sizes)
    assert sum(m.n_calls for m in result.members) == len(sizes)


def test_a_rough_fixed_sample_loss_gets_adam():
    """Per event x + 0.1 floor(10 (x + u)), u ~ U(0, 1): the pathwise derivative is 1, the
    derivative of the mean is 2 (the floor's jumps); the probe sees the difference."""

    def simulate(params, choices, n, gen):
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        x = params["x"]
        return {"f": x + 0.1 * torch.floor(10 * (x + u)), "g": (x - 1) ** 2 + 0.0 * u}

    d = StudyDefinition("rough", DesignSpace(Real("x", 0, 1)), [Objective("f"), Objective("g")], simulate)
    plan = make_plan(d, {}, d.inner, torch.device("cpu"))
    assert plan.method == "adam" and "not smooth in ['f']" in plan.detail
    r = optimize_inner(d, {}, WeightedSum([0.5, 0.5], Normalization.identity([1, 1])), seed=0)
    # Adam follows the pathwise gradient 0.5 + (x - 1), zero at x = 0.5 (where it starts): the
    # documented bias of a rough simulation (the mean's own optimum, 1 + (x - 1) = 0, is x = 0)
    assert (r.optimizer, r.stop_reason) == ("adam", "converged")
    assert r.params["x"] == pytest.approx(0.5, abs=1e-6)


# ----------------------------------------------------------------------------- settings


def test_settings_a_study_sets_win_and_optimizer_alone_is_the_legacy_method():
    assert InnerSettings().mode == "auto" and not InnerSettings().legacy
    assert InnerSettings(optimizer="adam").legacy and not InnerSettings(optimizer="adam", mode="adam").legacy
    with pytest.raises(StudyDefinitionError, match="contradicts"):
        InnerSettings(optimizer="adam", mode="exact")
    with pytest.raises(StudyDefinitionError, match="mode must be"):
        InnerSettings(mode="newton")  # type: ignore[arg-type]
    plan = make_plan(
        _two_quadratics(), {}, InnerSettings(optimizer="lbfgs", max_steps=7), torch.device("cpu")
    )
    assert plan.method == "legacy-lbfgs" and plan.settings.max_steps == 7 and plan.settings.n_samples == 1000
    plan = make_plan(
        _two_quadratics(), {}, InnerSettings(mode="lbfgs", n_eval_samples=99), torch.device("cpu")
    )
    assert (plan.method, plan.settings.n_eval_samples, plan.settings.n_samples, plan.grow) == (
        "lbfgs",
        99,
        250,
        True,
    )
    r = optimize_inner(
        _two_quadratics(InnerSettings(max_steps=4)),
        {},
        WeightedSum([0.5, 0.5], Normalization([0, 0], [20, 20000], [1, 1])),
        seed=0,
    )
    assert r.stop_reason == "max_steps" and r.n_calls <= 4 + 2 + 1  # cap + probe + final evaluation


def test_a_study_that_names_its_optimizer_behaves_as_on_main():
    """Recorded from main (77fb7fd) running this very code: Adam with optimizer="adam" and
    60 steps on a noisy study, and the shipped ZDT1 settings (optimizer="lbfgs"). Both are also
    checked against the optimum computed here."""

    def simulate(params, choices, n, gen):
        eps = torch.randn(n, generator=gen, dtype=torch.float64) * 0.1
        x, y = params["x"], params["y"]
        return {"f": (x - 1) ** 2 + y**2 + eps, "g": Estimate((x + 1) ** 2 + (y - 1) ** 2, 0.01)}

    inner = InnerSettings(optimizer="adam", max_steps=60, n_samples=200, n_eval_samples=2000, lr=0.1)
    d = StudyDefinition(
        "noisy",
        DesignSpace(Real("x", -3, 3), Real("y", -3, 3)),
        [Objective("f"), Objective("g")],
        simulate,
        inner=inner,
    )
    r = optimize_inner(d, {}, AugmentedChebyshev([0.5, 0.5], Normalization.identity([1, 1])), seed=3)
    assert r.params == pytest.approx(
        {"x": -0.0036211328980839674, "y": 0.48862419801712775}, rel=1e-12, abs=1e-15
    )
    assert r.objectives == pytest.approx({"f": 1.2444425964835204, "g": 1.2542760576609235}, rel=1e-12)
    assert (r.n_calls, r.optimizer, r.stop_reason) == (61, "adam", "max_steps")
    # the Chebyshev optimum lies where f = g: y = 2x + 0.5; minimising f on that line gives
    # x = 0, y = 0.5 (f = g = 1.25); 60 steps get within 0.02
    assert r.params["x"] == pytest.approx(0.0, abs=0.02) and r.params["y"] == pytest.approx(0.5, abs=0.02)

    z = zdt_study("zdt1", n_var=6)
    z.inner = LEGACY_ANALYTIC_INNER  # what ZDT1 shipped then
    r = optimize_inner(
        z, {}, AugmentedChebyshev([0.3, 0.7], Normalization(z.ideal, z.nadir, z.signs)), seed=0
    )
    assert r.params["x1"] == pytest.approx(0.5764796644289275, rel=1e-12)
    assert r.objectives["f2"] == pytest.approx(0.2407374206317504, rel=1e-12)
    assert (r.n_calls, r.optimizer, r.stop_reason) == (35, "lbfgs", "converged")
    # on the front f2 = 1 - sqrt(f1) the kink 0.3 (f1 + 0.01) = 0.7 (f2 + 0.01) is at f1 = 0.5755
    from scipy.optimize import brentq

    f1 = brentq(lambda a: 0.3 * (a + 0.01) - 0.7 * (1 - np.sqrt(a) + 0.01), 0.01, 0.99)
    assert r.objectives["f1"] == pytest.approx(f1, abs=2e-3)


# ----------------------------------------------------------------------------- stop reasons


def test_max_steps():
    d = _two_quadratics(InnerSettings(mode="exact", max_steps=3))
    r = optimize_inner(
        d, {}, AugmentedChebyshev([0.5, 0.5], Normalization([0, 0], [20, 20000], [1, 1])), seed=0
    )
    assert (r.stop_reason, r.converged, r.n_calls) == ("max_steps", False, 4)


def test_nan_after_progress_stops_at_the_last_finite_design():
    """sqrt(1.2 - x) is NaN beyond x = 1.2; the weighted sum pulls x from 1 towards 2."""

    def simulate(params, choices, n, gen):
        x = params["x"]
        return {"f": (x - 2) ** 2 + torch.sqrt(1.2 - x) * 0.0, "g": x * 0.0}

    d = StudyDefinition("nan", DesignSpace(Real("x", 0, 2)), [Objective("f"), Objective("g")], simulate)
    r = optimize_inner(d, {}, WeightedSum([1, 1], Normalization.identity([1, 1])), seed=0)
    assert (r.stop_reason, r.converged) == ("nan", False)
    assert r.params["x"] <= 1.2 and np.isfinite(r.objectives["f"])


def test_nan_at_the_first_call_fails_the_trial_with_reason_nan(tmp_path):
    def simulate(params, choices, n, gen):
        return {"f": params["x"] * float("nan"), "g": params["x"]}

    d = StudyDefinition(
        "nan0",
        DesignSpace(Real("x", 0, 1)),
        [Objective("f"), Objective("g")],
        simulate,
        ideal=[0, 0],
        nadir=[1, 1],
    )
    with pytest.raises(NonFiniteError, match="'f' is not finite"):
        optimize_inner(d, {}, WeightedSum([1, 1], Normalization.identity([1, 1])), seed=0)
    assert issubclass(NonFiniteError, SimulationError)
    study = optimize(d, storage=f"sqlite:///{tmp_path / 'n.db'}", engine="grid", n_trials=2)
    assert [(t.state.value, t.stop_reason) for t in study.trials] == [("FAILED", "nan")] * 2


def test_constraint_infeasible():
    """y >= 5 cannot hold for y in [0, 1]: the penalty drives y to 1 and stops there."""

    def simulate(params, choices, n, gen):
        return {"f": (params["x"] - 0.5) ** 2, "g": params["y"] ** 2, "y_value": params["y"]}

    d = StudyDefinition(
        "infeasible",
        DesignSpace(Real("x", 0, 1), Real("y", 0, 1)),
        [Objective("f"), Objective("g")],
        simulate,
        constraints=[Constraint("y_value", lower=5.0)],
    )
    r = optimize_inner(d, {}, WeightedSum([1, 1], Normalization.identity([1, 1])), seed=0)
    assert (r.stop_reason, r.converged, r.feasible) == ("constraint_infeasible", False, False)
    assert r.params["y"] == pytest.approx(1.0) and r.params["x"] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("weights", [[1.0, 1.0], [0.5, 0.5]], ids=["lbfgs", "epigraph"])
def test_no_progress_when_the_gradient_does_not_describe_the_loss(weights):
    """The value is (x - 0.8)^2 but the gradient says -2 (x - 0.8) (a detached piece in the
    simulation): the line search finds no descent along it."""

    def simulate(params, choices, n, gen):
        x = params["x"]
        xd = x.detach()
        return {"f": (xd - 0.8) ** 2 - 2 * (x - xd) * (xd - 0.8), "g": x * 0.0}

    d = StudyDefinition("liar", DesignSpace(Real("x", 0, 1)), [Objective("f"), Objective("g")], simulate)
    s = WeightedSum(weights, Normalization.identity([1, 1]))
    if weights == [0.5, 0.5]:
        s = AugmentedChebyshev([1.0, 0.0], Normalization([0, 0], [1, 1], [1, 1]))
    r = optimize_inner(d, {}, s, seed=0)
    assert (r.stop_reason, r.converged) == ("no_progress", False)


# ----------------------------------------------------------------------------- traps


def _one_dimensional(f) -> StudyDefinition:
    def simulate(params, choices, n, gen):
        x = params["x"]
        return {"f": f(x), "g": x * 0.0}

    return StudyDefinition("trap", DesignSpace(Real("x", 0, 1)), [Objective("f"), Objective("g")], simulate)


def test_a_warm_start_that_does_not_move_is_restarted_from_the_centre():
    """(x - 0.15)^2 (x - 0.7)^2 - 0.01 x has a local minimum at x = 0.1523 and the global one
    at x = 0.7047 (roots of the derivative, solved here); the centre 0.5 lies in the global
    basin. A warm start at the local minimum does not move: the loop solves again from the
    centre and keeps the better design."""
    poly = np.polynomial.Polynomial([0.0, -0.01]) + np.polynomial.Polynomial.fromroots([0.15, 0.15, 0.7, 0.7])
    roots = sorted(r.real for r in poly.deriv().roots() if abs(r.imag) < 1e-12)
    local, global_ = roots[0], roots[2]
    assert poly(global_) < poly(local)
    d = _one_dimensional(lambda x: (x - 0.15) ** 2 * (x - 0.7) ** 2 - 0.01 * x)
    s = WeightedSum([1.0, 0.0], Normalization.identity([1, 1]))
    r = optimize_inner(d, {}, s, seed=0, init={"x": float(local)})
    assert r.params["x"] == pytest.approx(global_, abs=1e-5)
    legacy = optimize_inner(
        d, {}, s, seed=0, init={"x": float(local)}, settings=InnerSettings(optimizer="lbfgs")
    )
    assert legacy.params["x"] == pytest.approx(local, abs=1e-5)  # the trap, as it was


def test_a_spurious_bound_face_is_escaped():
    """0.005 x + 1 - 8 max(x - 0.05, 0)^2 has a local minimum on the face x = 0 (slope 0.005,
    a basin wider than the 1 % warm-start margin) and its global one at x = 1."""
    d = _one_dimensional(lambda x: 0.005 * x + 1 - 8 * torch.clamp(x - 0.05, min=0) ** 2)
    s = WeightedSum([1.0, 0.0], Normalization.identity([1, 1]))
    r = optimize_inner(d, {}, s, seed=0, init={"x": 0.0})
    assert r.params["x"] == pytest.approx(1.0) and r.stop_reason == "converged"
    legacy = optimize_inner(d, {}, s, seed=0, init={"x": 0.0}, settings=InnerSettings(optimizer="lbfgs"))
    assert legacy.params["x"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("w", [0.25, 0.5, 0.75])
def test_zdt2_from_its_anchor_on_a_bound_with_default_settings(w):
    """ZDT2 at x1 = 0 (the f2 anchor's optimum) has a zero x1-slope under every Chebyshev
    weight: with the default settings the loop still reaches the front point of its weight,
    f2 = 1 - f1^2 with w (f1 + 0.01) = (1 - w) (f2 + 0.01)."""
    from scipy.optimize import brentq

    d = zdt_study("zdt2", n_var=10)
    d.inner = InnerSettings()
    norm = Normalization(d.ideal, d.nadir, d.signs)
    anchor = {name: 0.0 for name in d.space.inner_names}
    r = optimize_inner(d, {}, AugmentedChebyshev([w, 1 - w], norm), seed=0, init=anchor)
    f1 = brentq(lambda a: w * (a + 0.01) - (1 - w) * (1 - a**2 + 0.01), 0.0, 1.0)
    assert r.stop_reason == "converged" and r.objectives["f1"] == pytest.approx(f1, abs=2e-3)
    assert r.objectives["f2"] == pytest.approx(1 - r.objectives["f1"] ** 2, abs=1e-6)


def test_trajectory_noise_of_run_time_sample_sizes():
    """A study stores its settings as given: unset sample sizes are chosen at run time, and the
    surrogate takes a Monte Carlo loop's first (smallest) stage for its trajectory's noise."""
    from paretoopt.surrogate.data import trajectory_noise_factor

    assert trajectory_noise_factor({"n_samples": None, "n_eval_samples": None}) == 10000 / 250
    assert trajectory_noise_factor({"n_samples": 500, "n_eval_samples": 5000}) == 10.0


def test_a_square_root_kink_at_a_bound_stops_on_the_merit_test_at_its_optimum():
    """The mixed study's family B at the weight (0, 1): ``f2 = x1`` plus the augmentation's
    ``rho (1 - sqrt x1)``, whose gradient is infinite at the bound. The optimum sits at
    ``sqrt x1 = rho / (2 (1 + rho))`` (x1 = 2.5e-7). SLSQP reached it to 2.5e-7 in 23 calls and
    its line searches then won 1e-7 of merit for 31 more (54 calls); the merit test
    (``STALL_EVALUATIONS`` calls without a gain of 1e-5 of the first-order scale) ends there,
    converged."""
    study = mixed_study(10)
    study.inner = InnerSettings()
    rho, offset = 1e-3, 0.01
    s = AugmentedChebyshev([0.0, 1.0], Normalization([0, 0], [1, 1], [1, 1]), rho=rho, utopia_offset=offset)
    r = optimize_inner(study, {"family": "B", "level": 0}, s, seed=0)
    x_opt = (rho / (2 * (1 + rho))) ** 2
    best = offset + (1 + rho) * x_opt + rho * (1 - np.sqrt(x_opt))  # g = 1 at x2..x10 = 0.3
    f1, f2 = r.objectives["f1"], r.objectives["f2"]
    got = max(0.0, f2 + offset) + rho * (f1 + f2)
    assert r.converged and r.stop_reason == "converged"
    assert got == pytest.approx(best, abs=1e-6)
    assert r.n_calls <= 32


def test_a_bound_optimum_on_the_kink_of_the_max_is_not_probed_as_a_spurious_face():
    """f1 = 2 - x + y, f2 = 3x - 2y + 1 at the weights (0.5, 0.5): the optimum is on the kink at
    x = 0.25, y = 0 (along the kink, f1 = 1.75 + y / 4 grows with y). Its multipliers (3/4, 1/4)
    give y a slope of +1/8 out of the box; the smoothed max weighs both terms 1/2 there and gave
    -1/4, so the face y = 0 was probed as a spurious one (3 calls for nothing, 6 a trial on the
    shield study)."""
    from paretoopt.inner.stages import FACE_STEPS

    calls: list[tuple[float, float]] = []

    def simulate(params, choices, n, gen):
        x, y = params["x"], params["y"]
        calls.append((float(x), float(y)))
        return {"f1": 2 - x + y, "f2": 3 * x - 2 * y + 1}

    d = StudyDefinition(
        "kink", DesignSpace(Real("x", 0, 1), Real("y", 0, 1)), [Objective("f1"), Objective("f2")], simulate
    )
    d.inner = InnerSettings()
    s = AugmentedChebyshev([0.5, 0.5], Normalization.identity([1, 1]))
    r = optimize_inner(d, {}, s, seed=0)
    assert (
        r.converged
        and r.params["x"] == pytest.approx(0.25, abs=1e-6)
        and r.params["y"] == pytest.approx(0, abs=1e-9)
    )
    assert not [c for c in calls if any(abs(c[1] - step) < 1e-12 for step in FACE_STEPS)]


def test_a_trial_does_not_depend_on_the_blas_thread_count():
    """Dask's workers run numpy's and scipy's BLAS on one thread (OPENBLAS_NUM_THREADS=1), a
    user's shell on all cores: SLSQP's small linear algebra summed in another order and the
    mixed study's (A, 0) extreme ended 6e-9 apart, so two workers did not give the sequential
    trials. The inner loop runs that BLAS on one thread whatever the environment says."""
    from threadpoolctl import ThreadpoolController

    study = mixed_study(10)
    study.inner = InnerSettings()
    s = AugmentedChebyshev([0.0, 1.0], Normalization([0, 0], [1, 1], [1, 1]))
    got = []
    for threads in (1, 2):
        with ThreadpoolController().limit(limits=threads, user_api="blas"):
            r = optimize_inner(study, {"family": "A", "level": 0}, s, seed=123)
        got.append((r.params, r.objectives))
    assert got[0] == got[1]


def test_a_monte_carlo_chebyshev_kink_stops_growing_its_sample_within_the_noise():
    """A one-thickness detector whose resolution carries a common 5 % per-event noise: the
    Chebyshev optimum at (0.5, 0.5) sits on the kink, which each fresh sample moves linearly, so
    a re-solve gains 1.3-4 of the loss's standard errors whatever the sample. With the test at
    one standard error the stages ran to the final 10,000 events on two of these six seeds;
    at ``KINK_NOISE`` (3) none does, and every design stays on the exact kink (computed here
    from the noise-free expectations) to its noise."""
    from scipy.optimize import brentq

    def simulate(params, choices, n, gen):
        t = params["thickness_mm"]
        noise = torch.randn(n, generator=gen, dtype=t.dtype)
        res = (0.10 / torch.sqrt(t) + 0.002 * t) * (1.0 + 0.05 * noise)
        return {"resolution": res, "cost": Estimate(2.0e5 * t, 0.0)}

    d = StudyDefinition(
        "mc_kink",
        DesignSpace(Real("thickness_mm", 0.5, 30.0)),
        [Objective("resolution"), Objective("cost")],
        simulate,
    )
    norm = Normalization([0.0513, 1e5], [0.1425, 1.7e6], [1, 1])
    z1 = lambda t: (0.10 / np.sqrt(t) + 0.002 * t - 0.0513) / (0.1425 - 0.0513)  # noqa: E731
    z2 = lambda t: (2.0e5 * t - 1e5) / 1.6e6  # noqa: E731
    kink = brentq(lambda t: z1(t) - z2(t), 0.6, 8.0)
    for seed in range(6):
        r = optimize_inner(d, {}, AugmentedChebyshev([0.5, 0.5], norm), seed=seed)
        assert r.converged and max(st.n_samples for st in r.trajectory) < 10_000
        assert r.params["thickness_mm"] == pytest.approx(kink, abs=0.02)
