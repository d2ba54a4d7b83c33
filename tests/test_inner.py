import numpy as np
import pytest
import torch

from paretoopt import (
    AugmentedChebyshev,
    BudgetConstraint,
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
    load_study_definition,
    optimize_inner,
    resolve_normalization,
)
from paretoopt.analytic import LEGACY_ANALYTIC_INNER, distance_to_front

WEIGHTS = np.linspace(0.05, 0.95, 7)


@pytest.mark.parametrize("name", ["zdt1", "zdt2"])
def test_chebyshev_inner_runs_reach_the_analytic_front(name, studies_dir):
    d = load_study_definition(studies_dir / f"{name}.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    front = d.true_front(20000)
    points = []
    for w in WEIGHTS:
        r = optimize_inner(d, {}, AugmentedChebyshev([w, 1 - w], norm), seed=0)
        points.append(r.objective_vector())
        for p in d.space.inner:  # bounds respected
            assert p.low <= r.params[p.name] <= p.high
    points = np.array(points)
    assert distance_to_front(points, front).max() < 1e-2
    # a spread of weights gives a spread of designs along the front, ordered by weight
    assert np.all(np.diff(points[:, 0]) < 0)
    assert points[0, 0] > 0.6 and points[-1, 0] < 0.2


def test_weighted_sum_on_concave_zdt2_only_reaches_extremes(studies_dir):
    """Documented limitation: a weighted sum cannot reach a concave front's interior."""
    d = load_study_definition(studies_dir / "zdt2.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    f1 = [optimize_inner(d, {}, WeightedSum([w, 1 - w], norm), seed=0).objectives["f1"] for w in WEIGHTS]
    assert all(min(v, 1 - v) < 1e-3 for v in f1), f1


def test_adam_on_interior_zdt_reaches_front(studies_dir):
    d = load_study_definition(studies_dir / "zdt1_interior.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    front = d.true_front(20000)
    settings = LEGACY_ANALYTIC_INNER.replace(optimizer="adam", max_steps=500, lr=0.05)
    pts = [
        optimize_inner(
            d, {}, AugmentedChebyshev([w, 1 - w], norm), settings=settings, seed=1
        ).objective_vector()
        for w in (0.2, 0.5, 0.8)
    ]
    assert distance_to_front(np.array(pts), front).max() < 1e-2


def _noisy_quadratic(inner=None):
    """Two noisy objectives (x-1)^2 + noise and (x+1)^2 + noise, x in [-3, 3]; constraint y <= 0.5."""

    def simulate(params, choices, n, gen):
        eps = torch.randn(n, generator=gen, dtype=torch.float64) * 0.1
        x, y = params["x"], params["y"]
        return {
            "f": (x - 1) ** 2 + y**2 + eps,
            "g": Estimate((x + 1) ** 2 + (y - 1) ** 2, 0.01),
            "y_value": y,
        }

    return StudyDefinition(
        "noisy",
        DesignSpace(Real("x", -3, 3), Real("y", -3, 3)),
        [Objective("f"), Objective("g")],
        simulate,
        constraints=[Constraint("y_value", upper=0.5, scale=1.0)],
        inner=inner
        or InnerSettings(optimizer="adam", max_steps=200, n_samples=200, n_eval_samples=5000, lr=0.1),
    )


def test_same_seed_same_result_and_different_seed_differs():
    d = _noisy_quadratic()
    s = AugmentedChebyshev([0.5, 0.5], Normalization.identity([1, 1]))
    a = optimize_inner(d, {}, s, seed=3)
    b = optimize_inner(d, {}, s, seed=3)
    c = optimize_inner(d, {}, s, seed=4)
    assert a.params == b.params and a.objectives == b.objectives
    assert [t.loss for t in a.trajectory] == [t.loss for t in b.trajectory]
    assert a.params != c.params
    assert a.n_calls == a.n_steps + 1 and a.n_backward == a.n_steps
    assert a.stderr["f"] == pytest.approx(0.1 / np.sqrt(5000), rel=0.1)
    assert a.stderr["g"] == pytest.approx(0.01)


def test_constraint_penalty_keeps_design_feasible():
    d = _noisy_quadratic()
    # unconstrained optimum of weight (0, 1) is y = 1 > 0.5: the constraint must hold it at 0.5
    r = optimize_inner(d, {}, WeightedSum([0.0, 1.0], Normalization.identity([1, 1])), seed=0)
    assert r.feasible
    assert r.params["y"] == pytest.approx(0.5, abs=0.01)
    assert r.params["x"] == pytest.approx(-1.0, abs=0.05)


def test_budget_scalarisation_holds_the_budget(studies_dir):
    d = load_study_definition(studies_dir / "zdt1.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    r = optimize_inner(d, {}, BudgetConstraint(1, [0.25, None], norm, penalty=1e4), seed=0)
    # best f2 with f1 <= 0.25 on ZDT1 is 1 - sqrt(0.25) = 0.5
    assert r.objectives["f1"] == pytest.approx(0.25, abs=2e-3)
    assert r.objectives["f2"] == pytest.approx(0.5, abs=5e-3)


def test_warm_start_and_trajectory_contents(studies_dir):
    d = load_study_definition(studies_dir / "zdt1.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    s = AugmentedChebyshev([0.5, 0.5], norm)
    cold = optimize_inner(d, {}, s, seed=0)
    warm = optimize_inner(d, {}, s, seed=0, init=cold.params)
    assert warm.n_calls < cold.n_calls
    assert warm.objectives["f1"] == pytest.approx(cold.objectives["f1"], abs=1e-3)
    step = cold.trajectory[0]
    assert set(step.params) == set(d.space.inner_names) and len(step.objectives) == 2


@pytest.mark.parametrize("max_steps", [3, 7, 12])
def test_lbfgs_spends_exactly_its_call_budget_and_keeps_the_best_point(studies_dir, max_steps):
    # a line search may ask scipy for more evaluations than maxfun; the cap must hold exactly,
    # and the design returned is the best one evaluated (one fixed sample: values compare)
    d = load_study_definition(studies_dir / "zdt1.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    s = AugmentedChebyshev([0.3, 0.7], norm)
    legacy = LEGACY_ANALYTIC_INNER
    r = optimize_inner(d, {}, s, seed=0, settings=legacy.replace(max_steps=max_steps))
    assert r.n_backward == max_steps and len(r.trajectory) == max_steps
    best = min(r.trajectory, key=lambda step: step.loss)
    assert r.params == pytest.approx(best.params, abs=1e-12)
    free = optimize_inner(d, {}, s, seed=0, settings=legacy)
    assert free.n_backward > 12  # so the caps above do cut the run short


@pytest.mark.parametrize("w", [0.25, 0.5, 0.75])
def test_a_warm_start_on_a_bound_does_not_hold_the_run_there(studies_dir, w):
    # ZDT2 at x1 = 0 (the f2 anchor's optimum) has a zero x1-gradient under every Chebyshev
    # weight: started exactly there, the run used to stop at once with f1 = 0
    d = load_study_definition(studies_dir / "zdt2.py")
    norm = Normalization(d.ideal, d.nadir, d.signs)
    anchor = {name: 0.0 for name in d.space.inner_names}
    r = optimize_inner(d, {}, AugmentedChebyshev([w, 1 - w], norm), seed=0, init=anchor)
    cold = optimize_inner(d, {}, AugmentedChebyshev([w, 1 - w], norm), seed=0)
    assert r.objectives["f1"] == pytest.approx(cold.objectives["f1"], abs=1e-3)
    assert r.objectives["f1"] > 0.1


def test_nan_simulation_raises_simulation_error():
    def simulate(params, choices, n, gen):
        return {"f": params["x"] * float("nan"), "g": params["x"]}

    d = StudyDefinition("nan", DesignSpace(Real("x", 0, 1)), [Objective("f"), Objective("g")], simulate)
    with pytest.raises(SimulationError, match="'f' is not finite"):
        optimize_inner(d, {}, WeightedSum([1, 1], Normalization.identity([1, 1])), seed=0)


def test_anchor_normalization_estimates_ideal_and_nadir():
    d = _noisy_quadratic()
    norm, anchors = resolve_normalization(d, seed=0)
    assert len(anchors) == 2
    # worked out by hand: anchor 0 minimises f = (x-1)^2 + y^2 at (1, 0), where g = (x+1)^2 +
    # (y-1)^2 = 5; anchor 1 minimises g within y <= 0.5 at (-1, 0.5): g = 0.25, f = 4.25
    assert norm.ideal[0].item() == pytest.approx(0.0, abs=0.05)
    assert norm.nadir[1].item() == pytest.approx(5.0, abs=0.2)
    assert norm.ideal[1].item() == pytest.approx(0.25, abs=0.05)
    assert norm.nadir[0].item() == pytest.approx(4.25, abs=0.2)
    np.testing.assert_allclose(anchors[0].params["x"], 1.0, atol=0.05)
    np.testing.assert_allclose([anchors[1].params["x"], anchors[1].params["y"]], [-1.0, 0.5], atol=0.05)


@pytest.mark.parametrize(
    "inner",
    [InnerSettings(optimizer="adam", max_steps=5, n_eval_samples=2), InnerSettings()],
    ids=["adam", "auto"],
)
def test_module_simulation_is_switched_between_train_and_eval(inner):
    class Sim(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.modes = []

        def forward(self, params, choices, n, gen):
            self.modes.append(self.training)
            return {"f": params["x"] ** 2, "g": (params["x"] - 1) ** 2}

    sim = Sim()
    d = StudyDefinition(
        "mod", DesignSpace(Real("x", -1, 2)), [Objective("f"), Objective("g")], sim, inner=inner
    )
    r = optimize_inner(d, {}, WeightedSum([1, 1], Normalization.identity([1, 1])), seed=0)
    # every optimisation call (the auto probe's included) in training mode, the final one not
    assert len(sim.modes) == r.n_calls >= 3
    assert sim.modes[:-1] == [True] * (len(sim.modes) - 1) and sim.modes[-1] is False
    assert sim.training is False


def test_resolve_normalization_equals_the_runners_anchor_trials(tmp_path):
    """One anchor rule: the public function and the runner's stored anchors agree trial for trial
    (same weights, seeds, optima), so a study's normalisation can be reproduced outside it."""
    from paretoopt import load_study, optimize

    d = _noisy_quadratic(
        InnerSettings(optimizer="adam", max_steps=40, n_samples=100, n_eval_samples=500, lr=0.1)
    )
    url = f"sqlite:///{tmp_path / 'n.db'}"
    optimize(d, storage=url, engine="grid", n_trials=3, seed=11, warm_start=False)
    study = load_study(study_name="noisy", storage=url)
    stored = sorted((t for t in study.trials if t.source == "anchor"), key=lambda t: t.number)
    norm, anchors = resolve_normalization(d, seed=11)
    assert len(stored) == len(anchors) == 2
    for t, a in zip(stored, anchors, strict=True):
        np.testing.assert_allclose(t.objectives, a.objective_vector(d.objective_names), rtol=1e-12)
    np.testing.assert_allclose(norm.ideal.numpy(), study.normalization.ideal.numpy(), rtol=1e-12)
    np.testing.assert_allclose(norm.nadir.numpy(), study.normalization.nadir.numpy(), rtol=1e-12)
