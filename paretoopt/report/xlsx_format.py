"""The XLSX export: full-precision numbers, PDG rounding as display formats, text never a formula."""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paretoopt.report.columns import constraint_column, objective_column, stderr_column
from paretoopt.report.rounding import pdg_error_digits, round_to_error
from paretoopt.report.table import (
    ExportData,
    float_or_none,
    is_missing,
    meta_text,
    metadata_rows,
    review_order,
    sort_front,
    stamp,
    tagged_headers,
)

if TYPE_CHECKING:
    import pandas as pd


def _xlsx_formats(value: float, stderr: float | None) -> tuple[str, str | None]:
    """Excel number formats that display ``value`` and ``stderr`` as :func:`round_to_error`
    rounds them (the cells keep full precision): ``("0.000", "0.000")``, ``("0.00E+00", "0.0E+00")``."""
    r = round_to_error(value, stderr)
    if r.value in ("nan", "inf", "-inf"):
        return "General", None

    def fixed(mantissa: str) -> str:
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return "0." + "0" * decimals if decimals else "0"

    if r.exponent == 0:
        return fixed(r.value), (fixed(r.error) if r.error is not None else None)
    err_fmt = None
    if r.error is not None:
        err, last = pdg_error_digits(float(stderr))  # type: ignore[arg-type]
        digits = err.adjusted() - last + 1  # significant digits kept: 1 or 2
        err_fmt = fixed("0." + "0" * (digits - 1)) + "E+00" if digits > 1 else "0E+00"
    return fixed(r.value) + "E+00", err_fmt


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold: fixed, so bytes repeat


def _cell_value(v: Any) -> Any:
    """A pandas/numpy value as openpyxl takes it: NaN and inf as empty, numpy scalars as Python."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        try:
            v = v.item()
        except (AttributeError, ValueError):
            pass
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bool | int | float | str):
        return v
    if is_missing(v):
        return None
    return meta_text(v)


def _put(ws: Any, row: int, column: int, value: Any) -> Any:
    cell = ws.cell(row=row, column=column)
    value = _cell_value(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # text is text: never a formula, whatever it starts with
    return cell


def _sheet_from_frame(ws: Any, df: pd.DataFrame, headers: Sequence[str]) -> None:
    from openpyxl.styles import Font

    bold = Font(bold=True)
    for j, h in enumerate(headers, start=1):
        _put(ws, 1, j, h).font = bold
    for i, row in enumerate(df.itertuples(index=False, name=None), start=2):
        for j, v in enumerate(row, start=1):
            _put(ws, i, j, v)
    ws.freeze_panes = "A2"
    for j, h in enumerate(headers, start=1):  # column widths from the header and the first rows
        width = max([len(str(h)), *(len(str(x)) for x in df.iloc[:200, j - 1])])
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(max(8, width + 2), 60)


def _deterministic_zip(raw: bytes, ts: datetime) -> bytes:
    """Rewrite an xlsx with fixed zip entry times and the workbook's modified time set to
    ``ts`` (openpyxl stamps the current time on save)."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    when = stamp(ts).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + when + rb"\g<2>",
                    body,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def write_xlsx(data: ExportData, path: Path, ts: datetime) -> None:
    """Write the workbook: the front (full precision, PDG display formats), every trial, the study."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    wb.properties.creator = "paretoopt"
    wb.properties.title = f"Pareto front of study {data.study_name}"
    naive = ts.replace(tzinfo=None)
    wb.properties.created = naive
    wb.properties.modified = naive

    # sheet 1: the front, full-precision numbers with PDG display formats
    ws = wb.active
    ws.title = "Pareto front"
    front = sort_front(data)
    raw = front[review_order(data, front)]
    _sheet_from_frame(ws, raw, tagged_headers(data, list(raw.columns)))
    header_index = {h: j for j, h in enumerate(raw.columns, start=1)}
    pairs = [(objective_column(o), stderr_column(o)) for o in data.objectives]
    pairs += [(constraint_column(c), stderr_column(c)) for c in data.constraints]
    for mean_col, se_col in pairs:
        jm, js = header_index.get(mean_col), header_index.get(se_col)
        if jm is None:
            continue
        for i in range(len(raw)):
            m = float_or_none(raw.iloc[i, jm - 1])
            e = float_or_none(raw.iloc[i, js - 1]) if js is not None else None
            if m is None:
                continue
            mean_fmt, err_fmt = _xlsx_formats(m, e)
            ws.cell(row=i + 2, column=jm).number_format = mean_fmt
            if js is not None and err_fmt is not None:
                ws.cell(row=i + 2, column=js).number_format = err_fmt
    if "knee" in header_index:
        fill = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
        for i, knee in enumerate(raw["knee"], start=2):
            if bool(knee):
                for j in range(1, len(raw.columns) + 1):
                    ws.cell(row=i, column=j).fill = fill

    # sheet 2: every trial
    wt = wb.create_sheet("Trials")
    trials = (
        data.trials.sort_values("number", kind="mergesort")
        if "number" in data.trials.columns
        else data.trials
    )
    _sheet_from_frame(wt, trials, tagged_headers(data, list(trials.columns)))

    # sheet 3: study metadata, the definition hash and source
    wm = wb.create_sheet("Study")
    bold = Font(bold=True)
    _put(wm, 1, 1, "key").font = bold
    _put(wm, 1, 2, "value").font = bold
    rows = [*metadata_rows(data), ("exported", stamp(ts))]
    for i, (k, v) in enumerate(rows, start=2):
        _put(wm, i, 1, k)
        _put(wm, i, 2, v)
    r = len(rows) + 3
    if data.definition_source:
        _put(wm, r, 1, "definition source").font = bold
        for i, line in enumerate(data.definition_source.splitlines(), start=r + 1):
            _put(wm, i, 1, f"{i - r}")
            _put(wm, i, 2, line)
    wm.column_dimensions["A"].width = 28
    wm.column_dimensions["B"].width = 100

    # sheet 4: the decision trail (issue #22), when a decision was logged
    if data.decisions:
        from paretoopt.report.decisions import decision_trail

        trail = decision_trail(data.decisions)
        _sheet_from_frame(wb.create_sheet("Decision trail"), trail, list(trail.columns))

    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_deterministic_zip(buf.getvalue(), ts))


__all__ = ["write_xlsx"]
