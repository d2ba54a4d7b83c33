"""The review table all formats show: ExportData, sorting, display cells, metadata, formula escaping."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from paretoopt.problem import Constraint, Objective
from paretoopt.report.columns import (
    constraint_column,
    find_column,
    objective_column,
    objective_header,
    param_column,
    stderr_column,
)
from paretoopt.report.rounding import EXACT_DIGITS, Rounded, round_to_error
from paretoopt.space import Choice, DesignSpace, Integer
from paretoopt.trials import INTERPOLATED

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ExportData:
    """Everything an export needs; :meth:`paretoopt.study.Study.export_data` builds it.

    ``front``: one row per Pareto-optimal completed trial; ``trials``: every trial. Both use the
    column rule of :mod:`paretoopt.report.columns`: ``number``, one column per design parameter
    (``param_column``), per objective its mean (``objective_column``) and standard error
    (``stderr_column``), per constraint its value (``constraint_column``), ``feasible``,
    ``converged`` and ``stop_reason`` (optional), ``n_calls``, ``weights``; ``front`` also
    ``knee`` (bool). Rows may come in any order.
    ``metadata``: study facts shown as key/value pairs (engine, seed, created, storage URL...).
    """

    study_name: str
    objectives: list[Objective]
    constraints: list[Constraint]
    space: DesignSpace
    front: pd.DataFrame
    trials: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    definition_source: str | None = None
    definition_hash: str = ""
    #: the study's decision log (:class:`paretoopt.storage.StoredDecision`, issue #22): the
    #: "decision trail" section of the HTML report and sheet of the XLSX workbook
    decisions: list[Any] = field(default_factory=list)


def sort_front(data: ExportData) -> pd.DataFrame:
    """``data.front`` sorted by the first objective, best first (ties by trial number)."""
    front = data.front
    o = data.objectives[0]
    col = find_column(front, objective_column(o), o.name)
    keys, ascending = [], []
    if col is not None:
        keys.append(col)
        ascending.append(o.direction == "minimize")
    if "number" in front.columns:
        keys.append("number")
        ascending.append(True)
    if not keys:
        return front.reset_index(drop=True)
    return front.sort_values(keys, ascending=ascending, kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The display table (Markdown, LaTeX, HTML, format_front_table)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisplayColumn:
    """One column of the review table as the human-readable formats print it."""

    header: str
    kind: str  # "int" | "num" | "text" | "flag"
    cells: list[Any]  # Rounded for "num", str otherwise
    numeric: bool  # right-aligned


def is_missing(v: Any) -> bool:
    """True for None, NaN and other values that are not equal to themselves."""
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or bool(v != v)
    except (TypeError, ValueError):
        return False


def float_or_none(v: Any) -> float | None:
    """``v`` as a float, or None when it is missing or not a number."""
    if is_missing(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


#: Header of the review table's column saying what an archive point is (a front built from the
#: archive: ``Study.pareto_front(include_archive=True)``; see docs/archive.md).
ARCHIVE_HEADER = "point"


def archive_cell(row: Any) -> str:
    """``""`` for a trial's evaluation, ``"refined"``, or ``"trajectory, n = 250, not
    review-grade"`` for an inner-loop step estimated on its own (smaller) sample."""
    source = "" if is_missing(row.get("source")) else str(row.get("source"))
    if source == "trial":
        return ""
    if bool(row.get("review_grade")):
        return source
    n = row.get("n_samples")
    size = "" if is_missing(n) else f", n = {int(n)}"
    return f"{source}{size}, not review-grade"


#: Header of the review table's column naming why a front point's inner loop stopped short
#: (shown only when one did; blank cells converged).
INNER_LOOP_HEADER = "inner loop"
#: That column's cell for a fill: a design evaluated once, halfway between two front trials.
FILL_CELL = "none (halfway design, one evaluation)"


