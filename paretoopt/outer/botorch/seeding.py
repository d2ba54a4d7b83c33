"""The botorch engine's dtype and seed rule: every random draw is seeded by (seed, counts) alone."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

#: Floating-point type of every tensor the engine builds.
DTYPE = torch.float64


def seed_of(*parts: int) -> int:
    """A 32-bit seed derived from ``parts`` (the engine's seed, trial or proposal counts, a
    label per use), so that a draw depends on what the engine was told, not on global state."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


@contextlib.contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Run a block with torch's CPU generator and Python's ``random`` module seeded by ``seed``,
    and both restored afterwards (the caller's global state is left as it was).

    botorch draws from both: torch for raw samples and restarts, and Python's ``random`` in
    ``optimize_acqf_mixed_alternating`` (``random.sample`` of the categorical neighbours when a
    choice has more options than it scans), which left unseeded made two runs of the same study
    with a 76-option choice propose different designs."""
    state = random.getstate()
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            random.seed(seed)
            yield
    finally:
        random.setstate(state)
