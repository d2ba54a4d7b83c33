"""Design-review exports: PDG rounding, CSV round trip and formula neutralising, XLSX numbers and
sheets, LaTeX structure (and compilation where pdflatex exists), HTML report, reproducibility."""

from __future__ import annotations

import csv
import re
import subprocess
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from paretoopt.problem import Objective
from paretoopt.report.columns import constraint_column, objective_column, param_column, stderr_column
from paretoopt.report.csv_format import read_front_csv
from paretoopt.report.export import FORMATS, export_front
from paretoopt.report.rounding import pdg_error_digits, round_to_error
from paretoopt.report.table import (
    ExportData,
    escape_formula,
    format_front_table,
    sort_front,
    unescape_formula,
)
from tests.components import require_tex
from tests.export_data import MATERIALS, make_data

T1 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
T2 = datetime(2026, 8, 9, 10, 11, 12, tzinfo=UTC)
EXT = {"csv": "csv", "md": "md", "latex": "tex", "xlsx": "xlsx", "html": "html"}


@pytest.fixture(scope="module")
def data() -> ExportData:
    return make_data()


# ----------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("value", "err", "text"),
    [
        # three leading digits of the error 100-354: two significant digits
        (1.2345, 0.0123, "1.235 ± 0.012"),
        (1.2345, 0.0354, "1.235 ± 0.035"),
        (1.2345, 0.1, "1.23 ± 0.10"),
        (5.0, 1.0, "5.0 ± 1.0"),
        (0.035, 0.035, "0.035 ± 0.035"),  # 0.035 is 350 (decimal digits, not binary 0.03499...)
        # 355-949: one significant digit
        (1.2345, 0.0355, "1.23 ± 0.04"),
        (1.2345, 0.0949, "1.23 ± 0.09"),
        (12.3456, 0.5, "12.3 ± 0.5"),
        (1234.5, 87.0, "1230 ± 90"),
        # 950-999: round up to 1000 and keep two significant digits
        (1.2345, 0.0950, "1.23 ± 0.10"),
        (1.2345, 0.0999, "1.23 ± 0.10"),
        (1234.5, 0.96, "1234.5 ± 1.0"),
        (5.0, 9.5, "5 ± 10"),
        (5000.0, 999.0, "5000 ± 1000"),
        # signs, zero, common exponent outside 1e-3 .. 1e4
        (-2.71828, 0.0123, "-2.718 ± 0.012"),
        (-0.0001, 0.05, "0.00 ± 0.05"),  # never "-0.00"
        (0.0, 0.0123, "0.000 ± 0.012"),
        (123456.0, 2340.0, "(1.235 ± 0.023)e5"),
        (0.000123, 0.0000045, "(1.23 ± 0.05)e-4"),
        (1.2e-5, 3.4e-4, "(0.1 ± 3.4)e-4"),  # exponent of the larger of value and error
        # zero or unknown error: the value to 4 significant digits
        (12.3, 0.0, "12.30"),
        (0.123456789, None, "0.1235"),
        (9.99996, 0.0, "10.00"),
        (0.0, 0.0, "0"),
        (1234567.0, 0.0, "1.235e6"),
        (-0.00012345, float("nan"), "-1.235e-4"),  # half-up on the decimal digits: away from zero
    ],
)
def test_pdg_rounding_cases(value: float, err: float | None, text: str) -> None:
    assert round_to_error(value, err).text == text


@pytest.mark.parametrize(
    ("err", "rounded", "last"),
    [
        (0.0354, "0.035", -3),
        (0.0355, "0.04", -2),
        (0.0949, "0.09", -2),
        (0.0950, "0.10", -2),
        (0.0999, "0.10", -2),
        (0.1, "0.10", -2),
        (354.0, "350", 1),
        (355.0, "400", 2),
        (999.0, "1000", 2),
    ],
)
def test_pdg_error_digits(err: float, rounded: str, last: int) -> None:
    got, got_last = pdg_error_digits(err)
    assert got == Decimal(rounded)
    assert got_last == last and got.as_tuple().exponent == last  # the last kept digit


