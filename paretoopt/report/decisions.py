"""The decision trail of a study (issue #22) as a review table: each logged step of the decision
log (:meth:`paretoopt.storage.BaseStorage.get_decisions`) with its question in words, the design
it chose, the ties and neighbours it named, who asked and when. The HTML report shows it as a
section and the XLSX workbook as a sheet, so a review can replay how a design was chosen."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from paretoopt.storage import StoredDecision

#: The trail's columns, in order.
TRAIL_COLUMNS = [
    "step",
    "parent",
    "method",
    "question",
    "chosen trial",
    "ties",
    "neighbours",
    "author",
    "time (UTC)",
]


def _num(x: Any) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _bound(name: str, b: Any) -> str:
    if isinstance(b, list | tuple):
        lo, hi = b
        parts = [f"{_num(lo)} ≤" if lo is not None else "", name, f"≤ {_num(hi)}" if hi is not None else ""]
        return " ".join(p for p in parts if p)
    return f"{name} bound {_num(b)}"


def question(method: str, inputs: Mapping[str, Any]) -> str:
    """A step's inputs in words, e.g. ``"best resolution with cost bound 2000, depth bound 40"``."""
    if method == "budget":
        bounds = ", ".join(_bound(k, v) for k, v in dict(inputs.get("bounds", {})).items())
        return f"best {inputs.get('objective', '?')} with {bounds}"
    if method == "reference":
        asp = ", ".join(f"{k}={_num(v)}" for k, v in dict(inputs.get("aspiration", {})).items())
        return f"nearest the aspiration {asp}"
    if method == "navigate-step":
        return f"navigation step {inputs.get('step', '?')} ({inputs.get('iterations_left', '?')} left)"
    if method == "navigate":
        ref = ", ".join(f"{k}={_num(v)}" for k, v in dict(inputs.get("reference") or {}).items())
        text = f"E-NAUTILUS, {inputs.get('iterations', '?')} steps"
        return text + (f" towards {ref}" if ref else "")
    return json.dumps(dict(inputs), sort_keys=True)


def _numbers(xs: Any) -> str:
    return ", ".join(str(x) for x in xs) if xs else ""


def decision_trail(decisions: Sequence[StoredDecision]) -> pd.DataFrame:
    """The trail as a table (:data:`TRAIL_COLUMNS`), one row per logged step, in step order."""
    import pandas as pd

    rows = []
    for d in sorted(decisions, key=lambda d: d.step):
        out = d.outputs
        rows.append(
            {
                "step": d.step,
                "parent": "" if d.parent is None else d.parent,
                "method": d.method,
                "question": question(d.method, d.inputs),
                "chosen trial": out.get("trial", out.get("target", "")),
                "ties": _numbers(out.get("ties")),
                "neighbours": _numbers(out.get("neighbours")),
                "author": d.author or "",
                "time (UTC)": d.created_at.isoformat(sep=" ", timespec="seconds") if d.created_at else "",
            }
        )
    return pd.DataFrame(rows, columns=TRAIL_COLUMNS)
