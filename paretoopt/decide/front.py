"""The stored front as the decision methods see it: objective values and standard errors of the
Pareto designs (natural units, mixed directions), the discrete choices each design belongs to, and
the typed answers (:class:`Decision`) every method returns.

Everything here works on the *front* (``Study.best_trials``: non-dominated, completed, feasible,
less the local optima of ``Study.locally_optimal_trials()``), never on all trials, so a decision
costs microseconds to milliseconds however many trials the study has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from paretoopt.exceptions import ParetoOptError
from paretoopt.space import Choice, Integer

if TYPE_CHECKING:
    from paretoopt.storage import FrozenTrial
    from paretoopt.study import Study


class DecisionError(ParetoOptError, ValueError):
    """A decision cannot be made: unknown objective, empty front, malformed input."""


class UnknownObjectiveError(DecisionError):
    """A name that is neither an objective nor a constraint of the study."""


class EmptyFrontError(DecisionError):
    """The study has no completed feasible design to decide on."""


class InfeasibleBudgetError(DecisionError):
    """No front design meets every bound; :attr:`relax` says which bound to move and by how much
    (``{name: amount in the criterion's unit}``; each alone makes at least one design feasible)."""

    def __init__(self, message: str, relax: Mapping[str, float]) -> None:
        super().__init__(message)
        self.relax = dict(relax)


@dataclass(frozen=True)
class Criterion:
    """One column a decision can bound or optimise: an objective or a constraint, with its unit
    and whether smaller is better (``sign`` +1) or larger (-1)."""

    name: str
    unit: str | None
    sign: float
    kind: str  # "objective" | "constraint"

    @property
    def label(self) -> str:
        return f"{self.name} [{self.unit}]" if self.unit else self.name


@dataclass(frozen=True)
class DecisionFront:
    """The Pareto designs of a study in arrays (row i = design ``numbers[i]``).

    ``values``/``stderr``: ``n x k`` in natural units over :attr:`criteria` (objectives first,
    then constraints); a missing standard error reads as 0 (exact). ``groups[i]`` names the
    discrete choices (integers and choices) of design i: designs of different groups are never
    interpolated between."""

    numbers: np.ndarray
    values: np.ndarray
    stderr: np.ndarray
    criteria: tuple[Criterion, ...]
    n_objectives: int
    groups: tuple[str, ...]
    choices: tuple[dict[str, Any], ...] = ()
    params: tuple[dict[str, float], ...] = ()

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.criteria]

    @property
    def objective_names(self) -> list[str]:
        return self.names[: self.n_objectives]

    @property
    def signs(self) -> np.ndarray:
        return np.array([c.sign for c in self.criteria])

    def index(self, name: str, *, objective_only: bool = False) -> int:
        """Column of criterion ``name``; :class:`UnknownObjectiveError` listing the known ones."""
        names = self.objective_names if objective_only else self.names
        if name not in names:
            what = "objectives" if objective_only else "objectives and constraints"
            raise UnknownObjectiveError(f"unknown objective {name!r}; the study's {what}: {', '.join(names)}")
        return names.index(name)

    def row(self, number: int) -> int:
        hits = np.flatnonzero(self.numbers == number)
        if not len(hits):
            raise DecisionError(f"trial {number} is not on the front")
        return int(hits[0])

    def oriented(self) -> np.ndarray:
        """Objective values with every objective to be minimised (``sign * value``)."""
        m = self.n_objectives
        return self.values[:, :m] * self.signs[:m]

    def ideal_nadir(self) -> tuple[np.ndarray, np.ndarray]:
        """Best and worst value of each objective over the front, oriented (all minimised)."""
        g = self.oriented()
        return g.min(axis=0), g.max(axis=0)

    def design(self, i: int) -> Design:
        """Design at row ``i`` as a typed record."""
        return Design(
            trial=int(self.numbers[i]),
            objectives={c.name: float(self.values[i, j]) for j, c in enumerate(self.criteria)},
            stderr={c.name: float(self.stderr[i, j]) for j, c in enumerate(self.criteria)},
            group=self.groups[i],
            choices=dict(self.choices[i]) if self.choices else {},
            params=dict(self.params[i]) if self.params else {},
        )

    def require_nonempty(self) -> None:
        if len(self) == 0:
            raise EmptyFrontError("the front is empty: no completed feasible trial to decide on")


@dataclass(frozen=True)
class Design:
    """One front design: its trial number, values and standard errors by criterion name."""

    trial: int
    objectives: dict[str, float]
    stderr: dict[str, float]
    group: str = ""
    choices: dict[str, Any] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The answer of a decision method: the chosen design with its errors, the designs tied with
    it within one standard error (never ranked against it), its neighbours (runner-ups or the
    answers to perturbed questions), the inputs that produced it and notes for the reader."""

    method: str
    design: Design
    ties: tuple[int, ...]
    neighbours: tuple[int, ...]
    inputs: dict[str, Any]
    score: float = float("nan")
    score_stderr: float = float("nan")
    notes: tuple[str, ...] = ()

    @property
    def trial(self) -> int:
        return self.design.trial

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object: trial, objectives, stderr, ties, neighbours (+ method,
        inputs, notes)."""
        return {
            "trial": self.design.trial,
            "objectives": dict(self.design.objectives),
            "stderr": dict(self.design.stderr),
            "ties": list(self.ties),
            "neighbours": list(self.neighbours),
            "method": self.method,
            "inputs": self.inputs,
            "notes": list(self.notes),
        }


def tied_with(
    score: np.ndarray, score_se: np.ndarray, best: int, candidates: np.ndarray, k: float = 1.0
) -> np.ndarray:
    """Rows of ``candidates`` whose ``score`` differs from row ``best``'s by at most ``k``
    combined standard errors ``sqrt(se_best^2 + se_i^2)``: a difference the Monte Carlo noise
    can make, so the two are a tie, never ranked."""
    cand = np.asarray(candidates, dtype=int)
    cand = cand[cand != best]
    if not len(cand):
        return cand
    diff = np.abs(score[cand] - score[best])
    tol = k * np.sqrt(score_se[cand] ** 2 + score_se[best] ** 2)
    return cand[diff <= tol]


def discrete_group(choices: Mapping[str, Any], names: Sequence[str]) -> str:
    """A label for the discrete choices of a design, e.g. ``"absorber=Pb, n_layers=20"``."""
    return ", ".join(f"{n}={choices.get(n)}" for n in names)


def front_from_trials(
    trials: Sequence[FrozenTrial],
    objectives: Sequence[Any],
    constraints: Sequence[Any] = (),
    discrete: Sequence[str] = (),
) -> DecisionFront:
    """A :class:`DecisionFront` over ``trials`` (assumed the front: see :func:`front_of`);
    ``objectives``/``constraints`` are the study's, ``discrete`` the names of its integer and
    choice parameters."""
    crit = [
        Criterion(o.name, o.unit, 1.0 if o.direction == "minimize" else -1.0, "objective") for o in objectives
    ]
    crit += [
        Criterion(c.name, c.unit, 1.0 if c.upper is not None else -1.0, "constraint") for c in constraints
    ]
    n, m, k = len(trials), len(objectives), len(crit)
    values = np.full((n, k), np.nan)
    stderr = np.zeros((n, k))
    for i, t in enumerate(trials):
        values[i, :m] = t.objectives or np.nan
        if t.stderr:
            stderr[i, :m] = np.nan_to_num(np.asarray(t.stderr, dtype=float), nan=0.0)
        if constraints and t.constraints:
            values[i, m:] = t.constraints
            if t.constraint_stderr:
                stderr[i, m:] = np.nan_to_num(np.asarray(t.constraint_stderr, dtype=float), nan=0.0)
    return DecisionFront(
        numbers=np.array([t.number for t in trials], dtype=int),
        values=values,
        stderr=stderr,
        criteria=tuple(crit),
        n_objectives=m,
        groups=tuple(discrete_group(t.choices, discrete) for t in trials),
        choices=tuple(dict(t.choices) for t in trials),
        params=tuple(dict(t.params) for t in trials),
    )


def front_of(study: Study) -> DecisionFront:
    """The decision front of a stored ``study``: its :attr:`~paretoopt.study.Study.best_trials`
    (local optima and dominated trials excluded), objectives then constraints."""
    discrete = [p.name for p in study.space.outer if isinstance(p, Choice | Integer)]
    return front_from_trials(study.best_trials, study.objectives, study.constraints, discrete)


def front_from_arrays(
    values: Any,
    stderr: Any = None,
    *,
    names: Sequence[str],
    directions: Sequence[str],
    units: Sequence[str | None] | None = None,
    numbers: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
) -> DecisionFront:
    """A :class:`DecisionFront` from plain arrays (``n x m`` objective values in natural units),
    for fronts that do not come from a study (benchmarks, other tools' exports)."""
    f = np.asarray(values, dtype=float)
    n, m = f.shape
    se = np.zeros_like(f) if stderr is None else np.nan_to_num(np.asarray(stderr, dtype=float), nan=0.0)
    units = list(units) if units is not None else [None] * m
    crit = tuple(
        Criterion(nm, u, 1.0 if d == "minimize" else -1.0, "objective")
        for nm, u, d in zip(names, units, directions, strict=True)
    )
    return DecisionFront(
        numbers=np.arange(n) if numbers is None else np.asarray(numbers, dtype=int),
        values=f,
        stderr=se,
        criteria=crit,
        n_objectives=m,
        groups=tuple(groups) if groups is not None else ("",) * n,
    )