def test_rounding_rejects_bad_errors() -> None:
    with pytest.raises(ValueError, match="negative"):
        round_to_error(1.0, -0.1)
    with pytest.raises(ValueError):
        pdg_error_digits(0.0)


def test_rounded_latex_and_html_forms() -> None:
    r = round_to_error(0.000123, 0.0000045)
    assert r.latex == r"\num{1.23 \pm 0.05 e-4}"
    assert r.html == "(1.23 ± 0.05) × 10<sup>-4</sup>"
    assert round_to_error(2.5, 0.013).latex == r"\num{2.500 \pm 0.013}"
    assert round_to_error(7.0, 0.0, exact_digits=2).text == "7.0"


# ----------------------------------------------------------------------------- the table


def test_front_table_sorted_with_units_directions_and_knee(data: ExportData) -> None:
    table = format_front_table(data)
    res = data.objectives[0]
    assert len(table) == len(data.front)
    assert list(table.columns) == [
        "trial",
        "knee",
        "absorber_mm [mm]",
        "offset_mm [mm]",
        "n_layers",
        "material",
        "resolution [%] (min)",
        "cost [kEUR] (min)",
        "depth [cm]",
    ]
    ordered = data.front.sort_values(objective_column(res))
    assert [int(x) for x in table["trial"]] == list(ordered["number"])
    knee_number = int(data.front.loc[data.front["knee"], "number"].iloc[0])
    assert list(table.loc[table["knee"] == "yes", "trial"]) == [str(knee_number)]
    for _, row in ordered.iterrows():
        shown = table.loc[table["trial"] == str(row["number"])].iloc[0]
        expected = round_to_error(row[objective_column(res)], row[stderr_column(res)]).text
        assert shown["resolution [%] (min)"] == expected
        assert " ± " in shown["cost [kEUR] (min)"]
        assert shown["material"] == row["material"]


def test_front_table_maximised_first_objective_sorts_descending() -> None:
    objs = [Objective("efficiency", "maximize", "%"), Objective("cost", "minimize", "kEUR")]
    d = make_data(objectives=objs)
    table = format_front_table(d)
    assert "efficiency [%] (max)" in table.columns
    numbers = [int(x) for x in table["trial"]]
    expected = d.front.sort_values(objective_column(objs[0]), ascending=False)["number"].tolist()
    assert numbers == expected


# ----------------------------------------------------------------------------- CSV


def test_csv_parses_back_to_the_front(data: ExportData, tmp_path: Path) -> None:
    path = export_front(data, "csv", tmp_path / "front.csv")
    raw = pd.read_csv(path)
    front = sort_front(data)
    assert len(raw) == len(front)
    # headers: the front's, with the direction tag on each objective mean
    for o in data.objectives:
        assert f"{objective_column(o)} (min)" in raw.columns
        assert stderr_column(o) in raw.columns
    # numbers are numbers, equal to the stored ones (negative values included)
    numeric = [
        "number",
        param_column(data.space["absorber_mm"]),
        param_column(data.space["offset_mm"]),
        "n_layers",
        *[stderr_column(o) for o in data.objectives],
        constraint_column(data.constraints[0]),
        "n_calls",
    ]
    assert (front["offset_mm [mm]"] < 0).any()
    for col in numeric:
        assert pd.api.types.is_numeric_dtype(raw[col]), col
        np.testing.assert_allclose(raw[col].to_numpy(float), front[col].to_numpy(float), rtol=1e-15, atol=0)
    for o in data.objectives:
        np.testing.assert_allclose(
            raw[f"{objective_column(o)} (min)"], front[objective_column(o)], rtol=1e-15, atol=0
        )
    assert raw["knee"].dtype == bool and raw["knee"].tolist() == front["knee"].tolist()
    # read_front_csv undoes tags and escaping: the whole front comes back, floats exactly
    back = read_front_csv(path)
    assert set(back.columns) == set(front.columns)
    expected = front.drop(columns=["error"])
    got = back[expected.columns]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert back["error"].isna().all()


