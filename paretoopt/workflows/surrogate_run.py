"""The surrogate run (``--simulator surrogate``): trace a front on it, re-simulate, compare.

The front is traced on a study's surrogate, its designs re-simulated with the real simulation,
and the two compared.

A workflow on top of the runner and the surrogates: it drives the runner, which the surrogate
models (:mod:`paretoopt.surrogate`) never do.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from paretoopt.exceptions import StudyNotFoundError, SurrogateError
from paretoopt.outer import Engine
from paretoopt.problem import Estimate, InnerSettings, Objective, StudyDefinition
from paretoopt.run import Runner, build_engine, check_compatible, open_or_create_study, run_waiting_trials
from paretoopt.scalarize import Normalization
from paretoopt.storage import BaseStorage, TrialProposal, TrialState, get_storage
from paretoopt.study import Study
from paretoopt.surrogate import MIN_TRIALS, Surrogate, get_surrogate
from paretoopt.trials import RESIMULATED, SURROGATE, design_key, trial_seed

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("paretoopt")

#: Inner loop on a surrogate: deterministic and smooth, so L-BFGS-B on the mean.
SURROGATE_INNER_STEPS = 100


def surrogate_definition(
    definition: StudyDefinition, surrogate: Surrogate, normalization: Normalization
) -> StudyDefinition:
    """A study definition whose simulation is ``surrogate``'s mean (differentiable in the
    inner parameters, so the usual inner loop runs on it), with the surrogate's standard
    deviation as each figure's standard error. ``normalization`` (the real study's) fixes
    ideal and nadir, so no anchor trials are needed."""
    names = surrogate.output_names

    def simulate(
        params: dict[str, torch.Tensor], choices: dict[str, Any], n_samples: int, generator: torch.Generator
    ) -> dict[str, Estimate]:
        mean, std = surrogate.torch_predict(params, choices)
        return {name: Estimate(mean[i], std[i].detach()) for i, name in enumerate(names)}

    return StudyDefinition(
        f"{definition.name}.surrogate",
        definition.space,
        definition.objectives,
        simulate,
        definition.constraints,
        inner=InnerSettings(
            optimizer="lbfgs", max_steps=SURROGATE_INNER_STEPS, n_samples=1, n_eval_samples=1
        ),
        description=f"{surrogate.kind} surrogate of {definition.name} (version {surrogate.version})",
        ideal=normalization.ideal.tolist(),
        nadir=normalization.nadir.tolist(),
    )


def surrogate_study_name(name: str) -> str:
    """Where the front traced on a study's surrogate is stored."""
    return f"{name}.surrogate"


