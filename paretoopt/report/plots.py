"""plotly figures of a study (front, hypervolume, trajectory, parallel coordinates), database-free."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from paretoopt.problem import Objective
from paretoopt.report.columns import (
    BOOKKEEPING_COLUMNS,
    find_column,
    objective_column,
    objective_header,
    param_column,
    resolve_column,
    strip_unit,
)
from paretoopt.report.front_plot import (
    GREY,
    TEMPLATE,
    TRACE_FRONT,
    TRACE_KNEE,
    TRACE_OTHER,
    WEBGL_THRESHOLD,
    front_figure,
)
from paretoopt.space import Choice, DesignSpace, Integer, Real

if TYPE_CHECKING:
    import pandas as pd

# Every function takes pandas frames in the column layout of :mod:`paretoopt.report.columns`
# (what ``Study.trials_dataframe()``, ``pareto_front()``, ``hypervolume_history()`` and
# ``trajectory()`` return) and gives back a ``plotly.graph_objects.Figure``; nothing here reads
# a database. The front figure lives in :mod:`paretoopt.report.front_plot` and is re-exported.


def _column(df: pd.DataFrame, o: Objective) -> str | None:
    return find_column(df, objective_column(o), o.name)


def hypervolume_figure(
    history: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    x: str | None = None,
    reference: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """Hypervolume against trials (or simulator calls) as a step line, one trace per run.

    ``history``: ``Study.hypervolume_history()`` (a ``hypervolume`` column, indexed by
    ``trials`` or ``calls``), or a mapping of run labels to such frames. ``x``: the column or
    index name for the horizontal axis (default the index). ``reference``: the hypervolume of
    the true front, drawn as a dashed horizontal line (a layout shape, not a trace).
    """
    runs = {"hypervolume": history} if not isinstance(history, Mapping) else dict(history)
    fig = go.Figure()
    x_label = x
    for label, df in runs.items():
        if "hypervolume" not in df.columns:
            raise KeyError(f"run {label!r}: no 'hypervolume' column; columns are {list(df.columns)}")
        if x is None or (x == df.index.name and x not in df.columns):
            xs = np.asarray(df.index)
            x_label = x_label or df.index.name or "trials"
        else:
            xs = np.asarray(df[x])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=np.asarray(df["hypervolume"], dtype=float),
                mode="lines",
                line_shape="hv",
                name=str(label),
            )
        )
    if reference is not None:
        fig.add_hline(y=float(reference), line_dash="dash", line_color="black", annotation_text="true front")
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis_title={"calls": "simulator calls", "trials": "finished trials"}.get(str(x_label), str(x_label)),
        yaxis_title="hypervolume",
        showlegend=len(runs) > 1,
    )
    return fig


def trajectory_figure(
    steps: pd.DataFrame,
    objectives: Sequence[Objective] | None = None,
    *,
    title: str | None = None,
) -> go.Figure:
    """An inner-loop trajectory (``Study.trajectory(number)``) against the step: the
    scalarised loss on top, the objectives below, the parameters at the bottom (one trace per
    column; a row is left out when it has no columns). Without ``objectives`` every column other
    than ``step`` and ``loss`` goes into one row."""
    from plotly.subplots import make_subplots

    if "step" not in steps.columns:
        raise KeyError(f"a trajectory frame needs a 'step' column; it has {list(steps.columns)}")
    rest = [c for c in steps.columns if c not in ("step", "loss")]
    if objectives is not None:
        # an objective without a unit has objective_column(o) == o.name: keep each column once
        obj_cols = list(
            dict.fromkeys(c for o in objectives for c in (objective_column(o), o.name) if c in rest)
        )
        groups = [("loss", ["loss"] if "loss" in steps.columns else []), ("objectives", obj_cols)]
        groups.append(("parameters", [c for c in rest if c not in obj_cols]))
    else:
        groups = [("loss", ["loss"] if "loss" in steps.columns else []), ("values", rest)]
    groups = [(name, cols) for name, cols in groups if cols]
    fig = make_subplots(
        rows=max(1, len(groups)),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[g[0] for g in groups],
    )
    x = np.asarray(steps["step"])
    for row, (_, cols) in enumerate(groups, start=1):
        for c in cols:
            fig.add_trace(
                go.Scatter(x=x, y=np.asarray(steps[c], dtype=float), mode="lines", name=str(c)),
                row=row,
                col=1,
            )
    fig.update_xaxes(title_text="step", row=max(1, len(groups)), col=1)
    fig.update_layout(template=TEMPLATE, title=title, height=250 * max(1, len(groups)) + 100)
    return fig


def _axis_range(values: pd.Series, p: Any) -> dict[str, Any]:
    """A parallel-coordinates axis range: the parameter's bounds for a real, and a padded range
    for a (nearly) constant column, whose ticks would otherwise show rounding noise."""
    if isinstance(p, Real):
        return {"range": [p.low, p.high]}
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {}
    lo, hi = float(v.min()), float(v.max())
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):
        pad = max(0.05 * abs(hi), 1e-3)
        return {"range": [lo - pad, hi + pad]}
    return {}


def parallel_coordinates(
    trials: pd.DataFrame,
    space: DesignSpace | None = None,
    objectives: Sequence[Objective] | None = None,
    *,
    color_by: str | None = None,
    only_complete: bool = True,
    title: str | None = None,
) -> go.Figure:
    """Parallel coordinates of trials: one axis per design parameter, then one per objective.

    With ``space`` / ``objectives`` the axes are exactly those columns (choices as categorical
    axes, labelled by option, in option order); without them every column except bookkeeping
    and standard errors. Lines are coloured by ``color_by`` (default the first objective, or the
    last axis). ``only_complete`` keeps trials in state COMPLETE with finite objectives.
    """
    df = trials
    if only_complete and "state" in df.columns:
        df = df[df["state"].astype(str).str.upper() == "COMPLETE"]
    obj_cols: list[str] = []
    if objectives is not None:
        obj_cols = [c for c in (_column(df, o) for o in objectives) if c is not None]
        if obj_cols and only_complete:
            df = df[np.all(np.isfinite(np.asarray(df[obj_cols], dtype=float)), axis=1)]
    if space is not None:
        param_cols = [
            c
            for c in (next((n for n in (param_column(p), p.name) if n in df.columns), None) for p in space)
            if c
        ]
    else:
        skip = BOOKKEEPING_COLUMNS | set(obj_cols)
        param_cols = [c for c in df.columns if c not in skip and " stderr" not in str(c)]
    dims: list[dict[str, Any]] = []
    labels_by_column: dict[str, str] = {}
    for c in [*param_cols, *obj_cols]:
        values = df[c]
        p = space[strip_unit(c)] if space is not None and strip_unit(c) in space else None
        label = str(c)
        if objectives is not None and c in obj_cols:
            o = next(o for o in objectives if _column(df, o) == c)
            label = objective_header(o)
        labels_by_column[c] = label
        if isinstance(p, Choice) or values.dtype.kind not in "iuf":
            labels = (
                [str(o) for o in p.options] if isinstance(p, Choice) else sorted({str(v) for v in values})
            )
            codes = [labels.index(str(v)) for v in values]
            dims.append(
                {"label": label, "values": codes, "tickvals": list(range(len(labels))), "ticktext": labels}
            )
        elif isinstance(p, Integer):
            ticks = p.values if len(p.values) <= 25 else None
            dim: dict[str, Any] = {
                "label": label,
                "values": np.asarray(values, dtype=float),
                "range": [p.low, p.high],
            }
            dims.append({**dim, "tickvals": ticks} if ticks else {**dim, "tickformat": "d"})
        else:
            dims.append({"label": label, "values": np.asarray(values, dtype=float), **_axis_range(values, p)})
    color_col: str | None
    if color_by is not None:
        color_col = resolve_column(df, color_by)
    elif obj_cols:
        color_col = obj_cols[0]
    else:
        color_col = param_cols[-1] if param_cols else None
    line: dict[str, Any] = {}
    if color_col is not None and df[color_col].dtype.kind in "iuf" and len(df):
        line = {
            "color": np.asarray(df[color_col], dtype=float),
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": labels_by_column.get(color_col, str(color_col))}},
        }
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(template=TEMPLATE, title=title)
    return fig


__all__ = [
    "GREY",
    "TRACE_FRONT",
    "TRACE_KNEE",
    "TRACE_OTHER",
    "WEBGL_THRESHOLD",
    "front_figure",
    "hypervolume_figure",
    "parallel_coordinates",
    "trajectory_figure",
]