def display_columns(data: ExportData, exact_digits: int = EXACT_DIGITS) -> list[DisplayColumn]:
    """The review table as typed columns (rounded numbers kept structured for LaTeX/HTML); an
    ``inner loop`` column with the stop reason of each front point that did not converge, when
    one did not."""
    front = sort_front(data)
    n = len(front)
    cols: list[DisplayColumn] = []
    if "number" in front.columns:
        cols.append(DisplayColumn("trial", "int", [str(int(v)) for v in front["number"]], True))
    if "knee" in front.columns:
        cols.append(DisplayColumn("knee", "flag", ["yes" if bool(v) else "" for v in front["knee"]], False))
    for p in data.space:
        col = find_column(front, param_column(p), p.name)
        if col is None:
            continue
        values = list(front[col])
        if isinstance(p, Choice):
            cells = ["" if is_missing(v) else str(v) for v in values]
            cols.append(DisplayColumn(param_column(p), "text", cells, False))
        elif isinstance(p, Integer):
            cells = ["" if is_missing(v) else str(int(v)) for v in values]
            cols.append(DisplayColumn(param_column(p), "int", cells, True))
        else:
            rounded = [round_to_error(float(v), None, exact_digits=exact_digits) for v in values]
            cols.append(DisplayColumn(param_column(p), "num", rounded, True))

    def measured(header: str, mean_col: str | None, se_col: str | None) -> None:
        if mean_col is None:
            return
        means = list(front[mean_col])
        errs = list(front[se_col]) if se_col is not None else [None] * n
        cells = [
            round_to_error(float_or_none(m), float_or_none(e), exact_digits=exact_digits)  # type: ignore[arg-type]
            for m, e in zip(means, errs, strict=True)
        ]
        cols.append(DisplayColumn(header, "num", cells, True))

    for o in data.objectives:
        measured(
            objective_header(o),
            find_column(front, objective_column(o), o.name),
            find_column(front, stderr_column(o), f"{o.name} stderr"),
        )
    for c in data.constraints:
        measured(
            constraint_column(c),
            find_column(front, constraint_column(c), c.name),
            find_column(front, stderr_column(c), f"{c.name} stderr"),
        )
    if "review_grade" in front.columns:  # a front built from the archive: say what each point is
        cols.append(
            DisplayColumn(ARCHIVE_HEADER, "text", [archive_cell(r) for _, r in front.iterrows()], False)
        )
    reasons = ["" if is_missing(v) else str(v) for v in front.get("stop_reason", [])]
    # a fill (paretoopt.run.fill) ran no inner loop: say so rather than leave a blank cell,
    # which reads as converged
    origin = front["trial_source"] if "trial_source" in front.columns else front.get("source", [])
    reasons = [FILL_CELL if str(o) == INTERPOLATED else r for r, o in zip(reasons, origin, strict=False)]
    if any(r not in ("", "converged") for r in reasons):  # say which front points did not converge
        cells = ["" if r == "converged" else r for r in reasons]
        cols.append(DisplayColumn(INNER_LOOP_HEADER, "text", cells, False))
    return cols


def format_front_table(data: ExportData, *, exact_digits: int = EXACT_DIGITS) -> pd.DataFrame:
    """The review table as display strings: ``trial``, ``knee`` (``"yes"`` on the knee point),
    every design parameter, each objective as ``mean ± standard error`` (PDG rounding) headed
    with its unit and ``(min)``/``(max)``, each constraint; sorted by the first objective."""
    import pandas as pd

    cols = display_columns(data, exact_digits)
    return pd.DataFrame(
        {c.header: [x.text if isinstance(x, Rounded) else x for x in c.cells] for c in cols},
        columns=[c.header for c in cols],
    )


# --------------------------------------------------------------------------------------------
# The full-precision table (CSV, XLSX)
# --------------------------------------------------------------------------------------------


def review_order(data: ExportData, front: pd.DataFrame) -> list[str]:
    """Every column of ``front``: number, knee, parameters, objectives (mean, stderr),
    constraints first, then the rest in their original order."""
    first: list[str] = [c for c in ("number", "knee") if c in front.columns]
    candidates: list[str | None] = [find_column(front, param_column(p), p.name) for p in data.space]
    for o in data.objectives:
        candidates += [
            find_column(front, objective_column(o), o.name),
            find_column(front, stderr_column(o), f"{o.name} stderr"),
        ]
    for c in data.constraints:
        candidates += [
            find_column(front, constraint_column(c), c.name),
            find_column(front, stderr_column(c), f"{c.name} stderr"),
        ]
    first += [c for c in candidates if c is not None and c not in first]
    return first + [c for c in front.columns if c not in first]


