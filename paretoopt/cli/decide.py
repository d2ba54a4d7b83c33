"""``paretoopt decide``: choose a design on a study's stored front, under a budget
(``--budget cost=2000 --budget depth=40 [--minimize resolution]``), nearest an aspiration
(``--reference resolution=0.05,cost=1500``) or by an E-NAUTILUS walk (``--navigate STEPS``);
print the design, its ties and neighbours as a table, or one JSON object (``--json``); ``--log``
appends the step to the study's decision log. Bad input exits 2 with one line."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from paretoopt.cli.common import StorageOpt, fail, open_existing
from paretoopt.exceptions import ParetoOptError


def parse_pairs(items: list[str], what: str) -> dict[str, Any]:
    """``["cost=2000", "depth<=40", "efficiency>=0.9"]`` (or one comma-separated string each) to
    ``{name: bound}``: ``=`` bounds the worse side, ``<=`` / ``>=`` name the side."""
    out: dict[str, Any] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            for op in ("<=", ">=", "="):
                if op in part:
                    name, _, raw = part.partition(op)
                    break
            else:
                raise ValueError(f"{what} {part!r}: write NAME=VALUE, e.g. cost=2000")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{what} {part!r}: {raw.strip()!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{what} {part!r}: the value must be finite")
            name = name.strip()
            out[name] = (None, value) if op == "<=" else (value, None) if op == ">=" else value
    return out


def _value(v: float, se: float) -> str:
    return f"{v:.4g} ± {se:.2g}" if se > 0 else f"{v:.4g}"


def decision_table(front: Any, decision: Any) -> str:
    """The chosen design, its ties and neighbours as a text table (objectives ± standard errors)."""
    import pandas as pd

    roles = [("chosen", decision.trial)]
    roles += [("tie", n) for n in decision.ties] + [("neighbour", n) for n in decision.neighbours]
    rows = []
    for role, number in roles:
        d = front.design(front.row(number))
        row: dict[str, Any] = {"": role, "trial": number}
        for c in front.criteria:
            row[c.label] = _value(d.objectives[c.name], d.stderr[c.name])
        if d.group:
            row["choices"] = d.group
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def _refine(path: str, study: Any, front: Any, decision: Any) -> Any:
    """Refine ``decision`` with the study file at ``path`` (its hash must be the stored one)."""
    from paretoopt import decide
    from paretoopt.refine import trusted_definition

    # the hash is checked before the file is executed (StudyDefinitionError: exit 2)
    definition = trusted_definition(study.record, path)
    return decide.refine_budget(definition, study, front, decision)


def decide_cmd(
    study: Annotated[str, typer.Argument(help="Study name.")],
    budget: Annotated[
        list[str] | None,
        typer.Option(
            "--budget",
            help="A bound NAME=VALUE on an objective or constraint (upper for a minimised one, "
            "lower for a maximised one; NAME<=V or NAME>=V to say which); repeat for several.",
        ),
    ] = None,
    minimize: Annotated[
        str | None,
        typer.Option(
            "--minimize", help="The objective to optimise under --budget [default: the first unbounded]."
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="An aspiration NAME=VALUE,NAME=VALUE: the front design nearest it."),
    ] = None,
    navigate: Annotated[
        int | None,
        typer.Option("--navigate", help="Walk STEPS E-NAUTILUS steps from the nadir (towards --reference)."),
    ] = None,
    refine: Annotated[
        str | None,
        typer.Option(
            "--refine",
            help="With --budget: the study file; refine the answer by one epsilon-constraint inner "
            "loop from the chosen design (runs the simulation; the file must match the stored hash).",
        ),
    ] = None,
    neighbours: Annotated[int, typer.Option(help="How many neighbours / runner-ups to name.")] = 3,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    log: Annotated[bool, typer.Option("--log", help="Store the step in the study's decision log.")] = False,
    parent: Annotated[int | None, typer.Option(help="With --log: the logged step this one follows.")] = None,
    author: Annotated[
        str | None, typer.Option(help="With --log: who decides [default: the login name].")
    ] = None,
    storage: StorageOpt = None,
) -> None:
    """Choose a design on a study's Pareto front: under a budget, nearest an aspiration, or by
    navigation; ties within one standard error are named, never ranked."""
    from paretoopt import decide
    from paretoopt.study import load_study

    if not budget and reference is None and navigate is None:
        raise fail("say what to decide: --budget NAME=VALUE, --reference NAME=VALUE,... or --navigate STEPS")
    if budget and navigate is not None:
        raise fail("--budget and --navigate are separate questions: ask one")
    if budget and reference is not None:
        raise fail("--budget and --reference are separate questions: ask one")
    try:
        bounds = parse_pairs(budget or [], "--budget")
        aspiration = parse_pairs([reference], "--reference") if reference else {}
        if any(isinstance(v, tuple) for v in aspiration.values()):
            raise ValueError("--reference takes NAME=VALUE pairs, not bounds")
        s = load_study(study_name=study, storage=open_existing(storage))
        front = decide.front_of(s)
        nav = None
        if bounds:
            decision = decide.budget(front, bounds, minimize, n_neighbours=neighbours)
        elif navigate is not None:
            nav = decide.navigate(front, iterations=navigate, reference=aspiration or None)
            decision = nav.decision
        else:
            decision = decide.reference_point(front, aspiration, n_neighbours=neighbours)
        refined = None
        if refine is not None:
            if not bounds:
                raise ValueError("--refine refines a --budget answer")
            refined = _refine(refine, s, front, decision)
        logged = None
        if log:
            if nav is not None:
                logged = decide.log_navigation(s, nav, parent=parent, author=author)[-1]
            else:
                logged = decide.log_decision(s, decision, parent=parent, author=author)
    except (ParetoOptError, ValueError) as exc:
        raise fail(str(exc)) from None
    if json_out:
        out = decision.to_json()
        if logged is not None:
            out["log_step"] = logged.step
        if refined is not None:
            out["refined"] = {
                "objectives": refined.objectives,
                "stderr": refined.stderr,
                "rates": refined.rates,
            }
        typer.echo(json.dumps(out, sort_keys=False))
        return
    typer.echo(decision_table(front, decision))
    for note in decision.notes:
        typer.echo(f"note: {note}")
    if refined is not None:
        vals = ", ".join(
            f"{k} = {_value(v, refined.stderr.get(k, 0.0))}" for k, v in refined.objectives.items()
        )
        typer.echo(f"refined from trial {decision.trial} ({refined.result.n_calls} calls): {vals}")
        goal = decision.inputs["objective"]
        for name, rate in refined.rates.items():
            typer.echo(f"trade-off from the {name} bound's multiplier: d {goal} / d {name} = {rate:.4g}")
    if logged is not None:
        typer.echo(f"logged as step {logged.step} of the decision log of {study!r}")
