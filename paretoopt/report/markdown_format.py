"""The Markdown export: the rounded review table and the study facts, markup escaped."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from paretoopt.report.rounding import Rounded
from paretoopt.report.table import ExportData, display_columns, metadata_rows, stamp, summary

_MD_SPECIAL = re.compile(r"([\\|`*<>])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def write_markdown(data: ExportData, path: Path, ts: datetime) -> None:
    """Write the Markdown report: title, summary, the review table, the study facts, the timestamp."""
    cols = display_columns(data)
    lines = [f"# Pareto front of study {_md(data.study_name)}", "", _md(summary(data)), ""]
    lines.append("| " + " | ".join(_md(c.header) for c in cols) + " |")
    lines.append("|" + "|".join("---:" if c.numeric else ":---" for c in cols) + "|")
    n = len(cols[0].cells) if cols else 0
    for i in range(n):
        cells = []
        for c in cols:
            x = c.cells[i]
            cells.append(_md(x.text if isinstance(x, Rounded) else x))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Study", ""]
    lines += ["| key | value |", "|:---|:---|"]
    lines += [f"| {_md(k)} | {_md(v)} |" for k, v in metadata_rows(data)]
    lines += ["", f"Exported {stamp(ts)} by paretoopt.", ""]
    path.write_text("\n".join(lines), encoding="utf-8", newline="")


__all__ = ["write_markdown"]
