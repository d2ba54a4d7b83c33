"""Read exported files back and compare them with the study database, row by row.

Written for the tests and independent of ``paretoopt.report``: each format is parsed here (the
csv module, openpyxl, regular expressions over Markdown, LaTeX and HTML), the Pareto set is
recomputed from the stored trials by brute force, and the rounding of ``mean ± error`` is
checked against the rule as the PDG states it (Review of Particle Physics, Introduction,
sec. 5.3 "Rounding": the three leading digits of the error decide: 100-354 keep two significant
digits, 355-949 one, 950-999 round up to 1000 and keep two; the mean is rounded to the same
decimal place), and values without an error against four significant digits (docs/export.md).
"""

from __future__ import annotations

import csv
import html
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

#: Significant digits of a value shown without an error (docs/export.md).
EXACT_DIGITS = 4
#: XLSX cells hold 15-16 significant digits (openpyxl, Excel; docs/export.md): the relative
#: difference allowed there. The CSV must give the stored doubles back exactly.
XLSX_REL = 1e-15


# ----------------------------------------------------------------------------- the database side


def header(name: str, unit: str | None) -> str:
    """The documented header rule: ``name [unit]`` (or the bare name)."""
    return f"{name} [{unit}]" if unit else name


def front_trials(study) -> list:
    """The Pareto set of ``study`` from its stored trials, by brute force: completed, feasible,
    finite trials that no other such trial dominates, less those the study reports as local
    optima (beaten on their own trade-off: that rule is tested in tests/fronts/test_global.py);
    ordered by the first objective (best first), ties by trial number (the documented order of
    every export)."""
    signs = [1.0 if o.direction == "minimize" else -1.0 for o in study.objectives]
    done = [
        t
        for t in study.trials
        if t.state.value == "COMPLETE"
        and t.feasible
        and t.objectives is not None
        and all(math.isfinite(v) for v in t.objectives)
    ]

    def dominates(a, b) -> bool:
        fa = [s * v for s, v in zip(signs, a.objectives, strict=True)]
        fb = [s * v for s, v in zip(signs, b.objectives, strict=True)]
        return all(x <= y for x, y in zip(fa, fb, strict=True)) and any(
            x < y for x, y in zip(fa, fb, strict=True)
        )

    local = study.locally_optimal_trials()
    done = [t for t in done if t.number not in local]
    front = [t for t in done if not any(dominates(o, t) for o in done if o is not t)]
    return sorted(front, key=lambda t: (signs[0] * t.objectives[0], t.number))


def param_headers(study) -> list[str]:
    return [header(p.name, p.unit) for p in study.space]


def direction_tag(o) -> str:
    return "(min)" if o.direction == "minimize" else "(max)"


def stop_cell(t) -> str:
    """What the review tables' ``inner loop`` column says of a front point: why its inner loop
    stopped, blank when it converged (or the trial predates stop reasons)."""
    return "" if t.stop_reason in (None, "converged") else t.stop_reason


def display_headers(study) -> list[str]:
    """The columns Markdown, LaTeX and HTML show, in order; ``inner loop`` only when a front
    point's inner loop did not converge."""
    unconverged = any(stop_cell(t) for t in front_trials(study))
    return [
        "trial",
        "knee",
        *param_headers(study),
        *[f"{header(o.name, o.unit)} {direction_tag(o)}" for o in study.objectives],
        *[header(c.name, c.unit) for c in study.constraints],
        *(["inner loop"] if unconverged else []),
    ]


def design_value(t, name: str) -> Any:
    return t.params[name] if name in t.params else t.choices[name]


# ----------------------------------------------------------------------------- rounding


@dataclass(frozen=True)
class Shown:
    """A number as printed: mantissas as text and the common power of ten."""

    value: str
    error: str | None
    exponent: int


_PAIR = re.compile(r"^\((?P<v>\S+) ± (?P<e>\S+)\)e(?P<x>-?\d+)$|^(?P<v2>\S+) ± (?P<e2>\S+)$")
_SINGLE = re.compile(r"^(?P<v>-?\d+(\.\d+)?)(e(?P<x>-?\d+))?$")