def test_csv_neutralises_formulas_but_not_negative_numbers(data: ExportData, tmp_path: Path) -> None:
    path = export_front(data, "csv", tmp_path / "front.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    material = header.index("material")
    offset = header.index("offset_mm [mm]")
    texts = {r[material] for r in body}
    for option in MATERIALS:
        if any(sort_front(data)["material"] == option):
            expected = "'" + option if option[0] in "=+-@" else option
            assert expected in texts
    assert not any(t.startswith("=") for t in texts)
    # a negative number is written plainly and is a number
    negatives = [r[offset] for r in body if r[offset].startswith("-")]
    assert negatives and all(float(v) < 0 for v in negatives)
    # every cell a spreadsheet would evaluate is a number
    for r in body:
        for cell in r:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)


@pytest.mark.parametrize("text", ["=1+1", "+A1", "-cmd", "@SUM(A1)", "\tx", "\rx", "'quoted", "plain", ""])
def test_formula_escape_round_trips(text: str) -> None:
    escaped = escape_formula(text)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unescape_formula(escaped) == text


# ----------------------------------------------------------------------------- XLSX


def test_xlsx_sheets_numbers_and_text(data: ExportData, tmp_path: Path) -> None:
    path = export_front(data, "xlsx", tmp_path / "front.xlsx", exported_at=T1)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Pareto front", "Trials", "Study"]
    ws = wb["Pareto front"]
    header = [c.value for c in ws[1]]
    front = sort_front(data)
    assert ws.max_row == len(front) + 1
    res = data.objectives[0]
    j_mean = header.index("resolution [%] (min)") + 1
    j_se = header.index(stderr_column(res)) + 1
    j_off = header.index("offset_mm [mm]") + 1
    j_mat = header.index("material") + 1
    for i in range(2, len(front) + 2):
        mean = ws.cell(row=i, column=j_mean)
        # a number cell; openpyxl writes 16 significant digits (Excel itself shows 15)
        assert mean.data_type == "n"
        assert mean.value == pytest.approx(front.iloc[i - 2][objective_column(res)], rel=1e-15, abs=0)
        assert ws.cell(row=i, column=j_se).data_type == "n"
        assert isinstance(ws.cell(row=i, column=j_off).value, float)
        # the PDG rounding is a display format, e.g. "0.000" for 0.686 ± 0.034
        r = round_to_error(front.iloc[i - 2][objective_column(res)], front.iloc[i - 2][stderr_column(res)])
        decimals = len(r.value.split(".")[1]) if "." in r.value else 0
        assert mean.number_format == ("0." + "0" * decimals if decimals else "0")
        mat = ws.cell(row=i, column=j_mat)
        assert mat.data_type == "s" and mat.value == front.iloc[i - 2]["material"]
    # formula-looking text is a string cell, never a formula
    assert any(str(ws.cell(row=i, column=j_mat).value).startswith("=") for i in range(2, ws.max_row + 1))
    wt = wb["Trials"]
    assert wt.max_row == len(data.trials) + 1
    errors = [c.value for c in wt[wt.max_row][:]]
    assert all(not isinstance(v, float) or np.isfinite(v) for v in errors)  # NaN written as empty
    failed = [r for r in wt.iter_rows(min_row=2, values_only=True) if r[1] == "FAILED"]
    assert failed and all(v is None or isinstance(v, (int, float, str, bool)) for v in failed[0])
    wm = wb["Study"]
    meta = {r[0]: r[1] for r in wm.iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    assert meta["definition hash (sha256)"] == data.definition_hash
    assert meta["study"] == data.study_name
    assert meta["exported"] == "2025-03-04T05:06:07Z"
    assert meta["engine options"] == '{"batch_size": 1, "levels": 12}'
    source_lines = [r[1] for r in wm.iter_rows(values_only=True) if r[1] is not None]
    assert "# cost < 100 & resolution > 0 {ok} ~ ^ \\ <b>" in source_lines
    # the workbook's times are the export time, not the time of saving (openpyxl's default)
    assert wb.properties.created == wb.properties.modified == datetime(2025, 3, 4, 5, 6, 7)


# ----------------------------------------------------------------------------- LaTeX


def _tabular_rows(tex: str) -> list[str]:
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    return [line for line in body.strip().splitlines() if line.endswith("\\\\")]


def test_latex_structure(data: ExportData, tmp_path: Path) -> None:
    tex = export_front(data, "latex", tmp_path / "front.tex", exported_at=T1).read_text()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert tex.count(rule) == 2  # the front and the metadata table
    assert "\\usepackage{booktabs}" in tex and "\\usepackage{siunitx}" in tex
    assert "\\caption{Pareto front of study \\texttt{calo\\_demo \\& 50\\% \\#1}" in tex
    assert "absorber\\_mm [mm]" in tex and "resolution [\\%] (min)" in tex
    rows = _tabular_rows(tex)
    assert len(rows) == len(data.front)
    assert all(row.count(" & ") == 8 for row in rows)  # 9 columns
    assert "\\num{" in rows[0] and "\\pm" in tex
    # no raw special character outside commands in the table body: every _ % & # is escaped
    for row in rows:
        stripped = re.sub(
            r"\\(num|textbackslash|textless|textgreater|textbar|textasciitilde|textasciicircum)\{[^}]*\}|\\pm",
            "",
            row,
        )
        assert not re.search(r"(?<!\\)[_%#$]", stripped), row
    assert "tungsten|W" in set(sort_front(data)["material"])
    assert "tungsten\\textbar{}W" in tex
    # one knee row
    assert sum(" & yes & " in r for r in rows) == 1


def test_latex_compiles(data: ExportData, tmp_path: Path) -> None:
    require_tex()  # fails under CI without TeX, skips loudly elsewhere
    path = export_front(data, "latex", tmp_path / "front.tex", exported_at=T1)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "front.pdf").stat().st_size > 1000
    assert "Overfull" not in proc.stdout


