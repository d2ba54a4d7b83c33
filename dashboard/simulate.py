""" "Simulate this design": run the real simulation on a what-if design and store it as a trial.

Only with ``--allow-simulate``. The study's code is needed, and the database is never trusted
with it: the definition is re-loaded from the file it was created from (the stored
``definition_path``) only if that file still exists and its SHA-256 equals the stored
``definition_hash``; the stored source text is never executed. The new trial goes through the
Storage API like any other (enqueue WAITING -> claim RUNNING -> finish, ``source="whatif"``) and
:func:`paretoopt.run.run_trial` runs it (the path every trial takes: claim, execute, finish),
either as one evaluation of the design as it is or as the inner loop started from it (with the
selected trial's weights).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from paretoopt.exceptions import ParetoOptError, StudyDefinitionError
from paretoopt.problem import StudyDefinition
from paretoopt.refine import stored_settings, trusted_definition
from paretoopt.run import TrialJob, run_trial
from paretoopt.scalarize import Normalization
from paretoopt.storage import BaseStorage, StudyRecord, TrialProposal, TrialState, get_storage
from paretoopt.study import Study
from paretoopt.trials import WHATIF, trial_seed, worker_id

MODES = {
    "evaluate": "evaluate this exact design (one simulator call)",
    "optimize": "run the inner loop from it",
}


class CannotSimulate(ParetoOptError):
    """The design cannot be simulated from here (definition file gone or changed, bad design)."""


@dataclass(frozen=True)
class SimulationOutcome:
    """What the "simulate" button reports: the stored trial's number and a one-line message."""

    number: int | None
    message: str
    ok: bool


def load_trusted_definition(record: StudyRecord) -> StudyDefinition:
    """The study's definition, loaded from its file only when the file's SHA-256 matches the hash
    stored when the study was created (:func:`paretoopt.refine.trusted_definition`). Raises
    :class:`CannotSimulate` saying why not."""
    try:
        return trusted_definition(record)
    except StudyDefinitionError as exc:
        raise CannotSimulate(f"{exc}; cannot simulate") from exc


def simulate_design(
    storage: str | BaseStorage,
    study_name: str,
    design: Mapping[str, Any],
    *,
    mode: str = "evaluate",
    base_number: int | None = None,
    progress: Callable[[str], None] | None = None,
    device: str = "cpu",
) -> SimulationOutcome:
    """Simulate ``design`` (every parameter and choice by name) and store it as a trial.

    ``mode="evaluate"``: one evaluation of the design as it is; ``"optimize"``: the inner loop
    started from the design's continuous parameters with the weights of trial ``base_number``
    (equal weights without one). ``progress`` receives a short status line at each stage.
    Never raises for an expected failure: the outcome says what went wrong."""
    say = progress or (lambda _msg: None)
    if mode not in MODES:
        return SimulationOutcome(None, f"unknown mode {mode!r}", False)
    try:
        st = get_storage(storage)
        record = st.get_study(study_name)
        say("loading the study definition")
        definition = load_trusted_definition(record)
        study = Study(st, record)
        space = definition.space
        inner = space.validate_inner({n: design[n] for n in space.inner_names}) if space.inner else {}
        outer = space.validate_outer({n: design[n] for n in space.outer_names})
        trials = st.get_trials(record.id)
        base = next((t for t in trials if t.number == base_number), None)
        m = len(definition.objectives)
        weights = tuple(base.weights) if base is not None and len(base.weights) == m else (1.0 / m,) * m
        seed = trial_seed(record.seed, 10**6 + len(trials))
        (trial,) = st.enqueue_trials(
            record.id, [TrialProposal(weights, outer, seed, source=WHATIF, init=inner)], batch=-2
        )
        say("simulating" if mode == "evaluate" else "running the inner loop")
        job = TrialJob(
            definition,
            study.normalization or Normalization.identity(definition.signs),
            record.scalarization,
            stored_settings(record, definition),
            device,
            evaluate_only=mode == "evaluate",
            study_name=study_name,
        )
        done = run_trial(st, trial, job, worker_id())
        if done is None:
            return SimulationOutcome(trial.number, f"trial {trial.number} was taken by a running study", True)
    except ParetoOptError as exc:
        return SimulationOutcome(None, f"cannot simulate: {exc}", False)
    except KeyError as exc:
        return SimulationOutcome(None, f"cannot simulate: the design lacks {exc}", False)
    if done.state is not TrialState.COMPLETE or done.objectives is None or done.stderr is None:
        first = (done.error or "").splitlines()[0] if done.error else "failed"
        return SimulationOutcome(done.number, f"trial {done.number} failed: {first}", False)
    values = ", ".join(
        f"{o.label} = {v:.4g} ± {e:.2g}"
        for o, v, e in zip(definition.objectives, done.objectives, done.stderr, strict=True)
    )
    return SimulationOutcome(done.number, f"stored as trial {done.number}: {values}", True)