def optimize_on_surrogate(
    definition: StudyDefinition,
    *,
    storage: str | BaseStorage | None = None,
    study_name: str | None = None,
    engine: str | Engine = "grid",
    engine_options: Mapping[str, Any] | None = None,
    n_trials: int = 20,
    seed: int = 0,
    load_if_exists: bool = True,
    scalarization: str = "chebyshev",
    batch_size: int | None = None,
    warm_start: bool = True,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    progress: bool | Callable[[Any], None] = False,
    executor: Any = None,
) -> Study:
    """Trace the front on the study's surrogate, then re-simulate its designs for real.

    1. The study ``study_name`` (default ``definition.name``) must exist with at least
       :data:`MIN_TRIALS` completed trials; its surrogate is loaded, or refitted and stored
       when the study has grown (``Study.surrogate(refit="auto")``).
    2. The outer engine and the gradient inner loop trace ``n_trials`` trials on the surrogate's
       mean (L-BFGS-B, in seconds) in the study ``<study_name>.surrogate``, marked
       ``source="surrogate"``, with the surrogate's standard deviation as standard error.
       That study is tied to the model version: a new model starts it afresh.
    3. Every design on that surrogate front not yet re-simulated gets one final evaluation with
       the real simulation (``n_eval_samples``, evaluation mode, no inner loop), stored in the
       real study as a trial with ``source="resimulated"`` (same weights and choices, the design
       in ``init`` and ``params``). :func:`surrogate_comparison` then shows how far the
       surrogate was off.

    Crash safety as in :func:`paretoopt.optimize`: the surrogate study resumes like any study,
    and the re-simulations are enqueued (WAITING) in one transaction before any runs; a call
    after an interruption first finishes them and stops there, so an interrupted call ends
    with the same trials as an uninterrupted one. Re-simulated trials count towards a later
    ``optimize(n_trials=...)`` of the real study, like anchors; engines are told them but do
    not replay them. The arguments are those of :func:`paretoopt.optimize`; ``device`` and
    ``executor`` apply to the re-simulations, ``settings`` to the real final evaluations.

    Returns:
        The real study (with the re-simulated trials).

    Raises:
        SurrogateError: no such study, or too few completed trials to fit a surrogate.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    st = get_storage(storage)
    name = study_name or definition.name
    try:
        record = st.get_study(name)
    except StudyNotFoundError as exc:
        raise SurrogateError(
            f"--simulator surrogate needs an existing study {name!r} with at least {MIN_TRIALS} completed "
            f"trials in {st.url}; run the real simulation first (paretoopt run FILE --trials N). {exc}"
        ) from None
    main = Study(st, record)
    check_compatible(definition, main)
    run_args = {"settings": settings, "device": device, "progress": progress, "executor": executor}

    # an interrupted call left re-simulations behind: finish them, and that is this call's work
    pending = [t for t in main.trials if t.source == RESIMULATED and not t.state.is_finished]
    if pending:
        log.warning("finishing %d re-simulation(s) left by an interrupted surrogate run", len(pending))
        run_waiting_trials(definition, main, sources=(RESIMULATED,), **run_args)
        return main
    if not record.normalization:
        raise SurrogateError(f"study {name!r} has no completed trials yet; run the real simulation first")

    surrogate = get_surrogate(main, "auto", seed=seed)
    norm = Normalization.from_dict(record.normalization)
    sdef = surrogate_definition(definition, surrogate, norm)
    eng = build_engine(engine, seed=seed, options=engine_options)
    sname = surrogate_study_name(name)
    tag = {"surrogate_of": name, "model_version": surrogate.version}
    try:
        srec = st.get_study(sname)
    except StudyNotFoundError:
        pass
    else:
        if srec.attrs.get("surrogate_of") != name:
            raise SurrogateError(
                f"a study named {sname!r} exists in {st.url} and is not the surrogate study of {name!r}"
            )
        if srec.attrs != tag:
            log.info(
                "surrogate of %r changed (version %s): tracing its front afresh", name, surrogate.version
            )
            st.delete_study(sname)
    traced = open_or_create_study(
        st,
        sdef,
        name=sname,
        engine=eng,
        scalarization=record.scalarization,
        seed=seed,
        settings=sdef.inner,
        attrs=tag,
    )
    run = Runner(
        sdef,
        traced,
        engine=eng,
        n_trials=n_trials,
        settings=sdef.inner,
        warm_start=warm_start,
        progress=progress,
        batch_size=batch_size,
        trial_source=SURROGATE,
    )
    t0 = time.perf_counter()
    run.optimize()
    log.info("traced %d trials on the surrogate in %.1f s", len(traced.trials), time.perf_counter() - t0)
    if run.stop.requested:
        return main

    # the surrogate front, re-simulated once per design
    done = {design_key(t.choices, t.params) for t in main.trials if t.source == RESIMULATED}
    trials = main.trials
    start = max((t.number for t in trials), default=-1) + 1
    props: list[TrialProposal] = []
    for t in sorted(traced.best_trials, key=lambda x: x.number):
        key = design_key(t.choices, t.params)
        if key in done:
            continue
        done.add(key)
        props.append(
            TrialProposal(
                tuple(t.weights),
                dict(t.choices),
                trial_seed(record.seed, start + len(props)),
                RESIMULATED,
                dict(t.params),
            )
        )
    if props:
        batch = max((t.batch for t in trials), default=-1) + 1
        st.enqueue_trials(record.id, props, batch=batch)
        run_waiting_trials(definition, main, sources=(RESIMULATED,), **run_args)
    return main


def surrogate_comparison(study: Study) -> pd.DataFrame:
    """The re-simulated designs of ``study`` next to what its surrogate predicted for them:
    per objective the surrogate's mean and standard deviation, the simulated value and its
    standard error, the error (simulated - surrogate) and its pull ``error / sqrt(std^2 +
    stderr^2)``; one row per re-simulated trial whose surrogate trial is in
    ``<study>.surrogate`` (the current model's front)."""
    import pandas as pd

    def col(label: str, unit: str | None) -> str:
        return f"{label} [{unit}]" if unit else label

    columns = ["number", "surrogate trial", "feasible"]
    for o in study.objectives:
        columns += [
            col(f"{o.name} surrogate", o.unit),
            col(f"{o.name} surrogate std", o.unit),
            col(f"{o.name} simulated", o.unit),
            col(f"{o.name} stderr", o.unit),
            col(f"{o.name} error", o.unit),
            f"{o.name} pull",
        ]
    try:
        traced = Study(study.storage, study.storage.get_study(surrogate_study_name(study.name)))
    except StudyNotFoundError:
        return pd.DataFrame(columns=columns)
    predicted = {design_key(t.choices, t.params): t for t in traced.completed_trials}
    rows = []
    for t in study.get_trials([TrialState.COMPLETE]):
        s = predicted.get(design_key(t.choices, t.params)) if t.source == RESIMULATED else None
        if s is None or t.objectives is None or s.objectives is None:
            continue
        row: dict[str, Any] = {"number": t.number, "surrogate trial": s.number, "feasible": t.feasible}
        for i, o in enumerate(study.objectives):
            pred, std = s.objectives[i], (s.stderr or (0.0,) * len(s.objectives))[i]
            sim, se = t.objectives[i], (t.stderr or (0.0,) * len(t.objectives))[i]
            scale = math.hypot(std, se)
            row[col(f"{o.name} surrogate", o.unit)] = pred
            row[col(f"{o.name} surrogate std", o.unit)] = std
            row[col(f"{o.name} simulated", o.unit)] = sim
            row[col(f"{o.name} stderr", o.unit)] = se
            row[col(f"{o.name} error", o.unit)] = sim - pred
            row[f"{o.name} pull"] = (sim - pred) / scale if scale > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def comparison_summary(table: pd.DataFrame, objectives: Sequence[Objective]) -> str:
    """A few lines on :func:`surrogate_comparison`'s table: per objective the RMS error and the
    fraction of designs within 2 standard deviations."""
    if table.empty:
        return "no re-simulated designs to compare"
    lines = [f"surrogate vs simulation on {len(table)} re-simulated design(s):"]
    for o in objectives:
        err = table[f"{o.name} error [{o.unit}]" if o.unit else f"{o.name} error"].to_numpy(dtype=float)
        pull = table[f"{o.name} pull"].to_numpy(dtype=float)
        finite = np.isfinite(pull)
        within = f"{np.mean(np.abs(pull[finite]) <= 2.0):.0%} within 2 sigma" if finite.any() else "no spread"
        rms, worst = np.sqrt(np.mean(err**2)), np.max(np.abs(err))
        lines.append(f"  {o.label}: RMS error {rms:.4g}, max |error| {worst:.4g}, {within}")
    return "\n".join(lines)
