"""The dashboard's callbacks: routing, live updates, selection, what-ifs, exports, the trial
table's server-side rows and (with ``--allow-simulate``) the background simulation.

Keeping the page fast: the front figure is built once per study version and options
(:mod:`dashboard.figures`); selecting a trial or moving a what-if control patches one small
overlay trace (``dash.Patch``) instead of resending the figure; the trial table asks the
server for 100 sorted, filtered rows at a time. No callback evaluates user input as code:
the study name in the URL is a lookup key, control values are parsed as numbers or option
indices and clamped into the design space, and table filters are applied by a fixed set of
pandas comparisons.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
from dash import ALL, Input, Output, Patch, State, ctx, dcc, html, no_update

from dashboard import figures, layout
from dashboard.data import Snapshot
from dashboard.whatif import design_from_controls, predict
from paretoopt.exceptions import ParetoOptError, StudyNotFoundError

if TYPE_CHECKING:
    import dash

    from dashboard.app import DashboardContext

log = logging.getLogger("paretoopt.dashboard")

#: How long a what-if callback waits for a surrogate still being fitted before saying so.
SURROGATE_WAIT_S = 20.0


# ----- pure helpers (tested directly) -----
def parse_path(pathname: str | None) -> tuple[str, str | None]:
    """``("list", None)`` for ``/``, ``("study", name)`` for ``/study/<name>`` (percent-decoded),
    ``("unknown", path)`` for anything else."""
    path = pathname or "/"
    if path in ("/", ""):
        return "list", None
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "study" and parts[2]:
        return "study", unquote(parts[2])
    return "unknown", path


def initial_selection(snap: Snapshot) -> int | None:
    """The trial a study page opens on: the knee point, else the first front trial, else the
    last completed trial."""
    front = snap.front()
    if len(front):
        knee = front[front["knee"]]
        return int((knee if len(knee) else front)["number"].iloc[0])
    done = [t for t in snap.trials if t.objectives]
    return done[-1].number if done else None


_NUMBER_OPS = {
    "equals": lambda s, v: s == v,
    "notEqual": lambda s, v: s != v,
    "lessThan": lambda s, v: s < v,
    "lessThanOrEqual": lambda s, v: s <= v,
    "greaterThan": lambda s, v: s > v,
    "greaterThanOrEqual": lambda s, v: s >= v,
}


def _condition_mask(series: pd.Series, cond: dict[str, Any]) -> pd.Series:
    kind = cond.get("type")
    if kind == "blank":
        return series.isna() | (series.astype(str) == "")
    if kind == "notBlank":
        return ~(series.isna() | (series.astype(str) == ""))
    if cond.get("filterType") == "number":
        values = pd.to_numeric(series, errors="coerce")
        try:
            a = float(cond.get("filter"))
        except (TypeError, ValueError):
            return pd.Series(True, index=series.index)
        if kind == "inRange":
            try:
                b = float(cond.get("filterTo"))
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


def _json_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    clean = df.astype(object).where(pd.notna(df), None)
    rows = clean.to_dict("records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
            elif isinstance(v, np.generic):
                r[k] = v.item()
    return rows


def _is_selected_design(snap: Snapshot, number: int | None, design: dict[str, Any]) -> bool:
    """Whether ``design`` is the selected trial's own design (what a prefill sets)."""
    from dashboard.whatif import design_of_trial

    t = snap.by_number.get(number) if number is not None else None
    if t is None:
        return False
    own = design_of_trial(snap.space, t.params, t.choices)
    for k, v in own.items():
        w = design.get(k)
        if isinstance(v, float) and isinstance(w, int | float):
            if not math.isclose(v, float(w), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif v != w:
            return False
    return True


def _readout(snap: Snapshot, mean: np.ndarray, std: np.ndarray, elapsed_ms: float) -> list[Any]:
    from paretoopt.report.columns import objective_column
    from paretoopt.report.rounding import round_to_error

    items = [
        html.Li(
            [
                html.B(objective_column(o)),
                " = ",
                html.Span(round_to_error(float(m), float(s)).text, className="pred"),
            ]
        )
        for o, m, s in zip(snap.objectives, mean, std, strict=True)
    ]
    return [
        html.Span("surrogate prediction (± 1σ)", className="muted"),
        html.Ul(items, id="whatif-values"),
        html.Span(f"{elapsed_ms:.0f} ms on the server", className="muted small"),
    ]


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach every callback to ``app``."""

    # ----- routing -----
    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> Any:
        kind, arg = parse_path(pathname)
        try:
            if kind == "list":
                return layout.study_list(c.cache.summaries(max_age_s=0.0), c.storage.url)
            if kind == "study":
                assert arg is not None
                snap = c.cache.get(arg, max_age_s=0.0)
                c.warm_surrogate(snap)
                return layout.study_page(
                    snap, initial_selection(snap), allow_simulate=c.allow_simulate, poll_ms=c.poll_ms
                )
        except StudyNotFoundError as exc:
            return layout.message_page("Unknown study", str(exc))
        except ParetoOptError as exc:
            return layout.message_page("Cannot read the study database", str(exc))
        return layout.message_page(
            "Page not found",
            f"There is no page at {arg}. The dashboard has the study list at / and one page per "
            "study at /study/NAME.",
        )

    @app.callback(
        Output({"type": "list-hv", "name": ALL}, "children"),
        Input("list-poll", "n_intervals"),
        State({"type": "list-hv", "name": ALL}, "id"),
    )
    def list_hypervolumes(_n: int | None, ids: list[dict[str, str]]) -> list[str]:
        out = []
        for i in ids:
            try:
                hv = c.cache.get(i["name"]).hypervolume()
                out.append("—" if hv is None else f"{hv:.6g}")
            except ParetoOptError:
                out.append("—")
        return out

    # ----- live updates -----
    @app.callback(
        Output("version", "data"),
        Input("poll", "n_intervals"),
        State("study-name", "data"),
        State("version", "data"),
        prevent_initial_call=True,
    )
    def poll(_n: int, name: str, version: str) -> Any:
        try:
            current = c.cache.version(name)
        except ParetoOptError:
            return no_update
        return current if current != version else no_update

    @app.callback(
        Output("front", "figure"),
        Input("x-axis", "value"),
        Input("y-axis", "value"),
        Input("z-axis", "value"),
        Input("view", "value"),
        Input("color-by", "value"),
        Input("error-bars", "value"),
        Input("version", "data"),
        State("selected", "data"),
        State("whatif-pred", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def redraw_front(x, y, z, view, color_by, error_bars, _version, selected, prediction, name) -> Any:
        snap = c.cache.get(name)
        pred = prediction if prediction and prediction.get("study") == name else None
        return figures.front(
            snap,
            view=view or "2d",
            x=x,
            y=y,
            z=z,
            color_by=color_by or None,
            error_bars=bool(error_bars),
            selected=selected,
            prediction=pred,
        )

    @app.callback(
        Output("study-summary", "children"),
        Input("version", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def refresh_summary(_version: str, name: str) -> Any:
        return layout.summary_line(c.cache.get(name))

    # ----- selection -----
    @app.callback(
        Output("selected", "data"),
        Input("front", "clickData"),
        prevent_initial_call=True,
    )
    def click_point(click: dict[str, Any] | None) -> Any:
        for p in (click or {}).get("points", []):
            number = p.get("customdata")
            if isinstance(number, list):
                number = number[0] if number else None
            if isinstance(number, int | float):
                return int(number)
        return no_update

    @app.callback(
        Output("selected", "data", allow_duplicate=True),
        Input("grid", "cellClicked"),
        prevent_initial_call=True,
    )
    def click_row(cell: dict[str, Any] | None) -> Any:
        try:
            return int((cell or {}).get("rowId"))
        except (TypeError, ValueError):
            return no_update

    @app.callback(
        Output("trial-panel", "children"),
        Input("selected", "data"),
        Input("version", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def show_trial(number: int | None, _version: str, name: str) -> Any:
        return layout.trial_panel(c.cache.get(name), number)

    @app.callback(
        Output("front", "figure", allow_duplicate=True),
        Input("selected", "data"),
        State("view", "value"),
        State("x-axis", "value"),
        State("y-axis", "value"),
        State("z-axis", "value"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def mark_selected(number: int | None, view, x, y, z, name) -> Any:
        snap = c.cache.get(name)
        axes = figures.axes_of(snap, view or "2d", x, y, z)
        t = snap.by_number.get(number) if number is not None else None
        patch = Patch()
        for key, i in zip(("x", "y", "z"), axes, strict=False):
            patch["data"][figures.TRACE_SELECTED][key] = (
                [float(t.objectives[i])] if t and t.objectives else []
            )
        return patch

    @app.callback(
        Output({"type": "whatif", "name": ALL}, "value"),
        Input("selected", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def prefill(number: int | None, name: str) -> Any:
        from dashboard.whatif import control_value, design_of_trial

        snap = c.cache.get(name)
        t = snap.by_number.get(number) if number is not None else None
        if t is None:
            return [no_update for _ in ctx.outputs_list]
        design = design_of_trial(snap.space, t.params, t.choices)
        return [control_value(snap.space[o["id"]["name"]], design[o["id"]["name"]]) for o in ctx.outputs_list]

    # ----- what-if -----
    @app.callback(
        Output("front", "figure", allow_duplicate=True),
        Output("whatif-readout", "children"),
        Output("whatif-pred", "data"),
        Input({"type": "whatif", "name": ALL}, "value"),
        State("view", "value"),
        State("x-axis", "value"),
        State("y-axis", "value"),
        State("z-axis", "value"),
        State("selected", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def what_if(_values, view, x, y, z, selected, name) -> Any:
        t0 = time.perf_counter()
        # the snapshot on screen (polling keeps it current): no database query per key press
        snap = c.cache.peek(name) or c.cache.get(name)
        controls = {i["id"]["name"]: i.get("value") for i in ctx.inputs_list[0]}
        design = design_from_controls(snap.space, controls)
        if _is_selected_design(snap, selected, design):
            # the controls were just prefilled from a trial: predict if a model is ready, but
            # leave starting a fit (seconds of CPU) to a real what-if
            predictor = c.surrogates.ready(name)
            if predictor is None:
                clear = Patch()
                for key, value in figures.overlay_patch(
                    figures.axes_of(snap, view or "2d", x, y, z), None, None
                ).items():
                    clear["data"][figures.TRACE_WHATIF][key] = value
                return clear, "prediction: move a control", None
        else:
            fut = c.surrogates.request(name, snap.study, snap.completed_count())
            try:
                predictor = fut.result(timeout=SURROGATE_WAIT_S)
            except FutureTimeout:
                return (
                    no_update,
                    "the surrogate is still being fitted; move a control again in a moment",
                    no_update,
                )
            except Exception as exc:
                return no_update, f"no surrogate for this study: {exc}", no_update
        try:
            mean, std = predict(predictor, design, len(snap.objectives))
        except Exception as exc:
            return no_update, f"the surrogate could not predict this design: {exc}", no_update
        axes = figures.axes_of(snap, view or "2d", x, y, z)
        patch = Patch()
        for key, value in figures.overlay_patch(axes, mean, std).items():
            patch["data"][figures.TRACE_WHATIF][key] = value
        elapsed = 1e3 * (time.perf_counter() - t0)
        pred = {
            "study": name,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "design": {k: (v if isinstance(v, int | float | str) else str(v)) for k, v in design.items()},
        }
        return patch, _readout(snap, mean, std, elapsed), pred

    # ----- tabs -----
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
        return {"rowData": _json_rows(df.iloc[start:end]), "rowCount": len(df)}

    # ----- exports -----
    @app.callback(
        Output("download", "data"),
        *(Input(f"export-{fmt}", "n_clicks") for fmt in layout.EXPORTS),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def export(*args: Any) -> Any:
        from paretoopt.report.export import export_front

        name = args[-1]
        trigger = ctx.triggered_id or ""
        fmt = str(trigger).removeprefix("export-")
        if fmt not in layout.EXPORTS:
            return no_update
        snap = c.cache.get(name)
        if not snap.completed_count():
            return no_update
        ext = layout.EXPORTS[fmt][1]
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        with tempfile.TemporaryDirectory(prefix="paretoopt-dash-") as tmp:
            path = Path(tmp) / f"{safe}-front.{ext}"
            export_front(snap.export_data(), fmt, path)
            return dcc.send_bytes(path.read_bytes(), path.name)

    # ----- simulate (background, only with --allow-simulate) -----
    if c.allow_simulate:
        _register_simulate(app, c)


def _register_simulate(app: dash.Dash, c: DashboardContext) -> None:
    from dashboard.simulate import simulate_design

    @app.callback(
        Output("sim-status", "children"),
        Output("sim-done", "data"),
        Input("simulate", "n_clicks"),
        State({"type": "whatif", "name": ALL}, "value"),
        State({"type": "whatif", "name": ALL}, "id"),
        State("sim-mode", "value"),
        State("selected", "data"),
        State("study-name", "data"),
        background=True,
        manager=c.background_manager,
        running=[
            (Output("simulate", "disabled"), True, False),
            (Output("sim-progress", "style"), {"display": "flex"}, {"display": "none"}),
        ],
        progress=[Output("sim-progress-text", "children")],
        progress_default=[""],
        interval=300,
        prevent_initial_call=True,
    )
    def simulate(set_progress, _n, values, ids, mode, selected, name):
        from paretoopt.study import Study

        st = c.writable_storage()
        rec = st.get_study(name)
        space = Study(st, rec).space
        design = design_from_controls(space, {i["name"]: v for i, v in zip(ids, values, strict=True)})
        outcome = simulate_design(
            st,
            name,
            design,
            mode=mode or "evaluate",
            base_number=selected,
            progress=lambda m: set_progress([m]),
        )
        cls = "ok" if outcome.ok else "error"
        return html.Span(outcome.message, className=cls, id="sim-message"), {
            "number": outcome.number,
            "at": time.time(),
        }

    @app.callback(
        Output("selected", "data", allow_duplicate=True),
        Output("version", "data", allow_duplicate=True),
        Input("sim-done", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def after_simulation(done: dict[str, Any] | None, name: str) -> Any:
        if not done or done.get("number") is None:
            return no_update, no_update
        c.cache.invalidate()
        try:
            version = c.cache.version(name)
        except StudyNotFoundError:
            return no_update, no_update
        return int(done["number"]), version
