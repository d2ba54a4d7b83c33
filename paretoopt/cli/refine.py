"""``paretoopt refine STUDY``: re-evaluate the archive points on the study's front on the full
evaluation sample, until the front is review-grade (:mod:`paretoopt.refine`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paretoopt.cli.common import EXIT_FAILED, StorageOpt, fail, open_existing


def refine(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    study_file: Annotated[
        Path | None,
        typer.Option(help="The study file (default: the one the study was created from; same hash)."),
    ] = None,
    max_points: Annotated[
        int | None, typer.Option(help="Re-evaluate at most N points in this run (rerun to continue).")
    ] = None,
    device: Annotated[str, typer.Option(help="Where simulations run: cpu or cuda.")] = "cpu",
) -> None:
    """Re-evaluate the trajectory points on the front on the full evaluation sample (resumable:
    a killed refine finishes the rest when run again; a second run re-evaluates nothing)."""
    from paretoopt.exceptions import ParetoOptError
    from paretoopt.refine import refine_study, trusted_definition
    from paretoopt.study import load_study

    try:
        s = load_study(study_name=study, storage=open_existing(storage))
        definition = trusted_definition(s.record, study_file)
        report = refine_study(definition, s, device=device, max_points=max_points)
    except ParetoOptError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; run the same command again to refine the rest", EXIT_FAILED) from None
    typer.echo(f"study {s.name!r}: {report.summary()}")
    front = s.pareto_front(include_archive=True)
    grade = front["source"].value_counts().to_dict() if len(front) else {}
    typer.echo(
        f"archive front: {len(front)} points ("
        + ", ".join(f"{v} {k}" for k, v in sorted(grade.items()))
        + f"); {int((~front['review_grade'].astype(bool)).sum()) if len(front) else 0} not review-grade"
    )
