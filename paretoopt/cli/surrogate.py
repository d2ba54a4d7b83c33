"""``paretoopt surrogate fit | show``: fit, store and inspect a study's surrogate."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from paretoopt.cli.common import EXIT_FAILED, StorageOpt, fail, open_existing
from paretoopt.exceptions import ParetoOptError


def validation_text(surrogate: Any) -> str:
    """A surrogate's summary and its held-out validation table."""
    table = surrogate.validation_table()
    return surrogate.summary() + "\n\n" + table.to_string(index=False, float_format=lambda v: f"{v:.4g}")


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
        raise fail(f"--kind must be auto, {', '.join(KINDS)}; got {kind!r}")
    try:
        s = load_study(study_name=study, storage=open_existing(storage))
        surrogate = fit_surrogate(s, seed=seed, kind=kind)  # type: ignore[arg-type]
        save_surrogate(s, surrogate)
    except SurrogateError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    except ParetoOptError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"study {s.name!r}: surrogate stored in {s.storage.url}")
    typer.echo(validation_text(surrogate))


def surrogate_show(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
) -> None:
    """Print the validation table of the study's stored surrogate (refitting nothing)."""
    from paretoopt.exceptions import SurrogateError
    from paretoopt.study import load_study
    from paretoopt.surrogate import eligible_trials, load_surrogate

    try:
        s = load_study(study_name=study, storage=open_existing(storage))
        surrogate = load_surrogate(s)
        if surrogate is None:
            raise fail(
                f"no surrogate stored for study {study!r}; fit one with `paretoopt surrogate fit {study}`",
                EXIT_FAILED,
            )
        current = sorted(t.number for t in eligible_trials(s))
    except SurrogateError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    except ParetoOptError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"study {s.name!r}")
    typer.echo(validation_text(surrogate))
    if current != surrogate.trial_numbers:
        typer.echo(
            f"\nnote: the study now has {len(current)} completed trials, the model was fitted on "
            f"{len(surrogate.trial_numbers)}; `paretoopt surrogate fit {study}` refits it"
        )
