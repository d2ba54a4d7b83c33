"""The dashboard's pages as Dash component trees: study list, study page, message page.

The message page is shown for a bad URL, an unknown study or an unreadable database.

Ids used by the callbacks (:mod:`dashboard.callbacks`) are module constants' string values;
what-if controls carry pattern-matching ids ``{"type": "whatif", "name": <parameter>}``.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import dash_ag_grid as dag
from dash import dcc, html

from dashboard import figures
from dashboard.blocks_view import blocks_section
from dashboard.controls import design_control
from dashboard.data import Snapshot, normalised_hypervolume
from dashboard.simulate import MODES
from dashboard.whatif import control_value, design_of_trial
from paretoopt.report.columns import constraint_column, objective_column, param_column, stderr_column
from paretoopt.report.rounding import round_to_error
from paretoopt.space import Choice, Integer, Real
from paretoopt.storage import StudySummary

EXPORTS = {
    "csv": ("CSV", "csv"),
    "xlsx": ("XLSX", "xlsx"),
    "latex": ("LaTeX", "tex"),
    "html": ("HTML report", "html"),
}
TABS = {"hv": "Hypervolume", "parcoords": "Parallel coordinates", "grid": "All trials"}


def study_href(name: str) -> str:
    """The URL path of a study page (the name percent-encoded, slashes included)."""
    return "/study/" + quote(name, safe="")


def shell() -> html.Div:
    """The frame every page renders in."""
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            html.Header(
                [
                    dcc.Link("paretoopt", href="/", className="brand"),
                    html.Span("Pareto-front dashboard", className="tagline"),
                ],
                className="topbar",
            ),
            html.Main(id="page", className="page"),
        ]
    )


def message_page(title: str, text: str) -> html.Div:
    """A page that says what went wrong, in words (never a traceback)."""
    return html.Div(
        [
            html.H2(title),
            html.P(text, id="message-text"),
            dcc.Link("← all studies", href="/", className="back"),
        ],
        className="message",
        id="message-page",
    )


def _fmt_time(ts: Any) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts is not None else ""


def _objectives_text(objectives: list[dict[str, Any]]) -> str:
    parts = []
    for o in objectives:
        unit = f" [{o['unit']}]" if o.get("unit") else ""
        parts.append(
            f"{o['name']}{unit} ({'min' if o.get('direction', 'minimize') == 'minimize' else 'max'})"
        )
    return ", ".join(parts)


def study_list(summaries: list[StudySummary], storage_url: str) -> html.Div:
    """The study list: name, objectives, trials by state, best hypervolume (filled in after the
    page shows, study by study), last update."""
    head = html.Tr(
        [
            html.Th(h)
            for h in ("study", "objectives", "complete", "failed", "running", "hypervolume", "last update")
        ]
    )
    rows = []
    for s in summaries:
        c = s.counts
        rows.append(
            html.Tr(
                [
                    html.Td(dcc.Link(s.name, href=study_href(s.name), className="study-link")),
                    html.Td(_objectives_text(s.objectives)),
                    html.Td(str(c.get("COMPLETE", 0)), className="num"),
                    html.Td(str(c.get("FAILED", 0)), className="num"),
                    html.Td(str(c.get("RUNNING", 0) + c.get("WAITING", 0)), className="num"),
                    html.Td("…", id={"type": "list-hv", "name": s.name}, className="num"),
                    html.Td(_fmt_time(s.updated_at)),
                ]
            )
        )
    body = (
        html.Table([html.Thead(head), html.Tbody(rows)], className="studies", id="study-table")
        if rows
        else html.P("This database holds no studies yet: run one with `paretoopt run STUDY.py`.")
    )
    return html.Div(
        [
            html.H2("Studies"),
            html.P(["storage ", html.Code(storage_url)], className="muted"),
            body,
            dcc.Interval(id="list-poll", interval=5000),
        ],
        id="study-list",
    )


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def summary_line(snap: Snapshot) -> list[Any]:
    """Counts, hypervolume and last update of a study."""
    c = snap.counts()
    parts = [
        f"{len(snap.trials)} trials: {c['COMPLETE']} complete, {c['FAILED']} failed, "
        f"{c['RUNNING'] + c['WAITING']} running or waiting",
        f"{len(snap.front())} on the front",
        f"{sum(t.n_calls for t in snap.trials)} simulator calls",
    ]
    short = [t for t in snap.trials if t.stop_reason not in (None, "converged")]
    if short:  # the full account is in the trials table (converged, stop_reason)
        parts.append(f"{len(short)} inner loops not converged")
    rec = snap.study.record
    last = max((t.finished_at for t in snap.trials if t.finished_at is not None), default=rec.updated_at)
    parts.append(f"updated {_fmt_time(last)}")
    out = [html.Span(p, className="fact") for p in parts]
    hv = snap.hypervolume()
    if hv is not None:  # normalised to the ideal-reference box; the raw value on hover
        norm, box = snap.memo("hv_norm", lambda: normalised_hypervolume(hv, snap.study))
        raw = f"raw hypervolume {hv:.6g} in the objectives' units, of a box of {box:.6g}"
        text = f"hypervolume {norm:.3f} of the ideal–reference box"
        out.insert(-1, html.Span(text, title=raw, id="study-hv", className="fact"))
    return out


def trial_panel(snap: Snapshot, number: int | None) -> html.Div:
    """The selected trial: state, source, objectives ± standard errors (PDG rounding),
    constraints, parameters with units, accounting, whether its inner loop converged (or why it
    stopped), and its inner-loop trajectory."""
    t = snap.by_number.get(number) if number is not None else None
    if t is None:
        return html.Div(
            html.P("Click a point on the front or a row of the table to open its trial.", className="muted"),
            id="trial-details",
        )
    rows: list[Any] = []
    for i, o in enumerate(snap.objectives):
        if t.objectives:
            se = t.stderr[i] if t.stderr else None
            text = round_to_error(float(t.objectives[i]), se).text
        else:
            text = "—"
        rows.append(html.Tr([html.Th(objective_column(o)), html.Td(text, className="num")]))
    for i, c in enumerate(snap.study.constraints):
        if t.constraints:
            se = t.constraint_stderr[i] if t.constraint_stderr else None
            rows.append(
                html.Tr(
                    [html.Th(constraint_column(c)), html.Td(round_to_error(float(t.constraints[i]), se).text)]
                )
            )
    prm = []
    for p in snap.space:
        v = t.params.get(p.name, t.choices.get(p.name))
        prm.append(
            html.Tr(
                [html.Th(param_column(p)), html.Td(_fmt_value(v) if v is not None else "—", className="num")]
            )
        )
    facts = [
        f"state {t.state.value}",
        f"source {t.source}",
        f"weights ({', '.join(f'{w:.3g}' for w in t.weights)})",
        f"{t.n_calls} calls, {t.n_backward} backward",
        f"{t.n_steps} steps",
    ]
    if t.wall_time_s is not None:
        facts.append(f"{t.wall_time_s:.3g} s")
    if t.stop_reason is not None:  # why its inner loop stopped (None: no loop, or not recorded)
        facts.append("inner loop converged" if t.converged else f"inner loop stopped: {t.stop_reason}")
    if not t.feasible:
        facts.append("infeasible")
    details: list[Any] = [
        html.H3(f"Trial {t.number}", id="trial-title"),
        html.P(" · ".join(facts), className="muted"),
        html.Table(html.Tbody(rows), className="kv", id="trial-objectives"),
        html.Details(
            [html.Summary(f"parameters ({len(prm)})"), html.Table(html.Tbody(prm), className="kv")],
            open=len(prm) <= 12,
        ),
    ]
    if t.error:
        details.append(html.Pre(t.error.splitlines()[0], className="error"))
    details.extend(blocks_section(snap, t.id))  # a pipeline's blocks (paretoopt.blocks), if any
    fig = figures.trajectory(snap, t.number)
    if fig is not None:
        right: Any = dcc.Graph(figure=fig, id="trajectory", config={"displaylogo": False})
    else:
        right = html.P("No inner-loop trajectory stored for this trial.", className="muted")
    return html.Div(
        [html.Div(details, className="trial-facts"), html.Div(right, className="trial-trajectory")],
        id="trial-details",
        className="row",
    )


def whatif_panel(snap: Snapshot, number: int | None, allow_simulate: bool) -> html.Div:
    """A control for every parameter and choice (prefilled from the selected trial), the
    surrogate's readout and, with ``--allow-simulate``, the simulate button."""
    t = snap.by_number.get(number) if number is not None else None
    design = design_of_trial(snap.space, t.params if t else {}, t.choices if t else {})
    controls = []
    for p in snap.space:
        label = param_column(p) + (" (log scale)" if isinstance(p, Real) and p.log else "")
        controls.append(
            html.Div(
                [
                    html.Label(label, className="control-label"),
                    design_control(p, control_value(p, design[p.name])),
                ],
                className="control",
            )
        )
    children: list[Any] = [
        html.H3("What if…"),
        html.P(
            "Move a control: the surrogate's prediction (± 1σ) appears on the front as a green diamond.",
            className="muted",
        ),
        html.Div(id="whatif-readout", className="readout", children="prediction: move a control"),
        html.Div(controls, className="controls", id="whatif-controls"),
    ]
    if allow_simulate:
        children.append(
            html.Div(
                [
                    dcc.RadioItems(
                        options=[{"label": v, "value": k} for k, v in MODES.items()],
                        value="evaluate",
                        id="sim-mode",
                        className="radio",
                    ),
                    html.Button("Simulate this design", id="simulate", className="button primary"),
                    html.Button(
                        "Cancel", id="simulate-cancel", className="button", style={"display": "none"}
                    ),
                    html.Div(
                        [html.Progress(id="sim-progress-bar"), html.Span(id="sim-progress-text")],
                        id="sim-progress",
                        style={"display": "none"},
                    ),
                    html.Div(id="sim-status", className="status"),
                ],
                className="simulate",
            )
        )
    else:
        children.append(
            html.P(
                "Read-only: start the dashboard with --allow-simulate to run the real simulation "
                "on a design.",
                className="muted small",
            )
        )
    return html.Div(children, id="whatif-panel")


