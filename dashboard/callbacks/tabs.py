"""Tab callbacks of a study page: hypervolume history, parallel coordinates, the trial table.

The table's rows are filtered, sorted and paged on the server (AG Grid's infinite row model).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from dash import Input, Output, State, dcc, html, no_update

from dashboard import figures, layout
from dashboard.data import Snapshot
from paretoopt.exceptions import ParetoOptError

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext

_NUMBER_OPS = {
    "equals": lambda s, v: s == v,
    "notEqual": lambda s, v: s != v,
    "lessThan": lambda s, v: s < v,
    "lessThanOrEqual": lambda s, v: s <= v,
    "greaterThan": lambda s, v: s > v,
    "greaterThanOrEqual": lambda s, v: s >= v,
}


def _condition_mask(series: pd.Series, cond: dict[str, Any]) -> pd.Series:
    kind: Any = cond.get("type")
    if kind == "blank":
        return series.isna() | (series.astype(str) == "")
    if kind == "notBlank":
        return ~(series.isna() | (series.astype(str) == ""))
    if cond.get("filterType") == "number":
        values = pd.to_numeric(series, errors="coerce")
        try:
            a = float(cond.get("filter"))  # type: ignore[arg-type]  # None: TypeError, caught
        except (TypeError, ValueError):
            return pd.Series(True, index=series.index)
        if kind == "inRange":
            try:
                b = float(cond.get("filterTo"))  # type: ignore[arg-type]  # as above
            except (TypeError, ValueError):
                return values >= a
            return (values >= a) & (values <= b)
        op = _NUMBER_OPS.get(kind)
        return op(values, a) if op else pd.Series(True, index=series.index)
    text = series.astype(str).str.lower()
    needle = str(cond.get("filter", "")).lower()
    if kind == "contains":
        return text.str.contains(needle, regex=False)
    if kind == "notContains":
        return ~text.str.contains(needle, regex=False)
    if kind == "equals":
        return text == needle
    if kind == "notEqual":
        return text != needle
    if kind == "startsWith":
        return text.str.startswith(needle)
    if kind == "endsWith":
        return text.str.endswith(needle)
    return pd.Series(True, index=series.index)


def filter_and_sort(
    df: pd.DataFrame, filter_model: dict[str, Any] | None, sort_model: list[dict[str, Any]] | None
) -> pd.DataFrame:
    """Apply AG Grid's filter and sort models to ``df`` with plain pandas comparisons (unknown
    columns and operators are ignored; nothing is evaluated)."""
    out = df
    for col, model in (filter_model or {}).items():
        if col not in out.columns or not isinstance(model, dict):
            continue
        if "conditions" in model:
            masks = [_condition_mask(out[col], c) for c in model.get("conditions", []) if isinstance(c, dict)]
            if not masks:
                continue
            mask = masks[0]
            for m in masks[1:]:
                mask = (mask | m) if model.get("operator") == "OR" else (mask & m)
        else:
            mask = _condition_mask(out[col], model)
        out = out[mask.fillna(False).astype(bool)]
    sorts = [s for s in (sort_model or []) if isinstance(s, dict) and s.get("colId") in out.columns]
    if sorts:
        out = out.sort_values(
            [s["colId"] for s in sorts],
            ascending=[s.get("sort") != "desc" for s in sorts],
            kind="stable",
            na_position="last",
        )
    return out


def json_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``df``'s rows as JSON-safe dicts: missing and non-finite values become None, numpy scalars
    plain Python numbers."""
    clean = df.astype(object).where(pd.notna(df), None)
    rows = clean.to_dict("records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
            elif isinstance(v, np.generic):
                r[k] = v.item()
    return rows


def tab_content(snap: Snapshot, value: str, color_by: str | None) -> Any:
    """What the tab ``value`` (``hv``, ``parcoords`` or ``grid``) shows for ``snap``."""
    if value == "hv":
        if not snap.completed_count():
            return html.P("No completed trial yet.", className="muted")
        return html.Div(
            [
                dcc.Graph(figure=figures.hypervolume(snap, "trials"), id="hv-trials", className="half"),
                dcc.Graph(figure=figures.hypervolume(snap, "calls"), id="hv-calls", className="half"),
            ],
            className="row",
        )
    if value == "parcoords":
        if not snap.completed_count():
            return html.P("No completed trial yet.", className="muted")
        fig, note = figures.parallel(snap, color_by or None)
        return html.Div(
            [html.P(f"Showing {note}.", className="muted small"), dcc.Graph(figure=fig, id="parcoords")]
        )
    if value == "grid":
        return html.Div(
            [
                html.P(
                    "All trials; sort and filter in the column headers (done on the server). "
                    "Click a row to open its trial.",
                    className="muted small",
                ),
                layout.grid(snap),
            ]
        )
    return html.P("unknown tab")


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the tab switcher and the trial table's row server."""

    @app.callback(
        Output("tab-content", "children"),
        Input("tabs", "value"),
        Input("version", "data"),
        State("study-name", "data"),
        State("color-by", "value"),
    )
    def tab(value: str, _version: str, name: str, color_by: str | None) -> Any:
        try:
            snap = c.cache.get(name)
        except ParetoOptError as exc:
            return html.P(str(exc))
        return tab_content(snap, value, color_by)

    @app.callback(
        Output("grid", "getRowsResponse"),
        Input("grid", "getRowsRequest"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def grid_rows(request: dict[str, Any] | None, name: str) -> Any:
        if not request:
            return no_update
        snap = c.cache.get(name)
        df = filter_and_sort(snap.trials_frame(), request.get("filterModel"), request.get("sortModel"))
        start = max(0, int(request.get("startRow", 0)))
        end = max(start, int(request.get("endRow", start + 100)))
        return {"rowData": json_rows(df.iloc[start:end]), "rowCount": len(df)}
