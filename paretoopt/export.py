"""Pareto tables for design reviews: CSV, Markdown, LaTeX, XLSX and a self-contained HTML report.

Every format shows the same table: one row per Pareto-optimal design, sorted by the first
objective (best first), with every design parameter, objective and constraint, units in the
headers (:mod:`paretoopt.columns`), the direction of each objective marked by a ``(min)`` /
``(max)`` tag after its header, and the knee point flagged.

**Rounding.** Human-readable formats (Markdown, LaTeX, HTML, :func:`format_front_table`) print
``mean ± standard error`` rounded by the Particle Data Group convention (PDG, *Review of Particle
Physics*, "Introduction: rounding"): take the three leading digits of the error; 100-354 keep two
significant digits of the error, 355-949 keep one, 950-999 round the error up to 1000 and keep
two; the mean is rounded to the same decimal place. A zero (or missing) error prints the value
to ``exact_digits`` significant digits (4 by default). See :func:`round_to_error`.

**Machine-readable formats keep full precision.** The CSV holds every column of the front frame
(the numbers exactly as stored: mean and standard error in separate columns, no ``±``) so that
``pandas.read_csv`` gives back the values of ``Study.pareto_front()``; the XLSX stores numbers
as numbers, with the PDG rounding applied only as a cell *display* format.

**Safety.** Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab
or carriage return; OWASP "CSV injection") get a leading apostrophe in the CSV, and so does text
that already starts with an apostrophe, so :func:`read_front_csv` can undo it exactly. Numeric
cells (e.g. ``-1.5``) are never touched. In the XLSX every text cell is written as a string
cell, never as a formula. HTML and Markdown escape markup; LaTeX escapes its special characters.

**Reproducibility.** Exporting the same data twice gives byte-identical files apart from one
line holding the export timestamp (Markdown, LaTeX, HTML); the CSV has no timestamp at all. In
the XLSX the timestamp sits in one cell of the metadata sheet and in the workbook's
created/modified properties; zip entry times are fixed, so two exports with the same
``exported_at`` are byte-identical. ``exported_at`` defaults to ``$SOURCE_DATE_EPOCH`` when set
(the reproducible-builds convention), otherwise to the current UTC time.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paretoopt.columns import constraint_column, objective_column, param_column, stderr_column
from paretoopt.problem import Constraint, Objective
from paretoopt.space import Choice, DesignSpace, Integer

if TYPE_CHECKING:
    import pandas as pd

FORMATS: tuple[str, ...] = ("csv", "md", "latex", "xlsx", "html")
_ALIASES = {"markdown": "md", "tex": "latex", "htm": "html", "excel": "xlsx"}

#: Default significant digits of a value printed without an error (zero or unknown error).
EXACT_DIGITS = 4
#: Values whose leading digit lies outside 10^-3 .. 10^4 print as ``(m ± e)e<k>``.
_PLAIN_EXPONENTS = range(-3, 5)


@dataclass
class ExportData:
    """Everything an export needs; :meth:`paretoopt.study.Study.export_data` builds it.

    ``front``: one row per Pareto-optimal completed trial; ``trials``: every trial. Both use the
    column rule of :mod:`paretoopt.columns`: ``number``, one column per design parameter
    (``param_column``), per objective its mean (``objective_column``) and standard error
    (``stderr_column``), per constraint its value (``constraint_column``), ``feasible``,
    ``n_calls``, ``weights``; ``front`` also ``knee`` (bool). Rows may come in any order.
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


# --------------------------------------------------------------------------------------------
# Rounding (PDG convention)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rounded:
    """A value (and optionally its error) rounded for display.

    ``value`` / ``error`` are the mantissas as decimal strings, ``exponent`` the common power of
    ten (0 when printed plainly): the number is ``value × 10^exponent``.
    """

    value: str
    error: str | None = None
    exponent: int = 0

    @property
    def text(self) -> str:
        """``"1.23 ± 0.04"``, ``"(1.23 ± 0.04)e-5"``, ``"12.30"`` or ``"1.230e6"``."""
        if self.error is None:
            return self.value if self.exponent == 0 else f"{self.value}e{self.exponent}"
        body = f"{self.value} ± {self.error}"
        return body if self.exponent == 0 else f"({body})e{self.exponent}"

    @property
    def latex(self) -> str:
        r"""siunitx input: ``\num{1.23 \pm 0.04 e-5}``."""
        body = self.value if self.error is None else f"{self.value} \\pm {self.error}"
        if self.exponent:
            body += f" e{self.exponent}"
        return f"\\num{{{body}}}"

    @property
    def html(self) -> str:
        """``"(1.23 ± 0.04) × 10<sup>-5</sup>"`` (already escaped)."""
        if self.error is None:
            body = self.value
            return body if self.exponent == 0 else f"{body} × 10<sup>{self.exponent}</sup>"
        body = f"{self.value} ± {self.error}"
        return body if self.exponent == 0 else f"({body}) × 10<sup>{self.exponent}</sup>"


