"""One front figure for 2-D and 3-D: the number of axes follows ``ndim`` or a named ``z``."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from paretoopt.problem import Objective
from paretoopt.report import plots
from paretoopt.report.export import export_front
from tests.export_data import make_data


def _three_objectives():
    objs = [Objective("resolution", "minimize", "%"), Objective("cost", "minimize", "kEUR")]
    d = make_data(objectives=objs)
    d.front["mass [t]"] = np.linspace(1.0, 2.0, len(d.front))
    d.front["mass stderr [t]"] = 0.01
    d.trials["mass [t]"] = 1.5
    d.objectives = [*objs, Objective("mass", "maximize", "t")]
    return d


def test_one_front_figure_draws_three_axes_when_asked() -> None:
    d = _three_objectives()
    first_three = plots.front_figure(d, x="resolution", y="cost", z="mass")
    assert plots.front_figure(d, ndim=3).to_json() == first_three.to_json()
    named = plots.front_figure(d, x="mass", y="cost", z="resolution", color_by="material")
    assert (
        named.to_json()
        == plots.front_figure(d, x="mass", y="cost", z="resolution", ndim=3, color_by="material").to_json()
    )
    assert [type(tr) for tr in named.data] == [go.Scatter3d] * 3
    assert named.layout.scene.xaxis.title.text == "mass [t] (max)"
    # without z or ndim: two axes, even with three objectives
    flat = plots.front_figure(d)
    assert [type(tr) for tr in flat.data] == [go.Scatter] * 3
    assert flat.layout.yaxis.title.text == "cost [kEUR] (min)"


def test_front_figure_rejects_a_bad_number_of_axes() -> None:
    d = _three_objectives()
    with pytest.raises(ValueError, match="2 or 3 axes"):
        plots.front_figure(d, ndim=4)
    with pytest.raises(ValueError, match="ndim=3"):
        plots.front_figure(d, z="mass", ndim=2)
    with pytest.raises(ValueError, match="at least 3 objectives"):
        plots.front_figure(make_data(), ndim=3)


def test_html_report_holds_the_3d_front(tmp_path) -> None:
    d = _three_objectives()
    text = export_front(d, "html", tmp_path / "r.html").read_text(encoding="utf-8")
    assert '"type":"scatter3d"' in text
