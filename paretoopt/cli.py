"""The ``paretoopt`` command line: run | list | show | export | surrogate | dashboard.

Exit codes: 0 done; 1 the study ran but failed (no trial completed); 2 bad input (missing file,
malformed study, unknown study, bad storage URL or option), with a one-line message, no
traceback, and nothing written to the database.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from paretoopt.exceptions import ParetoOptError, SpaceError, StorageError

app = typer.Typer(
    name="paretoopt",
    help="Trace physics-vs-cost Pareto fronts of detector designs (gradient inner loop + outer engines).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
ENGINE_NAMES = ("grid", "random", "botorch", "nsga2")

StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="PARETOOPT_STORAGE",
        help="SQLAlchemy URL of the study database [default: sqlite:///paretoopt.db, or $PARETOOPT_STORAGE].",
        show_default=False,
    ),
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _url(storage: str | None) -> str:
    from paretoopt.storage import default_storage_url

    return storage or default_storage_url()


def _open_existing(storage: str | None) -> Any:
    """Open a storage for reading without creating anything: a missing SQLite file is an error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from paretoopt.storage import get_storage

    url = _url(storage)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"bad storage URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise StorageError(f"no database at {parsed.database} (storage {url}); run a study first")
    return get_storage(url)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _front_text(study: Any, max_rows: int = 40) -> str:
    from paretoopt.export import format_front_table

    table = format_front_table(study.export_data())
    if len(table) > max_rows:
        return table.head(max_rows).to_string(index=False) + f"\n... {len(table) - max_rows} more rows"
    return table.to_string(index=False)


