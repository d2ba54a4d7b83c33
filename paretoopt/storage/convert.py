"""Rows of the study database to the storage records and back (JSON columns, non-finite floats).

The readers accept ORM entities and Core rows alike (same attribute names), so hot paths can
read Core rows without building entities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from paretoopt.storage.base import (
    FrozenTrial,
    RefinedPoint,
    StoredArtefact,
    StoredDecision,
    StoredStep,
    StoredSurrogate,
    StudyRecord,
    StudySpec,
    TrialProposal,
    TrialResult,
)
from paretoopt.storage.models import (
    DecisionLogModel,
    RefinementRow,
    StudyModel,
    SurrogateModelRow,
    TrialArtefactModel,
    TrialState,
    decode_float,
    encode_float,
    utcnow,
)


def dumps(x: Any) -> str:
    """Canonical JSON of a column: sorted keys, no spaces, non-finite floats allowed."""
    return json.dumps(x, sort_keys=True, separators=(",", ":"), allow_nan=True)


def study_columns(spec: StudySpec) -> dict[str, Any]:
    """The columns of a new study row that come from its spec."""
    return {
        "name": spec.name,
        "definition_name": spec.definition_name,
        "definition_hash": spec.definition_hash,
        "definition_source": spec.definition_source,
        "definition_path": spec.definition_path,
        "description": spec.description,
        "space_json": dumps(spec.space),
        "objectives_json": dumps(spec.objectives),
        "constraints_json": dumps(spec.constraints),
        "engine": spec.engine,
        "engine_options_json": dumps(spec.engine_options),
        "scalarization": spec.scalarization,
        "seed": spec.seed,
        "settings_json": dumps(spec.settings),
        "attrs_json": dumps(spec.attrs),
    }


def study_record(m: StudyModel) -> StudyRecord:
    """A stored study from its row."""
    return StudyRecord(
        name=m.name,
        definition_name=m.definition_name,
        definition_hash=m.definition_hash,
        space=json.loads(m.space_json),
        objectives=json.loads(m.objectives_json),
        constraints=json.loads(m.constraints_json),
        engine=m.engine,
        engine_options=json.loads(m.engine_options_json),
        scalarization=m.scalarization,
        seed=m.seed,
        settings=json.loads(m.settings_json),
        definition_source=m.definition_source,
        definition_path=m.definition_path,
        description=m.description,
        attrs=json.loads(m.attrs_json),
        id=m.id,
        normalization=json.loads(m.normalization_json) if m.normalization_json else None,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def waiting_trial_columns(proposal: TrialProposal) -> dict[str, Any]:
    """The columns of a new WAITING trial row that come from its proposal (the rest start empty)."""
    return {
        "state": TrialState.WAITING,
        "source": proposal.source,
        "weights_json": dumps([float(w) for w in proposal.weights]),
        "choices_json": dumps(proposal.choices),
        "params_json": "{}",
        "init_json": dumps(proposal.init) if proposal.init is not None else None,
        "seed": int(proposal.seed),
        "n_calls": 0,
        "n_backward": 0,
        "n_steps": 0,
        "feasible": True,
        "converged": False,
        "retries": 0,
    }


def result_columns(result: TrialResult) -> dict[str, Any]:
    """The trial-row columns a finished result writes (state and finish time aside)."""
    return {
        "params_json": dumps(result.params),
        "n_calls": int(result.n_calls),
        "n_backward": int(result.n_backward),
        "n_steps": int(result.n_steps),
        "feasible": bool(result.feasible),
        "converged": bool(result.converged),
        "stop_reason": result.stop_reason,
        "n_events": int(result.n_events) if result.n_events is not None else None,
        "n_samples": int(result.n_samples) if result.n_samples is not None else None,
        "loss": encode_float(result.loss)[0],
        "wall_time_s": result.wall_time_s,
        "error": result.error,
    }


def value_rows(trial_id: int, result: TrialResult) -> list[dict[str, Any]]:
    """The ``trial_values`` rows of a result: objectives, then constraints, with standard errors."""
    values = []
    for kind, vals, errs in (
        ("objective", result.objectives, result.stderr),
        ("constraint", result.constraints, result.constraint_stderr),
    ):
        for i, v in enumerate(vals):
            ev, et = encode_float(v)
            se, st = encode_float(errs[i] if i < len(errs) else None)
            values.append(
                {
                    "trial_id": trial_id,
                    "kind": kind,
                    "idx": i,
                    "value": ev,
                    "value_type": et,
                    "stderr": se,
                    "stderr_type": st,
                }
            )
    return values


def trajectory_rows(trial_id: int, result: TrialResult) -> list[dict[str, Any]]:
    """The ``trajectory_steps`` rows of a result."""
    dumps_plain = json.dumps
    steps = []
    for t in result.trajectory:
        lv, lt = encode_float(t.loss)
        steps.append(
            {
                "trial_id": trial_id,
                "step": int(t.step),
                "loss": lv,
                "loss_type": lt,
                "objectives_json": dumps_plain(t.objectives),
                "params_json": dumps_plain(t.params),
                "figures_json": step_figures_json(t),
            }
        )
    return steps


#: The figures a trajectory step may carry besides its objective means (``figures_json``).
STEP_FIGURES = ("stderr", "constraints", "constraint_stderr", "n_samples", "exact")


def step_figures_json(step: Any) -> str | None:
    """The ``figures_json`` of a trajectory step: its errors, constraints and sample size, or
    ``None`` when the step recorded none of them."""
    if getattr(step, "n_samples", None) is None and getattr(step, "stderr", None) is None:
        return None
    return dumps({k: getattr(step, k, None) for k in STEP_FIGURES})


def frozen_trial(m: Any, objs: Sequence[Any], cons: Sequence[Any]) -> FrozenTrial:
    """A trial from its row (ORM entity or Core row: same attribute names) and value rows."""
    objs = sorted(objs, key=lambda v: v.idx)
    cons = sorted(cons, key=lambda v: v.idx)
    return FrozenTrial(
        id=m.id,
        number=m.number,
        batch=m.batch,
        state=TrialState(m.state),
        source=m.source,
        weights=tuple(json.loads(m.weights_json)),
        choices=json.loads(m.choices_json),
        params=json.loads(m.params_json or "{}"),
        init=json.loads(m.init_json) if m.init_json else None,
        seed=m.seed,
        objectives=tuple(decode_float(v.value, v.value_type) for v in objs) if objs else None,
        stderr=tuple(decode_float(v.stderr, v.stderr_type) for v in objs) if objs else None,
        constraints=tuple(decode_float(v.value, v.value_type) for v in cons) if cons else None,
        constraint_stderr=tuple(decode_float(v.stderr, v.stderr_type) for v in cons) if cons else None,
        n_calls=m.n_calls or 0,
        n_backward=m.n_backward or 0,
        n_steps=m.n_steps or 0,
        feasible=bool(m.feasible),
        converged=bool(m.converged),
        loss=m.loss,
        wall_time_s=m.wall_time_s,
        error=m.error,
        worker=m.worker,
        retries=m.retries or 0,
        created_at=m.created_at,
        started_at=m.started_at,
        heartbeat_at=m.heartbeat_at,
        finished_at=m.finished_at,
        stop_reason=m.stop_reason,
        n_events=getattr(m, "n_events", None),
        n_samples=getattr(m, "n_samples", None),
    )


def split_values(m: Any, values: Sequence[Any]) -> FrozenTrial:
    """A trial from its row and all its value rows, objectives and constraints mixed."""
    return frozen_trial(
        m, [v for v in values if v.kind == "objective"], [v for v in values if v.kind == "constraint"]
    )


def stored_step(r: Any) -> StoredStep:
    """A trajectory step from its row (ORM entity or Core row)."""
    raw = getattr(r, "figures_json", None)
    figures = json.loads(raw) if raw else {}
    return StoredStep(
        step=r.step,
        loss=decode_float(r.loss, r.loss_type),
        objectives=json.loads(r.objectives_json),
        params=json.loads(r.params_json),
        stderr=figures.get("stderr"),
        constraints=figures.get("constraints"),
        constraint_stderr=figures.get("constraint_stderr"),
        n_samples=figures.get("n_samples"),
        exact=bool(figures.get("exact", False)),
    )


def refinement_columns(study_id: int, p: RefinedPoint) -> dict[str, Any]:
    """The ``archive_refinements`` row of a re-evaluated archive point."""
    figures = {
        "objectives": [float(v) for v in p.objectives],
        "stderr": [float(v) for v in p.stderr],
        "constraints": [float(v) for v in p.constraints],
        "constraint_stderr": [float(v) for v in p.constraint_stderr],
    }
    return {
        "study_id": study_id,
        "trial_id": int(p.trial_id),
        "step": int(p.step),
        "params_json": dumps(p.params),
        "figures_json": dumps(figures),
        "feasible": bool(p.feasible),
        "n_samples": int(p.n_samples),
        "n_calls": int(p.n_calls),
        "n_backward": int(p.n_backward),
        "n_events": int(p.n_events),
        "error": p.error,
    }


def refined_point(r: RefinementRow) -> RefinedPoint:
    """A re-evaluated archive point from its row."""
    figures = json.loads(r.figures_json)
    return RefinedPoint(
        trial_id=r.trial_id,
        step=r.step,
        params=json.loads(r.params_json),
        objectives=tuple(figures["objectives"]),
        stderr=tuple(figures["stderr"]),
        constraints=tuple(figures["constraints"]),
        constraint_stderr=tuple(figures["constraint_stderr"]),
        feasible=bool(r.feasible),
        n_samples=r.n_samples,
        n_calls=r.n_calls,
        n_backward=r.n_backward,
        n_events=r.n_events,
        error=r.error,
        created_at=r.created_at,
    )


def stored_surrogate(row: SurrogateModelRow) -> StoredSurrogate:
    """A stored surrogate model from its row."""
    try:  # not authenticated: a garbled list only makes the model look stale
        numbers = [int(n) for n in json.loads(row.trial_numbers_json)]
    except (json.JSONDecodeError, TypeError, ValueError):
        numbers = []
    return StoredSurrogate(
        study_id=row.study_id,
        version=row.version,
        kind=row.kind,
        trial_numbers=numbers,
        n_points=row.n_points,
        blob=bytes(row.blob),
        digest=row.digest,
        created_at=row.created_at,
    )


def stored_decision(row: DecisionLogModel) -> StoredDecision:
    """A decision-log step from its row."""
    return StoredDecision(
        study_id=row.study_id,
        step=row.step,
        parent=row.parent,
        method=row.method,
        inputs=json.loads(row.inputs_json or "{}"),
        outputs=json.loads(row.outputs_json or "{}"),
        author=row.author,
        created_at=row.created_at,
    )


def artefact_rows(trial_id: int, result: TrialResult) -> list[dict[str, Any]]:
    """The ``trial_artefacts`` rows of a result (one per block of its pipeline)."""
    return [
        {
            "trial_id": trial_id,
            "position": int(a.position),
            "block": a.block,
            "kind": a.kind,
            "blob": None if a.blob is None else bytes(a.blob),
            "digest": a.digest,
            "curve_json": json.dumps([float(v) for v in a.curve]),
            "meta_json": json.dumps(a.meta, sort_keys=True),
            "created_at": utcnow(),
        }
        for a in result.artefacts
    ]


def stored_artefact(row: TrialArtefactModel) -> StoredArtefact:
    """A stored block artefact from its row (the blob is checked by whoever loads it)."""
    try:
        curve = [float(v) for v in json.loads(row.curve_json or "[]")]
        meta = json.loads(row.meta_json or "{}")
    except (json.JSONDecodeError, TypeError, ValueError):
        curve, meta = [], {}
    return StoredArtefact(
        block=row.block,
        kind=row.kind,
        position=row.position,
        blob=None if row.blob is None else bytes(row.blob),
        digest=row.digest,
        curve=curve,
        meta=meta if isinstance(meta, dict) else {},
    )
