"""The Decide page's and item 5's pure parts: which points are greyed archive points (issue #19's
``source`` column), which sliders set a bound, and the log-scaled control's physical box."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard.callbacks.decide import budget_bounds
from dashboard.controls import sync_log_control
from dashboard.decide_page import unrefined_archive
from paretoopt import decide
from paretoopt.space import Real


def test_unrefined_archive_points_are_the_trajectory_ones_or_not_review_grade():
    frame = pd.DataFrame({"number": [1, 2, 3, 4], "source": ["engine", "trajectory", "refined", "trial"]})
    assert unrefined_archive(frame)["number"].tolist() == [2]
    graded = frame.assign(review_grade=[True, False, True, False])
    assert unrefined_archive(graded)["number"].tolist() == [2, 4]
    assert unrefined_archive(frame.drop(columns="source")).empty  # a plain front: nothing grey


def test_a_slider_at_its_worst_end_sets_no_bound():
    front = decide.front_from_arrays(
        [[1.0, 0.9, 10.0], [2.0, 0.5, 5.0], [3.0, 0.2, 1.0]],
        names=["resolution", "efficiency", "cost"],
        directions=["minimize", "maximize", "minimize"],
    )
    worst = {"resolution": 3.0, "efficiency": 0.2, "cost": 10.0}
    assert budget_bounds(front, "resolution", worst) == {}
    moved = {**worst, "cost": 6.0, "efficiency": 0.4, "resolution": 1.0}
    # the optimised objective's own slider never bounds it
    assert budget_bounds(front, "resolution", moved) == {"cost": 6.0, "efficiency": 0.4}


def test_the_physical_box_of_a_log_control_is_in_the_parameters_unit():
    p = Real("gap_mm", 0.5, 20.0, unit="mm", log=True)
    assert sync_log_control(p, "slider", math.log10(1.28), None) == (pytest.approx(math.log10(1.28)), 1.28)
    pos, val = sync_log_control(p, "box", 0.3, "1.5")
    assert (pos, val) == (pytest.approx(math.log10(1.5)), 1.5)
    pos, val = sync_log_control(p, "box", 0.3, 100.0)  # clamped into the range
    assert (pos, val) == (pytest.approx(math.log10(20.0)), 20.0)
    assert sync_log_control(p, "box", 0.3, "1e") == (0.3, pytest.approx(10**0.3, rel=1e-3))