@app.command()
def run(
    study_file: Annotated[
        Path, typer.Argument(help="Study definition file (a studies/*.py defining `study`).")
    ],
    trials: Annotated[
        int, typer.Option("--trials", "-n", help="Total trials the study should reach (re-run to resume).")
    ] = 20,
    engine: Annotated[str, typer.Option(help="Outer engine: grid, random, botorch or nsga2.")] = "grid",
    storage: StorageOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the engine and every inner loop.")] = 0,
    study_name: Annotated[
        str | None, typer.Option(help="Study name [default: the definition's name].")
    ] = None,
    scalarization: Annotated[str, typer.Option(help="chebyshev (default) or weighted_sum.")] = "chebyshev",
    batch_size: Annotated[
        int | None, typer.Option(help="Proposals per ask (botorch q; default 1, or --workers).")
    ] = None,
    initial_trials: Annotated[
        int | None, typer.Option(help="botorch: Sobol trials before the GP takes over.")
    ] = None,
    population: Annotated[int | None, typer.Option(help="nsga2: population size.")] = None,
    max_baseline: Annotated[
        int | None,
        typer.Option(
            help="botorch: most trials the hypervolume improvement is measured against [default: 64]; "
            "fewer make each proposal cheaper and the front coarser (docs/engines.md)."
        ),
    ] = None,
    warm_start: Annotated[
        bool, typer.Option(help="Start inner loops from the nearest finished trial.")
    ] = True,
    device: Annotated[str, typer.Option(help="Where simulations run: cpu or cuda.")] = "cpu",
    workers: Annotated[int, typer.Option(help="Run N trials at a time on a Dask LocalCluster.")] = 1,
    scheduler: Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler.")] = None,
    simulator: Annotated[
        str,
        typer.Option(
            help="'real' (default) or 'surrogate': trace on the fitted surrogate, re-simulate the front."
        ),
    ] = "real",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    """Run (or resume) a study until it holds --trials finished trials, then print its front."""
    _setup_logging(verbose)
    from paretoopt.outer import ENGINES, make_engine
    from paretoopt.problem import load_study_definition
    from paretoopt.runner import optimize

    try:
        if trials < 1:
            raise _fail(f"--trials must be >= 1, got {trials}")
        if engine not in ENGINES:
            raise _fail(f"unknown engine {engine!r}; choose from {', '.join(sorted(ENGINES))}")
        if scalarization not in ("chebyshev", "weighted_sum"):
            raise _fail(f"--scalarization must be chebyshev or weighted_sum, got {scalarization!r}")
        if simulator not in ("real", "surrogate"):
            raise _fail(f"--simulator must be 'real' or 'surrogate', got {simulator!r}")
        if workers < 1:
            raise _fail(f"--workers must be >= 1, got {workers}")
        if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
            raise _fail(f"--device must be cpu, cuda or cuda:N, got {device!r}")
        options: dict[str, Any] = {}
        if initial_trials is not None:
            if engine != "botorch":
                raise _fail("--initial-trials applies to --engine botorch only")
            options["initial_trials"] = initial_trials
        if population is not None:
            if engine != "nsga2":
                raise _fail("--population applies to --engine nsga2 only")
            options["population"] = population
        if max_baseline is not None:
            if engine != "botorch":
                raise _fail("--max-baseline applies to --engine botorch only")
            options["max_baseline"] = max_baseline
        if batch_size is not None and engine == "botorch":
            options["batch_size"] = batch_size
        definition = load_study_definition(study_file)
        make_engine(engine, seed=seed, **options)  # options checked before anything is written
        executor = None
        if workers > 1 or scheduler:
            from paretoopt.parallel import DaskExecutor

            executor = DaskExecutor.for_cli(workers=workers, scheduler=scheduler, storage_url=_url(storage))
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise _fail(f"--device {device}: torch reports no CUDA device on this machine")
        kwargs = dict(
            storage=_url(storage),
            study_name=study_name,
            engine=engine,
            engine_options=options,
            n_trials=trials,
            seed=seed,
            scalarization=scalarization,
            batch_size=batch_size or (workers if workers > 1 else None),
            warm_start=warm_start,
            device=device,
            progress=progress,
            executor=executor,
        )
        if simulator == "surrogate":
            from paretoopt.workflows import optimize_on_surrogate

            study = optimize_on_surrogate(definition, **kwargs)  # type: ignore[arg-type]
        else:
            study = optimize(definition, **kwargs)
    except typer.Exit:
        raise
    except (ParetoOptError, SpaceError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; run the same command again to resume", EXIT_FAILED) from None
    completed = study.completed_trials
    typer.echo(
        f"study {study.name!r}: {len(study.trials)} trials, {len(completed)} complete, "
        f"{study.n_calls} simulator calls, storage {study.storage.url}"
    )
    if not completed:
        errors = [t.error for t in study.trials if t.error]
        raise _fail(
            "no trial completed" + (f"; first error: {errors[0].splitlines()[0]}" if errors else ""),
            EXIT_FAILED,
        )
    typer.echo(_front_text(study))
    if simulator == "surrogate":
        from paretoopt.workflows import comparison_summary, surrogate_comparison

        typer.echo("")
        typer.echo(comparison_summary(surrogate_comparison(study), study.objectives))


@app.command("list")
def list_studies(storage: StorageOpt = None) -> None:
    """List the studies in a database with their trial counts."""
    try:
        st = _open_existing(storage)
        summaries = st.list_studies()
    except ParetoOptError as exc:
        raise _fail(str(exc)) from None
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


@app.command()
def show(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    rows: Annotated[int, typer.Option(help="Front rows to print.")] = 40,
) -> None:
    """Show a study's summary and its Pareto front as a table."""
    from paretoopt.study import load_study

    try:
        s = load_study(study_name=study, storage=_open_existing(storage))
    except ParetoOptError as exc:
        raise _fail(str(exc)) from None
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
    typer.echo(f"calls       {s.n_calls} forward, {s.n_backward} backward")
    if len(hv):
        typer.echo(f"hypervolume {hv['hypervolume'].iloc[-1]:.6g} (reference: nadir + 10 %)")
    if not s.completed_trials:
        typer.echo("no completed trials yet")
        return
    typer.echo("")
    typer.echo(_front_text(s, rows))


FORMATS = ("csv", "md", "latex", "xlsx", "html")


@app.command()
def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    format: Annotated[str, typer.Option("--format", "-f", help="csv, md, latex, xlsx or html.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file [default: STUDY-front.EXT].")
    ] = None,
    storage: StorageOpt = None,
) -> None:
    """Export a study's Pareto table for a design review."""
    from paretoopt.study import load_study

    if format not in FORMATS:
        raise _fail(f"unknown format {format!r}; choose from {', '.join(FORMATS)}")
    ext = {"latex": "tex"}.get(format, format)
    out = output or Path(f"{study}-front.{ext}")
    if not out.parent.exists():
        raise _fail(f"output directory {out.parent} does not exist")
    try:
        s = load_study(study_name=study, storage=_open_existing(storage))
        if not s.completed_trials:
            raise _fail(f"study {study!r} has no completed trials to export", EXIT_FAILED)
        path = s.export(format, str(out))
    except ParetoOptError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"wrote {path}")


