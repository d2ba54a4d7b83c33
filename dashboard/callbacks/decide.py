"""Decide-page callbacks (issue #22): a budget slider, an aspiration or a navigation step answers
on the stored front (:mod:`paretoopt.decide`) and patches the page's overlay traces and bound
lines (``dash.Patch``); every answer is a step of the session's decision tree, which "Log the
last step" writes to the study's decision log (``--allow-simulate`` only: the dashboard is
otherwise read-only).

Nothing here evaluates user input as code: slider and input values are parsed as floats,
option buttons are indices into the options the server computed.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from dash import ALL, Input, Output, Patch, State, ctx, html, no_update

from dashboard import decide_page as page
from paretoopt import decide
from paretoopt.decide.navigate import NavigationStep, options, start
from paretoopt.exceptions import ParetoOptError
from paretoopt.report.decisions import question

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext

#: Options offered per navigation step.
NAV_POINTS = 3


def budget_bounds(front: decide.DecisionFront, objective: str, values: dict[str, Any]) -> dict[str, float]:
    """The bounds the sliders set: every objective but ``objective`` whose slider left its worst
    end (by more than a quarter of a slider step)."""
    bounds: dict[str, float] = {}
    for j, c in enumerate(front.criteria[: front.n_objectives]):
        v = values.get(c.name)
        if c.name == objective or v is None:
            continue
        v = float(v)
        lo, hi = float(np.min(front.values[:, j])), float(np.max(front.values[:, j]))
        worst = hi if c.sign > 0 else lo
        if math.isfinite(v) and abs(v - worst) > 0.25 * (hi - lo) / 200.0:
            bounds[c.name] = v
    return bounds


def _xy(front: decide.DecisionFront, numbers: Any) -> tuple[list[float], list[float]]:
    yi = min(1, front.n_objectives - 1)
    rows = [front.row(int(n)) for n in numbers]
    return [float(front.values[r, 0]) for r in rows], [float(front.values[r, yi]) for r in rows]


def answer_patch(
    front: decide.DecisionFront, decision: decide.Decision | None, shapes: list[dict[str, Any]]
) -> Patch:
    """A patch of the Decide figure: the chosen design, its ties and neighbours, and ``shapes``."""
    patch = Patch()
    groups = {
        page.TRACE_CHOSEN: [decision.trial] if decision else [],
        page.TRACE_TIES: list(decision.ties) if decision else [],
        page.TRACE_NEIGHBOURS: list(decision.neighbours) if decision else [],
    }
    for trace, numbers in groups.items():
        x, y = _xy(front, numbers)
        patch["data"][trace]["x"] = x
        patch["data"][trace]["y"] = y
        patch["data"][trace]["customdata"] = [int(n) for n in numbers]
    patch["layout"]["shapes"] = shapes
    return patch


def bound_shapes(front: decide.DecisionFront, bounds: dict[str, float]) -> list[dict[str, Any]]:
    """Dashed lines at the bounds on the plotted objectives."""
    names = front.objective_names
    yi = min(1, len(names) - 1)
    out = []
    for name, v in bounds.items():
        j = names.index(name)
        line = {"type": "line", "line": {"dash": "dash", "color": "#888"}}
        if j == 0:
            out.append({**line, "x0": v, "x1": v, "xref": "x", "y0": 0, "y1": 1, "yref": "paper"})
        elif j == yi:
            out.append({**line, "y0": v, "y1": v, "yref": "y", "x0": 0, "x1": 1, "xref": "paper"})
    return out


def answer_view(
    front: decide.DecisionFront, decision: decide.Decision, rates: Any, elapsed_ms: float
) -> list[Any]:
    """The answer as a table: chosen, ties, neighbours, each objective ± standard error; the
    chosen design's trade-off rate; the notes; the server time."""
    roles = (
        [("chosen", decision.trial)]
        + [("tie", n) for n in decision.ties]
        + [("neighbour", n) for n in decision.neighbours]
    )
    head = html.Tr(
        [html.Th(""), html.Th("trial")] + [html.Th(c.label) for c in front.criteria] + [html.Th("choices")]
    )
    rows = []
    for role, n in roles:
        d = front.design(front.row(n))
        cells = [html.Td(role), html.Td(str(n), className="num")]
        cells += [
            html.Td(f"{d.objectives[c.name]:.4g} ± {d.stderr[c.name]:.2g}", className="num")
            for c in front.criteria
        ]
        cells.append(html.Td(d.group))
        rows.append(html.Tr(cells, className=role))
    out: list[Any] = [
        html.P(
            [
                "answer: trial ",
                html.B(str(decision.trial), id="decide-chosen"),
                f" ({question(decision.method, decision.inputs)})",
            ]
        ),
        html.Table([html.Thead(head), html.Tbody(rows)], className="kv", id="decide-table"),
    ]
    if rates is not None:
        out.append(
            html.P("trade-off at the answer: " + rates.text(front.row(decision.trial)), id="decide-rate")
        )
    out += [html.P("note: " + n, className="muted small") for n in decision.notes]
    out.append(html.Span(f"{elapsed_ms:.1f} ms on the server", className="muted small", id="decide-ms"))
    return out


