"""The "Decide" page of a study (``/study/NAME/decide``, issue #22): the stored front with budget
sliders in the objectives' units, an aspiration editor, E-NAUTILUS navigation, trade-off rates on
hover, the answer (design, ties within one standard error, neighbours, errors) and the decision
tree.

Speed: everything is computed on the front (:func:`paretoopt.decide.front_of`, once per
snapshot), and an answer patches the small overlay traces (:data:`TRACE_CHOSEN`...,
``dash.Patch``) and the bound lines, never the front trace itself.

Archive points (issue #19): the archive front's points that are not review-grade (trajectory
points not yet re-evaluated by ``paretoopt refine``) are drawn grey and are never an answer.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from dashboard.data import Snapshot
from paretoopt import decide
from paretoopt.report.columns import objective_column

#: ``source`` values of archive points that are not review-grade until refined (issue #19).
UNREFINED_SOURCES = ("trajectory",)
TRACE_ARCHIVE, TRACE_FRONT, TRACE_NEIGHBOURS, TRACE_TIES, TRACE_CHOSEN = 0, 1, 2, 3, 4
CHOSEN_COLOR, TIE_COLOR, NEIGHBOUR_COLOR = "#d62728", "#ff7f0e", "#1f77b4"
#: Above this many front points the front trace is WebGL (see dashboard.figures).
WEBGL_THRESHOLD = 300


def decide_href(name: str) -> str:
    """The URL path of a study's Decide page."""
    return "/study/" + quote(name, safe="") + "/decide"


def decision_front(snap: Snapshot) -> decide.DecisionFront:
    """The snapshot's decision front (its stored Pareto designs), computed once."""
    return snap.memo("decision_front", lambda: decide.front_of(snap.study))


def rates(snap: Snapshot) -> decide.TradeoffRates | None:
    """Trade-off rates of objective 2 against objective 1 at each front design (``None`` for a
    single objective or an empty front)."""

    def build() -> decide.TradeoffRates | None:
        front = decision_front(snap)
        names = front.objective_names
        if len(names) < 2 or not len(front):
            return None
        return decide.tradeoff_rates(front, names[1], names[0])

    return snap.memo("decision_rates", build)


