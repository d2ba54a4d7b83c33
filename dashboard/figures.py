"""The dashboard's figures: :mod:`paretoopt.report.plots` plus two overlay traces that callbacks patch.

Two one-point overlay traces on the front are patched (``dash.Patch``) by callbacks without
resending the big traces.

Trace order of a front figure here: ``plots.TRACE_OTHER``, ``plots.TRACE_FRONT``,
``plots.TRACE_KNEE``, then :data:`TRACE_SELECTED` (a ring around the selected trial) and
:data:`TRACE_WHATIF` (the surrogate's prediction for the what-if design, with 1-sigma bars).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.data import PARCOORDS_MAX_LINES, Snapshot
from paretoopt.report import plots
from paretoopt.report.columns import objective_column

TRACE_SELECTED, TRACE_WHATIF = 3, 4
#: With "include archive" on, two more traces: the archive front's trajectory points (grey: not
#: review-grade until ``paretoopt refine``) and its refined points.
TRACE_ARCHIVE, TRACE_REFINED = 5, 6
WHATIF_COLOR = "#2ca02c"
ARCHIVE_COLOR, REFINED_COLOR = "#9a9a9a", "#1f3b73"
#: Above this many points the front is WebGL. Lower than plots' default (1000): every patch of an
#: overlay makes plotly redraw the figure, and 1,000 SVG points take ~120 ms to redraw in
#: software-rendered Chromium, WebGL ~60 ms, which keeps a what-if under 100 ms.
WEBGL_THRESHOLD = 300


def axes_of(snap: Snapshot, view: str, x: str | None, y: str | None, z: str | None) -> list[int]:
    """Indices of the objectives on the plot's axes (2 or 3), defaults the first ones."""
    names = [o.name for o in snap.objectives]

    def pick(name: str | None, default: int) -> int:
        return names.index(name) if name in names else min(default, len(names) - 1)

    axes = [pick(x, 0), pick(y, 1)]
    if view == "3d" and len(names) >= 3:
        axes.append(pick(z, 2))
    return axes


def _selected_xyz(snap: Snapshot, number: int | None, axes: Sequence[int]) -> list[list[float]]:
    t = snap.by_number.get(number) if number is not None else None
    if t is None or not t.objectives:
        return [[] for _ in axes]
    return [[float(t.objectives[i])] for i in axes]


def overlay_patch(
    axes: Sequence[int], mean: Sequence[float] | np.ndarray | None, std: Sequence[float] | np.ndarray | None
) -> dict[str, Any]:
    """The what-if trace's data for a prediction (or empty without one)."""
    keys = ("x", "y", "z")[: len(axes)]
    if mean is None:
        return {k: [] for k in keys}
    out: dict[str, Any] = {k: [float(mean[i])] for k, i in zip(keys, axes, strict=True)}
    for k, i in zip(keys, axes, strict=True):
        out[f"error_{k}"] = {
            "type": "data",
            "array": [float(std[i]) if std is not None else 0.0],
            "visible": True,
            "thickness": 2,
            "color": WHATIF_COLOR,
        }
    return out


def front(
    snap: Snapshot,
    *,
    view: str = "2d",
    x: str | None = None,
    y: str | None = None,
    z: str | None = None,
    color_by: str | None = None,
    error_bars: bool = True,
    selected: int | None = None,
    prediction: dict[str, Any] | None = None,
    archive: bool = False,
) -> dict[str, Any]:
    """The study's front (2-D or 3-D) from :mod:`paretoopt.report.plots`, with the selection and
    what-if overlays, as a figure dict. The plots figure is built once per snapshot and options
    (0.4 s at 10,000 trials) and shared; each call only appends the two small overlays."""
    axes = axes_of(snap, view, x, y, z)
    names = [snap.objectives[i].name for i in axes]
    key = ("front", tuple(names), color_by, bool(error_bars))

    def build() -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "trials": snap.plot_trials(),
            "color_by": color_by,
            "space": snap.space,
            "error_bars": error_bars,
        }
        fig = plots.front_figure(
            snap.front(),
            snap.objectives,
            x=names[0],
            y=names[1],
            z=names[2] if len(axes) == 3 else None,
            webgl_threshold=WEBGL_THRESHOLD,
            **kwargs,
        )
        fig.update_layout(margin={"l": 60, "r": 20, "t": 40, "b": 50}, clickmode="event")
        return fig.to_dict()

    base: dict[str, Any] = snap.memo(key, build)
    sel = _selected_xyz(snap, selected, axes)
    pred = overlay_patch(
        axes,
        None if not prediction else prediction.get("mean"),
        None if not prediction else prediction.get("std"),
    )
    ring = {"color": "rgba(0,0,0,0)", "line": {"width": 2.5, "color": "black"}}
    diamond = {"color": WHATIF_COLOR, "symbol": "diamond", "line": {"width": 1, "color": "black"}}
    kind = "scatter3d" if len(axes) == 3 else "scatter"
    selected_trace: dict[str, Any] = {
        "type": kind,
        "mode": "markers",
        "name": "selected trial",
        "hoverinfo": "skip",
        "marker": {**ring, "size": 10 if kind == "scatter3d" else 18},
        **dict(zip(("x", "y", "z"), sel, strict=False)),
    }
    whatif_trace = {
        "type": kind,
        "mode": "markers",
        "name": "what-if (surrogate ± 1σ)",
        "hoverinfo": "skip",
        "marker": {**diamond, "size": 7 if kind == "scatter3d" else 13},
        **pred,
    }
    layout = {**base["layout"], "uirevision": f"{snap.name}|{'|'.join(names)}"}
    extra = archive_traces(snap, axes, kind) if archive else []
    return {"data": [*base["data"], selected_trace, whatif_trace, *extra], "layout": layout}


