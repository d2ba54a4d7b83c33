"""One trial's inner loop, turned into what storage records (no database access, picklable)."""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch

from paretoopt.exceptions import NonFiniteError, ParetoOptError, SimulationError
from paretoopt.external.records import Origin
from paretoopt.inner import InnerResult, evaluate_design, optimize_inner
from paretoopt.normalization import NormalizationHistory, anchor_scalarization, optimize_anchor
from paretoopt.optimality import WITNESS_RTOL, KnownDesign, best_witness, piles_up
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import Normalization, Scalarization, make_scalarization, unsmoothed
from paretoopt.storage import FrozenTrial, StoredArtefact, TrialProposal, TrialResult, TrialState
from paretoopt.trials import ANCHOR, INTERPOLATED, RESIMULATED

log = logging.getLogger("paretoopt")


@dataclass(frozen=True)
class TrialJob:
    """Everything a trial's inner loop needs besides the trial itself; what an executor ships
    to a worker (no database handle, so a remote worker never writes to the study)."""

    definition: StudyDefinition
    #: one normalisation for every trial, or the study's history (each trial its batch's)
    normalization: Normalization | NormalizationHistory
    scalarization: str = "chebyshev"
    settings: InnerSettings | None = None
    device: str = "cpu"
    #: one simulator call on ``trial.init`` instead of an inner loop (dashboard "simulate")
    evaluate_only: bool = False
    #: names the work in an executor's task keys
    study_name: str = ""
    #: per trial number, the designs its result is checked against (of earlier batches, with the
    #: trial's choices: see :mod:`paretoopt.optimality`)
    known: Mapping[int, tuple[KnownDesign, ...]] = field(default_factory=dict)

    def execute(self, trial: FrozenTrial) -> tuple[TrialState, TrialResult]:
        """Run ``trial`` with this job's settings (see :func:`execute_trial`)."""
        norm = self.normalization
        return execute_trial(
            self.definition,
            trial,
            norm.for_batch(trial.batch) if isinstance(norm, NormalizationHistory) else norm,
            self.scalarization,
            settings=self.settings,
            device=self.device,
            evaluate_only=self.evaluate_only,
            known=self.known.get(trial.number, ()),
        )


def scalarization_for(
    trial: FrozenTrial | TrialProposal, normalization: Normalization, kind: str
) -> Scalarization:
    """The scalarisation a trial runs with: anchors minimise one objective (see
    :mod:`paretoopt.normalization`), every other trial uses the study's kind with its weights."""
    if trial.source == ANCHOR:
        return anchor_scalarization(trial.weights, normalization.signs)
    return make_scalarization(kind, trial.weights, normalization)


#: Spread starts (scrambled Sobol over the inner box) tried when the re-solve from the witness's
#: design did not end better than the trial's result (a trade-off that piles up on a design, or
#: a witness whose basin leads back): the landscape may have another basin, which need not be
#: the witness's (a disconnected front). A re-solve from the witness that ends better settles
#: it: on DTLZ2 the spread starts had cost 50-75 calls per such trial and found nothing better.
SPREAD_STARTS = 2


