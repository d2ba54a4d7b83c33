"""Exact refinement of a budget answer: the epsilon-constraint inner loop (``BudgetConstraint``)
warm-started from the chosen stored design, with its discrete choices, so the answer is no longer
limited by the front's spacing; the bound's multiplier gives the trade-off rate there.

This is the only part of :mod:`paretoopt.decide` that runs the simulation (it needs the study
definition, and calls it as many times as one inner loop does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from paretoopt.decide.front import Decision, DecisionError, DecisionFront

if TYPE_CHECKING:
    from paretoopt.inner import InnerResult
    from paretoopt.problem import InnerSettings, StudyDefinition
    from paretoopt.scalarize import Normalization
    from paretoopt.study import Study


@dataclass(frozen=True)
class RefinedBudget:
    """A refined budget answer: the inner loop's design and result (objectives ± errors, calls,
    convergence), each bound's multiplier ``lambda_j`` (normalised units) and the trade-off rate
    ``d objective / d bound_j`` it implies, in the objectives' units."""

    decision: Decision
    result: InnerResult
    multipliers: dict[str, float]
    rates: dict[str, float]

    @property
    def objectives(self) -> dict[str, float]:
        return dict(self.result.objectives)

    @property
    def stderr(self) -> dict[str, float]:
        return dict(self.result.stderr)


def _normalization(study: Study, front: DecisionFront) -> Normalization:
    from paretoopt.scalarize import Normalization

    stored = study.normalization
    if stored is not None:
        return stored
    m = front.n_objectives
    signs = front.signs[:m]
    ideal, nadir = front.ideal_nadir()
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    return Normalization((ideal * signs).tolist(), ((ideal + span) * signs).tolist(), signs.tolist())


def refine_budget(
    definition: StudyDefinition,
    study: Study,
    front: DecisionFront,
    decision: Decision,
    *,
    seed: int = 0,
    settings: InnerSettings | None = None,
    penalty: float = 1e3,
) -> RefinedBudget:
    """Refine a :func:`~paretoopt.decide.budget` ``decision`` (bounds on objectives only) by one
    epsilon-constraint inner loop from the chosen trial's design and choices.

    The quadratic penalty leaves a residual violation of about ``slope / (2 * penalty)`` in
    normalised units; the multiplier is ``2 * penalty * violation`` (0 for a bound that is not
    active)."""
    from paretoopt.inner import optimize_inner
    from paretoopt.scalarize import BudgetConstraint

    if decision.method != "budget":
        raise DecisionError(f"only a budget answer can be refined, not a {decision.method!r} one")
    names = front.objective_names
    inputs: dict[str, Any] = decision.inputs
    objective = names.index(inputs["objective"])
    bounds: list[float | None] = [None] * len(names)
    for name, b in inputs["bounds"].items():
        if name not in names:
            raise DecisionError(f"refinement bounds objectives only; {name!r} is a constraint")
        if isinstance(b, list | tuple):
            raise DecisionError("refinement takes one-sided bounds (NAME=VALUE), not ranges")
        bounds[names.index(name)] = float(b)
    norm = _normalization(study, front)
    scal = BudgetConstraint(objective, bounds, norm, penalty=penalty)
    trial = next(t for t in study.best_trials if t.number == decision.trial)
    result = optimize_inner(definition, trial.choices, scal, settings=settings, seed=seed, init=trial.params)
    import torch

    f = torch.tensor([result.objectives[n] for n in names], dtype=torch.float64)
    z = norm.transform(f).numpy()
    bz = norm.transform(torch.tensor([0.0 if b is None else b for b in bounds], dtype=torch.float64)).numpy()
    span, signs = norm.span.numpy(), norm.signs.numpy()
    multipliers, rates = {}, {}
    for j, b in enumerate(bounds):
        if b is None or j == objective:
            continue
        lam = 2.0 * penalty * max(0.0, float(z[j] - bz[j]))
        multipliers[names[j]] = lam
        # d f_obj / d b_j = -lambda_j * (dz_j/db_j) / (dz_obj/df_obj), dz/df = sign / span
        rates[names[j]] = float(-lam * (signs[j] / span[j]) / (signs[objective] / span[objective]))
    return RefinedBudget(decision=decision, result=result, multipliers=multipliers, rates=rates)