def _decimal(x: float) -> Decimal:
    # repr() is the shortest string that round-trips: 0.035 stays 0.035, not 0.03499999...
    return Decimal(repr(float(x)))


def _quantize(d: Decimal, exponent: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = max(28, d.adjusted() - exponent + 3)
        q = d.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    return q.copy_abs() if q.is_zero() else q  # no "-0.00"


def pdg_error_digits(stderr: float) -> tuple[Decimal, int]:
    """The PDG rounding of an error: ``(rounded error, exponent of its last kept digit)``.

    The three leading digits (truncated) decide: 100-354 keep two significant digits, 355-949
    keep one, 950-999 round up to 1000 and keep two (``0.0962 -> 0.10``). ``stderr > 0``.
    """
    err = _decimal(stderr)
    if not err > 0 or not err.is_finite():
        raise ValueError(f"the error must be finite and > 0, got {stderr!r}")
    lead = err.adjusted()  # power of ten of the leading digit
    three = int(err.scaleb(2 - lead).to_integral_value(rounding=ROUND_FLOOR))
    if three >= 950:
        return _quantize(Decimal(1).scaleb(lead + 1), lead), lead
    keep = 2 if three <= 354 else 1
    last = lead - keep + 1
    return _quantize(err, last), last


def _mantissa(d: Decimal, exponent: int) -> str:
    m = d.scaleb(-exponent)
    return format(m.copy_abs() if m.is_zero() else m, "f")


def round_to_error(value: float, stderr: float | None = None, *, exact_digits: int = EXACT_DIGITS) -> Rounded:
    """Round ``value ± stderr`` for display by the PDG convention (see :func:`pdg_error_digits`).

    The value is rounded to the decimal place of the error's last kept digit. A zero, missing or
    non-finite error prints the value to ``exact_digits`` significant digits. Numbers whose
    leading digit lies outside ``10^-3 .. 10^4`` share a power of ten, ``(1.23 ± 0.04)e-5``.
    A non-finite value prints as ``nan`` / ``inf`` / ``-inf``.
    """
    if value is None or not math.isfinite(float(value)):
        return Rounded("nan" if value is None or math.isnan(float(value)) else repr(float(value)))
    v = _decimal(value)
    if stderr is not None and float(stderr) < 0:
        raise ValueError(f"a standard error cannot be negative, got {stderr!r}")
    if stderr is None or not math.isfinite(float(stderr)) or float(stderr) == 0.0:
        if v.is_zero():
            return Rounded("0")
        last = v.adjusted() - exact_digits + 1
        r = _quantize(v, last)
        if r.adjusted() > v.adjusted():  # 9.9996 -> 10.000: drop the extra digit
            last += 1
            r = _quantize(v, last)
        lead = r.adjusted()
        exponent = 0 if lead in _PLAIN_EXPONENTS else lead
        return Rounded(_mantissa(r, exponent), None, exponent)
    err, last = pdg_error_digits(float(stderr))
    r = _quantize(v, last)
    lead = max(err.adjusted(), r.adjusted() if not r.is_zero() else err.adjusted())
    exponent = 0 if lead in _PLAIN_EXPONENTS else lead
    return Rounded(_mantissa(r, exponent), _mantissa(err, exponent), exponent)


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


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


def direction_tag(o: Objective) -> str:
    """``"(min)"`` or ``"(max)"``: how every export marks an objective's direction."""
    return "(min)" if o.direction == "minimize" else "(max)"


def objective_header(o: Objective) -> str:
    """An objective's mean column as exports head it: ``"resolution [%] (min)"``."""
    return f"{objective_column(o)} {direction_tag(o)}"


def _find(df: pd.DataFrame, header: str, bare: str) -> str | None:
    """The column of ``df`` headed ``header`` (or by the bare name), else None."""
    if header in df.columns:
        return header
    if bare in df.columns:
        return bare
    return None


def sort_front(data: ExportData) -> pd.DataFrame:
    """``data.front`` sorted by the first objective, best first (ties by trial number)."""
    front = data.front
    o = data.objectives[0]
    col = _find(front, objective_column(o), o.name)
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


@dataclass(frozen=True)
class _Column:
    header: str
    kind: str  # "int" | "num" | "text" | "flag"
    cells: list[Any]  # Rounded for "num", str otherwise
    numeric: bool  # right-aligned


def _is_missing(v: Any) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or bool(v != v)
    except (TypeError, ValueError):
        return False


def _float_or_none(v: Any) -> float | None:
    if _is_missing(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _display_columns(data: ExportData, exact_digits: int = EXACT_DIGITS) -> list[_Column]:
    """The review table as typed columns (rounded numbers kept structured for LaTeX/HTML)."""
    front = sort_front(data)
    n = len(front)
    cols: list[_Column] = []
    if "number" in front.columns:
        cols.append(_Column("trial", "int", [str(int(v)) for v in front["number"]], True))
    if "knee" in front.columns:
        cols.append(_Column("knee", "flag", ["yes" if bool(v) else "" for v in front["knee"]], False))
    for p in data.space:
        col = _find(front, param_column(p), p.name)
        if col is None:
            continue
        values = list(front[col])
        if isinstance(p, Choice):
            cells = ["" if _is_missing(v) else str(v) for v in values]
            cols.append(_Column(param_column(p), "text", cells, False))
        elif isinstance(p, Integer):
            cells = ["" if _is_missing(v) else str(int(v)) for v in values]
            cols.append(_Column(param_column(p), "int", cells, True))
        else:
            rounded = [round_to_error(float(v), None, exact_digits=exact_digits) for v in values]
            cols.append(_Column(param_column(p), "num", rounded, True))

    def measured(header: str, mean_col: str | None, se_col: str | None) -> None:
        if mean_col is None:
            return
        means = list(front[mean_col])
        errs = list(front[se_col]) if se_col is not None else [None] * n
        cells = [
            round_to_error(_float_or_none(m), _float_or_none(e), exact_digits=exact_digits)  # type: ignore[arg-type]
            for m, e in zip(means, errs, strict=True)
        ]
        cols.append(_Column(header, "num", cells, True))

    for o in data.objectives:
        measured(
            objective_header(o),
            _find(front, objective_column(o), o.name),
            _find(front, stderr_column(o), f"{o.name} stderr"),
        )
    for c in data.constraints:
        measured(
            constraint_column(c),
            _find(front, constraint_column(c), c.name),
            _find(front, stderr_column(c), f"{c.name} stderr"),
        )
    return cols


def format_front_table(data: ExportData, *, exact_digits: int = EXACT_DIGITS) -> pd.DataFrame:
    """The review table as display strings: ``trial``, ``knee`` (``"yes"`` on the knee point),
    every design parameter, each objective as ``mean ± standard error`` (PDG rounding) headed
    with its unit and ``(min)``/``(max)``, each constraint; sorted by the first objective."""
    import pandas as pd

    cols = _display_columns(data, exact_digits)
    return pd.DataFrame(
        {c.header: [x.text if isinstance(x, Rounded) else x for x in c.cells] for c in cols},
        columns=[c.header for c in cols],
    )


# --------------------------------------------------------------------------------------------
# Helpers shared by the writers
# --------------------------------------------------------------------------------------------


def _utc(ts: datetime | None) -> datetime:
    if ts is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        ts = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(microsecond=0)


def _stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Mapping | list | tuple):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def _metadata_rows(data: ExportData) -> list[tuple[str, str]]:
    """Key/value rows of the study facts: ``data.metadata`` in its order, then what the data
    itself says (objectives, constraints, counts, definition hash) unless metadata has it."""
    rows = [("study", data.study_name)]
    rows += [(str(k), _meta_text(v)) for k, v in data.metadata.items() if str(k) != "study"]
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


def _summary(data: ExportData) -> str:
    o = data.objectives[0]
    best = "smallest" if o.direction == "minimize" else "largest"
    return (
        f"{len(data.front)} Pareto-optimal designs of {len(data.trials)} trials, sorted by "
        f"{objective_column(o)} ({best} first). Objectives and constraints are mean ± standard error, "
        "the error rounded to one or two significant digits (PDG rule) and the mean to the same "
        "decimal place; (min)/(max) marks each objective's direction; the knee column marks the knee point."
    )


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """Neutralise a text cell for spreadsheets (OWASP CSV injection): prefix ``'`` when it
    starts with ``= + - @``, tab or CR, or with ``'`` itself (so the escaping can be undone)."""
    return "'" + text if text.startswith((*_FORMULA_START, "'")) else text


def unescape_formula(text: str) -> str:
    """Invert :func:`escape_formula`."""
    return text[1:] if text.startswith("'") else text


def _review_order(data: ExportData, front: pd.DataFrame) -> list[str]:
    """Every column of ``front``: number, knee, parameters, objectives (mean, stderr),
    constraints first, then the rest in their original order."""
    first: list[str] = [c for c in ("number", "knee") if c in front.columns]
    candidates: list[str | None] = [_find(front, param_column(p), p.name) for p in data.space]
    for o in data.objectives:
        candidates += [
            _find(front, objective_column(o), o.name),
            _find(front, stderr_column(o), f"{o.name} stderr"),
        ]
    for c in data.constraints:
        candidates += [
            _find(front, constraint_column(c), c.name),
            _find(front, stderr_column(c), f"{c.name} stderr"),
        ]
    first += [c for c in candidates if c is not None and c not in first]
    return first + [c for c in front.columns if c not in first]


def _tagged(data: ExportData, columns: Sequence[str]) -> list[str]:
    """Headers with the direction tag on every objective's mean column."""
    rename = {}
    for o in data.objectives:
        rename[objective_column(o)] = objective_header(o)
        rename.setdefault(o.name, objective_header(o))
    return [rename.get(str(c), str(c)) for c in columns]


def _is_text_column(s: pd.Series) -> bool:
    return s.dtype == object or str(s.dtype) in ("string", "str")


def _csv_frame(data: ExportData) -> pd.DataFrame:
    """Every column of the front in review order, objective headers tagged, text cells escaped."""
    front = sort_front(data)
    out = front[_review_order(data, front)].copy()
    for col in out.columns:
        if _is_text_column(out[col]):
            out[col] = [escape_formula(v) if isinstance(v, str) else v for v in out[col]]
    out.columns = [escape_formula(c) for c in _tagged(data, list(out.columns))]
    return out


def _write_csv(data: ExportData, path: Path) -> None:
    # Floats are written by repr (shortest round-trip form), so read_csv gives them back exactly.
    text = _csv_frame(data).to_csv(index=False, lineterminator="\n")
    path.write_text(text, encoding="utf-8", newline="")


_TAG = re.compile(r"\s\((min|max)\)$")


def read_front_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`export_front` back into the layout of ``pareto_front()``:
    direction tags dropped from the headers, the formula escaping undone, floats exact."""
    import pandas as pd

    # pandas >= 3 parses floats round-trip by default (and deprecates the option)
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    df = pd.read_csv(path, **exact)
    df.columns = [_TAG.sub("", unescape_formula(str(c))) for c in df.columns]
    for col in df.columns:
        if _is_text_column(df[col]):
            df[col] = [unescape_formula(v) if isinstance(v, str) else v for v in df[col]]
    return df


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\|`*<>])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def _write_md(data: ExportData, path: Path, ts: datetime) -> None:
    cols = _display_columns(data)
    lines = [f"# Pareto front of study {_md(data.study_name)}", "", _md(_summary(data)), ""]
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
    lines += [f"| {_md(k)} | {_md(v)} |" for k, v in _metadata_rows(data)]
    lines += ["", f"Exported {_stamp(ts)} by paretoopt.", ""]
    path.write_text("\n".join(lines), encoding="utf-8", newline="")


# --------------------------------------------------------------------------------------------
# LaTeX
# --------------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (``_ % & # $ { } ~ ^ \\ < > |``) in text."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], " ".join(str(text).splitlines()))


def latex_table(data: ExportData, *, label: str | None = None) -> str:
    r"""The review table as a LaTeX ``table`` environment (needs ``booktabs``, ``siunitx`` and
    ``graphicx``): ``\toprule``/``\midrule``/``\bottomrule``, numbers as ``\num{m \pm e}``, a
    caption, and a ``\resizebox`` that shrinks the table to the line width only when it is wider."""
    cols = _display_columns(data)
    spec = "".join("r" if c.numeric else "l" for c in cols)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", data.study_name).strip("-").lower() or "study"
    label = label or f"tab:pareto-{slug}"
    o = data.objectives[0]
    caption = (
        f"Pareto front of study \\texttt{{{latex_escape(data.study_name)}}}: {len(data.front)} "
        f"Pareto-optimal designs of {len(data.trials)} trials, sorted by "
        f"{latex_escape(objective_column(o))}. Mean $\\pm$ standard error (PDG rounding); "
        "(min)/(max) mark each objective's direction; the knee column marks the knee point."
    )
    lines = [
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(latex_escape(c.header) for c in cols) + " \\\\",
        "\\midrule",
    ]
    n = len(cols[0].cells) if cols else 0
    for i in range(n):
        cells = []
        for c in cols:
            x = c.cells[i]
            if isinstance(x, Rounded):
                cells.append(x.latex if x.value not in ("nan", "inf", "-inf") else latex_escape(x.value))
            elif c.kind == "int" and x:
                cells.append(f"\\num{{{x}}}")
            else:
                cells.append(latex_escape(x))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}}", "\\end{table}"]
    return "\n".join(lines)


def _write_latex(data: ExportData, path: Path, ts: datetime) -> None:
    meta = _metadata_rows(data)
    lines = [
        f"% Pareto front of study {' '.join(data.study_name.splitlines())}, written by paretoopt",
        f"% exported {_stamp(ts)}",
        "\\documentclass{article}",
        "% T1 fonts with Latin Modern where installed (outline fonts); plain OT1 Computer Modern otherwise",
        "\\IfFileExists{lmodern.sty}{\\usepackage[T1]{fontenc}\\usepackage{lmodern}}{}",
        "\\usepackage[utf8]{inputenc}",
        "\\usepackage{booktabs}",
        "\\usepackage{siunitx}",
        "\\usepackage{graphicx}",
        "\\makeatletter",
        "\\@ifpackagelater{siunitx}{2021/05/01}",
        "  {\\sisetup{uncertainty-mode=separate}}",
        "  {\\sisetup{separate-uncertainty=true}}",
        "\\makeatother",
        "\\begin{document}",
        "% --- the table (needs booktabs, siunitx with separate uncertainties, graphicx) ---",
        latex_table(data),
        "% --- end of the table ---",
        "\\begin{table}[htbp]",
        "\\centering\\footnotesize",
        "\\caption{Study metadata.}",
        "\\begin{tabular}{lp{0.6\\linewidth}}",
        "\\toprule",
        "property & value \\\\",
        "\\midrule",
    ]
    for k, v in meta:
        if k.startswith("definition hash") and v:
            # two halves: a 64-digit hash does not fit one line of a p column
            value = f"\\texttt{{{latex_escape(v[:32])}}}\\newline\\texttt{{{latex_escape(v[32:])}}}"
        else:
            value = latex_escape(v)
        lines.append(f"{latex_escape(k)} & {value} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", "\\end{document}", ""]
    path.write_text("\n".join(lines), encoding="utf-8", newline="")


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------

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
    if _is_missing(v):
        return None
    return _meta_text(v)


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
    stamp = _stamp(ts).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    body,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def _write_xlsx(data: ExportData, path: Path, ts: datetime) -> None:
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
    raw = front[_review_order(data, front)]
    _sheet_from_frame(ws, raw, _tagged(data, list(raw.columns)))
    header_index = {h: j for j, h in enumerate(raw.columns, start=1)}
    pairs = [(objective_column(o), stderr_column(o)) for o in data.objectives]
    pairs += [(constraint_column(c), stderr_column(c)) for c in data.constraints]
    for mean_col, se_col in pairs:
        jm, js = header_index.get(mean_col), header_index.get(se_col)
        if jm is None:
            continue
        for i in range(len(raw)):
            m = _float_or_none(raw.iloc[i, jm - 1])
            e = _float_or_none(raw.iloc[i, js - 1]) if js is not None else None
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
    _sheet_from_frame(wt, trials, _tagged(data, list(trials.columns)))

    # sheet 3: study metadata, the definition hash and source
    wm = wb.create_sheet("Study")
    bold = Font(bold=True)
    _put(wm, 1, 1, "key").font = bold
    _put(wm, 1, 2, "value").font = bold
    rows = [*_metadata_rows(data), ("exported", _stamp(ts))]
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

    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_deterministic_zip(buf.getvalue(), ts))


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; }
th { border-bottom: 2px solid #444; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.knee td { background: #fff2cc; font-weight: 600; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
code { font-size: 0.95em; }
.exported { color: #777; font-size: 0.85em; }
"""


def _html_table(cols: list[_Column]) -> str:
    e = html.escape
    out = [
        '<table class="front">',
        "<thead><tr>" + "".join(f"<th>{e(c.header)}</th>" for c in cols) + "</tr></thead>",
        "<tbody>",
    ]
    n = len(cols[0].cells) if cols else 0
    knee = next((c for c in cols if c.kind == "flag"), None)
    for i in range(n):
        cls = ' class="knee"' if knee is not None and knee.cells[i] else ""
        tds = []
        for c in cols:
            x = c.cells[i]
            text = x.html if isinstance(x, Rounded) else e(x)
            tds.append(f'<td class="num">{text}</td>' if c.numeric else f"<td>{text}</td>")
        out.append(f"<tr{cls}>" + "".join(tds) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def _write_html(data: ExportData, path: Path, ts: datetime) -> None:
    from paretoopt import plots

    e = html.escape
    figures: list[str] = []
    include_js: bool = True
    fig_config = {"displaylogo": False, "responsive": True}
    if len(data.objectives) >= 2 and len(data.front):
        fig = plots.front_figure_3d(data) if len(data.objectives) >= 3 else plots.front_figure(data)
        figures.append(
            fig.to_html(
                full_html=False, include_plotlyjs=include_js, div_id="paretoopt-front", config=fig_config
            )
        )
        include_js = False
    if len(data.trials):
        pc = plots.parallel_coordinates(data.trials, data.space, data.objectives)
        if pc.data and len(pc.data[0].dimensions):
            figures.append(
                pc.to_html(
                    full_html=False,
                    include_plotlyjs=include_js,
                    div_id="paretoopt-parcoords",
                    config=fig_config,
                )
            )
    meta = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _metadata_rows(data))
    source = (
        f"<pre>{e(data.definition_source)}</pre>"
        if data.definition_source
        else "<p>The study definition source was not stored.</p>"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>Pareto front of study {e(data.study_name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Pareto front of study <code>{e(data.study_name)}</code></h1>",
        f"<p>{e(_summary(data))}</p>",
        *figures,
        "<h2>Pareto-optimal designs</h2>",
        _html_table(_display_columns(data)),
        "<h2>Study</h2>",
        f'<table class="meta">\n{meta}\n</table>',
        "<h2>Study definition</h2>",
        f"<p>SHA-256 of the definition: <code>{e(data.definition_hash)}</code></p>",
        source,
        f'<p class="exported">Exported {_stamp(ts)} by paretoopt.</p>',
        "</body>",
        "</html>",
        "",
    ]
    path.write_text("\n".join(parts), encoding="utf-8", newline="")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def export_front(
    data: ExportData, fmt: str, path: str | Path, *, exported_at: datetime | None = None
) -> Path:
    """Write the Pareto table of ``data`` to ``path`` as ``fmt`` (csv, md, latex, xlsx or html;
    also markdown, tex). Returns the path written. See the module docstring for what each format
    holds; ``exported_at`` (UTC) is the one timestamp written (default ``$SOURCE_DATE_EPOCH`` or now)."""
    kind = _ALIASES.get(fmt.lower(), fmt.lower())
    if kind not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not data.objectives:
        raise ValueError("an export needs at least one objective")
    out = Path(path)
    ts = _utc(exported_at)
    if kind == "csv":
        _write_csv(data, out)
    elif kind == "md":
        _write_md(data, out, ts)
    elif kind == "latex":
        _write_latex(data, out, ts)
    elif kind == "xlsx":
        _write_xlsx(data, out, ts)
    else:
        _write_html(data, out, ts)
    return out


__all__ = [
    "FORMATS",
    "ExportData",
    "Rounded",
    "direction_tag",
    "escape_formula",
    "export_front",
    "format_front_table",
    "latex_escape",
    "latex_table",
    "objective_header",
    "pdg_error_digits",
    "read_front_csv",
    "round_to_error",
    "sort_front",
    "unescape_formula",
]
