"""Export callback: a study page's buttons download its Pareto front in the chosen format.

The file is written by :func:`paretoopt.report.export.export_front` into a temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dash import Input, Output, State, ctx, dcc, no_update

from dashboard import layout
from paretoopt.report.export import export_front

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext


def safe_filename(name: str) -> str:
    """``name`` with every character but letters, digits and ``-_.`` replaced by ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the front download (one button per format of :data:`dashboard.layout.EXPORTS`)."""

    @app.callback(
        Output("download", "data"),
        *(Input(f"export-{fmt}", "n_clicks") for fmt in layout.EXPORTS),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def export(*args: Any) -> Any:
        name = args[-1]
        trigger = ctx.triggered_id or ""
        fmt = str(trigger).removeprefix("export-")
        if fmt not in layout.EXPORTS:
            return no_update
        snap = c.cache.get(name)
        if not snap.completed_count():
            return no_update
        ext = layout.EXPORTS[fmt][1]
        with tempfile.TemporaryDirectory(prefix="paretoopt-dash-") as tmp:
            path = Path(tmp) / f"{safe_filename(name)}-front.{ext}"
            export_front(snap.export_data(), fmt, path)
            return dcc.send_bytes(path.read_bytes(), path.name)
