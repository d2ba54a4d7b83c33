"""One asked batch of a joint engine (``setgrad``) run as one population: claim every trial,
move the population together, pair members with trials, store each trial (in Pareto-set-learning
mode, :mod:`paretoopt.run.pareto_set` trains the combination's network instead).

The population's calls are shared out over its trials so that the study's call count is the
population's; each trial's design is the member that best fits the trial's weights (the
assignment minimising the summed Chebyshev scalarisations, Hungarian method).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from paretoopt.exceptions import ParetoOptError, SimulationError
from paretoopt.inner.population import PopulationSettings, optimize_population
from paretoopt.inner.psl import ParetoSetSettings
from paretoopt.normalization import NormalizationHistory
from paretoopt.run.execute import TrialJob, trial_result
from paretoopt.run.lifecycle import Heartbeat, claim_trial, finish_trial
from paretoopt.run.pareto_set import run_pareto_set
from paretoopt.storage import BaseStorage, FrozenTrial, TrialResult, TrialState

log = logging.getLogger("paretoopt")


def _assign(weights: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``member[i]`` for trial ``i``: the pairing minimising the sum of ``max_j w_ij z_kj``."""
    cost = np.max(weights[:, None, :] * z[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    out = np.arange(len(weights))
    out[rows] = cols
    return out


def run_population(
    storage: BaseStorage,
    trials: Sequence[FrozenTrial],
    job: TrialJob,
    plan: Mapping[str, tuple[int, PopulationSettings | ParetoSetSettings]],
    worker: str,
    fixed: np.ndarray | None = None,
) -> list[FrozenTrial]:
    """Claim ``trials`` (one batch, same choices and source), run them as one population (adding
    to the front ``fixed``, objective vectors of completed trials) and store each; trials another
    process claimed are left to it. Returns the finished trials."""
    claimed = [c for c in (claim_trial(storage, t, worker) for t in trials) if c is not None]
    if not claimed:
        return []
    first = claimed[0]
    _, cfg = plan.get(first.source, (len(claimed), PopulationSettings()))
    if isinstance(cfg, ParetoSetSettings):  # Pareto-set learning: one network, not a population
        return run_pareto_set(storage, claimed, job, cfg)
    norm = job.normalization
    normalization = norm.for_batch(first.batch) if isinstance(norm, NormalizationHistory) else norm
    t0 = time.perf_counter()
    with Heartbeat(storage, first.id):
        try:
            res = optimize_population(
                job.definition,
                first.choices,
                normalization,
                len(claimed),
                settings=cfg,
                inner=job.settings,
                inits=[t.init for t in claimed],
                fixed=fixed,
                seed=first.seed,
                device=job.device,
            )
        except (SimulationError, ParetoOptError, RuntimeError, ValueError, ArithmeticError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            failed = TrialResult(params={}, error=error, wall_time_s=time.perf_counter() - t0)
            return [finish_trial(storage, t, TrialState.FAILED, failed) for t in claimed]
    names = job.definition.objective_names
    z = normalization.transform(
        torch.tensor([[m.objectives[n] for n in names] for m in res.members], dtype=torch.float64)
    ).numpy()
    pairs = _assign(np.array([t.weights for t in claimed], dtype=float), z)
    done = []
    for t, k in zip(claimed, pairs, strict=True):
        r = res.members[int(k)]
        result = trial_result(job.definition, r)
        done.append(finish_trial(storage, t, TrialState.COMPLETE, result))
    log.info(
        "population of %d (%s, %s): %d calls, hypervolume %.4f",
        len(claimed),
        first.source,
        first.choices,
        res.n_calls,
        res.hv_history[-1] if res.hv_history else 0.0,
    )
    return done


def run_populations(
    storage: BaseStorage,
    trials: Sequence[FrozenTrial],
    job: TrialJob,
    plan: Mapping[str, tuple[int, PopulationSettings | ParetoSetSettings]],
    worker: str,
    on_finished: Callable[[FrozenTrial], None],
    stop: Any = None,
) -> list[FrozenTrial]:
    """Run ``trials`` one batch (one population) at a time in this process, calling
    ``on_finished`` on each stored trial; stops between populations when ``stop.requested``.
    Each population adds to the front of the study's completed feasible trials as stored just
    before it starts."""
    finished: list[FrozenTrial] = []
    for b in sorted({t.batch for t in trials}):
        if stop is not None and getattr(stop, "requested", False):
            break
        stored = storage.get_trials(storage.get_study(job.study_name).id) if job.study_name else []
        done_now = [t for t in stored if t.state is TrialState.COMPLETE and t.feasible]
        fixed = np.array([t.objectives for t in done_now if t.objectives is not None], dtype=float)
        group = [t for t in trials if t.batch == b]
        done = run_population(storage, group, job, plan, worker, fixed if len(fixed) else None)
        finished.extend(done)
        for t in done:
            on_finished(t)
    return finished
