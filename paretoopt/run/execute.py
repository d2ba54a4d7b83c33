"""One trial's inner loop, turned into what storage records (no database access, picklable)."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

from paretoopt.exceptions import NonFiniteError, ParetoOptError, SimulationError
from paretoopt.inner import InnerResult, evaluate_design, optimize_inner
from paretoopt.normalization import anchor_scalarization
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import Normalization, Scalarization, make_scalarization
from paretoopt.storage import FrozenTrial, TrialProposal, TrialResult, TrialState
from paretoopt.trials import ANCHOR, RESIMULATED


@dataclass(frozen=True)
class TrialJob:
    """Everything a trial's inner loop needs besides the trial itself; what an executor ships
    to a worker (no database handle, so a remote worker never writes to the study)."""

    definition: StudyDefinition
    normalization: Normalization
    scalarization: str = "chebyshev"
    settings: InnerSettings | None = None
    device: str = "cpu"
    #: one simulator call on ``trial.init`` instead of an inner loop (dashboard "simulate")
    evaluate_only: bool = False
    #: names the work in an executor's task keys
    study_name: str = ""

    def execute(self, trial: FrozenTrial) -> tuple[TrialState, TrialResult]:
        """Run ``trial`` with this job's settings (see :func:`execute_trial`)."""
        return execute_trial(
            self.definition,
            trial,
            self.normalization,
            self.scalarization,
            settings=self.settings,
            device=self.device,
            evaluate_only=self.evaluate_only,
        )


def scalarization_for(
    trial: FrozenTrial | TrialProposal, normalization: Normalization, kind: str
) -> Scalarization:
    """The scalarisation a trial runs with: anchors minimise one objective (see
    :mod:`paretoopt.normalization`), every other trial uses the study's kind with its weights."""
    if trial.source == ANCHOR:
        return anchor_scalarization(trial.weights, normalization.signs)
    return make_scalarization(kind, trial.weights, normalization)


def execute_trial(
    definition: StudyDefinition,
    trial: FrozenTrial,
    normalization: Normalization,
    scalarization: str = "chebyshev",
    *,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    evaluate_only: bool = False,
) -> tuple[TrialState, TrialResult]:
    """Run one trial's inner loop and turn its outcome into what storage records.

    ``evaluate_only``: evaluate the design ``trial.init`` (+ ``trial.choices``) as it is, one
    simulator call, instead of optimising from it (the dashboard's "simulate this design").
    A simulation that raises, returns NaN/inf or gives a non-finite gradient makes a FAILED
    trial with the reason; nothing else is caught. A ``"resimulated"`` trial runs no inner loop:
    its design (``trial.init``) gets one final evaluation."""
    t0 = time.perf_counter()
    try:
        if evaluate_only or trial.source == RESIMULATED:
            res: InnerResult = evaluate_design(
                definition,
                trial.init or {},
                trial.choices,
                scalarization_for(trial, normalization, scalarization),
                settings=settings,
                seed=trial.seed,
                device=device,
            )
        else:
            res = optimize_inner(
                definition,
                trial.choices,
                scalarization_for(trial, normalization, scalarization),
                settings=settings,
                seed=trial.seed,
                init=trial.init,
                device=device,
            )
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
    names = definition.objective_names
    cnames = definition.constraint_names
    return TrialState.COMPLETE, TrialResult(
        params=res.params,
        objectives=[res.objectives[n] for n in names],
        stderr=[res.stderr[n] for n in names],
        constraints=[res.constraints[n] for n in cnames],
        constraint_stderr=[res.constraint_stderr[n] for n in cnames],
        n_calls=res.n_calls,
        n_backward=res.n_backward,
        n_steps=res.n_steps,
        feasible=res.feasible,
        converged=res.converged,
        stop_reason=res.stop_reason,
        loss=res.loss,
        wall_time_s=res.wall_time_s,
        trajectory=res.trajectory,
    )
