"""Selection callbacks: a click on the front or on a table row selects a trial.

Selecting opens the trial's panel, moves the selection ring on the front (a ``dash.Patch``) and
prefills the what-if controls with the trial's design.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import ALL, Input, Output, Patch, State, ctx, no_update

from dashboard import figures, layout
from dashboard.whatif import control_value, design_of_trial

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext


def clicked_number(click: dict[str, Any] | None) -> int | None:
    """The trial number of the first clicked point that carries one (``customdata``), else None."""
    for p in (click or {}).get("points", []):
        number = p.get("customdata")
        if isinstance(number, list):
            number = number[0] if number else None
        if isinstance(number, int | float):
            return int(number)
    return None


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the click handlers, the trial panel, the selection ring and the control prefill."""

    @app.callback(
        Output("selected", "data"),
        Input("front", "clickData"),
        prevent_initial_call=True,
    )
    def click_point(click: dict[str, Any] | None) -> Any:
        number = clicked_number(click)
        return no_update if number is None else number

    @app.callback(
        Output("selected", "data", allow_duplicate=True),
        Input("grid", "cellClicked"),
        prevent_initial_call=True,
    )
    def click_row(cell: dict[str, Any] | None) -> Any:
        try:
            return int((cell or {}).get("rowId"))  # type: ignore[arg-type]  # None: TypeError, caught
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
        snap = c.cache.get(name)
        t = snap.by_number.get(number) if number is not None else None
        if t is None:
            return [no_update for _ in ctx.outputs_list]
        design = design_of_trial(snap.space, t.params, t.choices)
        return [control_value(snap.space[o["id"]["name"]], design[o["id"]["name"]]) for o in ctx.outputs_list]
