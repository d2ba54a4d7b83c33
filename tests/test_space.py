import math

import numpy as np
import pytest
import torch

from paretoopt import Choice, DesignSpace, Integer, Real, SpaceError


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(SpaceError, match=r"low=2\.0 must be smaller than high=1\.0"):
        Real("t", 2.0, 1.0)
    with pytest.raises(SpaceError, match="must be smaller"):
        Integer("n", 3, 3)
    with pytest.raises(SpaceError, match="options must not be empty"):
        Choice("m", [])
    with pytest.raises(SpaceError, match="log=True needs low > 0"):
        Real("t", 0.0, 1.0, log=True)
    with pytest.raises(SpaceError, match="duplicate parameter name 'a'"):
        DesignSpace(Real("a", 0, 1), Integer("a", 1, 3))
    with pytest.raises(SpaceError, match="identifier"):
        Real("bad name", 0, 1)
    with pytest.raises(SpaceError, match="duplicates"):
        Choice("m", ["Pb", "Pb"])


def test_inner_outer_split():
    s = DesignSpace(
        Real("a", 0, 1), Real("b", 1, 10, differentiable=False), Integer("n", 1, 4), Choice("m", ["Pb", "W"])
    )
    assert s.inner_names == ["a"]
    assert s.outer_names == ["b", "n", "m"]


@pytest.mark.parametrize("log", [False, True])
def test_reparametrisation_round_trip_and_bounds(log):
    p = Real("t", 0.5, 20.0, unit="mm", log=log)
    x = torch.tensor([0.5, 0.7, 3.0, 19.9, 20.0], dtype=torch.float64)
    back = p.from_unconstrained(p.to_unconstrained(x))
    assert torch.allclose(back, x, rtol=1e-9, atol=1e-9)
    u = torch.linspace(-60, 60, 101, dtype=torch.float64)
    y = p.from_unconstrained(u)
    assert torch.all(y >= 0.5) and torch.all(y <= 20.0)


@pytest.mark.parametrize("log", [False, True])
def test_reparametrisation_gradient_matches_finite_differences(log):
    p = Real("t", 0.5, 20.0, log=log)
    u = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    y = p.from_unconstrained(u)
    (g,) = torch.autograd.grad(y, u)
    h = 1e-6
    fd = (
        p.from_unconstrained(torch.tensor(0.3 + h, dtype=torch.float64))
        - p.from_unconstrained(torch.tensor(0.3 - h, dtype=torch.float64))
    ) / (2 * h)
    assert math.isclose(float(g), float(fd), rel_tol=1e-6)
    assert torch.autograd.gradcheck(p.from_unconstrained, (u,))


def test_outer_values_are_validated():
    s = DesignSpace(
        Real("a", 0, 1),
        Integer("n", 5, 60),
        Choice("m", ["Pb", "W", "Fe"]),
        Real("r", 1.0, 100.0, log=True, differentiable=False),
    )
    assert s.validate_outer({"n": 17, "m": "W", "r": 10.0}) == {"n": 17, "m": "W", "r": 10.0}
    with pytest.raises(SpaceError, match="not one of the options"):
        s.validate_outer({"n": 17, "m": "Cu", "r": 10.0})


def test_discrete_combinations_and_sampling():
    s = DesignSpace(Real("a", 0, 1), Integer("n", 1, 3), Choice("m", ["Pb", "W"]))
    combos = s.discrete_combinations()
    assert len(combos) == 6 == s.n_discrete_combinations()
    assert {"n": 2, "m": "W"} in combos
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = s.sample_outer(rng)
        assert s.validate_outer(v) == v