def _color_options(snap: Snapshot) -> list[dict[str, str]]:
    opts = [{"label": "(none)", "value": ""}]
    ordered: list[Real | Integer | Choice] = [p for p in snap.space if isinstance(p, Choice)]
    ordered += [p for p in snap.space if isinstance(p, Integer)]
    ordered += [p for p in snap.space if isinstance(p, Real) and not p.differentiable]
    ordered += [p for p in snap.space if isinstance(p, Real) and p.differentiable]
    for p in ordered:
        opts.append({"label": param_column(p), "value": p.name})
    return opts


def front_controls(snap: Snapshot) -> html.Div:
    """The front's option bar: x, y and z objectives, 2-D / 3-D view, colour and error bars."""
    names = [o.name for o in snap.objectives]
    obj_options = [{"label": objective_column(o), "value": o.name} for o in snap.objectives]
    three = len(names) >= 3
    return html.Div(
        [
            html.Div(
                [html.Label("x"), dcc.Dropdown(obj_options, names[0], id="x-axis", clearable=False)],
                className="ctl",
            ),
            html.Div(
                [
                    html.Label("y"),
                    dcc.Dropdown(obj_options, names[min(1, len(names) - 1)], id="y-axis", clearable=False),
                ],
                className="ctl",
            ),
            html.Div(
                [
                    html.Label("z"),
                    dcc.Dropdown(
                        obj_options,
                        names[2] if three else None,
                        id="z-axis",
                        clearable=False,
                        disabled=not three,
                    ),
                ],
                className="ctl",
            ),
            html.Div(
                [
                    html.Label("view"),
                    dcc.RadioItems(
                        [
                            {"label": "2-D", "value": "2d"},
                            {"label": "3-D", "value": "3d", "disabled": not three},
                        ],
                        "2d",
                        id="view",
                        inline=True,
                        className="radio",
                    ),
                ],
                className="ctl",
            ),
            html.Div(
                [
                    html.Label("colour by"),
                    dcc.Dropdown(_color_options(snap), "", id="color-by", clearable=False),
                ],
                className="ctl wide",
            ),
            html.Div(
                dcc.Checklist([{"label": "error bars", "value": "on"}], ["on"], id="error-bars", inline=True),
                className="ctl",
            ),
            html.Div(  # every evaluated design (docs/archive.md): grey = not review-grade
                dcc.Checklist(
                    [{"label": "include archive", "value": "on"}], [], id="include-archive", inline=True
                ),
                className="ctl",
            ),
        ],
        className="front-controls",
    )


