"""The HTML export: one self-contained page with the front figures, the table and the study definition."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from paretoopt.report.rounding import Rounded
from paretoopt.report.table import DisplayColumn, ExportData, display_columns, metadata_rows, stamp, summary

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


def _html_table(cols: list[DisplayColumn]) -> str:
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


def _trail_section(data: ExportData) -> list[str]:
    """The "Decision trail" section: every logged decision step (nothing when none was logged)."""
    if not data.decisions:
        return []
    from paretoopt.report.decisions import decision_trail

    e = html.escape
    trail = decision_trail(data.decisions)
    head = "".join(f"<th>{e(str(c))}</th>" for c in trail.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
        for row in trail.itertuples(index=False, name=None)
    )
    return [
        '<h2 id="decision-trail">Decision trail</h2>',
        "<p>How a design was chosen on this front: each step of the study's decision log.</p>",
        f'<table class="trail"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>',
    ]


def write_html(data: ExportData, path: Path, ts: datetime) -> None:
    """Write the HTML report: summary, front and parallel-coordinates figures, table, study facts."""
    # plotly loads only when an HTML report is written, not on ``import paretoopt``
    from paretoopt.report.front_plot import front_figure
    from paretoopt.report.plots import parallel_coordinates

    e = html.escape
    figures: list[str] = []
    include_js: bool = True
    fig_config = {"displaylogo": False, "responsive": True}
    if len(data.objectives) >= 2 and len(data.front):
        fig = front_figure(data, ndim=3 if len(data.objectives) >= 3 else 2)
        figures.append(
            fig.to_html(
                full_html=False, include_plotlyjs=include_js, div_id="paretoopt-front", config=fig_config
            )
        )
        include_js = False
    if len(data.trials):
        pc = parallel_coordinates(data.trials, data.space, data.objectives)
        if pc.data and len(pc.data[0].dimensions):
            figures.append(
                pc.to_html(
                    full_html=False,
                    include_plotlyjs=include_js,
                    div_id="paretoopt-parcoords",
                    config=fig_config,
                )
            )
    meta = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in metadata_rows(data))
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
        f"<p>{e(summary(data))}</p>",
        *figures,
        "<h2>Pareto-optimal designs</h2>",
        _html_table(display_columns(data)),
        *_trail_section(data),
        "<h2>Study</h2>",
        f'<table class="meta">\n{meta}\n</table>',
        "<h2>Study definition</h2>",
        f"<p>SHA-256 of the definition: <code>{e(data.definition_hash)}</code></p>",
        source,
        f'<p class="exported">Exported {stamp(ts)} by paretoopt.</p>',
        "</body>",
        "</html>",
        "",
    ]
    path.write_text("\n".join(parts), encoding="utf-8", newline="")


__all__ = ["write_html"]
