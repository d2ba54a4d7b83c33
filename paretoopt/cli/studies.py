"""``paretoopt list | show | export``: read stored studies, print their fronts, write review tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from paretoopt.cli.common import EXIT_FAILED, StorageOpt, fail, open_existing
from paretoopt.exceptions import ParetoOptError


def front_text(study: Any, max_rows: int = 40) -> str:
    """The study's Pareto table as text, at most ``max_rows`` rows."""
    from paretoopt.report.table import format_front_table

    table = format_front_table(study.export_data())
    if len(table) > max_rows:
        return table.head(max_rows).to_string(index=False) + f"\n... {len(table) - max_rows} more rows"
    return table.to_string(index=False)


def list_studies(storage: StorageOpt = None) -> None:
    """List the studies in a database with their trial counts."""
    try:
        st = open_existing(storage)
        summaries = st.list_studies()
    except ParetoOptError as exc:
        raise fail(str(exc)) from None
    if not summaries:
        typer.echo("no studies")
        return
    import pandas as pd

    rows = [
        {
            "study": s.name,
            "objectives": ", ".join(o["name"] for o in s.objectives),
            "complete": s.counts.get("COMPLETE", 0),
            "failed": s.counts.get("FAILED", 0),
            "running": s.counts.get("RUNNING", 0) + s.counts.get("WAITING", 0),
            "engine": s.engine,
            "updated": s.updated_at.isoformat(sep=" ", timespec="seconds") if s.updated_at else "",
        }
        for s in summaries
    ]
    typer.echo(pd.DataFrame(rows).to_string(index=False))


def show(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    rows: Annotated[int, typer.Option(help="Front rows to print.")] = 40,
) -> None:
    """Show a study's summary and its Pareto front as a table."""
    from paretoopt.health import calls_summary
    from paretoopt.study import load_study

    try:
        s = load_study(study_name=study, storage=open_existing(storage))
    except ParetoOptError as exc:
        raise fail(str(exc)) from None
    trials = s.trials
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    rec = s.record
    hv = s.hypervolume_history()
    typer.echo(f"study       {s.name}  (definition {rec.definition_name}, hash {rec.definition_hash[:12]})")
    typer.echo(f"objectives  {', '.join(f'{o.label} ({o.direction})' for o in s.objectives)}")
    typer.echo(
        f"engine      {rec.engine} {rec.engine_options or ''}  "
        f"scalarisation {rec.scalarization}  seed {rec.seed}"
    )
    typer.echo(
        f"trials      {len(trials)}  " + "  ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items()))
    )
    typer.echo(f"calls       {calls_summary(trials)}")
    typer.echo(f"inner loops {s.convergence_summary()}")
    if len(hv):
        typer.echo(f"hypervolume {hv['hypervolume'].iloc[-1]:.6g} (reference: nadir + 10 %)")
    if not s.completed_trials:
        typer.echo("no completed trials yet")
        return
    typer.echo("")
    typer.echo(front_text(s, rows))


FORMATS = ("csv", "md", "latex", "xlsx", "html")


def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    format: Annotated[str, typer.Option("--format", "-f", help="csv, md, latex, xlsx or html.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file [default: STUDY-front.EXT].")
    ] = None,
    storage: StorageOpt = None,
    include_archive: Annotated[
        bool,
        typer.Option(help="Build the front from every evaluated design (trajectory points marked)."),
    ] = False,
    artefacts: Annotated[
        bool,
        typer.Option(
            "--artefacts",
            help="Also write the Pareto trials' trained blocks (safetensors + manifest.json) "
            "into OUTPUT-artefacts/ beside the table.",
        ),
    ] = False,
) -> None:
    """Export a study's Pareto table for a design review."""
    from paretoopt.study import load_study

    if format not in FORMATS:
        raise fail(f"unknown format {format!r}; choose from {', '.join(FORMATS)}")
    ext = {"latex": "tex"}.get(format, format)
    out = output or Path(f"{study}-front.{ext}")
    if not out.parent.exists():
        raise fail(f"output directory {out.parent} does not exist")
    try:
        s = load_study(study_name=study, storage=open_existing(storage))
        if not s.completed_trials:
            raise fail(f"study {study!r} has no completed trials to export", EXIT_FAILED)
        path = s.export(format, str(out), include_archive=include_archive)
        if artefacts:
            from paretoopt.blocks.artefacts import export_artefacts

            folder = export_artefacts(s, out.parent / f"{out.stem}-artefacts")
    except ParetoOptError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"wrote {path}")
    if artefacts:
        typer.echo(f"wrote {folder}" if folder is not None else "no Pareto trial has trained blocks")
