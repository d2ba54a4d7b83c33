"""Stored studies for the decision tests: ZDT1's analytic front (f2 = 1 - sqrt(f1); Zitzler, Deb
and Thiele 2000) with dominated trials mixed in, and a mixed-choice, mixed-direction study with
Monte Carlo errors. Both are written through the Storage API (paretoopt.testing.fronts)."""

from __future__ import annotations

import numpy as np
import pytest

from paretoopt.problem import Objective
from paretoopt.space import Choice, DesignSpace, Integer, Real
from paretoopt.storage import SQLStorage
from paretoopt.testing.fronts import store_study


@pytest.fixture
def storage(tmp_path):
    st = SQLStorage(f"sqlite:///{tmp_path / 'decide.db'}")
    yield st
    st.close()


def zdt1_values(n: int = 60, seed: int = 0) -> np.ndarray:
    """``n`` points on ZDT1's front (f1 seeded uniform, both ends included) and ``n // 3``
    dominated ones above it."""
    rng = np.random.default_rng(seed)
    f1 = np.sort(np.r_[0.0, 1.0, rng.uniform(0, 1, n - 2)])
    front = np.c_[f1, 1 - np.sqrt(f1)]
    g = rng.uniform(0, 1, n // 3)
    dominated = np.c_[g, 1 - np.sqrt(g) + rng.uniform(0.05, 0.3, len(g))]
    return np.r_[front, dominated]


@pytest.fixture
def zdt1(storage):
    objs = [Objective("f1"), Objective("f2")]
    return store_study(storage, "zdt1", objs, zdt1_values())


MIXED_SPACE = DesignSpace(
    Real("absorber_mm", 1.0, 20.0, unit="mm", log=True),
    Choice("absorber", ["Pb", "W"]),
    Integer("n_layers", 10, 30),
)


def mixed_values(n: int = 300, seed: int = 1):
    """Three objectives with mixed directions (resolution %, min; efficiency, max; cost kEUR,
    min) over two discrete choices, with Monte Carlo standard errors."""
    rng = np.random.default_rng(seed)
    absorber = rng.choice(["Pb", "W"], n)
    layers = rng.choice([10, 20, 30], n)
    t = rng.uniform(1, 20, n)
    dear = np.where(absorber == "W", 2.5, 1.0)
    cost = dear * layers * (50 + 3 * t)
    resolution = 12 / np.sqrt(layers * t) * np.where(absorber == "W", 0.8, 1.0) + rng.normal(0, 0.02, n)
    efficiency = 1 - np.exp(-layers * t / (60 * dear)) + rng.normal(0, 0.01, n)
    values = np.c_[resolution, efficiency, cost]
    stderr = np.c_[np.full(n, 0.02), np.full(n, 0.01), np.zeros(n)]
    choices = [{"absorber": str(a), "n_layers": int(k)} for a, k in zip(absorber, layers, strict=True)]
    params = [{"absorber_mm": float(x)} for x in t]
    return values, stderr, choices, params


@pytest.fixture
def mixed(storage):
    values, stderr, choices, params = mixed_values()
    objs = [
        Objective("resolution", unit="%"),
        Objective("efficiency", direction="maximize"),
        Objective("cost", unit="kEUR"),
    ]
    return store_study(
        storage, "mixed", objs, values, stderr=stderr, space=MIXED_SPACE, choices=choices, params=params
    )