def logged_line(d: Any) -> str:
    """One stored decision-log step in words."""
    after = f" after {d.parent}" if d.parent else ""
    trial = d.outputs.get("trial", d.outputs.get("target", ""))
    return f"{d.step}{after}: {question(d.method, d.inputs)} → trial {trial} ({d.author or ''})"


def tree_view(nodes: list[dict[str, Any]], logged: list[Any]) -> list[Any]:
    """The session's steps nested by parent, then the steps already in the decision log."""

    def branch(parent: int | None) -> Any:
        kids = [n for n in nodes if n.get("parent") == parent]
        if not kids:
            return None
        return html.Ul(
            [html.Li([f"{n['id']}. {n['question']} → trial {n['trial']}", branch(n["id"])]) for n in kids]
        )

    out: list[Any] = [
        html.Div(branch(None) or html.P("no step yet", className="muted small"), id="decide-session-tree")
    ]
    if logged:
        out.append(html.P(f"decision log of the study ({len(logged)} steps):", className="muted small"))
        out.append(
            html.Ul(
                [html.Li(logged_line(d)) for d in logged],
                id="decide-logged",
            )
        )
    return out


def add_node(nodes: list[dict[str, Any]] | None, decision: decide.Decision) -> list[dict[str, Any]]:
    """``nodes`` with ``decision`` appended after the last step."""
    nodes = list(nodes or [])
    out = decision.to_json()
    out["score"], out["score_stderr"] = decision.score, decision.score_stderr
    inputs = out.pop("inputs")
    nodes.append(
        {
            "id": len(nodes) + 1,
            "parent": nodes[-1]["id"] if nodes else None,
            "method": decision.method,
            "question": question(decision.method, inputs),
            "trial": decision.trial,
            "inputs": inputs,
            "outputs": out,
        }
    )
    return nodes


def replay(
    front: decide.DecisionFront, iterations: int, picks: list[int]
) -> tuple[NavigationStep, list[NavigationStep], np.ndarray]:
    """The navigation after ``picks`` (option indices, one per step taken) and the options now."""
    step, g = start(front, iterations)
    for p in picks:
        opts = options(front, step, g, NAV_POINTS)
        step, g = opts[min(int(p), len(opts) - 1)]
    nxt = [o for o, _ in options(front, step, g, NAV_POINTS)] if step.iterations_left > 0 else []
    return step, nxt, g


