"""The CSV export and its reader: every front column at full precision, formula-like text escaped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from paretoopt.report.table import (
    ExportData,
    escape_formula,
    is_text_column,
    review_order,
    sort_front,
    tagged_headers,
    unescape_formula,
)

if TYPE_CHECKING:
    import pandas as pd

_TAG = re.compile(r"\s\((min|max)\)$")


def csv_frame(data: ExportData) -> pd.DataFrame:
    """Every column of the front in review order, objective headers tagged, text cells escaped."""
    front = sort_front(data)
    out = front[review_order(data, front)].copy()
    for col in out.columns:
        if is_text_column(out[col]):
            out[col] = [escape_formula(v) if isinstance(v, str) else v for v in out[col]]
    out.columns = [escape_formula(c) for c in tagged_headers(data, list(out.columns))]
    return out


def write_csv(data: ExportData, path: Path) -> None:
    """Write the CSV: numbers exactly as stored (mean and standard error in separate columns)."""
    # Floats are written by repr (shortest round-trip form), so read_csv gives them back exactly.
    text = csv_frame(data).to_csv(index=False, lineterminator="\n")
    path.write_text(text, encoding="utf-8", newline="")


def read_front_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`~paretoopt.report.export.export_front` back into the layout of
    ``pareto_front()``: direction tags dropped from the headers, the formula escaping undone, floats exact."""
    import pandas as pd

    # pandas >= 3 parses floats round-trip by default (and deprecates the option)
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    # only empty cells are missing (how NaN and None are written): a text cell reading "nan" or
    # "NA" (the stop reason "nan", a material called "NA") stays text
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], **exact)
    df.columns = [_TAG.sub("", unescape_formula(str(c))) for c in df.columns]
    for col in df.columns:
        if is_text_column(df[col]):
            df[col] = [unescape_formula(v) if isinstance(v, str) else v for v in df[col]]
    return df


__all__ = ["read_front_csv", "write_csv"]
