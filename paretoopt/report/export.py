"""``export_front``: write a study's review table as CSV, Markdown, LaTeX, XLSX or HTML."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from paretoopt.report.csv_format import write_csv
from paretoopt.report.html_format import write_html
from paretoopt.report.latex_format import write_latex
from paretoopt.report.markdown_format import write_markdown
from paretoopt.report.table import ExportData
from paretoopt.report.xlsx_format import write_xlsx

FORMATS: tuple[str, ...] = ("csv", "md", "latex", "xlsx", "html")
_ALIASES = {"markdown": "md", "tex": "latex", "htm": "html", "excel": "xlsx"}


def _utc(ts: datetime | None) -> datetime:
    """``ts``, else ``$SOURCE_DATE_EPOCH`` (reproducible builds), else now; in UTC, whole seconds."""
    if ts is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        ts = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(microsecond=0)


def export_front(
    data: ExportData, fmt: str, path: str | Path, *, exported_at: datetime | None = None
) -> Path:
    """Write the Pareto table of ``data`` to ``path`` as ``fmt`` (csv, md, latex, xlsx or html;
    also markdown, tex, htm, excel). Returns the path written.

    Every format shows the same table: one row per Pareto-optimal design, sorted by the first
    objective (best first), every design parameter, objective and constraint, units in the
    headers, ``(min)`` / ``(max)`` after each objective's header, the knee point flagged.
    Markdown, LaTeX and HTML print ``mean ± standard error`` by the PDG rounding
    (:mod:`paretoopt.report.rounding`); the CSV keeps every number exactly as stored, the XLSX
    keeps numbers as numbers with the rounding only as a display format. Formula-like text is
    neutralised in CSV and XLSX; markup is escaped in Markdown, LaTeX and HTML.

    ``exported_at`` (UTC) is the one timestamp written (default ``$SOURCE_DATE_EPOCH`` or now):
    two exports of the same data with the same timestamp are byte-identical (the CSV has none).
    """
    kind = _ALIASES.get(fmt.lower(), fmt.lower())
    if kind not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not data.objectives:
        raise ValueError("an export needs at least one objective")
    out = Path(path)
    ts = _utc(exported_at)
    if kind == "csv":
        write_csv(data, out)
    elif kind == "md":
        write_markdown(data, out, ts)
    elif kind == "latex":
        write_latex(data, out, ts)
    elif kind == "xlsx":
        write_xlsx(data, out, ts)
    else:
        write_html(data, out, ts)
    return out


__all__ = ["FORMATS", "export_front"]
