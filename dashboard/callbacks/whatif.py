"""What-if callback: the surrogate's prediction for the controls' design.

The prediction (± 1σ) is patched onto the front as one overlay point and listed in the readout.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

import numpy as np
from dash import ALL, Input, Output, Patch, State, ctx, html, no_update

from dashboard import figures
from dashboard.controls import sync_log_control
from dashboard.data import Snapshot
from dashboard.whatif import design_from_controls, design_of_trial, predict
from paretoopt.report.columns import objective_column
from paretoopt.report.rounding import round_to_error

if TYPE_CHECKING:
    import dash

    from dashboard.context import DashboardContext

#: How long a what-if callback waits for a surrogate still being fitted before saying so.
SURROGATE_WAIT_S = 20.0


def is_selected_design(snap: Snapshot, number: int | None, design: dict[str, Any]) -> bool:
    """Whether ``design`` is the selected trial's own design (what a prefill sets)."""
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


def readout(snap: Snapshot, mean: np.ndarray, std: np.ndarray, elapsed_ms: float) -> list[Any]:
    """The readout's children: each objective's predicted value rounded to its error, and the time
    the server took."""
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


def overlay(axes: list[int], mean: np.ndarray | None, std: np.ndarray | None) -> Patch:
    """A patch of the front that draws the what-if point (or clears it when ``mean`` is None)."""
    patch = Patch()
    for key, value in figures.overlay_patch(axes, mean, std).items():
        patch["data"][figures.TRACE_WHATIF][key] = value
    return patch


def register(app: dash.Dash, c: DashboardContext) -> None:
    """Attach the what-if prediction and the physical-unit boxes of log-scaled reals."""

    @app.callback(
        Output({"type": "whatif", "name": ALL}, "value", allow_duplicate=True),
        Output({"type": "whatif-physical", "name": ALL}, "value"),
        Input({"type": "whatif", "name": ALL}, "value"),
        Input({"type": "whatif-physical", "name": ALL}, "value"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    def sync_physical(positions: list[Any], values: list[Any], name: str) -> Any:
        """Keep each log-scaled real's slider and its physical-unit box in step (a prefill
        moves several sliders at once: every triggered one is synced)."""
        sliders = [i["id"]["name"] for i in ctx.outputs_list[0]]
        boxes = [i["id"]["name"] for i in ctx.outputs_list[1]]
        out_s: list[Any] = [no_update] * len(sliders)
        out_b: list[Any] = [no_update] * len(boxes)
        snap = None
        for trig in ctx.triggered:
            try:
                cid = json.loads(trig["prop_id"].rsplit(".", 1)[0])
            except (ValueError, AttributeError):
                continue
            if not isinstance(cid, dict) or cid.get("name") not in boxes or cid["name"] not in sliders:
                continue
            snap = snap or c.cache.peek(name) or c.cache.get(name)
            i, k = sliders.index(cid["name"]), boxes.index(cid["name"])
            kind = "slider" if cid.get("type") == "whatif" else "box"
            pos, val = sync_log_control(snap.space[cid["name"]], kind, positions[i], values[k])
            if kind == "box":
                out_s[i] = pos
            if val != values[k]:
                out_b[k] = val
        return out_s, out_b

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
        if is_selected_design(snap, selected, design):
            # the controls were just prefilled from a trial: predict if a model is ready, but
            # leave starting a fit (seconds of CPU) to a real what-if
            predictor = c.surrogates.ready(name)
            if predictor is None:
                clear = overlay(figures.axes_of(snap, view or "2d", x, y, z), None, None)
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
        patch = overlay(figures.axes_of(snap, view or "2d", x, y, z), mean, std)
        elapsed = 1e3 * (time.perf_counter() - t0)
        pred = {
            "study": name,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "design": {k: (v if isinstance(v, int | float | str) else str(v)) for k, v in design.items()},
        }
        return patch, readout(snap, mean, std, elapsed), pred
