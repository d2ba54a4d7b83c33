"""The dashboard's callbacks, one module per page area; :func:`register` attaches them all.

Keeping the page fast: the front figure is built once per study version and options
(:mod:`dashboard.figures`); selecting a trial or moving a what-if control patches one small
overlay trace (``dash.Patch``) instead of resending the figure; the trial table asks the
server for 100 sorted, filtered rows at a time. No callback evaluates user input as code:
the study name in the URL is a lookup key, control values are parsed as numbers or option
indices and clamped into the design space, and table filters are applied by a fixed set of
pandas comparisons.

Modules, in the order they are registered: :mod:`~dashboard.callbacks.routing` (URL -> page,
study list), :mod:`~dashboard.callbacks.live` (polling, front redraw, summary),
:mod:`~dashboard.callbacks.selection` (clicks, trial panel, selection ring, control prefill),
:mod:`~dashboard.callbacks.whatif` (surrogate predictions), :mod:`~dashboard.callbacks.tabs`
(hypervolume, parallel coordinates, the server-side trial table),
:mod:`~dashboard.callbacks.export` (front downloads), :mod:`~dashboard.callbacks.decide` (the
Decide page: budget, aspiration, navigation, decision tree) and, with ``--allow-simulate`` only,
:mod:`~dashboard.callbacks.simulate` (background simulation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashboard.callbacks import decide, export, live, routing, selection, simulate, tabs, whatif

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach every callback to ``app`` (the simulation ones only with ``c.allow_simulate``)."""
    routing.register(app, c)
    live.register(app, c)
    selection.register(app, c)
    whatif.register(app, c)
    tabs.register(app, c)
    export.register(app, c)
    decide.register(app, c)
    if c.allow_simulate:
        simulate.register(app, c)
