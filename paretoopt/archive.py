"""The archive: every design a study evaluated, as candidates for its front (issue #19).

An inner loop evaluates a full design at each step; its trajectory is stored. The archive holds

* ``"trial"``: a trial's final evaluation (the full evaluation sample, evaluation mode):
  review-grade;
* ``"trajectory"``: an inner-loop step, estimated on that step's sample (``n_samples`` events,
  a few hundred for a Monte Carlo study, or exact), in training mode (a simulation's soft
  relaxations) and chosen by an optimiser on that very sample: its errors are the sample's
  statistical errors, larger for smaller samples, and it is never review-grade;
* ``"refined"``: a trajectory point re-evaluated on the full evaluation sample in evaluation
  mode by ``paretoopt refine`` (:mod:`paretoopt.refine`): review-grade.

A front built from the archive (:func:`archive_front`) takes only points known to be feasible
(a trajectory step stored without its constraint values never enters a constrained study's
front), leaves out the trials another trial beats on their own trade-off
(:mod:`paretoopt.optimality`), and keeps one point per design (the best grade).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from paretoopt import pareto
from paretoopt.problem import Constraint
from paretoopt.storage import FrozenTrial, RefinedPoint, StoredStep

#: A trial's final evaluation (review-grade).
TRIAL = "trial"
#: An inner-loop step, estimated on its own (smaller) sample in training mode (not review-grade).
TRAJECTORY = "trajectory"
#: A trajectory point re-evaluated on the full evaluation sample (review-grade).
REFINED = "refined"
#: Every archive ``source``, best grade first.
ARCHIVE_SOURCES = (TRIAL, REFINED, TRAJECTORY)


@dataclass(frozen=True)
class ArchivePoint:
    """One evaluated design. ``number`` / ``trial_id``: the trial that evaluated it; ``step``:
    the trajectory step (``None`` for the trial's final evaluation). Figures in natural units;
    ``stderr`` / ``constraint_stderr`` hold NaN where unknown (steps stored before schema
    0005); ``feasible`` is ``None`` when unknown; ``n_samples``: the events the estimate rests
    on (``None`` when unknown)."""

    source: str
    number: int
    trial_id: int
    step: int | None
    trial_source: str
    choices: dict[str, Any]
    params: dict[str, float]
    objectives: tuple[float, ...]
    stderr: tuple[float, ...]
    constraints: tuple[float, ...]
    constraint_stderr: tuple[float, ...]
    feasible: bool | None
    n_samples: int | None
    exact: bool = False

    @property
    def review_grade(self) -> bool:
        """Whether the figures come from the full evaluation sample in evaluation mode."""
        return self.source in (TRIAL, REFINED)

    @property
    def key(self) -> str:
        """The design (choices and parameters) as a canonical string, to find duplicates."""
        return json.dumps([self.choices, self.params], sort_keys=True)

    @property
    def finite(self) -> bool:
        return bool(self.objectives) and all(math.isfinite(v) for v in self.objectives)


def _nan(n: int) -> tuple[float, ...]:
    return tuple([math.nan] * n)


def _feasible(constraints: Sequence[Constraint], values: Sequence[float] | None) -> bool | None:
    if not constraints:
        return True
    if values is None or len(values) != len(constraints):
        return None
    return all(c.satisfied(v) for c, v in zip(constraints, values, strict=True))


def trial_point(t: FrozenTrial) -> ArchivePoint:
    """A completed trial's final evaluation as an archive point."""
    m = len(t.objectives or ())
    return ArchivePoint(
        source=TRIAL,
        number=t.number,
        trial_id=t.id,
        step=None,
        trial_source=t.source,
        choices=dict(t.choices),
        params=dict(t.params),
        objectives=tuple(t.objectives or ()),
        stderr=tuple(t.stderr) if t.stderr else _nan(m),
        constraints=tuple(t.constraints or ()),
        constraint_stderr=tuple(t.constraint_stderr or ()),
        feasible=t.feasible,
        n_samples=t.n_samples,
    )


def step_point(t: FrozenTrial, s: StoredStep, constraints: Sequence[Constraint]) -> ArchivePoint:
    """Trajectory step ``s`` of trial ``t`` as an archive point (its own sample's figures)."""
    m = len(s.objectives)
    cons = tuple(s.constraints) if s.constraints is not None else ()
    return ArchivePoint(
        source=TRAJECTORY,
        number=t.number,
        trial_id=t.id,
        step=s.step,
        trial_source=t.source,
        choices=dict(t.choices),
        params=dict(s.params),
        objectives=tuple(float(v) for v in s.objectives),
        stderr=tuple(float(v) for v in s.stderr) if s.stderr is not None else _nan(m),
        constraints=cons,
        constraint_stderr=tuple(s.constraint_stderr) if s.constraint_stderr is not None else _nan(len(cons)),
        feasible=_feasible(constraints, s.constraints),
        n_samples=s.n_samples,
        exact=s.exact,
    )


def refined_point(t: FrozenTrial, r: RefinedPoint) -> ArchivePoint:
    """The re-evaluation ``r`` of a trajectory point of trial ``t`` (a failed one has no
    figures and is infeasible)."""
    m = len(r.objectives)
    return ArchivePoint(
        source=REFINED,
        number=t.number,
        trial_id=t.id,
        step=r.step,
        trial_source=t.source,
        choices=dict(t.choices),
        params=dict(r.params),
        objectives=tuple(r.objectives),
        stderr=tuple(r.stderr) if r.stderr else _nan(m),
        constraints=tuple(r.constraints),
        constraint_stderr=tuple(r.constraint_stderr),
        feasible=bool(r.feasible) and r.error is None,
        n_samples=r.n_samples,
    )


def build_archive(
    trials: Sequence[FrozenTrial],
    trajectories: Mapping[int, Sequence[StoredStep]],
    refinements: Sequence[RefinedPoint],
    constraints: Sequence[Constraint],
) -> list[ArchivePoint]:
    """Every completed trial's final evaluation and trajectory steps, a refined step replaced by
    its re-evaluation, one point per design (a trial's evaluation first, then a refined one),
    in trial-number and step order."""
    refined = {(r.trial_id, r.step): r for r in refinements}
    points: list[ArchivePoint] = []
    for t in trials:
        if t.state.value != "COMPLETE":
            continue
        if t.objectives:
            points.append(trial_point(t))
        for s in trajectories.get(t.id, ()):
            r = refined.get((t.id, s.step))
            points.append(refined_point(t, r) if r is not None else step_point(t, s, constraints))
    rank = {src: i for i, src in enumerate(ARCHIVE_SOURCES)}
    best: dict[str, ArchivePoint] = {}
    for p in points:
        kept = best.get(p.key)
        if kept is None or rank[p.source] < rank[kept.source]:
            best[p.key] = p
    order = {id(p): i for i, p in enumerate(points)}
    return sorted(best.values(), key=lambda p: order[id(p)])


def archive_front(
    points: Sequence[ArchivePoint], directions: Sequence[str], beaten: Sequence[int] = ()
) -> list[ArchivePoint]:
    """The non-dominated archive points among those known to be feasible with finite
    objectives, leaving out the final evaluations of the trials in ``beaten`` (local optima)."""
    eligible = [
        p
        for p in points
        if p.feasible is True and p.finite and not (p.source == TRIAL and p.number in set(beaten))
    ]
    if not eligible:
        return []
    f = np.array([p.objectives for p in eligible], dtype=float)
    mask = pareto.non_dominated(f, directions)
    return [p for p, keep in zip(eligible, mask, strict=True) if keep]


def unrefined(front: Sequence[ArchivePoint]) -> list[ArchivePoint]:
    """The points of ``front`` that are not review-grade (what ``paretoopt refine`` evaluates)."""
    return [p for p in front if not p.review_grade]