def export_buttons() -> html.Div:
    """One download button per format of :data:`EXPORTS`, and the download target."""
    return html.Div(
        [html.Span("Export the Pareto table:", className="muted")]
        + [html.Button(label, id=f"export-{fmt}", className="button") for fmt, (label, _) in EXPORTS.items()]
        + [dcc.Download(id="download")],
        className="exports",
    )


def study_page(snap: Snapshot, selected: int | None, *, allow_simulate: bool, poll_ms: int) -> html.Div:
    """A study: front (2-D / 3-D), selected trial, what-if panel, history, parallel coordinates,
    trial table and exports."""
    fig = figures.front(snap, selected=selected)
    controls = front_controls(snap)
    exports = export_buttons()
    tabs = dcc.Tabs(
        id="tabs",
        value="hv",
        children=[dcc.Tab(label=label, value=key) for key, label in TABS.items()],
        className="tabs",
    )
    return html.Div(
        [
            dcc.Store(id="study-name", data=snap.name),
            dcc.Store(id="version", data=snap.version),
            dcc.Store(id="selected", data=selected),
            dcc.Store(id="whatif-pred", data=None),
            dcc.Store(id="sim-done", data=None),
            dcc.Interval(id="poll", interval=poll_ms),
            html.Div(
                [
                    dcc.Link("← all studies", href="/", className="back"),
                    html.H2(snap.name, id="study-title"),
                    html.P(snap.study.record.description or "", className="muted"),
                    html.Div(summary_line(snap), id="study-summary", className="summary"),
                    dcc.Link(
                        "Decide on this front →", href=study_href(snap.name) + "/decide", id="decide-link"
                    ),
                    exports,
                ],
                className="study-head",
            ),
            html.Div(
                [
                    html.Section(
                        [
                            controls,
                            dcc.Graph(
                                id="front",
                                figure=fig,
                                config={"displaylogo": False, "scrollZoom": True},
                                className="front-graph",
                            ),
                        ],
                        className="card main",
                    ),
                    html.Section(whatif_panel(snap, selected, allow_simulate), className="card side"),
                ],
                className="row",
            ),
            html.Section(html.Div(trial_panel(snap, selected), id="trial-panel"), className="card"),
            html.Section([tabs, dcc.Loading(html.Div(id="tab-content"), type="dot")], className="card"),
        ],
        id="study-page",
    )