def parse_shown(text: str) -> Shown:
    """``"1.23 ± 0.04"``, ``"(1.23 ± 0.04)e-5"``, ``"12.30"``, ``"1.235e6"``."""
    text = text.strip()
    m = _PAIR.match(text)
    if m:
        if m.group("v"):
            return Shown(m.group("v"), m.group("e"), int(m.group("x")))
        return Shown(m.group("v2"), m.group("e2"), 0)
    m = _SINGLE.match(text)
    assert m, f"not a number as exports print them: {text!r}"
    return Shown(m.group("v"), None, int(m.group("x") or 0))


def _decimals(mantissa: str) -> int:
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def pdg_last_digit(stderr: float) -> tuple[int, Decimal]:
    """(power of ten of the last digit kept, the rounded error) by the PDG rule."""
    d = Decimal(repr(float(stderr)))
    lead = d.adjusted()
    three = int("".join(str(x) for x in (*d.as_tuple().digits, 0, 0)[:3]))
    if three >= 950:
        return lead, Decimal(1).scaleb(lead + 1)
    last = lead - 1 if three <= 354 else lead
    return last, d.quantize(Decimal(1).scaleb(last), rounding="ROUND_HALF_UP")


def check_rounded(text: str, value: float, stderr: float | None, what: str) -> None:
    """Assert that ``text`` shows ``value ± stderr`` rounded as the PDG rule says (or, without a
    positive error, ``value`` to four significant digits)."""
    shown = parse_shown(text)
    scale = Decimal(1).scaleb(shown.exponent)
    v = Decimal(shown.value) * scale
    if stderr is None or not math.isfinite(stderr) or stderr == 0.0:
        assert shown.error is None, f"{what}: {text!r} shows an error the database does not have"
        if value == 0.0:
            assert v == 0, f"{what}: {text!r} for 0"
            return
        lead = Decimal(repr(float(value))).adjusted()
        tolerance = Decimal(5).scaleb(lead - EXACT_DIGITS)  # half a unit in the 4th digit
        assert abs(v - Decimal(repr(float(value)))) <= tolerance * (1 + Decimal("1e-9")), (
            f"{what}: {text!r} is not {value!r} to {EXACT_DIGITS} significant digits"
        )
        digits = shown.value.lstrip("-").replace(".", "").lstrip("0")
        if "." not in shown.value:
            digits = digits.rstrip("0")
        assert 1 <= len(digits) <= EXACT_DIGITS, f"{what}: {text!r} keeps {len(digits)} digits"
        return
    assert shown.error is not None, f"{what}: {text!r} drops the error {stderr!r}"
    last, err = pdg_last_digit(stderr)
    e = Decimal(shown.error) * scale
    assert e == err, f"{what}: error {text!r}, the PDG rule gives {err} for {stderr!r}"
    # the mean to the error's last decimal place, half up
    assert _decimals(shown.value) == _decimals(shown.error), f"{what}: {text!r}"
    assert max(0, -(last - shown.exponent)) == _decimals(shown.error), f"{what}: {text!r} decimals"
    half = Decimal(5).scaleb(last - 1)
    assert abs(v - Decimal(repr(float(value)))) <= half * (1 + Decimal("1e-9")), (
        f"{what}: {text!r} is not {value!r} rounded to 1e{last}"
    )


# ----------------------------------------------------------------------------- parsers


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]

    def column(self, name: str) -> list[Any]:
        j = self.headers.index(name)
        return [r[j] for r in self.rows]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.headers, r, strict=True)) for r in self.rows]


def _unformula(text: str) -> str:
    """Undo the spreadsheet formula neutralising (a leading apostrophe)."""
    return text[1:] if text.startswith("'") else text


def read_csv(path: Path) -> Table:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return Table([_unformula(h) for h in rows[0]], [[_unformula(c) for c in r] for r in rows[1:]])


def read_xlsx(path: Path, sheet: str = "Pareto front") -> Table:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    rows = list(ws.iter_rows(values_only=True))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", f"a formula cell in {sheet}: {cell.coordinate}"
    return Table([str(h) for h in rows[0]], [list(r) for r in rows[1:]])