def unrefined_archive(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a front frame that are unrefined archive points (empty when the frame has no
    ``source`` column or none are)."""
    if "review_grade" in frame.columns:
        return frame[~frame["review_grade"].astype(bool)]
    if "source" not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame["source"].isin(UNREFINED_SOURCES)]


def archive_frame(snap: Snapshot) -> pd.DataFrame:
    """The study's front built from its archive (``pareto_front(include_archive=True)``), once
    per snapshot."""

    def build() -> pd.DataFrame:
        return snap.study.pareto_front(include_archive=True)

    return snap.memo("decision_archive", build)


def decide_figure(snap: Snapshot) -> go.Figure:
    """The front (first two objectives) with trade-off rates on hover, greyed archive points
    and three empty overlay traces (neighbours, ties, chosen) that the callbacks patch."""
    front = decision_front(snap)
    objs = snap.objectives
    xi, yi = 0, min(1, len(objs) - 1)
    xl, yl = objective_column(objs[xi]), objective_column(objs[yi])
    r = rates(snap)
    hover = []
    for i in range(len(front)):
        d = front.design(i)
        lines = [f"trial {d.trial}"]
        lines += [f"{c.label} = {d.objectives[c.name]:.4g} ± {d.stderr[c.name]:.2g}" for c in front.criteria]
        if d.group:
            lines.append(d.group)
        if r is not None:
            lines.append("trade-off: " + r.text(i))
        hover.append("<br>".join(lines))
    arch = unrefined_archive(archive_frame(snap))
    scatter = go.Scattergl if len(front) > WEBGL_THRESHOLD else go.Scatter
    fig = go.Figure(
        [
            go.Scatter(
                x=arch[xl].tolist() if xl in arch else [],
                y=arch[yl].tolist() if yl in arch else [],
                mode="markers",
                name="archive, not refined",
                marker={"color": "#c7c7c7", "size": 7, "symbol": "circle-open"},
                hoverinfo="skip",
            ),
            scatter(
                x=front.values[:, xi].tolist(),
                y=front.values[:, yi].tolist(),
                customdata=front.numbers.tolist(),
                mode="markers",
                name="front",
                marker={"color": "#6b7c93", "size": 7},
                text=hover,
                hovertemplate="%{text}<extra></extra>",
            ),
            go.Scatter(
                x=[],
                y=[],
                mode="markers",
                name="neighbours",
                marker={"color": NEIGHBOUR_COLOR, "size": 13, "symbol": "circle-open", "line": {"width": 2}},
            ),
            go.Scatter(
                x=[],
                y=[],
                mode="markers",
                name="ties (within 1σ)",
                marker={"color": TIE_COLOR, "size": 13, "symbol": "diamond"},
            ),
            go.Scatter(
                x=[],
                y=[],
                mode="markers",
                name="chosen",
                marker={"color": CHOSEN_COLOR, "size": 18, "symbol": "star"},
            ),
        ]
    )
    fig.update_layout(
        xaxis_title=xl,
        yaxis_title=yl,
        margin={"l": 60, "r": 10, "t": 10, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        uirevision="decide",
        height=480,
    )
    return fig


def _slider(front: decide.DecisionFront, j: int) -> Any:
    """A bound slider over the front's range of objective ``j`` in its unit; at the worst end
    (the start) it sets no bound."""
    c = front.criteria[j]
    lo, hi = float(np.min(front.values[:, j])), float(np.max(front.values[:, j]))
    if not hi > lo:
        hi = lo + (abs(lo) or 1.0) * 1e-6
    worst = hi if c.sign > 0 else lo
    unit = f" {c.unit}" if c.unit else ""
    return dcc.Slider(
        lo,
        hi,
        (hi - lo) / 200.0,
        value=worst,
        marks={lo: f"{lo:.4g}{unit}", hi: f"{hi:.4g}{unit}"},
        id={"type": "budget", "name": c.name},
        updatemode="mouseup",
        tooltip={"placement": "bottom"},
    )


def decide_page(snap: Snapshot, *, can_log: bool) -> html.Div:
    """The Decide page of ``snap``'s study."""
    front = decision_front(snap)
    names = front.objective_names
    ideal, nadir = front.ideal_nadir() if len(front) else (np.zeros(len(names)), np.zeros(len(names)))
    budget_rows = []
    for j, c in enumerate(front.criteria[: front.n_objectives]):
        side = "≤" if c.sign > 0 else "≥"
        budget_rows.append(
            html.Div(
                [
                    html.Label(f"{c.label} {side}", className="control-label"),
                    _slider(front, j) if len(front) else None,
                ],
                className="control",
            )
        )
    aspiration = []
    for j, c in enumerate(front.criteria[: front.n_objectives]):
        mid = float((ideal[j] + nadir[j]) / 2 * c.sign) if len(front) else 0.0
        aspiration.append(
            html.Div(
                [
                    html.Label(c.label, className="control-label"),
                    dcc.Input(
                        type="number",
                        value=float(f"{mid:.4g}") if math.isfinite(mid) else 0.0,
                        id={"type": "aspiration", "name": c.name},
                        debounce=True,
                    ),
                ],
                className="control",
            )
        )
    n_arch = len(unrefined_archive(archive_frame(snap)))
    arch_note = (
        f" {n_arch} archive point(s) not yet refined are drawn grey; they are never an answer."
        if n_arch
        else ""
    )
    return html.Div(
        [
            dcc.Store(id="decide-study", data=snap.name),
            dcc.Store(id="decide-tree", data=[]),
            dcc.Store(id="decide-nav", data=None),
            html.Div(
                [
                    html.A("← study page", href="/study/" + quote(snap.name, safe=""), className="back"),
                    html.H2(f"Decide: {snap.name}", id="decide-title"),
                    html.P(
                        f"{len(front)} designs on the stored front (dominated trials and local optima "
                        "left out). Designs within one standard error of the answer are ties, not ranked."
                        + arch_note,
                        className="muted",
                    ),
                ],
                className="study-head",
            ),
            html.Div(
                [
                    html.Section(
                        [
                            dcc.Graph(
                                id="decide-front", figure=decide_figure(snap), config={"displaylogo": False}
                            ),
                            html.Div(
                                id="decide-answer",
                                className="readout",
                                children="Move a budget slider, project an aspiration or start a navigation.",
                            ),
                        ],
                        className="card main",
                    ),
                    html.Section(
                        [
                            html.H3("Budget"),
                            html.Div(
                                [
                                    html.Label("optimise", className="control-label"),
                                    dcc.Dropdown(
                                        [
                                            {"label": objective_column(o), "value": o.name}
                                            for o in snap.objectives
                                        ],
                                        names[0] if names else None,
                                        id="budget-objective",
                                        clearable=False,
                                    ),
                                ],
                                className="control",
                            ),
                            html.Div(budget_rows, className="controls", id="budget-controls"),
                            html.H3("Aspiration"),
                            html.Div(aspiration, className="controls", id="aspiration-controls"),
                            html.Button(
                                "Project onto the front", id="reference-go", className="button primary"
                            ),
                            html.H3("Navigation (E-NAUTILUS)"),
                            html.Div(
                                [
                                    html.Label("steps", className="control-label"),
                                    dcc.Input(
                                        type="number", value=5, min=1, max=20, step=1, id="nav-iterations"
                                    ),
                                    html.Button("Start from the nadir", id="nav-start", className="button"),
                                ],
                                className="control",
                            ),
                            html.Div(id="nav-panel"),
                            html.H3("Decision tree"),
                            html.Button(
                                "Log the last step",
                                id="decide-log",
                                className="button",
                                style={} if can_log else {"display": "none"},
                            ),
                            html.Div(id="decide-log-status", className="muted small"),
                            html.Div(id="decide-tree-view"),
                        ],
                        className="card side",
                    ),
                ],
                className="row",
            ),
        ],
        id="decide-page",
    )
