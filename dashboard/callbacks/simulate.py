"""Simulation callbacks (``--allow-simulate`` only): run a what-if design for real, in the background.

"Simulate this design" runs as a Dash background callback with progress; the new trial is
selected when it is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dash import ALL, Input, Output, State, html, no_update

from dashboard.simulate import simulate_design
from dashboard.whatif import design_from_controls
from paretoopt.exceptions import StudyNotFoundError
from paretoopt.study import Study

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext


def run_simulation(
    c: DashboardContext,
    name: str,
    controls: dict[str, Any],
    mode: str | None,
    selected: int | None,
    progress: Callable[[str], None],
) -> tuple[Any, dict[str, Any]]:
    """Simulate the design of ``controls`` in study ``name``: the status line and the ``sim-done``
    data (the new trial's number and the time)."""
    st = c.writable_storage()
    rec = st.get_study(name)
    space = Study(st, rec).space
    design = design_from_controls(space, controls)
    outcome = simulate_design(
        st, name, design, mode=mode or "evaluate", base_number=selected, progress=progress
    )
    cls = "ok" if outcome.ok else "error"
    return html.Span(outcome.message, className=cls, id="sim-message"), {
        "number": outcome.number,
        "at": time.time(),
    }


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the background simulation and the selection of its trial."""

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
        controls = {i["name"]: v for i, v in zip(ids, values, strict=True)}
        return run_simulation(c, name, controls, mode, selected, lambda m: set_progress([m]))

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
