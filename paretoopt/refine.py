"""``paretoopt refine``: a review-grade front from the archive (:mod:`paretoopt.archive`).

The archive's front may hold trajectory points: designs an inner loop evaluated on its step's
sample (small, in training mode). Refining re-evaluates each of them on the full evaluation
sample in evaluation mode (the final evaluation every trial ends with: one simulator call, the
trial's seed), stores the result (``archive_refinements``), and builds the front again, until
the front holds only review-grade points (trials' evaluations and refined points). A refined
point that turns out worse leaves the front; another trajectory point may enter it and is
refined in the next round.

Resumable and idempotent: each re-evaluation is stored in its own transaction as soon as it is
done, and the points already stored are never evaluated again, so a refine killed midway
finishes the rest when run again and a second complete run evaluates nothing. A design whose
simulation fails is stored with its error (and never retried). Every call and event is counted.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paretoopt.archive import ArchivePoint, unrefined
from paretoopt.exceptions import ParetoOptError, SimulationError, StudyDefinitionError
from paretoopt.inner import evaluate_design
from paretoopt.normalization import NormalizationHistory
from paretoopt.problem import InnerSettings, StudyDefinition, load_study_definition
from paretoopt.run.execute import scalarization_for
from paretoopt.storage import FrozenTrial, RefinedPoint, StudyRecord
from paretoopt.study import Study


@dataclass(frozen=True)
class RefineReport:
    """What a refine did: points re-evaluated here (and how many failed), the calls, backward
    passes and events they cost, the rounds, and the points still unrefined on the front
    (non-zero only when ``max_points`` stopped it)."""

    refined: int
    failed: int
    n_calls: int
    n_backward: int
    n_events: int
    rounds: int
    left: int
    wall_time_s: float

    def summary(self) -> str:
        """One line for the console."""
        if self.refined == 0 and self.left == 0:
            return "front already review-grade: nothing to refine (0 calls)"
        text = (
            f"refined {self.refined} archive point(s) in {self.rounds} round(s): {self.n_calls} calls "
            f"({self.n_backward} backward), {self.n_events} simulated events"
        )
        if self.failed:
            text += f"; {self.failed} failed (stored with their error)"
        if self.left:
            text += f"; {self.left} front point(s) still unrefined (--max-points reached)"
        return text


def trusted_definition(record: StudyRecord, path: str | Path | None = None) -> StudyDefinition:
    """The study's definition from ``path`` (default: the file it was created from), loaded
    only when the file's SHA-256 equals the stored ``definition_hash`` (the stored source is
    never executed). Raises :class:`StudyDefinitionError` saying why not. The one rule for every
    command that re-runs a stored study's simulation (refine, decide --refine, the dashboard)."""
    where = path or record.definition_path
    if not where:
        raise StudyDefinitionError(
            f"study {record.name!r} was not created from a study file, so its simulation cannot be "
            "loaded (give the file explicitly where the command takes one)"
        )
    p = Path(where)
    if not p.is_file():
        raise StudyDefinitionError(f"the study file {p} no longer exists")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyDefinitionError(f"cannot read the study file {p}: {exc}") from exc
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != record.definition_hash:
        raise StudyDefinitionError(
            f"the study file {p} has changed since the study was created, or is another file "
            f"(SHA-256 {digest[:12]}… instead of {record.definition_hash[:12]}…)"
        )
    definition = load_study_definition(p)
    if definition.source_hash != record.definition_hash:  # the file changed while we read it
        raise StudyDefinitionError(f"the study file {p} changed while loading")
    return definition


def stored_settings(record: StudyRecord, definition: StudyDefinition) -> InnerSettings:
    """The inner settings the study ran with (stored), else the definition's."""
    if record.settings:
        try:
            return InnerSettings(**record.settings)
        except (TypeError, ParetoOptError):
            pass
    return definition.inner


def _evaluate(
    definition: StudyDefinition,
    study: Study,
    trial: FrozenTrial,
    point: ArchivePoint,
    history: NormalizationHistory,
    settings: InnerSettings,
    device: str,
) -> RefinedPoint:
    """One re-evaluation of ``point`` (the trial's seed, so its final-evaluation sample)."""
    scal = scalarization_for(trial, history.for_batch(trial.batch), study.record.scalarization)
    assert point.step is not None
    try:
        res = evaluate_design(
            definition, point.params, point.choices, scal, settings=settings, seed=trial.seed, device=device
        )
    except (SimulationError, ParetoOptError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        return RefinedPoint(trial.id, point.step, dict(point.params), n_calls=1, error=error)
    names, cnames = definition.objective_names, definition.constraint_names
    return RefinedPoint(
        trial_id=trial.id,
        step=point.step,
        params=dict(point.params),
        objectives=[res.objectives[n] for n in names],
        stderr=[res.stderr[n] for n in names],
        constraints=[res.constraints[n] for n in cnames],
        constraint_stderr=[res.constraint_stderr[n] for n in cnames],
        feasible=res.feasible,
        n_samples=res.n_samples,
        n_calls=res.n_calls,
        n_backward=res.n_backward,
        n_events=res.n_events,
    )


def refine_study(
    definition: StudyDefinition,
    study: Study,
    *,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    max_points: int | None = None,
    progress: Callable[[ArchivePoint, RefinedPoint], None] | None = None,
) -> RefineReport:
    """Re-evaluate the archive points on ``study``'s front that are not review-grade, round
    after round, until the front is review-grade (or ``max_points`` were re-evaluated here);
    see the module docstring. ``progress`` gets each point and its stored re-evaluation."""
    t0 = time.perf_counter()
    rec = study.storage.get_study(study.name)
    if not rec.normalization:
        raise StudyDefinitionError(f"study {study.name!r} has no normalisation yet; run it first")
    history = NormalizationHistory.from_dict(rec.normalization)
    settings = settings if settings is not None else stored_settings(rec, definition)
    by_id = {t.id: t for t in study.trials}
    done = failed = calls = backward = events = rounds = 0
    while True:
        todo: Sequence[ArchivePoint] = unrefined(study.archive_front_points())
        if not todo or (max_points is not None and done >= max_points):
            break
        rounds += 1
        for point in todo:
            if max_points is not None and done >= max_points:
                break
            r = _evaluate(definition, study, by_id[point.trial_id], point, history, settings, device)
            if not study.storage.save_refinement(rec.id, r):
                continue  # another refine stored it first
            done += 1
            failed += r.error is not None
            calls, backward, events = calls + r.n_calls, backward + r.n_backward, events + r.n_events
            if progress is not None:
                progress(point, r)
    left = len(unrefined(study.archive_front_points()))
    return RefineReport(done, failed, calls, backward, events, rounds, left, time.perf_counter() - t0)