def _md_cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"\\(.)", r"\1", c.strip()) for c in cells]


def read_markdown(path: Path) -> Table:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| trial |"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert set(table[1].replace("|", "")) <= set("-:")  # the alignment row
    return Table(_md_cells(table[0]), [_md_cells(line) for line in table[2:]])


_LATEX_TEXT = {
    r"\textbackslash{}": "\\",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\textless{}": "<",
    r"\textgreater{}": ">",
    r"\textbar{}": "|",
    r"\&": "&",
    r"\%": "%",
    r"\$": "$",
    r"\#": "#",
    r"\_": "_",
    r"\{": "{",
    r"\}": "}",
}


def _latex_cell(cell: str) -> str:
    cell = cell.strip()
    m = re.fullmatch(r"\\num\{(?P<body>[^}]*)\}", cell)
    if m:
        body = m.group("body")
        pair = re.fullmatch(r"(\S+) \\pm (\S+)(?: e(-?\d+))?", body)
        if pair:
            v, e, x = pair.groups()
            return f"({v} ± {e})e{x}" if x else f"{v} ± {e}"
        single = re.fullmatch(r"(\S+)(?: e(-?\d+))?", body)
        assert single, cell
        v, x = single.groups()
        return f"{v}e{x}" if x else v
    assert "\\num" not in cell, cell
    pattern = "|".join(re.escape(k) for k in _LATEX_TEXT)
    return re.sub(pattern, lambda mm: _LATEX_TEXT[mm.group()], cell)


def read_latex(path: Path) -> Table:
    tex = path.read_text(encoding="utf-8")
    body = tex.split("\\toprule", 1)[1].split("\\bottomrule", 1)[0]
    head, rows = body.split("\\midrule", 1)

    def cells(line: str) -> list[str]:
        line = line.strip()
        assert line.endswith("\\\\"), line
        return [_latex_cell(c) for c in re.split(r"(?<!\\)&", line[:-2])]

    return Table(cells(head), [cells(line) for line in rows.strip().splitlines() if line.strip()])


def _html_cell(inner: str) -> str:
    inner = re.sub(r"\s*× 10<sup>(-?\d+)</sup>", r"e\1", inner)
    assert "<" not in inner, f"markup left in a cell: {inner!r}"
    return html.unescape(inner)


