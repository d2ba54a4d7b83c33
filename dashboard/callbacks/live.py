"""Live-update callbacks of a study page: version poll, front redraw, summary refresh.

The page polls the database's version; the front is redrawn when the version or the plot options
change, and the summary line when the version does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import Input, Output, State, no_update

from dashboard import figures, layout
from paretoopt.exceptions import ParetoOptError

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the version poll, the front redraw and the summary refresh."""

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
        Input("include-archive", "value"),
        Input("version", "data"),
        State("selected", "data"),
        State("whatif-pred", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def redraw_front(
        x, y, z, view, color_by, error_bars, archive, _version, selected, prediction, name
    ) -> Any:
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
            archive=bool(archive),
        )

    @app.callback(
        Output("study-summary", "children"),
        Input("version", "data"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def refresh_summary(_version: str, name: str) -> Any:
        return layout.summary_line(c.cache.get(name))
