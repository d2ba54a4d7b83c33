"""The botorch engine's dtype and seed rule: every random draw is seeded by (seed, counts) alone."""

from __future__ import annotations

import numpy as np
import torch

#: Floating-point type of every tensor the engine builds.
DTYPE = torch.float64


def seed_of(*parts: int) -> int:
    """A 32-bit seed derived from ``parts`` (the engine's seed, trial or proposal counts, a
    label per use), so that a draw depends on what the engine was told, not on global state."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])
