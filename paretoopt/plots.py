"""plotly figures of a study, for notebooks, the HTML report and the Dash dashboard alike.

Every function takes pandas frames in the column layout of :mod:`paretoopt.columns` (what
``Study.trials_dataframe()``, ``Study.pareto_front()``, ``Study.hypervolume_history()`` and
``Study.trajectory()`` return) and gives back a ``plotly.graph_objects.Figure``; nothing here
reads a database. The front figures keep a fixed trace layout so a dashboard can patch one
trace by index: ``TRACE_OTHER`` (completed trials off the front, grey; infeasible ones as
crosses), ``TRACE_FRONT`` (the Pareto-optimal trials, with standard-error bars), ``TRACE_KNEE``
(the knee point). Above ``webgl_threshold`` points the 2-D traces use ``Scattergl``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from paretoopt.columns import objective_column, param_column, stderr_column, strip_unit
from paretoopt.problem import Objective
from paretoopt.space import Choice, DesignSpace, Integer, Real

if TYPE_CHECKING:
    import pandas as pd

    from paretoopt.export import ExportData

TRACE_OTHER, TRACE_FRONT, TRACE_KNEE = 0, 1, 2
#: Above this many points in one figure, 2-D scatter traces switch to WebGL (``Scattergl``).
WEBGL_THRESHOLD = 1000
GREY = "rgba(140, 140, 140, 0.45)"
FRONT_COLOR = "#1f77b4"
KNEE_COLOR = "#d62728"
TEMPLATE = "plotly_white"

_BOOKKEEPING = {
    "number",
    "state",
    "source",
    "weights",
    "feasible",
    "knee",
    "n_calls",
    "n_backward",
    "n_steps",
    "wall_time_s",
    "seed",
    "error",
}


def _tag(o: Objective) -> str:
    return "(min)" if o.direction == "minimize" else "(max)"


def axis_title(o: Objective) -> str:
    """``"resolution [%] (min)"``: unit and direction, as the exports head the column."""
    return f"{objective_column(o)} {_tag(o)}"


def _resolve(df: pd.DataFrame, name: str) -> str:
    """A column of ``df`` by its full header or its bare name (``"absorber_mm"``)."""
    if name in df.columns:
        return name
    for c in df.columns:
        if strip_unit(str(c)) == name:
            return str(c)
    raise KeyError(f"no column {name!r}; the frame has {list(df.columns)}")


def _objective(objectives: Sequence[Objective], name: str | None, default: int) -> Objective:
    if name is None:
        if default >= len(objectives):
            raise ValueError(f"the figure needs at least {default + 1} objectives, got {len(objectives)}")
        return objectives[default]
    for o in objectives:
        if name in (o.name, objective_column(o)):
            return o
    raise KeyError(f"no objective {name!r}; objectives are {[o.name for o in objectives]}")


def _unpack(
    front: pd.DataFrame | ExportData,
    objectives: Sequence[Objective] | None,
    trials: pd.DataFrame | None,
) -> tuple[pd.DataFrame, list[Objective], pd.DataFrame | None]:
    if hasattr(front, "front") and hasattr(front, "objectives"):  # an ExportData
        data = front
        return data.front, list(objectives or data.objectives), trials if trials is not None else data.trials
    if objectives is None:
        raise TypeError("pass the study's objectives with a front frame")
    return front, list(objectives), trials  # type: ignore[return-value]


def _column(df: pd.DataFrame, o: Objective) -> str | None:
    for name in (objective_column(o), o.name):
        if name in df.columns:
            return name
    return None


def _errors(df: pd.DataFrame, o: Objective) -> np.ndarray | None:
    for name in (stderr_column(o), f"{o.name} stderr"):
        if name in df.columns:
            e = np.asarray(df[name], dtype=float)
            return e if np.any(np.nan_to_num(e) > 0) else None
    return None


def _others(
    trials: pd.DataFrame | None, front: pd.DataFrame, axes: Sequence[Objective]
) -> pd.DataFrame | None:
    """Completed trials with finite objectives that are not on the front."""
    if trials is None or len(trials) == 0:
        return None
    t = trials
    if "state" in t.columns:
        t = t[t["state"].astype(str).str.upper() == "COMPLETE"]
    cols = [_column(t, o) for o in axes]
    if any(c is None for c in cols):
        return None
    finite = np.all(np.isfinite(np.asarray(t[cols], dtype=float)), axis=1)
    t = t[finite]
    if "number" in t.columns and "number" in front.columns:
        t = t[~t["number"].isin(set(front["number"]))]
    return t


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    return str(v)


def _hover_front(df: pd.DataFrame, objectives: Sequence[Objective]) -> list[str]:
    from paretoopt.export import round_to_error

    lines: list[list[str]] = [[] for _ in range(len(df))]
    if "number" in df.columns:
        for i, n in enumerate(df["number"]):
            lines[i].append(
                f"trial {int(n)}" + (" (knee)" if "knee" in df.columns and bool(df["knee"].iloc[i]) else "")
            )
    for o in objectives:
        col = _column(df, o)
        if col is None:
            continue
        se = None
        for name in (stderr_column(o), f"{o.name} stderr"):
            if name in df.columns:
                se = df[name]
        for i, v in enumerate(df[col]):
            e = None if se is None else float(se.iloc[i])
            lines[i].append(f"{objective_column(o)} = {round_to_error(float(v), e).text}")
    skip = _BOOKKEEPING | {c for o in objectives for c in (objective_column(o), stderr_column(o))}
    for c in df.columns:
        if c in skip or " stderr" in str(c):
            continue
        for i, v in enumerate(df[c]):
            lines[i].append(f"{c} = {_fmt(v)}")
    return ["<br>".join(x) for x in lines]


def _hover_other(df: pd.DataFrame, axes: Sequence[Objective]) -> list[str]:
    cols = [(o, _column(df, o)) for o in axes]
    numbers = list(df["number"]) if "number" in df.columns else [None] * len(df)
    feasible = list(df["feasible"]) if "feasible" in df.columns else [True] * len(df)
    out = []
    for i in range(len(df)):
        head = f"trial {int(numbers[i])}" if numbers[i] is not None else "trial"
        if not bool(feasible[i]):
            head += " (infeasible)"
        parts = [head] + [f"{objective_column(o)} = {float(df[c].iloc[i]):.4g}" for o, c in cols if c]
        out.append("<br>".join(parts))
    return out


def _color_marker(df: pd.DataFrame, color_by: str | None, space: DesignSpace | None) -> dict[str, Any]:
    """Marker colours of the front: one colour, or a column on a colour scale (categories of a
    choice or text column get codes with their labels on the colour bar)."""
    if color_by is None:
        return {"color": FRONT_COLOR}
    col = _resolve(df, color_by)
    values = df[col]
    p = None
    if space is not None and strip_unit(col) in space:
        p = space[strip_unit(col)]
    numeric = not isinstance(p, Choice) and values.dtype.kind in "iuf"
    if numeric:
        return {
            "color": np.asarray(values, dtype=float),
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": col}},
        }
    labels = [str(o) for o in p.options] if isinstance(p, Choice) else sorted({str(v) for v in values})
    codes = np.array([labels.index(str(v)) for v in values], dtype=float)
    return {
        "color": codes,
        "colorscale": "Turbo" if len(labels) > 2 else [[0, "#1f77b4"], [1, "#ff7f0e"]],
        "cmin": -0.5,
        "cmax": len(labels) - 0.5,
        "showscale": True,
        "colorbar": {"title": {"text": col}, "tickvals": list(range(len(labels))), "ticktext": labels},
    }


def front_figure(
    front: pd.DataFrame | ExportData,
    objectives: Sequence[Objective] | None = None,
    *,
    trials: pd.DataFrame | None = None,
    x: str | None = None,
    y: str | None = None,
    color_by: str | None = None,
    space: DesignSpace | None = None,
    error_bars: bool = True,
    title: str | None = None,
    webgl_threshold: int = WEBGL_THRESHOLD,
) -> go.Figure:
    """The Pareto front in two objectives (``x``, ``y``: objective names, default the first two).

    ``front``: the Pareto frame (or an :class:`~paretoopt.export.ExportData`, which also gives
    ``objectives``, ``trials`` and ``space``); ``trials``: every trial, the completed ones off the
    front drawn grey (infeasible as crosses). Front points carry standard-error bars and are
    coloured by ``color_by`` (a column: full header or bare parameter name) when given; the knee
    point is a red star. Three traces always, in the order ``TRACE_OTHER``, ``TRACE_FRONT``,
    ``TRACE_KNEE`` (possibly empty).
    """
    if space is None and hasattr(front, "space"):
        space = front.space  # type: ignore[union-attr]
    front_df, objs, trials = _unpack(front, objectives, trials)
    ox, oy = _objective(objs, x, 0), _objective(objs, y, 1)
    others = _others(trials, front_df, (ox, oy))
    n_points = len(front_df) + (0 if others is None else len(others))
    scatter = go.Scattergl if n_points > webgl_threshold else go.Scatter
    fig = go.Figure()

    # completed trials off the front
    if others is not None and len(others):
        feasible = (
            np.asarray(others["feasible"], dtype=bool)
            if "feasible" in others.columns
            else np.ones(len(others), bool)
        )
        fig.add_trace(
            scatter(
                x=np.asarray(others[_column(others, ox)], dtype=float),
                y=np.asarray(others[_column(others, oy)], dtype=float),
                mode="markers",
                name="other trials",
                marker={"color": GREY, "size": 6, "symbol": np.where(feasible, "circle", "x").tolist()},
                text=_hover_other(others, (ox, oy)),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    else:
        fig.add_trace(scatter(x=[], y=[], mode="markers", name="other trials", marker={"color": GREY}))

    # the front
    cx, cy = _column(front_df, ox), _column(front_df, oy)
    if cx is None or cy is None:
        raise KeyError(f"the front frame lacks the columns of {ox.name!r} / {oy.name!r}")
    fx = np.asarray(front_df[cx], dtype=float)
    fy = np.asarray(front_df[cy], dtype=float)
    ex = _errors(front_df, ox) if error_bars else None
    ey = _errors(front_df, oy) if error_bars else None
    marker = {"size": 9, "line": {"width": 0.5, "color": "white"}, **_color_marker(front_df, color_by, space)}
    fig.add_trace(
        scatter(
            x=fx,
            y=fy,
            mode="markers",
            name="Pareto front",
            marker=marker,
            error_x={"type": "data", "array": ex, "visible": True, "thickness": 1}
            if ex is not None
            else None,
            error_y={"type": "data", "array": ey, "visible": True, "thickness": 1}
            if ey is not None
            else None,
            text=_hover_front(front_df, objs),
            hovertemplate="%{text}<extra></extra>",
        )
    )

    # the knee
    knee = (
        np.asarray(front_df["knee"], dtype=bool)
        if "knee" in front_df.columns
        else np.zeros(len(front_df), bool)
    )
    fig.add_trace(
        scatter(
            x=fx[knee],
            y=fy[knee],
            mode="markers",
            name="knee point",
            marker={
                "symbol": "star",
                "size": 18,
                "color": KNEE_COLOR,
                "line": {"width": 1, "color": "black"},
            },
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis_title=axis_title(ox),
        yaxis_title=axis_title(oy),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        hovermode="closest",
    )
    return fig


def front_figure_3d(
    front: pd.DataFrame | ExportData,
    objectives: Sequence[Objective] | None = None,
    *,
    trials: pd.DataFrame | None = None,
    x: str | None = None,
    y: str | None = None,
    z: str | None = None,
    color_by: str | None = None,
    space: DesignSpace | None = None,
    error_bars: bool = True,
    title: str | None = None,
) -> go.Figure:
    """The Pareto front in three objectives (default the first three), as :func:`front_figure`
    with ``Scatter3d`` traces in the same order (other trials, front, knee)."""
    if space is None and hasattr(front, "space"):
        space = front.space  # type: ignore[union-attr]
    front_df, objs, trials = _unpack(front, objectives, trials)
    axes = (_objective(objs, x, 0), _objective(objs, y, 1), _objective(objs, z, 2))
    others = _others(trials, front_df, axes)
    fig = go.Figure()
    if others is not None and len(others):
        feasible = (
            np.asarray(others["feasible"], dtype=bool)
            if "feasible" in others.columns
            else np.ones(len(others), bool)
        )
        xyz = [np.asarray(others[_column(others, o)], dtype=float) for o in axes]
        fig.add_trace(
            go.Scatter3d(
                x=xyz[0],
                y=xyz[1],
                z=xyz[2],
                mode="markers",
                name="other trials",
                marker={"color": GREY, "size": 3, "symbol": np.where(feasible, "circle", "x").tolist()},
                text=_hover_other(others, axes),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    else:
        fig.add_trace(
            go.Scatter3d(x=[], y=[], z=[], mode="markers", name="other trials", marker={"color": GREY})
        )
    cols = [_column(front_df, o) for o in axes]
    if any(c is None for c in cols):
        raise KeyError(f"the front frame lacks the columns of {[o.name for o in axes]}")
    f = [np.asarray(front_df[c], dtype=float) for c in cols]
    errs = [(_errors(front_df, o) if error_bars else None) for o in axes]

    def bars(e: np.ndarray | None) -> dict[str, Any] | None:
        return {"type": "data", "array": e, "visible": True, "thickness": 1} if e is not None else None

    marker = {"size": 5, **_color_marker(front_df, color_by, space)}
    fig.add_trace(
        go.Scatter3d(
            x=f[0],
            y=f[1],
            z=f[2],
            mode="markers",
            name="Pareto front",
            marker=marker,
            error_x=bars(errs[0]),
            error_y=bars(errs[1]),
            error_z=bars(errs[2]),
            text=_hover_front(front_df, objs),
            hovertemplate="%{text}<extra></extra>",
        )
    )
    knee = (
        np.asarray(front_df["knee"], dtype=bool)
        if "knee" in front_df.columns
        else np.zeros(len(front_df), bool)
    )
    fig.add_trace(
        go.Scatter3d(
            x=f[0][knee],
            y=f[1][knee],
            z=f[2][knee],
            mode="markers",
            name="knee point",
            marker={"symbol": "diamond", "size": 9, "color": KNEE_COLOR},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        scene={
            "xaxis_title": axis_title(axes[0]),
            "yaxis_title": axis_title(axes[1]),
            "zaxis_title": axis_title(axes[2]),
        },
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    )
    return fig


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
        obj_cols = [c for o in objectives for c in (objective_column(o), o.name) if c in rest]
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
        skip = _BOOKKEEPING | set(obj_cols)
        param_cols = [c for c in df.columns if c not in skip and " stderr" not in str(c)]
    dims = []
    labels_by_column: dict[str, str] = {}
    for c in [*param_cols, *obj_cols]:
        values = df[c]
        p = space[strip_unit(c)] if space is not None and strip_unit(c) in space else None
        label = str(c)
        if objectives is not None and c in obj_cols:
            o = next(o for o in objectives if _column(df, o) == c)
            label = axis_title(o)
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
            dim = {"label": label, "values": np.asarray(values, dtype=float), "range": [p.low, p.high]}
            dims.append({**dim, "tickvals": ticks} if ticks else {**dim, "tickformat": "d"})
        else:
            dims.append({"label": label, "values": np.asarray(values, dtype=float), **_axis_range(values, p)})
    if color_by is not None:
        color_col = _resolve(df, color_by)
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
    "TRACE_FRONT",
    "TRACE_KNEE",
    "TRACE_OTHER",
    "axis_title",
    "front_figure",
    "front_figure_3d",
    "hypervolume_figure",
    "parallel_coordinates",
    "trajectory_figure",
]