def spread_starts(definition: StudyDefinition, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` starts spread over the inner parameters' box (scrambled Sobol, seeded)."""
    inner = definition.space.inner
    if not inner or n < 1:
        return []
    sobol = torch.quasirandom.SobolEngine(len(inner), scramble=True, seed=seed % 2**31)
    u = sobol.draw(n, dtype=torch.float64)
    return [{p.name: p.from_unit_float(float(u[i, j])) for j, p in enumerate(inner)} for i in range(n)]


def _resolve_from_witness(
    definition: StudyDefinition,
    trial: FrozenTrial,
    scal: Scalarization,
    res: InnerResult,
    known: Sequence[KnownDesign],
    settings: InnerSettings | None,
    device: str,
) -> tuple[InnerResult, bool]:
    """``res``, or, when a known design beats it on ``scal`` (a local minimum) or another trade-off
    ended on the same design (a basin that holds several trade-offs), the best of the inner loops
    re-run from the witness's design and, unless that run ended better than ``res``, from
    :data:`SPREAD_STARTS` spread starts; the calls of every run are counted. The flag says
    whether the simulation's last call evaluated the result (False when an earlier run's result
    was kept: a pipeline's blocks then retrain)."""
    names = definition.objective_names
    witness = best_witness(
        scal, [res.objectives[n] for n in names], [res.stderr[n] for n in names], known, definition.signs
    )
    if witness is None:
        witness = piles_up(res.params, trial.weights, known, definition.space)
    if witness is None:
        return res, True
    # designs compare on the exact max (the smoothed one ranks a design beside the kink above
    # the optimum on it), feasible ones first
    judge = unsmoothed(scal)

    def rank(r: InnerResult) -> tuple[bool, float]:
        v = _scalarized(judge, [r.objectives[n] for n in names])
        return (not r.feasible, math.inf if v is None else v)

    def again_from(start: dict[str, float]) -> InnerResult:
        return optimize_inner(
            definition,
            trial.choices,
            scal,
            settings=settings,
            seed=trial.seed,
            init=start,
            device=device,
            origin=Origin(definition.name, trial.batch, trial.number),
        )

    runs = [res]
    if witness.params != res.params:
        runs.append(again_from(witness.params))
    first = rank(res)
    settled = len(runs) > 1 and rank(runs[-1]) < (first[0], first[1] - WITNESS_RTOL * abs(first[1]))
    if not settled:
        # the witness's design led nowhere better (the trade-off piles up on a design, or its
        # re-solve came back to the trial's own basin): the landscape may hold another basin
        runs.extend(again_from(start) for start in spread_starts(definition, SPREAD_STARTS, trial.seed))
    best = min(runs, key=rank)
    last_kept = best is runs[-1]
    value = _scalarized(judge, [best.objectives[n] for n in names])
    target = _scalarized(judge, witness.objectives)
    if value is not None and target is not None and witness.params and target < value:
        # no run came back to the witness's value (the re-solve from its design stopped at a
        # kink of the Chebyshev max, or a start's margin moved it off a bound): the witness's own
        # design, evaluated once more, is the best known answer to this trade-off
        runs.append(
            evaluate_design(
                definition,
                witness.params,
                trial.choices,
                scal,
                settings=settings,
                seed=trial.seed,
                device=device,
            )
        )
        again = runs[-1]
        again_value = _scalarized(judge, [again.objectives[n] for n in names])
        last_kept = again_value is not None and again_value < value
        if last_kept:
            steps = [replace(st, step=len(best.trajectory) + i) for i, st in enumerate(again.trajectory)]
            best = replace(
                again,
                stop_reason=best.stop_reason,
                converged=best.converged,
                n_steps=best.n_steps,
                trajectory=[*best.trajectory, *steps],
            )
    log.info(
        "trial %d: trial %d's design beats or repeats its result; re-solved from it and "
        "%d spread starts (loss %.6g -> %.6g)",
        trial.number,
        witness.number,
        0 if settled else SPREAD_STARTS,
        res.loss,
        best.loss,
    )
    return replace(
        best,
        n_calls=sum(r.n_calls for r in runs),
        n_backward=sum(r.n_backward for r in runs),
        n_events=sum(r.n_events for r in runs),
        n_reused=sum(r.n_reused for r in runs),
        wall_time_s=sum(r.wall_time_s for r in runs),
    ), last_kept


def _scalarized(scal: Scalarization, objectives: Sequence[float]) -> float | None:
    """``scal`` at an objective vector (natural units), ``None`` where it is not finite."""
    with torch.no_grad():
        value = float(scal(torch.as_tensor(list(objectives), dtype=torch.float64)))
    return value if math.isfinite(value) else None


def execute_trial(
    definition: StudyDefinition,
    trial: FrozenTrial,
    normalization: Normalization,
    scalarization: str = "chebyshev",
    *,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    evaluate_only: bool = False,
    known: Sequence[KnownDesign] = (),
) -> tuple[TrialState, TrialResult]:
    """Run one trial's inner loop and turn its outcome into what storage records.

    ``known``: completed designs with the trial's choices. When one of them beats the inner
    loop's result on the trial's own scalarisation (a local minimum, e.g. on a dominated arc of
    a disconnected front), the trade-off is solved again from that design and the better of the
    two kept; both runs' calls are counted.

    ``evaluate_only``: evaluate the design ``trial.init`` (+ ``trial.choices``) as it is, one
    simulator call, instead of optimising from it (the dashboard's "simulate this design").
    A simulation that raises, returns NaN/inf or gives a non-finite gradient makes a FAILED
    trial with the reason; nothing else is caught. A ``"resimulated"`` or ``"interpolated"``
    trial runs no inner loop: its design (``trial.init``) gets one final evaluation."""
    t0 = time.perf_counter()
    try:
        if evaluate_only or trial.source in (RESIMULATED, INTERPOLATED):
            res: InnerResult = evaluate_design(
                definition,
                trial.init or {},
                trial.choices,
                scalarization_for(trial, normalization, scalarization),
                settings=settings,
                seed=trial.seed,
                device=device,
            )
        elif trial.source == ANCHOR:
            res = optimize_anchor(
                definition,
                trial.choices,
                trial.weights,
                settings=settings,
                seed=trial.seed,
                init=trial.init,
                device=device,
                origin=Origin(definition.name, trial.batch, trial.number),
            )
        else:
            scal = scalarization_for(trial, normalization, scalarization)
            res = optimize_inner(
                definition,
                trial.choices,
                scal,
                settings=settings,
                seed=trial.seed,
                init=trial.init,
                device=device,
                origin=Origin(definition.name, trial.batch, trial.number),
            )
            res, last_kept = _resolve_from_witness(definition, trial, scal, res, known, settings, device)
            if not last_kept and callable(getattr(definition.simulate, "trial_artefacts", None)):
                # re-solved and an earlier run kept: the latest call belongs to another run; the
                # kept one's final evaluation again (same seed) retrains the blocks for it
                evaluate_design(
                    definition,
                    res.params,
                    trial.choices,
                    scal,
                    settings=settings,
                    seed=trial.seed,
                    device=device,
                )
                res = replace(res, n_calls=res.n_calls + 1)
    except (SimulationError, ParetoOptError) as exc:
        return TrialState.FAILED, TrialResult(
            params=dict(trial.init or {}),
            error=f"{type(exc).__name__}: {exc}",
            wall_time_s=time.perf_counter() - t0,
            stop_reason="nan" if isinstance(exc, NonFiniteError) else None,
        )
    except (RuntimeError, ValueError, ArithmeticError) as exc:  # torch / numpy errors in user code
        tb = traceback.format_exc(limit=5)
        return TrialState.FAILED, TrialResult(
            params=dict(trial.init or {}),
            error=f"{type(exc).__name__}: {exc}\n{tb}",
            wall_time_s=time.perf_counter() - t0,
        )
    if res.n_reused:
        log.info(
            "trial %d: its local surrogate reused %d earlier evaluations at no call (%d calls run)",
            trial.number,
            res.n_reused,
            res.n_calls,
        )
    collect = getattr(definition.simulate, "trial_artefacts", None)  # a pipeline of blocks
    artefacts = tuple(collect()) if callable(collect) else ()
    return TrialState.COMPLETE, trial_result(definition, res, artefacts)


def trial_result(
    definition: StudyDefinition, res: InnerResult, artefacts: Sequence[StoredArtefact] = ()
) -> TrialResult:
    """What a finished inner loop stores as its trial: figures in the study's objective and
    constraint order, the calls, backward passes and events it cost, its trajectory (the
    archive's steps) and the blocks of a pipeline's simulation (``artefacts``)."""
    names, cnames = definition.objective_names, definition.constraint_names
    return TrialResult(
        params=res.params,
        objectives=[res.objectives[n] for n in names],
        stderr=[res.stderr[n] for n in names],
        constraints=[res.constraints[n] for n in cnames],
        constraint_stderr=[res.constraint_stderr[n] for n in cnames],
        n_calls=res.n_calls,
        n_backward=res.n_backward,
        n_steps=res.n_steps,
        n_events=res.n_events,
        n_samples=res.n_samples,
        feasible=res.feasible,
        converged=res.converged,
        stop_reason=res.stop_reason,
        loss=res.loss,
        wall_time_s=res.wall_time_s,
        trajectory=res.trajectory,
        artefacts=artefacts,
    )