def archive_traces(snap: Snapshot, axes: Sequence[int], kind: str) -> list[dict[str, Any]]:
    """The archive front's points that are not trials' evaluations: trajectory points in grey
    (estimated on their step's sample, not review-grade) and refined points, each with its
    trial, step and sample size on hover."""
    points = [p for p in snap.archive_front() if p.source != "trial"]
    traces = []
    for source, colour, name in (
        ("trajectory", ARCHIVE_COLOR, "archive: inner-loop steps (not review-grade)"),
        ("refined", REFINED_COLOR, "archive: refined"),
    ):
        chosen = [p for p in points if p.source == source]
        xyz = {
            k: [float(p.objectives[i]) for p in chosen] for k, i in zip(("x", "y", "z"), axes, strict=False)
        }
        traces.append(
            {
                "type": kind,
                "mode": "markers",
                "name": name,
                "customdata": [p.number for p in chosen],
                "text": [
                    f"trial {p.number}, step {p.step}, n = {p.n_samples} events, {source}" for p in chosen
                ],
                "hoverinfo": "text",
                "marker": {"color": colour, "size": 5 if kind == "scatter3d" else 7, "symbol": "circle-open"},
                **xyz,
            }
        )
    return traces


def hypervolume(snap: Snapshot, by: str) -> go.Figure:
    """Hypervolume history by finished trials or by simulator calls."""
    hist = snap.hypervolume_history().set_index(by)
    fig = plots.hypervolume_figure(
        hist, title=f"hypervolume by {'simulator calls' if by == 'calls' else 'trials'}"
    )
    fig.update_layout(margin={"l": 60, "r": 20, "t": 50, "b": 50}, height=340)
    return fig


def parallel(
    snap: Snapshot, color_by: str | None = None, max_lines: int = PARCOORDS_MAX_LINES
) -> tuple[go.Figure, str]:
    """Parallel coordinates of parameters and objectives over the completed trials; above
    ``max_lines`` trials, the front and a seeded random sample of the rest (aggregated on the
    server so the browser draws at most ``max_lines`` lines). Returns the figure and a note."""
    df = snap.trials_frame()
    done = df[df["state"] == "COMPLETE"]
    note = f"{len(done)} completed trials"
    if len(done) > max_lines:
        on_front = done["number"].isin(set(snap.front()["number"]))
        rest = done[~on_front]
        n_rest = max(0, max_lines - int(on_front.sum()))
        sample = rest.sample(n=min(n_rest, len(rest)), random_state=0) if n_rest else rest.iloc[:0]
        done = pd.concat([done[on_front], sample]).sort_values("number")
        note = f"the {int(on_front.sum())} front trials and a random {len(sample)} of the other {len(rest)}"
    color = color_by if color_by else objective_column(snap.objectives[0])
    fig = plots.parallel_coordinates(done, snap.space, snap.objectives, color_by=color)
    fig.update_layout(margin={"l": 80, "r": 80, "t": 60, "b": 30}, height=460)
    return fig, note


def trajectory(snap: Snapshot, number: int) -> go.Figure | None:
    """The trial's inner-loop trajectory, or ``None`` when it has no stored steps."""
    steps = snap.trajectory(number)
    if steps is None or len(steps) == 0:
        return None
    fig = plots.trajectory_figure(steps, snap.objectives, title=f"trial {number}: inner loop")
    # many parameters make a legend taller than the plot: hover names them instead
    fig.update_layout(margin={"l": 50, "r": 10, "t": 60, "b": 40}, showlegend=len(fig.data) <= 12, height=520)
    return fig