def tagged_headers(data: ExportData, columns: Sequence[str]) -> list[str]:
    """Headers with the direction tag on every objective's mean column."""
    rename = {}
    for o in data.objectives:
        rename[objective_column(o)] = objective_header(o)
        rename.setdefault(o.name, objective_header(o))
    return [rename.get(str(c), str(c)) for c in columns]


def is_text_column(s: pd.Series) -> bool:
    """True for an object or string column (the cells a spreadsheet might run as formulas)."""
    return s.dtype == object or str(s.dtype) in ("string", "str")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """Neutralise a text cell for spreadsheets (OWASP CSV injection): prefix ``'`` when it
    starts with ``= + - @``, tab or CR, or with ``'`` itself (so the escaping can be undone)."""
    return "'" + text if text.startswith((*_FORMULA_START, "'")) else text


def unescape_formula(text: str) -> str:
    """Invert :func:`escape_formula`."""
    return text[1:] if text.startswith("'") else text


# --------------------------------------------------------------------------------------------
# Study facts and the export timestamp
# --------------------------------------------------------------------------------------------


def stamp(ts: datetime) -> str:
    """The export timestamp as every format prints it: ``2025-03-04T05:06:07Z``."""
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta_text(v: Any) -> str:
    """A metadata value as text: dates in ISO form, mappings and sequences as sorted JSON."""
    if v is None:
        return ""
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Mapping | list | tuple):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def metadata_rows(data: ExportData) -> list[tuple[str, str]]:
    """Key/value rows of the study facts: ``data.metadata`` in its order, then what the data
    itself says (objectives, constraints, counts, definition hash) unless metadata has it."""
    rows = [("study", data.study_name)]
    rows += [(str(k), meta_text(v)) for k, v in data.metadata.items() if str(k) != "study"]
    for o in data.objectives:
        rows.append((f"objective {o.name}", f"{o.direction}" + (f", unit {o.unit}" if o.unit else "")))
    for c in data.constraints:
        bounds = [f"{side} {v}" for side, v in (("lower", c.lower), ("upper", c.upper)) if v is not None]
        rows.append((f"constraint {c.name}", ", ".join(bounds) + (f" {c.unit}" if c.unit else "")))
    rows.append(("Pareto-optimal designs", str(len(data.front))))
    rows.append(("trials", str(len(data.trials))))
    rows.append(("definition hash (sha256)", data.definition_hash))
    seen: set[str] = set()
    unique = []
    for k, v in rows:
        if k not in seen:
            seen.add(k)
            unique.append((k, v))
    return unique


def summary(data: ExportData) -> str:
    """The sentence above the table: counts, sort order and how the numbers are rounded."""
    o = data.objectives[0]
    best = "smallest" if o.direction == "minimize" else "largest"
    return (
        f"{len(data.front)} Pareto-optimal designs of {len(data.trials)} trials, sorted by "
        f"{objective_column(o)} ({best} first). Objectives and constraints are mean ± standard error, "
        "the error rounded to one or two significant digits (PDG rule) and the mean to the same "
        "decimal place; (min)/(max) marks each objective's direction; the knee column marks the knee point"
        + (
            "; the inner loop column names why a point's optimisation stopped short of convergence."
            if any(c.header == INNER_LOOP_HEADER for c in display_columns(data))
            else "."
        )
        + (
            " The front includes the archive: the point column marks inner-loop steps estimated on "
            "their own smaller sample (n events; not review-grade until `paretoopt refine`) and "
            "refined ones."
            if "review_grade" in data.front.columns
            else ""
        )
    )


__all__ = [
    "ARCHIVE_HEADER",
    "INNER_LOOP_HEADER",
    "DisplayColumn",
    "ExportData",
    "display_columns",
    "escape_formula",
    "format_front_table",
    "metadata_rows",
    "sort_front",
    "unescape_formula",
]
