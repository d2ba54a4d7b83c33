"""paretoopt.pareto: hand-checkable cases, and agreement with pymoo's own indicators."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.indicators.hv import HV
from pymoo.indicators.igd import IGD
from pymoo.indicators.igd_plus import IGDPlus
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from pymoo.util.ref_dirs import get_reference_directions

from paretoopt.pareto import (
    IndicatorError,
    hypervolume,
    hypervolume_history,
    igd,
    igd_plus,
    knee_point,
    non_dominated,
    reference_point,
    value_at_budgets,
    within_error_dominated,
)

MIN2 = ("minimize", "minimize")


# ----- hand-checkable cases -----
def test_non_dominated_by_hand():
    pts = np.array([[1, 2], [2, 1], [2, 2], [1, 2], [np.nan, 0.0], [3, 0.5]])
    assert non_dominated(pts, MIN2).tolist() == [True, True, False, True, False, True]


def test_non_dominated_mixed_directions_by_hand():
    # second objective maximised: (1, 2) beats (2, 1) and (1, 1); (3, 5) trades f1 for f2
    pts = np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0], [3.0, 5.0]])
    assert non_dominated(pts, ("minimize", "maximize")).tolist() == [True, False, False, True]
    assert non_dominated(pts, ("maximize", "maximize")).tolist() == [False, False, False, True]


def test_hypervolume_by_hand():
    # staircase of three unit-step rectangles: 3 + 2 + 1
    assert hypervolume([[1, 3], [2, 2], [3, 1]], MIN2, [4, 4]) == pytest.approx(6.0)
    # the same with the second objective maximised (values negated, reference at 0)
    assert hypervolume([[1, 1], [2, 2], [3, 3]], ("minimize", "maximize"), [4, 0]) == pytest.approx(6.0)
    # points beyond the reference and failed rows add nothing
    assert hypervolume([[1, 3], [5, 0], [np.nan, 1]], MIN2, [4, 4]) == pytest.approx(3.0)
    assert hypervolume(np.zeros((0, 2)), MIN2, [1, 1]) == 0.0


def test_default_reference_point_is_nadir_plus_ten_percent():
    pts = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])  # (2, 2) is dominated: not in the nadir
    np.testing.assert_allclose(reference_point(pts, MIN2), [1.1, 1.1])
    # maximising f2, (1, 0) is dominated by (0, 1) and (2, 2) joins the front: f1 in [0, 2], f2 in [1, 2]
    np.testing.assert_allclose(reference_point(pts, ("minimize", "maximize")), [2.2, 0.9])
    np.testing.assert_allclose(reference_point(pts, MIN2, ideal=[0, 0], nadir=[10, 5]), [11.0, 5.5])
    # two rectangles 1.1 x 0.1 overlapping in a 0.1 x 0.1 square
    assert hypervolume(pts, MIN2) == pytest.approx(0.21)


def test_hypervolume_history_by_hand():
    pts = np.array([[2, 2], [3, 3], [1, 3], [np.nan, np.nan], [1, 1], [5, 0]])
    np.testing.assert_allclose(hypervolume_history(pts, MIN2, [4, 4]), [4, 4, 5, 5, 9, 9])


def test_value_at_budgets():
    values = [1.0, 2.0, 5.0]
    calls = [10, 30, 60]
    np.testing.assert_allclose(value_at_budgets(values, calls, [5, 10, 59, 60, 1000]), [np.nan, 1, 2, 5, 5])
    with pytest.raises(IndicatorError):
        value_at_budgets(values, [10, 5, 60], [10])


def test_igd_and_igd_plus_by_hand():
    front = np.array([[0.0, 0.0]])
    assert igd([[3.0, 4.0]], front, MIN2) == pytest.approx(5.0)
    # IGD+ counts only the part by which the point is worse than the front point
    assert igd([[-1.0, 2.0]], front, MIN2) == pytest.approx(np.sqrt(5.0))
    assert igd_plus([[-1.0, 2.0]], front, MIN2) == pytest.approx(2.0)
    assert igd(np.zeros((0, 2)), front, MIN2) == float("inf")


def test_within_error_dominated_by_hand():
    pts = np.array([[0.0, 0.0], [0.05, 0.05], [1.0, 1.0], [2.0, -1.0], [0.05, 0.5]])
    se = np.full_like(pts, 0.1)
    # (0.05, 0.05) is dominated by (0, 0) by less than sqrt(2) * 0.1 in both objectives;
    # (0.05, 0.5) is 0.5 worse in f2 than (0, 0): clearly dominated
    assert within_error_dominated(pts, se, MIN2).tolist() == [False, True, False, False, False]
    assert not within_error_dominated(pts, np.zeros_like(pts), MIN2).any()


def test_bad_input_is_named():
    with pytest.raises(IndicatorError, match="directions"):
        non_dominated([[1, 2]], ("minimize",))
    with pytest.raises(IndicatorError, match="minimize"):
        non_dominated([[1, 2]], ("min", "max"))
    with pytest.raises(IndicatorError, match="ref_point"):
        hypervolume([[1, 2]], MIN2, [1, 2, 3])


# ----- agreement with pymoo on random seeded sets, mixed directions -----
@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_against_pymoo_indicators(m, seed):
    rng = np.random.default_rng(seed)
    directions = [("minimize", "maximize")[i % 2] for i in range(m)]
    signs = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    pts = rng.normal(size=(60, m)) * rng.uniform(0.5, 3.0, size=m) + rng.normal(size=m)
    front = rng.normal(size=(40, m))
    ref = pts.max(axis=0) * (signs > 0) + pts.min(axis=0) * (signs < 0) + signs * 0.3
    oriented, ref_o, front_o = pts * signs, ref * signs, front * signs

    expected_nd = np.zeros(len(pts), dtype=bool)
    expected_nd[NonDominatedSorting().do(oriented, only_non_dominated_front=True)] = True
    np.testing.assert_array_equal(non_dominated(pts, directions), expected_nd)
    assert hypervolume(pts, directions, ref) == pytest.approx(HV(ref_point=ref_o)(oriented), rel=1e-12)
    assert igd(pts, front, directions) == pytest.approx(IGD(front_o)(oriented), rel=1e-12)
    assert igd_plus(pts, front, directions) == pytest.approx(IGDPlus(front_o)(oriented), rel=1e-12)
    # the history ends at the hypervolume of the whole set and never decreases
    history = hypervolume_history(pts, directions, ref)
    assert history[-1] == pytest.approx(hypervolume(pts, directions, ref), rel=1e-12)
    assert np.all(np.diff(history) >= -1e-12)
    k = 25
    assert history[k - 1] == pytest.approx(HV(ref_point=ref_o)(oriented[:k]), rel=1e-12)


# ----- knee point -----
def test_knee_point_of_a_convex_front():
    # f2 = 1 - sqrt(f1) on [0, 1]: the farthest point from the chord f1 + f2 = 1 maximises
    # sqrt(f1) - f1, i.e. f1 = 1/4, f2 = 1/2
    rng = np.random.default_rng(3)
    f1 = np.linspace(0.0, 1.0, 101)
    front = np.column_stack([f1, 1.0 - np.sqrt(f1)])
    dominated = front[rng.integers(0, 101, 30)] + rng.uniform(0.01, 0.3, (30, 2))
    pts = np.vstack([front, dominated])
    order = rng.permutation(len(pts))
    pts = pts[order]
    k = knee_point(pts, MIN2)
    np.testing.assert_allclose(pts[k], [0.25, 0.5])
    # units and directions do not matter: scale f1 by 1000 and maximise -f2
    scaled = pts * np.array([1000.0, -1.0])
    assert knee_point(scaled, ("minimize", "maximize")) == k


def test_knee_point_three_objectives():
    # f = 1 - s for s on the positive unit sphere: convex towards the ideal (0, 0, 0); the
    # plane through the extremes is f1 + f2 + f3 = 2 and the knee is s = (1, 1, 1) / sqrt(3)
    s = get_reference_directions("das-dennis", 3, n_partitions=12)
    s = s / np.linalg.norm(s, axis=1, keepdims=True)
    pts = 1.0 - s
    k = knee_point(pts, ("minimize",) * 3)
    np.testing.assert_allclose(pts[k], 1.0 - np.ones(3) / np.sqrt(3.0), atol=1e-12)


def test_knee_point_degenerate_front():
    assert knee_point([[1.0, 1.0], [2.0, 2.0]], MIN2) == 0
    with pytest.raises(IndicatorError):
        knee_point([[np.nan, 1.0]], MIN2)
