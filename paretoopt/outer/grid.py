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
    levels). With ``C`` combinations, trial ``k`` uses weight ``k // C`` and combination
    ``k % C``."""

    name = "grid"

    def __init__(self, *, seed: int = 0, real_levels: int = 3) -> None:
        super().__init__(seed=seed)
        self.real_levels = int(real_levels)

    def _setup(self) -> None:
        assert self.definition is not None
        self._combos = self.definition.space.discrete_combinations(self.real_levels)
        self._weights = np.zeros((0, self.n_objectives))

    def _weight(self, i: int) -> np.ndarray:
        if i >= len(self._weights):
            self._weights = nested_simplex_weights(self.n_objectives, max(2 * i + 2, 8))
        return self._weights[i]

    def _ask(self, n: int) -> list[Proposal]:
        out = []
        c = len(self._combos)
        for k in range(self.n_asked, self.n_asked + n):
            w = self._weight(k // c)
            out.append(Proposal(weights=tuple(w), choices=dict(self._combos[k % c])))
        return out
