"""The grid engine: weights on nested Das-Dennis simplex lattices times every discrete choice.

Proposal ``k`` is a fixed function of ``k`` (weights-major, the discrete combinations inner),
so runs are reproducible, resumable and extendable. The baseline every smarter engine must beat.
"""

from __future__ import annotations

import numpy as np

from paretoopt.outer.base import Engine, Proposal, nested_simplex_weights


class GridEngine(Engine):
    """Weights from prefix-stable Das-Dennis lattices (1, 2, 4, ... partitions) crossed with
    every combination of the outer parameters (non-differentiable reals on ``real_levels``
    levels).

    With ``C`` combinations and a budget of at least ``2 C`` trials (or no budget), trial ``k``
    uses weight ``k // C`` and combination ``k % C`` (weights-major: every combination at the
    extremes first, then finer weights). With a smaller budget the grid is choices-major:
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
        for k in range(self.n_asked, self.n_asked + n):
            w = self._weight(k // c)
            out.append(Proposal(weights=tuple(w), choices=dict(self._combos[k % c])))
        return out
