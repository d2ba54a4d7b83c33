"""Budget and reference-point answers against independent references: brute force over the
stored front (plain Python loops written here), ZDT1's analytic front for the projection, and
fronts built so that two designs are within one standard error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from paretoopt import decide
from paretoopt.problem import Objective
from paretoopt.testing.fronts import store_study


def brute_budget(trials, objectives, objective, bounds):
    """Best feasible trial by mean (lowest number on equal means) and its ties: the other
    feasible trials within one combined standard error, by plain loops."""
    names = [o.name for o in objectives]
    j = names.index(objective)
    sign = 1 if objectives[j].direction == "minimize" else -1
    ok = []
    for t in trials:
        good = True
        for name, b in bounds.items():
            k = names.index(name)
            worse_is_up = objectives[k].direction == "minimize"
            if (worse_is_up and t.objectives[k] > b) or (not worse_is_up and t.objectives[k] < b):
                good = False
        if good:
            ok.append(t)
    best = min(ok, key=lambda t: (sign * t.objectives[j], t.number))
    ties = {
        t.number
        for t in ok
        if t.number != best.number
        and abs(t.objectives[j] - best.objectives[j]) <= math.hypot(t.stderr[j], best.stderr[j])
    }
    return best.number, ties


def brute_reference(trials, objectives, aspiration, rho=1e-4):
    """Augmented Chebyshev achievement of each trial, computed here by loops over the front."""
    m = len(objectives)
    sign = [1 if o.direction == "minimize" else -1 for o in objectives]
    g = [[sign[j] * t.objectives[j] for j in range(m)] for t in trials]
    ideal = [min(p[j] for p in g) for j in range(m)]
    nadir = [max(p[j] for p in g) for j in range(m)]
    z = [sign[j] * aspiration[o.name] if o.name in aspiration else nadir[j] for j, o in enumerate(objectives)]
    w = [1 / (nadir[j] - ideal[j]) for j in range(m)]
    scores = []
    for t, p in zip(trials, g, strict=True):
        d = [w[j] * (p[j] - z[j]) for j in range(m)]
        scores.append((max(d) + rho * sum(d), t.number))
    return min(scores)[1]


@pytest.mark.parametrize("b", [0.0, 0.05, 0.3, 0.61, 0.9, 1.0])
def test_budget_equals_brute_force_on_zdt1(zdt1, b):
    front = decide.front_of(zdt1)
    trials = zdt1.best_trials
    got = decide.budget(front, {"f1": b}, "f2")
    assert got.trial == brute_budget(trials, zdt1.objectives, "f2", {"f1": b})[0]
    got = decide.budget(front, {"f2": b}, "f1")
    assert got.trial == brute_budget(trials, zdt1.objectives, "f1", {"f2": b})[0]


def test_front_excludes_dominated_trials(zdt1):
    numbers = set(decide.front_of(zdt1).numbers.tolist())
    assert numbers == {t.number for t in zdt1.best_trials}
    assert len(numbers) == 60 and len(zdt1.trials) == 80  # the 20 dominated ones are left out


@pytest.mark.parametrize(
    ("bounds", "objective"),
    [
        ({"cost": 3000.0, "efficiency": 0.9}, "resolution"),
        ({"cost": 6000.0}, "resolution"),
        ({"resolution": 0.5, "cost": 4000.0}, "efficiency"),
        ({"resolution": 0.4, "efficiency": 0.8}, "cost"),
    ],
)
def test_budget_equals_brute_force_on_mixed_directions_and_choices(mixed, bounds, objective):
    front = decide.front_of(mixed)
    trials = mixed.best_trials
    best, ties = brute_budget(trials, mixed.objectives, objective, bounds)
    got = decide.budget(front, bounds, objective)
    assert got.trial == best
    assert set(got.ties) == ties
    stored = {t.number: t for t in trials}
    for n in (got.trial, *got.ties, *got.neighbours):  # every answer is a stored front design
        assert n in stored
    assert got.design.choices == stored[got.trial].choices
    assert not set(got.neighbours) & ties
    # every answer carries its errors
    assert got.design.stderr["resolution"] == pytest.approx(stored[got.trial].stderr[0])


@pytest.mark.parametrize(
    "aspiration",
    [
        {"resolution": 0.3, "efficiency": 0.95, "cost": 2000.0},
        {"resolution": 0.6, "efficiency": 0.7, "cost": 800.0},
        {"resolution": 0.25, "cost": 9000.0},
    ],
)
def test_reference_point_equals_brute_force_on_mixed(mixed, aspiration):
    front = decide.front_of(mixed)
    got = decide.reference_point(front, aspiration)
    assert got.trial == brute_reference(mixed.best_trials, mixed.objectives, aspiration)
    assert got.trial in {t.number for t in mixed.best_trials}
    assert got.score_stderr > 0  # the Monte Carlo errors reach the answer


@pytest.mark.parametrize("z", [(0.2, 0.2), (0.05, 0.5), (0.7, 0.05), (0.8, 0.6), (0.4, 0.9)])
def test_reference_projection_on_zdt1_is_within_the_front_spacing_of_the_analytic_one(zdt1, z):
    front = decide.front_of(zdt1)
    got = decide.reference_point(front, {"f1": z[0], "f2": z[1]})
    assert got.trial == brute_reference(zdt1.best_trials, zdt1.objectives, {"f1": z[0], "f2": z[1]})
    # analytic: on f2 = 1 - sqrt(f1) with ideal (0, 0) and nadir (1, 1) the achievement's two
    # terms balance at f1 - z1 = 1 - sqrt(f1) - z2
    f1_star = brentq(lambda f: (f - z[0]) - (1 - math.sqrt(f) - z[1]), 0.0, 1.0)
    f1 = np.sort(front.values[:, 0])
    k = np.searchsorted(f1, f1_star)
    spacing = max(np.diff(f1[max(k - 2, 0) : k + 2]))
    assert abs(got.design.objectives["f1"] - f1_star) <= spacing
    assert got.design.objectives["f2"] == pytest.approx(1 - math.sqrt(got.design.objectives["f1"]))


def tie_study(storage, se):
    objs = [Objective("resolution", unit="%"), Objective("cost", unit="kEUR")]
    values = [[1.00, 10.0], [1.03, 9.0], [1.20, 8.0], [2.0, 5.0]]
    return store_study(storage, f"ties{se}", objs, values, stderr=[[se, 0.0]] * 4)


def test_designs_within_one_standard_error_are_ties_not_ranked(storage):
    front = decide.front_of(tie_study(storage, 0.05))
    got = decide.budget(front, {"cost": 10.0}, "resolution")
    # 1.00 and 1.03 differ by 0.03 < hypot(0.05, 0.05) = 0.071: a tie; 1.20 is not
    assert got.trial == 0 and got.ties == (1,) and got.neighbours == (2, 3)
    exact = decide.front_of(tie_study(storage, 0.0))
    got = decide.budget(exact, {"cost": 10.0}, "resolution")
    assert got.ties == () and got.neighbours == (1, 2, 3)


def test_infeasible_budget_says_which_bound_to_relax_and_by_how_much(mixed):
    front = decide.front_of(mixed)
    trials = mixed.best_trials
    cheapest = min(t.objectives[2] for t in trials)
    with pytest.raises(decide.InfeasibleBudgetError) as err:
        decide.budget(front, {"cost": cheapest - 100.0}, "resolution")
    assert err.value.relax["cost"] == pytest.approx(100.0)
    assert "relax cost by 100 kEUR" in str(err.value)
    # two bounds: relaxing either alone must admit a design, by the amount brute force finds
    bounds = {"cost": 1000.0, "efficiency": 0.99}
    with pytest.raises(decide.InfeasibleBudgetError) as err:
        decide.budget(front, bounds, "resolution")
    cheap = [t for t in trials if t.objectives[2] <= 1000.0]
    if cheap:
        assert err.value.relax["efficiency"] == pytest.approx(0.99 - max(t.objectives[1] for t in cheap))
    efficient = [t for t in trials if t.objectives[1] >= 0.99]
    if efficient:
        assert err.value.relax["cost"] == pytest.approx(min(t.objectives[2] for t in efficient) - 1000.0)


def test_unknown_objective_and_empty_front_are_named(mixed, storage):
    front = decide.front_of(mixed)
    with pytest.raises(decide.UnknownObjectiveError, match=r"'depth'.*resolution, efficiency, cost"):
        decide.budget(front, {"depth": 40.0})
    with pytest.raises(decide.UnknownObjectiveError):
        decide.reference_point(front, {"weight": 1.0})
    empty = store_study(storage, "empty", [Objective("a"), Objective("b")], np.zeros((0, 2)))
    with pytest.raises(decide.EmptyFrontError):
        decide.budget(decide.front_of(empty), {"a": 1.0})


def test_budget_on_a_constraint(storage):
    from paretoopt.problem import Constraint

    objs = [Objective("resolution", unit="%"), Objective("cost", unit="kEUR")]
    values = [[1.0, 10.0], [1.5, 8.0], [2.0, 5.0]]
    study = store_study(
        storage,
        "c",
        objs,
        values,
        constraints=[Constraint("depth", upper=50.0, unit="cm")],
        constraint_values=[[45.0], [30.0], [20.0]],
    )
    got = decide.budget(decide.front_of(study), {"depth": 40.0, "cost": 9.0})
    assert got.trial == 1 and got.inputs["objective"] == "resolution"
