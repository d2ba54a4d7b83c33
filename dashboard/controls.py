"""What-if controls of log-scaled reals in physical units (issue #22, item 5).

A log-scaled real's slider moves in log10 (even steps per decade), but the number a reader types
or reads must be the physical value: 1.28 mm, not 0.108. Its slider therefore hides Dash's own
input box (which would show log10) and a number box in the parameter's unit sits beside it;
:func:`sync_log_control` keeps the two in step (one callback, both directions).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from dash import dcc, html

from paretoopt.space import Choice, Integer, Real

#: Dash >= 4 draws an input box showing a slider's own value (log10 here): hidden where it exists.
_NO_INPUT_BOX: dict[str, Any] = (
    {"allow_direct_input": False} if "allow_direct_input" in inspect.signature(dcc.Slider).parameters else {}
)


def log_real_control(p: Real, value: float) -> html.Div:
    """Slider (log10 position, no input box) plus a number box in ``p``'s unit."""
    lo, hi = math.log10(p.low), math.log10(p.high)
    unit = f" {p.unit}" if p.unit else ""
    slider = dcc.Slider(
        lo,
        hi,
        (hi - lo) / 1000.0,
        value=value,
        marks={lo: f"{p.low:g}{unit}", hi: f"{p.high:g}{unit}"},
        id={"type": "whatif", "name": p.name},
        updatemode="drag",
        **_NO_INPUT_BOX,
    )
    box = dcc.Input(
        type="number",
        value=physical(value),
        min=p.low,
        max=p.high,
        debounce=True,
        id={"type": "whatif-physical", "name": p.name},
        className="physical-input",
    )
    return html.Div([slider, html.Span([box, unit], className="physical")], className="log-control")


def physical(position: float) -> float:
    """The physical value at a log10 slider position, to 4 significant digits."""
    return float(f"{10.0 ** float(position):.4g}")


def sync_log_control(p: Real, triggered: str, position: Any, value: Any) -> tuple[Any, Any]:
    """``(slider position, box value)`` after the slider (``triggered == "slider"``) or the
    box moved; a box value outside the range is clamped, a non-number leaves both unchanged."""
    if triggered == "slider":
        return position, physical(position)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return position, physical(position)
    if not math.isfinite(v):
        return position, physical(position)
    v = min(max(v, p.low), p.high)
    return math.log10(v), v


def design_control(p: Real | Integer | Choice, value: Any) -> Any:
    """The what-if control of one parameter or choice: radio items or a dropdown for a choice,
    a slider for an integer or a linear real, a log10 slider with a box in physical units for a
    log-scaled real."""
    cid = {"type": "whatif", "name": p.name}
    if isinstance(p, Choice):
        options = [{"label": str(o), "value": i} for i, o in enumerate(p.options)]
        if len(options) <= 5:
            return dcc.RadioItems(options=options, value=value, id=cid, inline=True, className="radio")
        return dcc.Dropdown(options=options, value=value, id=cid, clearable=False)
    if isinstance(p, Integer):
        marks = (
            {v: str(v) for v in p.values} if len(p.values) <= 11 else {p.low: str(p.low), p.high: str(p.high)}
        )
        return dcc.Slider(p.low, p.high, 1, value=value, marks=marks, id=cid, updatemode="drag")
    if p.log:  # log10 slider with a number box in physical units (dashboard.controls)
        return log_real_control(p, value)
    lo, hi = p.low, p.high
    return dcc.Slider(
        lo,
        hi,
        (hi - lo) / 1000.0,
        value=value,
        marks={lo: f"{p.low:g}", hi: f"{p.high:g}"},
        id=cid,
        updatemode="drag",
    )
