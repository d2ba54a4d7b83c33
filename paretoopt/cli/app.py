"""The ``paretoopt`` Typer application: every command registered under its name.

Exit codes: 0 done; 1 the study ran but failed (no trial completed); 2 bad input (missing file,
malformed study, unknown study, bad storage URL or option), with a one-line message, no
traceback, and nothing written to the database.
"""

from __future__ import annotations

import typer

from paretoopt.cli import dashboard, decide, refine, run, studies, surrogate, validate

app = typer.Typer(
    name="paretoopt",
    help="Trace physics-vs-cost Pareto fronts of detector designs (gradient inner loop + outer engines).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("run")(run.run)
app.command("list")(studies.list_studies)
app.command("show")(studies.show)
app.command("export")(studies.export)
app.command("dashboard")(dashboard.dashboard_cmd)
app.command("refine")(refine.refine)
app.command("decide")(decide.decide_cmd)
app.command("validate")(validate.validate)

surrogate_app = typer.Typer(
    help="Fit and inspect the surrogates of a study (design -> objectives, with uncertainty).",
    no_args_is_help=True,
)
surrogate_app.command("fit")(surrogate.surrogate_fit)
surrogate_app.command("show")(surrogate.surrogate_show)
app.add_typer(surrogate_app, name="surrogate")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
