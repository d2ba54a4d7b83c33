"""``paretoopt validate STUDY_FILE [--block NAME]``: every block of a study's pipeline checked alone.

Prints one row per check (block, check, value, reference, tolerance, pass) and exits 0 when all
pass, 1 when a check fails, 2 on bad input (a missing or malformed study file, a simulation that
is not a pipeline of blocks, an unknown block).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from paretoopt.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, fail
from paretoopt.exceptions import ParetoOptError


def validation_rows(simulate: Any, block: str | None) -> list[dict[str, Any]]:
    """The checks of ``simulate``'s blocks as table rows (see :func:`paretoopt.blocks.check_table`);
    ``ValueError`` when ``simulate`` has no blocks to validate."""
    from paretoopt.blocks import check_table

    validate = getattr(simulate, "validate", None)
    if not callable(validate):
        raise ValueError(
            f"the study's simulation ({type(simulate).__name__}) is not a pipeline of blocks "
            "(paretoopt.blocks.Pipeline): nothing to validate"
        )
    return check_table(validate(block))


def validate(
    study_file: Annotated[Path, typer.Argument(help="Study file (Python, defines `study`).")],
    block: Annotated[str | None, typer.Option("--block", help="Validate only this block.")] = None,
) -> None:
    """Run every block's validation alone and print block, check, value, reference, pass."""
    import pandas as pd

    from paretoopt.problem import load_study_definition

    try:
        definition = load_study_definition(study_file)
        rows = validation_rows(definition.simulate, block)
    except (ParetoOptError, ValueError, OSError) as exc:
        raise fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, EXIT_BAD_INPUT) from None
    if not rows:
        raise fail(
            f"no checks for block {block!r}" if block else "the pipeline has no checks", EXIT_BAD_INPUT
        )
    table = pd.DataFrame(rows)[["block", "check", "value", "reference", "tolerance", "pass"]]
    with pd.option_context(
        "display.max_colwidth", 60, "display.width", 200, "display.float_format", "{:.6g}".format
    ):
        typer.echo(table.to_string(index=False))
    failed = int((~table["pass"]).sum())
    typer.echo(f"\n{len(table) - failed} of {len(table)} checks pass")
    if failed:
        raise typer.Exit(EXIT_FAILED)