def grid(snap: Snapshot) -> dag.AgGrid:
    """All trials in AG Grid with the infinite row model: the server sorts, filters and sends
    100 rows at a time (``grid_rows`` in :mod:`dashboard.callbacks.tabs`), so 10,000 trials cost
    the browser what 100 do. Headers carry units (:mod:`paretoopt.report.columns`)."""
    df = snap.trials_frame()
    # objectives (and their errors) right after the trial number: what a reviewer sorts by
    first = ["number", "state", "source"]
    measured = [c for o in snap.objectives for c in (objective_column(o), stderr_column(o))]
    ordered = [c for c in first + measured if c in df.columns]
    ordered += [c for c in df.columns if c not in ordered]
    defs = []
    for c in ordered:
        numeric = df[c].dtype.kind in "iuf"
        col: dict[str, Any] = {
            "field": c,
            "headerName": c,
            "sortable": True,
            "filter": "agNumberColumnFilter" if numeric else "agTextColumnFilter",
            "filterParams": {"buttons": ["reset"], "maxNumConditions": 2},
        }
        if numeric and df[c].dtype.kind == "f":
            col["valueFormatter"] = {
                "function": "params.value == null ? '' : d3.format('.5~g')(params.value)"
            }
        if c == "number":
            col["pinned"] = "left"
            col["width"] = 100
        defs.append(col)
    return dag.AgGrid(
        id="grid",
        columnDefs=defs,
        rowModelType="infinite",
        getRowId="params.data.number",
        defaultColDef={"resizable": True, "minWidth": 90},
        dashGridOptions={
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "cacheBlockSize": 100,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": min(len(df), 100),
        },
        style={"height": "460px"},
    )
