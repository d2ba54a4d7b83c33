"""The ask/tell interface every outer engine implements (the shape of Optuna's samplers and
pymoo's ``Algorithm``): ``ask(n)`` proposes (weights, choices) pairs, ``tell(trials)`` feeds
finished trials back. Subclasses implement ``_setup``, ``_ask`` and ``_tell``.

State is rebuilt, never pickled: a resumed study calls ``setup`` and then ``tell`` with every
stored trial, in trial-number order, so an engine must be a deterministic function of its
seed and the trials it was told (and of how many proposals it has handed out).
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from paretoopt.exceptions import EngineError
from paretoopt.problem import StudyDefinition
from paretoopt.scalarize import ScalarizationError, normalize_weights


@dataclass(frozen=True)
class Proposal:
    """One outer proposal: scalarisation ``weights`` (one per objective, non-negative, summing
    to 1) and a value for every outer parameter in ``choices`` (choices as option values);
    ``source``: the trial source to store (``None``: the engine's name)."""

    weights: tuple[float, ...]
    choices: dict[str, Any] = field(default_factory=dict)
    source: str | None = None


@dataclass(frozen=True)
class TrialRecord:
    """What an engine learns from one trial (built by the runner from the database).

    ``objectives`` / ``stderr`` are natural-unit means and standard errors in the
    definition's objective order, ``None`` unless ``state == "COMPLETE"``.
    """

    number: int
    state: str
    weights: tuple[float, ...]
    choices: dict[str, Any]
    objectives: tuple[float, ...] | None = None
    stderr: tuple[float, ...] | None = None
    params: dict[str, float] = field(default_factory=dict)
    n_calls: int = 0
    feasible: bool = True
    #: where the trial came from (its stored ``source``)
    source: str = ""


class Engine(ABC):
    """Base class of the outer engines.

    Options are keyword-only and checked: an unknown option raises :class:`EngineError`
    (no silent typos). ``seed`` seeds everything the engine draws.
    """

    name: ClassVar[str] = ""
    #: True for engines whose state depends on the sequence of ask/tell calls (pymoo's
    #: generations): a resumed run then replays ``ask(len(batch))`` + ``tell(batch)`` per stored
    #: batch. False: state is a function of the trials told, and the runner calls
    #: ``tell(all)`` + ``skip(n)``.
    needs_replay: ClassVar[bool] = False

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = int(seed)
        self.definition: StudyDefinition | None = None
        self.budget: int | None = None
        self.n_asked = 0
        self.archive: list[TrialRecord] = []
        #: (weights, choices) of every proposal of this engine stored with the study, in trial
        #: order, pending ones included (set by the runner before each ask; empty when the engine
        #: is used on its own)
        self.stored: list[tuple[tuple[float, ...], dict[str, Any]]] = []

    # ----- public template methods -----
    def setup(self, definition: StudyDefinition, budget: int | None = None) -> Engine:
        """Bind the engine to a study; ``budget`` is the total number of trials planned."""
        self.definition = definition
        self.budget = budget
        self.n_asked = 0
        self.archive = []
        self.stored = []
        self.rng = np.random.default_rng(self.seed)
        self._setup()
        return self

    def ask(self, n: int = 1) -> list[Proposal]:
        """Up to ``n`` proposals (an engine may return fewer, e.g. when a grid is exhausted)."""
        if self.definition is None:
            raise EngineError(f"{type(self).__name__}.ask() called before setup()")
        if n < 1:
            raise EngineError(f"ask(n) needs n >= 1, got {n}")
        proposals = self._ask(int(n))
        checked = [self._validate(p) for p in proposals]
        self.n_asked += len(checked)
        return checked

    def tell(self, trials: Sequence[TrialRecord]) -> None:
        """Feed finished (or failed) trials back; counts them as asked when resuming."""
        if self.definition is None:
            raise EngineError(f"{type(self).__name__}.tell() called before setup()")
        trials = list(trials)
        self.archive.extend(trials)
        self._tell(trials)

    def skip(self, n: int) -> None:
        """Advance the proposal counter by ``n`` (proposals already stored before a resume)."""
        self.n_asked += int(n)

    def copy(self) -> Engine:
        """A deep copy (``optimize`` never mutates the caller's engine)."""
        return copy.deepcopy(self)

    @property
    def n_objectives(self) -> int:
        assert self.definition is not None
        return len(self.definition.objectives)

    @property
    def completed(self) -> list[TrialRecord]:
        return [t for t in self.archive if t.state == "COMPLETE" and t.objectives is not None]

    def options(self) -> dict[str, Any]:
        """The engine's constructor options (stored with the study, shown in reports)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}

    # ----- subclass hooks -----
    def _setup(self) -> None:  # noqa: B027 - optional hook
        """Prepare engine state after :meth:`setup`."""

    @abstractmethod
    def _ask(self, n: int) -> list[Proposal]: ...

    def _tell(self, trials: list[TrialRecord]) -> None:  # noqa: B027 - optional hook
        """Update engine state from finished trials."""

    # ----- helpers -----
    def _validate(self, p: Proposal) -> Proposal:
        assert self.definition is not None
        m = self.n_objectives
        try:
            w = normalize_weights(p.weights, m)
        except ScalarizationError as exc:
            raise EngineError(
                f"{type(self).__name__} proposed invalid weights {p.weights!r} for {m} objectives: {exc}"
            ) from None
        choices = self.definition.space.validate_outer(p.choices)
        return Proposal(weights=tuple(float(x) for x in w), choices=choices, source=p.source)


def simplex_lattice(m: int, n_partitions: int) -> np.ndarray:
    """Das-Dennis weights on the ``m``-simplex with ``n_partitions`` (pymoo's reference
    directions), ``k x m``."""
    from pymoo.util.ref_dirs import get_reference_directions

    if m == 1:
        return np.ones((1, 1))
    return np.asarray(get_reference_directions("das-dennis", m, n_partitions=n_partitions), dtype=float)


def nested_simplex_weights(m: int, n: int) -> np.ndarray:
    """At least ``n`` weights on the ``m``-simplex in a *prefix-stable* order: Das-Dennis
    lattices with 1, 2, 4, 8, ... partitions, each adding only its new points. Any prefix is
    spread over the whole simplex, and a study that later asks for more trials extends the same
    sequence (so a resumed or extended run proposes what an uninterrupted one would)."""
    if m == 1:
        return np.ones((max(n, 1), 1))
    seen: set[tuple[float, ...]] = set()
    rows: list[np.ndarray] = []
    p = 1
    while len(rows) < n:
        lattice = simplex_lattice(m, p)
        # order new points by distance from the ones already chosen (spread within a level)
        new = [w for w in lattice if tuple(np.round(w, 12)) not in seen]
        for w in new:
            seen.add(tuple(np.round(w, 12)))
            rows.append(w)
        p *= 2
        if p > 2**20:
            break
    return np.asarray(rows[: max(n, len(rows))], dtype=float)
