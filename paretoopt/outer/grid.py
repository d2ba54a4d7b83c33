"""The grid engine: weights on nested Das-Dennis simplex lattices times every discrete choice.

Each combination walks the same prefix-stable weight sequence; the combinations take turns
(weights-major), except that one owning no point of the front once its first weights are told
takes a turn only every :data:`DEFER_PACE` rounds (it is never dropped). The proposals are a
function of the stored proposals and the trials told, so runs are reproducible, resumable and
extendable. The baseline every smarter engine must beat.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from paretoopt import pareto
from paretoopt.outer.base import Engine, Proposal, nested_simplex_weights
from paretoopt.trials import ANCHOR, EXTERNAL_SOURCES


class GridEngine(Engine):
    """Weights from prefix-stable Das-Dennis lattices (1, 2, 4, ... partitions) crossed with
    every combination of the outer parameters (non-differentiable reals on ``real_levels``
    levels).

    With ``C`` combinations and a budget of at least ``2 C`` trials (or no budget), trial ``k``
    uses weight ``k // C`` and combination ``k % C`` (weights-major: every combination at the
    extremes first, then finer weights) while every combination owns a point of the front; a
    combination that owns none after its first :func:`screen_size` weights gets one weight for
    every :data:`DEFER_PACE` of the others' (a beam geometry that is dominated everywhere no
    longer takes half of a shield study's trials). With a smaller budget the grid is choices-major:
    ``W = budget // C`` weights per combination (the equal weight when ``W`` is 1), the
    combinations in a seeded random order, so that a budget smaller than the number of
    combinations still spreads over the whole discrete space (a calorimeter with 672
    combinations and 200 trials). The layout is fixed by the budget of the first run."""

    name = "grid"

    def __init__(self, *, seed: int = 0, real_levels: int = 3) -> None:
        super().__init__(seed=seed)
        self.real_levels = int(real_levels)

    def _setup(self) -> None:
        assert self.definition is not None
        self._combos = self.definition.space.discrete_combinations(self.real_levels)
        self._weights = np.zeros((0, self.n_objectives))
        c = len(self._combos)
        self._choices_major = self.budget is not None and c > 1 and self.budget < 2 * c
        if self._choices_major:
            assert self.budget is not None
            self._w_per_combo = max(1, self.budget // c)
            order = np.random.default_rng(self.seed).permutation(c)
            self._combos = [self._combos[i] for i in order]
            if self._w_per_combo == 1:
                m = self.n_objectives
                self._weights = np.full((1, m), 1.0 / m)
            else:
                self._weights = nested_simplex_weights(self.n_objectives, self._w_per_combo)[
                    : self._w_per_combo
                ]
        #: each combination's position, by its key (a trial's choices -> its combination)
        self._index = {_key(combo): j for j, combo in enumerate(self._combos)}

    def _weight(self, i: int) -> np.ndarray:
        if i >= len(self._weights):
            self._weights = nested_simplex_weights(self.n_objectives, max(2 * i + 2, 8))
        return self._weights[i]

    def _ask(self, n: int) -> list[Proposal]:
        out = []
        c = len(self._combos)
        if self._choices_major:
            w_n = self._w_per_combo
            for k in range(self.n_asked, self.n_asked + n):
                combo = self._combos[(k // w_n) % c]
                out.append(Proposal(weights=tuple(self._weights[k % w_n]), choices=dict(combo)))
            return out
        counts = self._counts()
        anchored = self._anchored()
        deferred = self._deferred(counts, anchored)
        for _ in range(n):
            # the combination furthest behind in its weight sequence goes next; one that owns no
            # point of the front moves at 1/DEFER_PACE of the others' pace
            i = min(range(c), key=lambda j: (counts[j] * (DEFER_PACE if deferred[j] else 1), j))
            k = anchored_order(counts[i], self.n_objectives) if anchored[i] else counts[i]
            out.append(Proposal(weights=tuple(self._weight(k)), choices=dict(self._combos[i])))
            counts[i] += 1
        return out

    def _anchored(self) -> list[bool]:
        """Combinations whose ``m`` anchors (:mod:`paretoopt.normalization`) are told: their
        extremes are known, so their sequence starts with the trade-off weights
        (:func:`anchored_order`). Anchors finish before the engine's first ask, so this is the
        same in a resumed run."""
        found = [0] * len(self._combos)
        for t in self.completed:
            j = self._index.get(_key(t.choices))
            if t.source == ANCHOR and j is not None:
                found[j] += 1
        return [f >= self.n_objectives for f in found]

    def _counts(self) -> list[int]:
        """Proposals so far per combination (pending ones included): from the study's stored
        proposals when the runner gave them, else as the fixed weights-major order has them."""
        c = len(self._combos)
        if self.stored and len(self.stored) >= self.n_asked:
            counts = [0] * c
            for _, choices in self.stored:
                j = self._index.get(_key(choices))
                if j is not None:
                    counts[j] += 1
            return counts
        return [self.n_asked // c + (1 if j < self.n_asked % c else 0) for j in range(c)]

    def _deferred(self, counts: list[int], anchored: list[bool]) -> list[bool]:
        """Combinations whose first :func:`screen_size` weights are all told and none of whose
        points is on the non-dominated set of every completed feasible trial: they are not
        dropped (the grid stays exhaustive), only visited less often. A combination's anchors
        stand for its ``m`` extremes: it is judged once its trade-off weights are told."""
        c = len(self._combos)
        if c < 2:
            return [False] * c
        assert self.definition is not None
        done = [t for t in self.completed if t.feasible and np.all(np.isfinite(t.objectives or ()))]
        if not done:
            return [False] * c
        f = np.array([t.objectives for t in done], dtype=float)
        on_front = pareto.non_dominated(f, pareto.directions_of(self.definition))
        told = [0] * c
        owns = [False] * c
        for t, front in zip(done, on_front, strict=True):
            j = self._index.get(_key(t.choices))
            if j is not None:
                told[j] += t.source not in EXTERNAL_SOURCES
                owns[j] = owns[j] or bool(front)
        m = self.n_objectives
        screen = [screen_size(m) - (m if anchored[j] else 0) for j in range(c)]
        return [counts[j] >= screen[j] and told[j] >= screen[j] and not owns[j] for j in range(c)]


#: A combination that owns no front point gets one weight for every DEFER_PACE of the others.
DEFER_PACE = 4


def anchored_order(k: int, m: int) -> int:
    """The index in the nested weight sequence of the ``k``-th weight of a combination whose
    anchors stand: the second lattice's new (trade-off) points first, then the ``m`` extremes,
    then the rest unchanged. The anchors already found the extremes; the grid's pure weights
    (augmented, so they can still land elsewhere, e.g. on a knee) come after the middle."""
    middle = m * (m - 1) // 2
    if k < middle:
        return m + k
    if k < middle + m:
        return k - middle
    return k


def screen_size(m: int) -> int:
    """Weights a combination gets before it is judged: the lattice with 2 partitions (the ``m``
    extremes and their midpoints: 3 weights for 2 objectives, 6 for 3)."""
    return m * (m + 1) // 2


def _key(choices: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in choices.items()))
