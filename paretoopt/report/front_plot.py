"""The Pareto-front figure, 2-D or 3-D, in a fixed trace order so a dashboard can patch one trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from paretoopt.problem import Objective
from paretoopt.report.columns import (
    BOOKKEEPING_COLUMNS,
    find_column,
    objective_column,
    objective_header,
    resolve_column,
    stderr_column,
    strip_unit,
)
from paretoopt.report.rounding import round_to_error
from paretoopt.space import Choice, DesignSpace

if TYPE_CHECKING:
    import pandas as pd

    from paretoopt.report.table import ExportData

# Trace layout of every front figure: completed trials off the front (grey; infeasible ones as
# crosses), the Pareto-optimal trials (with standard-error bars), the knee point. Every point
# carries its trial number as ``customdata`` (what a click reports).
TRACE_OTHER, TRACE_FRONT, TRACE_KNEE = 0, 1, 2
#: Above this many points in one figure, 2-D scatter traces switch to WebGL (``Scattergl``).
WEBGL_THRESHOLD = 1000
GREY = "rgba(140, 140, 140, 0.45)"
FRONT_COLOR = "#1f77b4"
KNEE_COLOR = "#d62728"
TEMPLATE = "plotly_white"
_LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}

# What differs between the 2-D and the 3-D figure: marker sizes and the knee symbol.
_STYLE: dict[int, dict[str, Any]] = {
    2: {
        "other_size": 6,
        "front_marker": {"size": 9, "line": {"width": 0.5, "color": "white"}},
        "knee_marker": {
            "symbol": "star",
            "size": 18,
            "color": KNEE_COLOR,
            "line": {"width": 1, "color": "black"},
        },
    },
    3: {
        "other_size": 3,
        "front_marker": {"size": 5},
        "knee_marker": {"symbol": "diamond", "size": 9, "color": KNEE_COLOR},
    },
}


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
    return find_column(df, objective_column(o), o.name)


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
    skip = BOOKKEEPING_COLUMNS | {c for o in objectives for c in (objective_column(o), stderr_column(o))}
    for c in df.columns:
        if c in skip or " stderr" in str(c):
            continue
        for i, v in enumerate(df[c]):
            lines[i].append(f"{c} = {_fmt(v)}")
    return ["<br>".join(x) for x in lines]


def _hover_other(df: pd.DataFrame, axes: Sequence[Objective]) -> list[str]:
    # column-wise (not row-by-row ``iloc``): a 10,000-trial study builds its hover text in ms
    cols = [(o, _column(df, o)) for o in axes]
    n = len(df)
    numbers = df["number"].tolist() if "number" in df.columns else [None] * n
    feasible = df["feasible"].tolist() if "feasible" in df.columns else [True] * n
    heads = [
        ("trial" if k is None else f"trial {int(k)}") + ("" if bool(f) else " (infeasible)")
        for k, f in zip(numbers, feasible, strict=True)
    ]
    parts = [heads]
    for o, c in cols:
        if c:
            label = objective_column(o)
            parts.append([f"{label} = {v:.4g}" for v in np.asarray(df[c], dtype=float).tolist()])
    return ["<br>".join(row) for row in zip(*parts, strict=True)]


def _symbols(feasible: np.ndarray) -> str | list[str]:
    """One symbol for all when every trial is feasible (a 10,000-entry list costs plotly's
    validation and the browser a lot), else circles and crosses for the infeasible ones."""
    return "circle" if bool(np.all(feasible)) else np.where(feasible, "circle", "x").tolist()


def _numbers(df: pd.DataFrame) -> list[int] | None:
    """Trial numbers of ``df`` as ``customdata``, so a click on a point names its trial. A plain
    list: plotly.py would send an array as a base64 typed array, which Dash's click events do
    not decode."""
    return [int(v) for v in df["number"]] if "number" in df.columns else None


def _color_marker(df: pd.DataFrame, color_by: str | None, space: DesignSpace | None) -> dict[str, Any]:
    """Marker colours of the front: one colour, or a column on a colour scale (categories of a
    choice or text column get codes with their labels on the colour bar)."""
    if color_by is None:
        return {"color": FRONT_COLOR}
    col = resolve_column(df, color_by)
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


def _bars(e: np.ndarray | None) -> dict[str, Any] | None:
    return {"type": "data", "array": e, "visible": True, "thickness": 1} if e is not None else None


def front_figure(
    front: pd.DataFrame | ExportData,
    objectives: Sequence[Objective] | None = None,
    *,
    trials: pd.DataFrame | None = None,
    x: str | None = None,
    y: str | None = None,
    z: str | None = None,
    ndim: int | None = None,
    color_by: str | None = None,
    space: DesignSpace | None = None,
    error_bars: bool = True,
    title: str | None = None,
    webgl_threshold: int = WEBGL_THRESHOLD,
) -> go.Figure:
    """The Pareto front in two or three objectives (``x``, ``y``, ``z``: objective names, default
    the first ones). ``ndim``: 2 or 3 axes; by default 3 when ``z`` is named, else 2.

    ``front``: the Pareto frame (or an :class:`~paretoopt.report.table.ExportData`, which also
    gives ``objectives``, ``trials`` and ``space``); ``trials``: every trial, the completed ones
    off the front drawn grey (infeasible as crosses). Front points carry standard-error bars and
    are coloured by ``color_by`` (a column: full header or bare parameter name) when given; the
    knee point is a red star (a diamond in 3-D). Three traces always, in the order
    ``TRACE_OTHER``, ``TRACE_FRONT``, ``TRACE_KNEE`` (possibly empty). In 2-D, above
    ``webgl_threshold`` points the traces are ``Scattergl``; in 3-D they are ``Scatter3d``.
    """
    if ndim is None:
        ndim = 2 if z is None else 3
    if ndim not in (2, 3):
        raise ValueError(f"a front figure has 2 or 3 axes, got ndim={ndim!r}")
    if ndim == 2 and z is not None:
        raise ValueError("z names a third axis: use ndim=3 (or leave ndim out)")
    if space is None and hasattr(front, "space"):
        space = front.space  # type: ignore[union-attr]
    front_df, objs, trials = _unpack(front, objectives, trials)
    axes = tuple(_objective(objs, name, i) for i, name in enumerate((x, y, z)[:ndim]))
    letters = "xyz"[:ndim]
    others = _others(trials, front_df, axes)
    style = _STYLE[ndim]
    if ndim == 3:
        scatter: Any = go.Scatter3d
    else:
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
        coords = {
            a: np.asarray(others[_column(others, o)], dtype=float) for a, o in zip(letters, axes, strict=True)
        }
        fig.add_trace(
            scatter(
                **coords,
                mode="markers",
                name="other trials",
                marker={"color": GREY, "size": style["other_size"], "symbol": _symbols(feasible)},
                text=_hover_other(others, axes),
                customdata=_numbers(others),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    else:
        empty: dict[str, list[float]] = {a: [] for a in letters}
        fig.add_trace(scatter(**empty, mode="markers", name="other trials", marker={"color": GREY}))

    # the front
    cols = [_column(front_df, o) for o in axes]
    if any(c is None for c in cols):
        raise KeyError(f"the front frame lacks the columns of {' / '.join(repr(o.name) for o in axes)}")
    f = {a: np.asarray(front_df[c], dtype=float) for a, c in zip(letters, cols, strict=True)}
    errors = {
        f"error_{a}": _bars(_errors(front_df, o) if error_bars else None)
        for a, o in zip(letters, axes, strict=True)
    }
    fig.add_trace(
        scatter(
            **f,
            mode="markers",
            name="Pareto front",
            marker={**style["front_marker"], **_color_marker(front_df, color_by, space)},
            **errors,
            text=_hover_front(front_df, objs),
            customdata=_numbers(front_df),
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
            **{a: v[knee] for a, v in f.items()},
            customdata=_numbers(front_df[knee]) if "number" in front_df.columns else None,
            mode="markers",
            name="knee point",
            marker=style["knee_marker"],
            hoverinfo="skip",
        )
    )
    titles = {f"{a}axis_title": objective_header(o) for a, o in zip(letters, axes, strict=True)}
    if ndim == 3:
        fig.update_layout(template=TEMPLATE, title=title, scene=titles, legend=_LEGEND)
    else:
        fig.update_layout(template=TEMPLATE, title=title, **titles, legend=_LEGEND, hovermode="closest")
    return fig


__all__ = [
    "GREY",
    "TRACE_FRONT",
    "TRACE_KNEE",
    "TRACE_OTHER",
    "WEBGL_THRESHOLD",
    "front_figure",
]
