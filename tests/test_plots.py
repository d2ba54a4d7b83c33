"""plotly figures: the right traces, points, error bars and axes for a known study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from paretoopt.problem import Objective
from paretoopt.report import plots
from paretoopt.report.columns import objective_column, stderr_column
from tests.export_data import MATERIALS, make_data


@pytest.fixture(scope="module")
def data():
    return make_data()


def _others(data) -> pd.DataFrame:
    t = data.trials
    return t[(t["state"] == "COMPLETE") & ~t["number"].isin(data.front["number"])]


def test_front_figure_traces_points_and_error_bars(data) -> None:
    fig = plots.front_figure(data)
    assert [tr.name for tr in fig.data] == ["other trials", "Pareto front", "knee point"]
    assert all(isinstance(tr, go.Scatter) for tr in fig.data)
    other, front, knee = (fig.data[i] for i in (plots.TRACE_OTHER, plots.TRACE_FRONT, plots.TRACE_KNEE))
    res, cost = data.objectives
    assert len(front.x) == len(data.front)
    np.testing.assert_array_equal(front.x, data.front[objective_column(res)])
    np.testing.assert_array_equal(front.y, data.front[objective_column(cost)])
    np.testing.assert_array_equal(front.error_x.array, data.front[stderr_column(res)])
    np.testing.assert_array_equal(front.error_y.array, data.front[stderr_column(cost)])
    # completed trials off the front, grey; infeasible ones as crosses; failed ones absent
    others = _others(data)
    assert len(other.x) == len(others)
    assert list(other.marker.symbol).count("x") == int((~others["feasible"]).sum()) > 0
    assert other.marker.color == plots.GREY
    k = data.front[data.front["knee"]]
    assert list(knee.x) == list(k[objective_column(res)]) and len(knee.x) == 1
    assert fig.layout.xaxis.title.text == "resolution [%] (min)"
    assert fig.layout.yaxis.title.text == "cost [kEUR] (min)"
    assert "trial" in front.text[0] and "±" in front.text[0]


def test_front_figure_axes_color_and_webgl(data) -> None:
    fig = plots.front_figure(
        data.front,
        data.objectives,
        trials=data.trials,
        x="cost",
        y="resolution",
        color_by="absorber_mm",
        webgl_threshold=5,
    )
    assert all(isinstance(tr, go.Scattergl) for tr in fig.data)
    front = fig.data[plots.TRACE_FRONT]
    np.testing.assert_array_equal(front.x, data.front["cost [kEUR]"])
    np.testing.assert_array_equal(front.marker.color, data.front["absorber_mm [mm]"])
    assert front.marker.colorbar.title.text == "absorber_mm [mm]"
    # a choice: integer codes in option order, labels on the colour bar
    fig = plots.front_figure(data.front, data.objectives, color_by="material", space=data.space)
    front = fig.data[plots.TRACE_FRONT]
    assert list(front.marker.colorbar.ticktext) == list(MATERIALS)
    assert [MATERIALS[int(c)] for c in front.marker.color] == list(data.front["material"])
    # no trials frame: the grey trace is there but empty, so trace indices stay fixed
    fig = plots.front_figure(data.front, data.objectives, error_bars=False)
    assert len(fig.data) == 3 and len(fig.data[0].x) == 0 and fig.data[1].error_x.array is None
    with pytest.raises(KeyError, match="no objective 'mass'"):
        plots.front_figure(data, x="mass")


def test_front_figure_in_three_axes() -> None:
    objs = [Objective("resolution", "minimize", "%"), Objective("cost", "minimize", "kEUR")]
    d = make_data(objectives=objs)
    d.front["mass [t]"] = np.linspace(1.0, 2.0, len(d.front))
    d.front["mass stderr [t]"] = 0.01
    d.trials["mass [t]"] = 1.5
    d.objectives = [*objs, Objective("mass", "minimize", "t")]
    fig = plots.front_figure(d, ndim=3)
    assert [type(tr) for tr in fig.data] == [go.Scatter3d] * 3
    assert len(fig.data[1].x) == len(d.front) and len(fig.data[2].x) == 1
    assert len(fig.data[0].x) == len(_others(d))
    np.testing.assert_array_equal(fig.data[1].z, d.front["mass [t]"])
    assert fig.layout.scene.zaxis.title.text == "mass [t] (min)"
    with pytest.raises(ValueError, match="at least 3 objectives"):
        plots.front_figure(make_data(), ndim=3)


def test_hypervolume_figure() -> None:
    hist = pd.DataFrame(
        {
            "number": range(6),
            "calls": [100, 200, 300, 400, 500, 600],
            "hypervolume": [0, 0.2, 0.5, 0.5, 0.6, 0.65],
        },
        index=pd.Index(range(1, 7), name="trials"),
    )
    fig = plots.hypervolume_figure(hist, reference=0.66)
    assert len(fig.data) == 1 and list(fig.data[0].y) == list(hist["hypervolume"])
    assert list(fig.data[0].x) == list(range(1, 7)) and fig.data[0].line.shape == "hv"
    assert fig.layout.xaxis.title.text == "finished trials"
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].y0 == 0.66
    fig = plots.hypervolume_figure(
        {"grid": hist, "random": hist.assign(hypervolume=hist["hypervolume"] / 2)}, x="calls"
    )
    assert [tr.name for tr in fig.data] == ["grid", "random"]
    assert list(fig.data[1].x) == list(hist["calls"]) and fig.layout.xaxis.title.text == "simulator calls"


def test_trajectory_figure(data) -> None:
    steps = pd.DataFrame(
        {
            "step": range(20),
            "loss": np.linspace(1, 0.1, 20),
            "resolution [%]": np.linspace(0.5, 0.2, 20),
            "cost [kEUR]": np.linspace(0.1, 0.4, 20),
            "absorber_mm [mm]": np.linspace(10, 20, 20),
        }
    )
    fig = plots.trajectory_figure(steps, data.objectives)
    assert [tr.name for tr in fig.data] == ["loss", "resolution [%]", "cost [kEUR]", "absorber_mm [mm]"]
    assert [tr.yaxis for tr in fig.data] == ["y", "y2", "y2", "y3"]  # loss, objectives, parameters
    assert all(len(tr.x) == 20 for tr in fig.data)
    assert len(plots.trajectory_figure(steps).data) == 4


def test_parallel_coordinates(data) -> None:
    fig = plots.parallel_coordinates(data.trials, data.space, data.objectives)
    (pc,) = fig.data
    assert isinstance(pc, go.Parcoords)
    labels = [d.label for d in pc.dimensions]
    assert labels == [
        "absorber_mm [mm]",
        "offset_mm [mm]",
        "n_layers",
        "material",
        "resolution [%] (min)",
        "cost [kEUR] (min)",
    ]
    n_complete = int((data.trials["state"] == "COMPLETE").sum())
    assert all(len(d.values) == n_complete for d in pc.dimensions)
    material = pc.dimensions[3]
    assert list(material.ticktext) == list(MATERIALS)
    done = data.trials[data.trials["state"] == "COMPLETE"]
    assert [MATERIALS[v] for v in material.values] == list(done["material"])
    np.testing.assert_array_equal(pc.line.color, done["resolution [%]"])
    assert pc.line.colorbar.title.text == "resolution [%] (min)"
    # reals span their bounds, integers tick at every value
    assert list(pc.dimensions[0].range) == [1.0, 50.0]
    assert list(pc.dimensions[2].tickvals) == list(range(2, 13))
    # without space/objectives: every non-bookkeeping, non-stderr column
    fig = plots.parallel_coordinates(data.trials, only_complete=False)
    labels = [d.label for d in fig.data[0].dimensions]
    assert "number" not in labels and "resolution stderr [%]" not in labels and "material" in labels