@app.command("dashboard")
def dashboard_cmd(
    storage: StorageOpt = None,
    host: Annotated[
        str,
        typer.Option(help="Interface to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8050,
    allow_simulate: Annotated[
        bool,
        typer.Option(
            "--allow-simulate",
            help="Allow 'simulate this design' (runs the study's code, adds trials); read-only without it.",
        ),
    ] = False,
    poll: Annotated[
        float, typer.Option(help="Seconds between checks for new trials on an open study page.")
    ] = 5.0,
    prefetch: Annotated[
        bool, typer.Option(help="Read the newest studies and draw their fronts in the background at start.")
    ] = True,
) -> None:
    """Browse the studies of a database in a web dashboard (fronts, trials, what-ifs, exports)."""
    try:
        from dashboard import create_app, serve
        from dashboard.app import LOOPBACK_NAMES
    except ImportError as exc:
        raise _fail(f"the dashboard package is not installed: {exc}") from None
    if not 0 < port < 65536:
        raise _fail(f"--port must be in 1..65535, got {port}")
    public = host in ("0.0.0.0", "::", "")  # noqa: S104 - only when the user asks for it
    allowed = None if public else (*LOOPBACK_NAMES, host)
    try:
        dash_app = create_app(
            _url(storage),
            allow_simulate=allow_simulate,
            poll_interval_s=poll,
            allowed_hosts=allowed,
            prefetch=prefetch,
        )
    except (ParetoOptError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    mode = "simulations allowed" if allow_simulate else "read-only"
    shown = "127.0.0.1" if public else host
    typer.echo(
        f"paretoopt dashboard on http://{shown}:{port}/ ({mode}, storage {_url(storage)}); Ctrl-C stops it"
    )
    if public:
        typer.echo(
            "warning: listening on every interface; anyone who can reach this port can read the studies",
            err=True,
        )
    try:
        serve(dash_app, host, port)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc}") from None


surrogate_app = typer.Typer(
    help="Fit and inspect the surrogates of a study (design -> objectives, with uncertainty).",
    no_args_is_help=True,
)
app.add_typer(surrogate_app, name="surrogate")


def _validation_text(surrogate: Any) -> str:
    table = surrogate.validation_table()
    return surrogate.summary() + "\n\n" + table.to_string(index=False, float_format=lambda v: f"{v:.4g}")


@surrogate_app.command("fit")
def surrogate_fit(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the held-out split and the fit.")] = 0,
    kind: Annotated[
        str,
        typer.Option(help="auto (exact GP up to 1000 points, else deep ensemble), exact_gp, deep_ensemble."),
    ] = "auto",
) -> None:
    """Fit the study's surrogate on every completed trial, store it, print its validation table."""
    from paretoopt.exceptions import SurrogateError
    from paretoopt.study import load_study
    from paretoopt.surrogate import KINDS, fit_surrogate, save_surrogate

    if kind not in ("auto", *KINDS):
        raise _fail(f"--kind must be auto, {', '.join(KINDS)}; got {kind!r}")
    try:
        s = load_study(study_name=study, storage=_open_existing(storage))
        surrogate = fit_surrogate(s, seed=seed, kind=kind)  # type: ignore[arg-type]
        save_surrogate(s, surrogate)
    except SurrogateError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    except ParetoOptError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"study {s.name!r}: surrogate stored in {s.storage.url}")
    typer.echo(_validation_text(surrogate))


@surrogate_app.command("show")
def surrogate_show(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
) -> None:
    """Print the validation table of the study's stored surrogate (refitting nothing)."""
    from paretoopt.exceptions import SurrogateError
    from paretoopt.study import load_study
    from paretoopt.surrogate import eligible_trials, load_surrogate

    try:
        s = load_study(study_name=study, storage=_open_existing(storage))
        surrogate = load_surrogate(s)
        if surrogate is None:
            raise _fail(
                f"no surrogate stored for study {study!r}; fit one with `paretoopt surrogate fit {study}`",
                EXIT_FAILED,
            )
        current = sorted(t.number for t in eligible_trials(s))
    except SurrogateError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    except ParetoOptError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"study {s.name!r}")
    typer.echo(_validation_text(surrogate))
    if current != surrogate.trial_numbers:
        typer.echo(
            f"\nnote: the study now has {len(current)} completed trials, the model was fitted on "
            f"{len(surrogate.trial_numbers)}; `paretoopt surrogate fit {study}` refits it"
        )


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
