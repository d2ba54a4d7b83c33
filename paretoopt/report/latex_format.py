"""The LaTeX export: the review table as booktabs/siunitx in a standalone document."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from paretoopt.report.columns import objective_column
from paretoopt.report.rounding import Rounded
from paretoopt.report.table import ExportData, display_columns, metadata_rows, stamp

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
    cols = display_columns(data)
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


def write_latex(data: ExportData, path: Path, ts: datetime) -> None:
    """Write a standalone LaTeX document: the table and the study facts (booktabs, siunitx, graphicx)."""
    meta = metadata_rows(data)
    lines = [
        f"% Pareto front of study {' '.join(data.study_name.splitlines())}, written by paretoopt",
        f"% exported {stamp(ts)}",
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


__all__ = ["latex_escape", "latex_table", "write_latex"]