def read_html(path: Path) -> Table:
    text = path.read_text(encoding="utf-8")
    table = text.split('<table class="front">', 1)[1].split("</table>", 1)[0]
    heads = [_html_cell(h) for h in re.findall(r"<th>(.*?)</th>", table.split("</thead>")[0])]
    body = table.split("<tbody>", 1)[1]
    rows = [
        [_html_cell(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    ]
    return Table(heads, rows)


READERS = {"md": read_markdown, "latex": read_latex, "html": read_html, "csv": read_csv, "xlsx": read_xlsx}


# ----------------------------------------------------------------------------- comparisons


def knee_numbers(study) -> set[int]:
    front = study.pareto_front()
    return {int(n) for n in front.loc[front["knee"], "number"]}


def check_display_table(table: Table, study) -> None:
    """Markdown, LaTeX, HTML: headers, row order, every cell against the stored trial."""
    assert table.headers == display_headers(study)
    front = front_trials(study)
    assert [int(n) for n in table.column("trial")] == [t.number for t in front]
    knees = knee_numbers(study)
    for rec, t in zip(table.records(), front, strict=True):
        assert rec["knee"] == ("yes" if t.number in knees else ""), t.number
        if "inner loop" in table.headers:
            assert rec["inner loop"] == stop_cell(t), t.number
        for p, h in zip(study.space, param_headers(study), strict=True):
            stored = design_value(t, p.name)
            kind = type(p).__name__
            if kind == "Real":
                check_rounded(rec[h], float(stored), None, f"trial {t.number} {h}")
            else:
                assert rec[h] == str(stored), (t.number, h, rec[h], stored)
        for i, o in enumerate(study.objectives):
            h = f"{header(o.name, o.unit)} {direction_tag(o)}"
            check_rounded(rec[h], t.objectives[i], t.stderr[i], f"trial {t.number} {h}")
        for j, c in enumerate(study.constraints):
            h = header(c.name, c.unit)
            check_rounded(rec[h], t.constraints[j], t.constraint_stderr[j], f"trial {t.number} {h}")


def _num(v: Any) -> float:
    return float("nan") if v in ("", None) else float(v)


def _same_float(got: Any, stored: float | None, what: str, rel: float) -> None:
    if stored is None or (isinstance(stored, float) and math.isnan(stored)):
        assert got in ("", None) or math.isnan(_num(got)), what
        return
    assert abs(_num(got) - float(stored)) <= rel * abs(float(stored)), f"{what}: {got!r} != {stored!r}"


def check_full_row(rec: dict[str, Any], t, study, *, rel: float) -> None:
    """One row of the CSV or an XLSX sheet: every number as stored, to ``rel`` (0 for the CSV:
    exact doubles; XLSX cells keep 15-16 significant digits, docs/export.md)."""
    what = f"trial {t.number}"
    assert int(_num(rec["number"])) == t.number
    for p, h in zip(study.space, param_headers(study), strict=True):
        stored = design_value(t, p.name)
        if type(p).__name__ == "Real":
            _same_float(rec[h], stored, f"{what} {h}", rel)
        elif type(p).__name__ == "Integer":
            assert int(_num(rec[h])) == stored, (what, h)
        else:
            assert str(rec[h]) == str(stored), (what, h, rec[h], stored)
    for i, o in enumerate(study.objectives):
        mean = f"{header(o.name, o.unit)} {direction_tag(o)}"
        _same_float(rec[mean], t.objectives[i] if t.objectives else None, f"{what} {mean}", rel)
        se = header(f"{o.name} stderr", o.unit)
        _same_float(rec[se], t.stderr[i] if t.stderr else None, f"{what} {se}", rel)
    for j, c in enumerate(study.constraints):
        h = header(c.name, c.unit)
        _same_float(rec[h], t.constraints[j] if t.constraints else None, f"{what} {h}", rel)
        se = header(f"{c.name} stderr", c.unit)
        _same_float(rec[se], t.constraint_stderr[j] if t.constraint_stderr else None, f"{what} {se}", rel)
    assert str(rec["state"]) == t.state.value and str(rec["source"]) == t.source
    assert int(_num(rec["n_calls"])) == t.n_calls and int(_num(rec["seed"])) == t.seed
    weights = [float(w) for w in str(rec["weights"]).split(",")]
    assert weights == [float(f"{w:.6g}") for w in t.weights], what


def check_full_front(table: Table, study, rel: float) -> None:
    """CSV and the XLSX front sheet: the documented first columns, then every stored number."""
    first = ["number", "knee", *param_headers(study)]
    for o in study.objectives:
        first += [f"{header(o.name, o.unit)} {direction_tag(o)}", header(f"{o.name} stderr", o.unit)]
    for c in study.constraints:
        first += [header(c.name, c.unit), header(f"{c.name} stderr", c.unit)]
    assert table.headers[: len(first)] == first
    front = front_trials(study)
    assert [int(_num(n)) for n in table.column("number")] == [t.number for t in front]
    knees = knee_numbers(study)
    for rec, t in zip(table.records(), front, strict=True):
        assert str(rec["knee"]) == str(t.number in knees), t.number
        check_full_row(rec, t, study, rel=rel)


def check_trials_sheet(table: Table, study) -> None:
    """The XLSX trials sheet: every stored trial, in number order."""
    trials = study.trials
    assert [int(n) for n in table.column("number")] == [t.number for t in trials]
    for rec, t in zip(table.records(), trials, strict=True):
        check_full_row(rec, t, study, rel=XLSX_REL)


def check_export(path: Path, fmt: str, study) -> None:
    """Parse an export of ``study`` in ``fmt`` and compare it with the database."""
    table = READERS[fmt](path)
    if fmt in ("csv", "xlsx"):
        check_full_front(table, study, rel=0.0 if fmt == "csv" else XLSX_REL)
        if fmt == "xlsx":
            check_trials_sheet(read_xlsx(path, "Trials"), study)
    else:
        check_display_table(table, study)