def nav_view(front: decide.DecisionFront, step: NavigationStep, opts: list[NavigationStep]) -> list[Any]:
    """The navigation's current step: reachable range of every objective, then one button per option."""
    units = {c.name: f" {c.unit}" if c.unit else "" for c in front.criteria}
    ranges = html.Table(
        [html.Tr([html.Th("objective"), html.Th("reachable from"), html.Th("to")])]
        + [
            html.Tr(
                [
                    html.Td(n),
                    html.Td(f"{step.lower[n]:.4g}{units[n]}", className="num"),
                    html.Td(f"{step.upper[n]:.4g}{units[n]}", className="num"),
                ]
            )
            for n in front.objective_names
        ],
        className="kv",
        id="nav-ranges",
    )
    out: list[Any] = [
        html.P(
            f"step {step.step}, {step.iterations_left} left, {len(step.reachable)} designs reachable, "
            f"{step.progress:.0f} % of the way",
            id="nav-status",
        ),
        ranges,
    ]
    for i, o in enumerate(opts):
        text = ", ".join(f"{n} {o.lower[n]:.3g}–{o.upper[n]:.3g}" for n in front.objective_names)
        out.append(
            html.Button(
                f"towards trial {o.target}: {text}",
                id={"type": "nav-option", "index": i},
                className="button nav-option",
            )
        )
    return out


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the budget, aspiration, navigation and decision-log callbacks."""

    def snap_of(name: str) -> Any:
        return c.cache.peek(name) or c.cache.get(name)

    def logged(snap: Any) -> list[Any]:
        try:
            return c.storage.get_decisions(snap.study.record.id)
        except (NotImplementedError, ParetoOptError):
            return []

    def respond(
        snap: Any, decision: decide.Decision, shapes: list[dict[str, Any]], nodes: Any, t0: float
    ) -> Any:
        front = page.decision_front(snap)
        nodes = add_node(nodes, decision)
        view = answer_view(front, decision, page.rates(snap), 1e3 * (time.perf_counter() - t0))
        return answer_patch(front, decision, shapes), view, nodes, tree_view(nodes, logged(snap))

    outputs = [
        Output("decide-front", "figure", allow_duplicate=True),
        Output("decide-answer", "children", allow_duplicate=True),
        Output("decide-tree", "data", allow_duplicate=True),
        Output("decide-tree-view", "children", allow_duplicate=True),
    ]

    @app.callback(
        *outputs,
        Input({"type": "budget", "name": ALL}, "value"),
        Input("budget-objective", "value"),
        State("decide-study", "data"),
        State("decide-tree", "data"),
        prevent_initial_call=True,
    )
    def on_budget(_values: Any, objective: str, name: str, nodes: Any) -> Any:
        t0 = time.perf_counter()
        snap = snap_of(name)
        front = page.decision_front(snap)
        values = {i["id"]["name"]: i.get("value") for i in ctx.inputs_list[0]}
        bounds = budget_bounds(front, objective, values)
        if not bounds:
            msg = "move a slider off its worst end to set a bound"
            return answer_patch(front, None, []), msg, no_update, no_update
        try:
            decision = decide.budget(front, bounds, objective)
        except ParetoOptError as exc:
            return (
                answer_patch(front, None, bound_shapes(front, bounds)),
                html.P(str(exc), className="error", id="decide-error"),
                no_update,
                no_update,
            )
        return respond(snap, decision, bound_shapes(front, bounds), nodes, t0)

    @app.callback(
        *outputs,
        Input("reference-go", "n_clicks"),
        State({"type": "aspiration", "name": ALL}, "value"),
        State("decide-study", "data"),
        State("decide-tree", "data"),
        prevent_initial_call=True,
    )
    def on_reference(_n: Any, _values: Any, name: str, nodes: Any) -> Any:
        t0 = time.perf_counter()
        snap = snap_of(name)
        front = page.decision_front(snap)
        asp = {}
        for i in ctx.states_list[0]:
            try:
                v = float(i.get("value"))
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                asp[i["id"]["name"]] = v
        try:
            decision = decide.reference_point(front, asp)
        except ParetoOptError as exc:
            return no_update, html.P(str(exc), className="error", id="decide-error"), no_update, no_update
        yi = min(1, front.n_objectives - 1)
        names = front.objective_names
        shapes = []
        if names[0] in asp and names[yi] in asp:
            x, y = asp[names[0]], asp[names[yi]]
            shapes.append(
                {
                    "type": "circle",
                    "x0": x,
                    "x1": x,
                    "y0": y,
                    "y1": y,
                    "xref": "x",
                    "yref": "y",
                    "line": {"color": page.CHOSEN_COLOR, "width": 6},
                }
            )
        return respond(snap, decision, shapes, nodes, t0)

    @app.callback(
        Output("nav-panel", "children"),
        Output("decide-nav", "data"),
        Output("decide-front", "figure", allow_duplicate=True),
        Output("decide-answer", "children", allow_duplicate=True),
        Output("decide-tree", "data", allow_duplicate=True),
        Output("decide-tree-view", "children", allow_duplicate=True),
        Input("nav-start", "n_clicks"),
        Input({"type": "nav-option", "index": ALL}, "n_clicks"),
        State("nav-iterations", "value"),
        State("decide-nav", "data"),
        State("decide-study", "data"),
        State("decide-tree", "data"),
        prevent_initial_call=True,
    )
    def on_navigate(_start: Any, clicks: Any, iterations: Any, state: Any, name: str, nodes: Any) -> Any:
        t0 = time.perf_counter()
        trig = ctx.triggered_id
        if isinstance(trig, dict) and not any(clicks or []):
            return (no_update,) * 6  # option buttons were (re)drawn, not clicked
        snap = snap_of(name)
        front = page.decision_front(snap)
        if trig == "nav-start" or not state:
            try:
                h = max(1, min(20, int(iterations or 5)))
            except (TypeError, ValueError):
                h = 5
            state = {"iterations": h, "picks": []}
        else:
            state = {"iterations": int(state["iterations"]), "picks": [*state["picks"], int(trig["index"])]}
        try:
            step, opts, _ = replay(front, state["iterations"], state["picks"])
        except ParetoOptError as exc:
            return html.P(str(exc), className="error"), None, no_update, no_update, no_update, no_update
        names = front.objective_names
        yi = min(1, len(names) - 1)
        box = [
            {
                "type": "rect",
                "x0": step.lower[names[0]],
                "x1": step.upper[names[0]],
                "y0": step.lower[names[yi]],
                "y1": step.upper[names[yi]],
                "xref": "x",
                "yref": "y",
                "line": {"color": "#888", "dash": "dot"},
                "fillcolor": "rgba(31,119,180,0.06)",
            }
        ]
        if opts:
            patch = Patch()
            x, y = _xy(front, [o.target for o in opts])
            patch["data"][page.TRACE_NEIGHBOURS]["x"] = x
            patch["data"][page.TRACE_NEIGHBOURS]["y"] = y
            patch["data"][page.TRACE_CHOSEN]["x"] = []
            patch["data"][page.TRACE_CHOSEN]["y"] = []
            patch["data"][page.TRACE_TIES]["x"] = []
            patch["data"][page.TRACE_TIES]["y"] = []
            patch["layout"]["shapes"] = box
            return nav_view(front, step, opts), state, patch, no_update, no_update, no_update
        decision = decide.navigate(front, state["iterations"], NAV_POINTS, choose=state["picks"]).decision
        patch, view, nodes, tree = respond(snap, decision, box, nodes, t0)
        return nav_view(front, step, []), state, patch, view, nodes, tree

    @app.callback(
        Output("decide-log-status", "children"),
        Output("decide-tree-view", "children", allow_duplicate=True),
        Input("decide-log", "n_clicks"),
        State("decide-tree", "data"),
        State("decide-study", "data"),
        prevent_initial_call=True,
    )
    def on_log(_n: Any, nodes: Any, name: str) -> Any:
        if not nodes:
            return "no step to log yet", no_update
        try:
            storage = c.writable_storage()
        except PermissionError as exc:
            return str(exc), no_update
        snap = snap_of(name)
        last = nodes[-1]
        sid = snap.study.record.id
        prior = storage.get_decisions(sid)
        d = storage.add_decision(
            sid,
            method=last["method"],
            inputs=last["inputs"],
            outputs=last["outputs"],
            parent=prior[-1].step if prior else None,
            author=decide.default_author() + " (dashboard)",
        )
        return f"logged as step {d.step}", tree_view(nodes, storage.get_decisions(sid))
