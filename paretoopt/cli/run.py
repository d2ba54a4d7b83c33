"""``paretoopt run``: trace (or resume) a study's front, on the real simulation or its surrogate."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import typer

from paretoopt.cli.common import EXIT_FAILED, StorageOpt, fail, log_file_for, setup_logging, storage_url
from paretoopt.cli.studies import front_text
from paretoopt.exceptions import ParetoOptError, SpaceError


def run(
    study_file: Annotated[
        Path, typer.Argument(help="Study definition file (a studies/*.py defining `study`).")
    ],
    trials: Annotated[
        int, typer.Option("--trials", "-n", help="Total trials the study should reach (re-run to resume).")
    ] = 20,
    engine: Annotated[
        str, typer.Option(help="Outer engine: grid, random, botorch, nsga2 or setgrad.")
    ] = "grid",
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
    population: Annotated[int | None, typer.Option(help="nsga2, setgrad: population size.")] = None,
    set_model: Annotated[
        str | None,
        typer.Option(help="setgrad: 'population' (default) or 'psl' (a Pareto-set network per combination)."),
    ] = None,
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
    fill: Annotated[
        float,
        typer.Option(
            help="At most this share of the calls on designs halfway between neighbouring front "
            "trials, one call each, while they land on the front; fills count as trials "
            "(docs/engines.md)."
        ),
    ] = 0.0,
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
    setup_logging(verbose, log_file_for(storage_url(storage)))
    from paretoopt.outer import ENGINES
    from paretoopt.problem import load_study_definition
    from paretoopt.run import build_engine, optimize

    try:
        if trials < 1:
            raise fail(f"--trials must be >= 1, got {trials}")
        if engine not in ENGINES:
            raise fail(f"unknown engine {engine!r}; choose from {', '.join(sorted(ENGINES))}")
        if scalarization not in ("chebyshev", "weighted_sum"):
            raise fail(f"--scalarization must be chebyshev or weighted_sum, got {scalarization!r}")
        if simulator not in ("real", "surrogate"):
            raise fail(f"--simulator must be 'real' or 'surrogate', got {simulator!r}")
        if workers < 1:
            raise fail(f"--workers must be >= 1, got {workers}")
        if not 0.0 <= fill < 1.0:
            raise fail(f"--fill is a share of the calls in [0, 1), got {fill}")
        if fill and (simulator != "real" or engine == "setgrad"):
            raise fail("--fill applies to the real simulation and engines other than setgrad")
        if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
            raise fail(f"--device must be cpu, cuda or cuda:N, got {device!r}")
        options: dict[str, Any] = {}
        if initial_trials is not None:
            if engine != "botorch":
                raise fail("--initial-trials applies to --engine botorch only")
            options["initial_trials"] = initial_trials
        if population is not None:
            if engine not in ("nsga2", "setgrad"):
                raise fail("--population applies to --engine nsga2 or setgrad only")
            options["population"] = population
        if set_model is not None:
            if engine != "setgrad":
                raise fail("--set-model applies to --engine setgrad only")
            options["model"] = set_model
        if max_baseline is not None:
            if engine != "botorch":
                raise fail("--max-baseline applies to --engine botorch only")
            options["max_baseline"] = max_baseline
        if batch_size is not None and engine == "botorch":
            options["batch_size"] = batch_size
        definition = load_study_definition(study_file)
        eng = build_engine(engine, seed=seed, options=options)  # options checked before anything is written
        executor = None
        if workers > 1 or scheduler:
            from paretoopt.run import DaskExecutor

            executor = DaskExecutor.for_cli(
                workers=workers, scheduler=scheduler, storage_url=storage_url(storage)
            )
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise fail(f"--device {device}: torch reports no CUDA device on this machine")
        trace: Any = optimize if not fill else functools.partial(optimize, fill=fill)
        if simulator == "surrogate":
            from paretoopt.workflows import optimize_on_surrogate

            trace = optimize_on_surrogate
        study = trace(
            definition,
            storage=storage_url(storage),
            study_name=study_name,
            engine=eng,
            n_trials=trials,
            seed=seed,
            scalarization=scalarization,
            batch_size=batch_size or (workers if workers > 1 else None),
            warm_start=warm_start,
            device=device,
            progress=progress,
            executor=executor,
        )
    except typer.Exit:
        raise
    except (ParetoOptError, SpaceError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; run the same command again to resume", EXIT_FAILED) from None
    completed = study.completed_trials
    typer.echo(
        f"study {study.name!r}: {len(study.trials)} trials, {len(completed)} complete, "
        f"{study.n_calls} simulator calls, storage {study.storage.url}"
    )
    if not completed:
        errors = [t.error for t in study.trials if t.error]
        raise fail(
            "no trial completed" + (f"; first error: {errors[0].splitlines()[0]}" if errors else ""),
            EXIT_FAILED,
        )
    typer.echo(front_text(study))
    if simulator == "surrogate":
        from paretoopt.workflows import comparison_summary, surrogate_comparison

        typer.echo("")
        typer.echo(comparison_summary(surrogate_comparison(study), study.objectives))
    typer.echo("")
    typer.echo(health_lines(study.trials))


def health_lines(trials: list[Any]) -> str:
    """The run's closing health summary: what the finished trials cost (calls forward and
    backward, simulated events), how their inner loops stopped, and what to change."""
    from paretoopt.health import calls_summary, convergence_advice, convergence_summary

    advice = convergence_advice(trials)
    return "\n".join([calls_summary(trials), convergence_summary(trials), *([advice] if advice else [])])
