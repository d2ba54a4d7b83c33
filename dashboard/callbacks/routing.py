"""Routing callbacks: the URL picks the page; the study list fills in its hypervolumes.

Pages: the study list (``/``), a study page (``/study/NAME``) or a "not found" page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from dash import ALL, Input, Output, State

from dashboard import layout
from dashboard.data import Snapshot
from paretoopt.exceptions import ParetoOptError, StudyNotFoundError

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext


def parse_path(pathname: str | None) -> tuple[str, str | None]:
    """``("list", None)`` for ``/``, ``("study", name)`` for ``/study/<name>`` (percent-decoded),
    ``("decide", name)`` for ``/study/<name>/decide``, ``("unknown", path)`` for anything else."""
    path = pathname or "/"
    if path in ("/", ""):
        return "list", None
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "study" and parts[2]:
        return "study", unquote(parts[2])
    if len(parts) == 4 and parts[1] == "study" and parts[2] and parts[3] == "decide":
        return "decide", unquote(parts[2])
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


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the page router and the study list's hypervolume filler."""

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
            if kind == "decide":
                assert arg is not None
                from dashboard.decide_page import decide_page

                return decide_page(c.cache.get(arg, max_age_s=0.0), can_log=c.allow_simulate)
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
