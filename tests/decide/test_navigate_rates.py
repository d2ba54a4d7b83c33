"""E-NAUTILUS navigation (ranges shrink, always hold the final design) and trade-off rates
against ZDT1's analytic derivative df2/df1 = -1 / (2 sqrt(f1)) and fronts built with known
slopes per discrete choice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paretoopt import decide
from paretoopt.problem import Objective
from paretoopt.testing.fronts import store_study


def check_navigation(front, nav):
    final = nav.decision.design
    assert final.trial in set(front.numbers.tolist())
    for a, b in zip(nav.steps, nav.steps[1:], strict=False):
        for name in front.objective_names:
            assert b.lower[name] >= a.lower[name] - 1e-12  # ranges shrink monotonically
            assert b.upper[name] <= a.upper[name] + 1e-12
        assert set(b.reachable) <= set(a.reachable)
    for s in nav.steps:
        assert final.trial in s.reachable
        for name in front.objective_names:
            assert s.lower[name] - 1e-12 <= final.objectives[name] <= s.upper[name] + 1e-12
    last = nav.steps[-1]
    assert last.progress == pytest.approx(100.0)
    assert all(last.point[n] == pytest.approx(final.objectives[n]) for n in front.objective_names)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("study", ["zdt1", "mixed"])
def test_navigation_ranges_shrink_and_contain_the_final_design(request, study, seed):
    front = decide.front_of(request.getfixturevalue(study))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, 3, 6).tolist()
    nav = decide.navigate(front, iterations=6, n_points=3, choose=lambda opts: picks.pop() % len(opts))
    check_navigation(front, nav)
    # the nadir starts the walk: every design is reachable, the ranges are the front's
    assert len(nav.steps[0].reachable) == len(front)


def test_navigation_towards_a_reference_lands_near_it(zdt1):
    front = decide.front_of(zdt1)
    nav = decide.navigate(front, iterations=5, n_points=4, reference={"f1": 0.25, "f2": 0.5})
    check_navigation(front, nav)
    assert abs(nav.decision.design.objectives["f1"] - 0.25) < 0.15


def test_navigation_ends_on_a_stored_design_of_a_mixed_front(mixed):
    front = decide.front_of(mixed)
    nav = decide.navigate(front, iterations=3, n_points=5)
    stored = {t.number: t for t in mixed.best_trials}
    d = nav.decision.design
    assert d.choices == stored[d.trial].choices
    assert list(d.objectives.values())[:3] == pytest.approx(stored[d.trial].objectives)


def test_tradeoff_rates_on_zdt1_match_the_analytic_derivative_within_the_spacing(zdt1):
    front = decide.front_of(zdt1)
    rates = decide.tradeoff_rates(front, "f2", "f1")
    order = np.argsort(front.values[:, 0])
    f1 = front.values[order, 0]
    r = rates.rate[order]
    checked = 0
    for i in range(1, len(f1) - 1):
        if f1[i - 1] <= 0:
            continue  # f2's derivative is infinite at f1 = 0
        h = max(f1[i] - f1[i - 1], f1[i + 1] - f1[i])
        curvature = 1 / (4 * f1[i - 1] ** 1.5)  # max |d2 f2 / d f1^2| on the stencil
        assert abs(r[i] - (-1 / (2 * math.sqrt(f1[i])))) <= h * curvature
        checked += 1
    assert checked >= 50
    assert np.isfinite(r[1:]).all()


def test_rates_never_mix_discrete_choices_and_carry_units(storage):
    # two choices owning adjacent segments of the front: A falls 3 % per kEUR, B 0.25 % per
    # kEUR; a slope taken across the junction would be neither
    cost_a, cost_b = np.arange(0, 5, 1.0), np.arange(5, 10, 1.0)
    values = np.r_[np.c_[20 - 3 * cost_a, cost_a], np.c_[5.5 - 0.25 * (cost_b - 5), cost_b]]
    choices = [{"kind": "A"}] * 5 + [{"kind": "B"}] * 5
    from paretoopt.space import Choice, DesignSpace, Real

    space = DesignSpace(Real("x", 0.0, 1.0), Choice("kind", ["A", "B"]))
    objs = [Objective("resolution", unit="%"), Objective("cost", unit="kEUR")]
    study = store_study(storage, "two", objs, values, choices=choices, space=space)
    front = decide.front_of(study)
    rates = decide.tradeoff_rates(front, "resolution", "cost")
    for n, kind in zip(front.numbers, front.groups, strict=True):
        rate, _ = rates.at(int(n))
        assert rate == pytest.approx(-3.0 if kind == "kind=A" else -0.25)
    i = int(np.flatnonzero(np.array(front.groups) == "kind=A")[0])
    assert rates.text(i) == "-3 % resolution per +1 kEUR cost"


def test_rates_carry_propagated_errors(mixed):
    front = decide.front_of(mixed)
    rates = decide.tradeoff_rates(front, "resolution", "cost")
    finite = np.isfinite(rates.rate)
    assert finite.sum() >= len(front) // 2
    assert (rates.stderr[finite] > 0).all()  # the resolution's Monte Carlo error propagates


def test_rates_on_a_plane_match_its_slope(storage):
    # an exact plane f3 = 5 - 2 f1 - 0.5 f2 (every point non-dominated): the rate is -0.5
    rng = np.random.default_rng(3)
    f = rng.uniform(0, 1, (40, 2))
    values = np.c_[f, 5 - 2 * f[:, 0] - 0.5 * f[:, 1]]
    study = store_study(storage, "plane", [Objective("a"), Objective("b"), Objective("c")], values)
    rates = decide.tradeoff_rates(decide.front_of(study), "c", "b")
    assert rates.rate == pytest.approx(np.full(40, -0.5))
