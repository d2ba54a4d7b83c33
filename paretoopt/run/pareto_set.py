"""One asked batch of the ``setgrad`` engine in Pareto-set-learning mode (``model="psl"``): a
training round of the combination's network, its designs at the trials' weights stored as the
trials.

The network continues from the one the combination's previous round stored: its tensors are a
trial artefact (block ``pareto-set-model``, a checksummed safetensors blob with the round's
training curve, no schema change) of the lowest-numbered trial of each round's batch. The
round's seed is that trial's seed, so a round interrupted after some of its trials were
stored re-runs the same training and gives the remaining trials the designs an uninterrupted
run gives them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import torch

from paretoopt.blocks.artefacts import decode_tensors, encode_tensors
from paretoopt.exceptions import ParetoOptError, SimulationError, UntrustedModelError
from paretoopt.inner.psl import ParetoSetModel, ParetoSetSettings, train_pareto_set
from paretoopt.normalization import NormalizationHistory
from paretoopt.run.execute import TrialJob, trial_result
from paretoopt.run.lifecycle import Heartbeat, finish_trial
from paretoopt.storage import BaseStorage, FrozenTrial, StoredArtefact, TrialResult, TrialState

log = logging.getLogger("paretoopt")

#: the artefact block name of a stored Pareto-set network
MODEL_BLOCK = "pareto-set-model"


def _batch_trials(
    storage: BaseStorage, job: TrialJob, first: FrozenTrial
) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
    """(every trial of ``first``'s batch, the completed trials of earlier rounds of its
    combination and source)."""
    if not job.study_name:
        return [first], []
    trials = storage.get_trials(storage.get_study(job.study_name).id)
    same = [t for t in trials if t.source == first.source and t.choices == first.choices]
    batch = [t for t in same if t.batch == first.batch]
    earlier = [t for t in same if t.batch < first.batch and t.state is TrialState.COMPLETE]
    return batch or [first], earlier


def _previous_state(storage: BaseStorage, earlier: Sequence[FrozenTrial]) -> dict[str, torch.Tensor] | None:
    """The network the combination's latest earlier round stored (``None``: none stored)."""
    for b in sorted({t.batch for t in earlier}, reverse=True):
        for t in sorted((t for t in earlier if t.batch == b), key=lambda t: t.number):
            for a in storage.get_trial_artefacts(t.id):
                if a.block == MODEL_BLOCK and a.blob is not None:
                    try:
                        return decode_tensors(a.blob, a.digest)
                    except UntrustedModelError as exc:
                        log.warning("stored Pareto-set network of trial %d refused: %s", t.number, exc)
    return None


def model_artefact(
    model_state: dict[str, torch.Tensor], settings: ParetoSetSettings, curve: list[float], m: int, d: int
) -> StoredArtefact:
    """The trial artefact holding a trained network (tensors, training curve, its shape)."""
    blob, digest = encode_tensors(model_state, MODEL_BLOCK)
    meta = {
        "learned": True,
        "frozen": False,
        "inputs": [f"weight {i}" for i in range(m)],
        "outputs": [f"unit design {j}" for j in range(d)],
        "hidden": settings.hidden,
        "validation": {},
    }
    return StoredArtefact(MODEL_BLOCK, ParetoSetModel.__name__, 0, blob, digest, curve, meta)


def run_pareto_set(
    storage: BaseStorage,
    claimed: Sequence[FrozenTrial],
    job: TrialJob,
    settings: ParetoSetSettings,
) -> list[FrozenTrial]:
    """Train one round on ``claimed`` trials (one batch, same choices and source, already
    claimed) and store each trial; returns them finished."""
    first = min(claimed, key=lambda t: t.number)
    batch, earlier = _batch_trials(storage, job, first)
    head = min(batch, key=lambda t: t.number)
    norm = job.normalization
    normalization = norm.for_batch(first.batch) if isinstance(norm, NormalizationHistory) else norm
    ordered = sorted(claimed, key=lambda t: t.number)
    t0 = time.perf_counter()
    with Heartbeat(storage, first.id):
        try:
            res = train_pareto_set(
                job.definition,
                first.choices,
                normalization,
                np.array([t.weights for t in ordered], dtype=float),
                settings=settings,
                inner=job.settings,
                init_state=_previous_state(storage, earlier),
                seed=head.seed,
                eval_seeds=[t.seed for t in ordered],
                device=job.device,
            )
        except (SimulationError, ParetoOptError, RuntimeError, ValueError, ArithmeticError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            failed = TrialResult(params={}, error=error, wall_time_s=time.perf_counter() - t0)
            return [finish_trial(storage, t, TrialState.FAILED, failed) for t in ordered]
    m = len(job.definition.objectives)
    d = len(job.definition.space.inner)
    art = model_artefact(res.state, settings, res.loss_history, m, d)
    done = []
    for i, (t, r) in enumerate(zip(ordered, res.members, strict=True)):
        result = trial_result(job.definition, r, artefacts=[art] if i == 0 else ())
        done.append(finish_trial(storage, t, TrialState.COMPLETE, result))
    log.info(
        "Pareto-set round of %d (%s, %s): %d calls, final training loss %.4g",
        len(ordered),
        first.source,
        first.choices,
        res.n_calls,
        res.loss_history[-1] if res.loss_history else float("nan"),
    )
    return done
