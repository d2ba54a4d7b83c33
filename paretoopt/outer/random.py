"""The random engine: weights uniform on the simplex (flat Dirichlet), choices uniform.

Proposal ``k`` is drawn from its own seeded stream, so it depends only on ``(seed, k)``:
reproducible and resumable. A baseline.
"""

from __future__ import annotations

import numpy as np

from paretoopt.outer.base import Engine, Proposal


class RandomEngine(Engine):
    """Uniformly random weights (Dirichlet(1, ..., 1)) and outer values."""

    name = "random"

    def _ask(self, n: int) -> list[Proposal]:
        assert self.definition is not None
        out = []
        for k in range(self.n_asked, self.n_asked + n):
            rng = np.random.default_rng([self.seed, k])
            w = rng.dirichlet(np.ones(self.n_objectives))
            out.append(Proposal(weights=tuple(w), choices=self.definition.space.sample_outer(rng)))
        return out