# ----------------------------------------------------------------------------- Markdown, HTML


def test_markdown_table(data: ExportData, tmp_path: Path) -> None:
    md = export_front(data, "md", tmp_path / "front.md", exported_at=T1).read_text()
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| trial"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert len(table) == 2 + len(data.front)
    assert table[1].startswith("|---:|:---|")
    assert "| resolution [%] (min) |" in table[0]
    assert (data.front["material"] == "tungsten|W").any()
    assert "tungsten\\|W" in md  # a pipe inside a cell is escaped
    # an unescaped pipe count gives the same number of cells in every row
    counts = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
    assert counts == {10}
    assert "Exported 2025-03-04T05:06:07Z" in md
    # study facts: each key once (metadata's own "study" and "trials" are not repeated)
    keys = [line.split(" | ")[0] for line in lines if line.startswith("| ") and " | " in line]
    assert keys.count("| study") == 1 and keys.count("| trials") == 1
    assert "| definition hash (sha256) | " + data.definition_hash + " |" in md


def test_html_report_is_self_contained(data: ExportData, tmp_path: Path) -> None:
    text = export_front(data, "html", tmp_path / "front.html", exported_at=T1).read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "plotly.js v" in text or "Plotly" in text  # the library itself is inlined
    assert not re.search(r"<script[^>]+src=", text)  # nothing fetched from a CDN
    assert data.definition_hash in text
    assert "# cost &lt; 100 &amp; resolution &gt; 0" in text  # the source, escaped
    assert "calo_demo &amp; 50% #1" in text
    body = text.split('<table class="front">', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr") == len(data.front) + 1
    assert body.count('<tr class="knee">') == 1
    # every option of the front, escaped, in its own cell (the data puts each of them on the front)
    assert set(data.front["material"]) == set(MATERIALS)
    cells = re.findall(r"<td>([^<]*)</td>", body)
    assert "=HYPERLINK(&quot;http://x&quot;)" in cells and "tungsten|W" in cells
    assert '=HYPERLINK("http://x")' not in body  # never unescaped
    assert 'id="paretoopt-front"' in text


# ----------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("fmt", ["csv", "md", "latex", "html"])
def test_second_export_identical_apart_from_the_timestamp(data: ExportData, tmp_path: Path, fmt: str) -> None:
    a = export_front(data, fmt, tmp_path / f"a.{EXT[fmt]}", exported_at=T1).read_bytes()
    b = export_front(data, fmt, tmp_path / f"b.{EXT[fmt]}", exported_at=T1).read_bytes()
    assert a == b
    c = export_front(data, fmt, tmp_path / f"c.{EXT[fmt]}", exported_at=T2).read_bytes()
    la, lc = a.decode().splitlines(), c.decode().splitlines()
    assert len(la) == len(lc)
    differing = [(x, y) for x, y in zip(la, lc) if x != y]
    if fmt == "csv":
        assert differing == []  # no timestamp at all
    else:
        assert len(differing) == 1
        assert "2025-03-04T05:06:07Z" in differing[0][0] and "2026-08-09T10:11:12Z" in differing[0][1]


def test_second_xlsx_export(data: ExportData, tmp_path: Path) -> None:
    a = export_front(data, "xlsx", tmp_path / "a.xlsx", exported_at=T1)
    b = export_front(data, "xlsx", tmp_path / "b.xlsx", exported_at=T1)
    assert a.read_bytes() == b.read_bytes()
    c = export_front(data, "xlsx", tmp_path / "c.xlsx", exported_at=T2)
    # different times: only the timestamp cell and the workbook properties differ
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(c) as zc:
        assert za.namelist() == zc.namelist()
        changed = [n for n in za.namelist() if za.read(n) != zc.read(n)]
    study_sheet = "xl/worksheets/sheet3.xml"
    assert set(changed) <= {"docProps/core.xml", study_sheet, "xl/sharedStrings.xml"}
    wa, wc = openpyxl.load_workbook(a), openpyxl.load_workbook(c)
    for name in wa.sheetnames:
        va = list(wa[name].iter_rows(values_only=True))
        vc = list(wc[name].iter_rows(values_only=True))
        diff = [(x, y) for x, y in zip(va, vc) if x != y]
        if name == "Study":
            assert diff == [(("exported", "2025-03-04T05:06:07Z"), ("exported", "2026-08-09T10:11:12Z"))]
        else:
            assert diff == []


def test_source_date_epoch(data: ExportData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(T1.timestamp())))
    md = export_front(data, "md", tmp_path / "front.md").read_text()
    assert "Exported 2025-03-04T05:06:07Z" in md


def test_every_format_and_bad_format(data: ExportData, tmp_path: Path) -> None:
    for fmt in FORMATS:
        out = export_front(data, fmt, tmp_path / f"front.{EXT[fmt]}")
        assert out.stat().st_size > 0
    assert export_front(data, "markdown", tmp_path / "x.md").read_text().startswith("# Pareto front")
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export_front(data, "pdf", tmp_path / "front.pdf")


def test_empty_front_exports(tmp_path: Path) -> None:
    d = make_data()
    d.front = d.front.iloc[0:0]
    for fmt in FORMATS:
        export_front(d, fmt, tmp_path / f"empty.{EXT[fmt]}", exported_at=T1)
    assert len(pd.read_csv(tmp_path / "empty.csv")) == 0
    assert format_front_table(d).empty
