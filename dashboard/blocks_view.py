"""The trial view's block chain: each block of the trial's pipeline with its validation status
and, for learned blocks, the training curve (from the artefacts stored with the trial)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.data import Snapshot


def _status(meta: dict[str, Any]) -> tuple[str, str]:
    v = meta.get("validation") or {}
    total, passed = int(v.get("total", 0)), int(v.get("passed", 0))
    if total == 0:
        return "no checks", "muted"
    if passed == total:
        return f"valid: {passed}/{total} checks pass", "ok"
    return f"FAILS {total - passed}/{total}: {', '.join(v.get('failed', []))}", "error"


def training_curve(block: str, curve: list[float]) -> go.Figure:
    """Training loss per step of a learned block (log scale)."""
    fig = go.Figure(go.Scatter(x=list(range(1, len(curve) + 1)), y=curve, mode="lines", name=block))
    fig.update_layout(
        title=f"{block}: training curve (last training, the trial's final evaluation)",
        xaxis_title="step",
        yaxis_title="training loss",
        yaxis_type="log",
        height=300,
        margin={"l": 50, "r": 10, "t": 50, "b": 40},
    )
    return fig


def blocks_section(snap: Snapshot, trial_id: int) -> list[Any]:
    """The chain ``detector -> ... -> figure of merit`` as a table (block, kind, learned /
    frozen, validation status) and one training-curve graph per learned block; ``[]`` when the
    trial stored no blocks."""
    arts = snap.view.get_trial_artefacts(trial_id)
    if not arts:
        return []
    rows = []
    graphs: list[Any] = []
    for a in arts:
        text, cls = _status(a.meta)
        role = "learned" if a.meta.get("learned") else "physics / fixed"
        if a.meta.get("frozen"):
            role += ", frozen"
        rows.append(
            html.Tr(
                [
                    html.Th(a.block),
                    html.Td(a.kind),
                    html.Td(role),
                    html.Td(text, className=cls, id={"type": "block-status", "block": a.block}),
                ]
            )
        )
        if a.curve:
            graphs.append(
                dcc.Graph(
                    figure=training_curve(a.block, a.curve),
                    id={"type": "training-curve", "block": a.block},
                    config={"displaylogo": False},
                )
            )
    chain = " → ".join(a.block for a in arts)
    return [
        html.H4("Blocks", id="trial-blocks-title"),
        html.P(chain, className="muted", id="trial-block-chain"),
        html.Table(html.Tbody(rows), className="kv", id="trial-blocks"),
        *graphs,
    ]
