import numpy as np
import pytest
import torch

from paretoopt import AugmentedChebyshev, BudgetConstraint, Normalization, WeightedSum
from paretoopt.scalarize import ScalarizationError, normalize_weights


def test_normalization_maps_ideal_to_0_and_nadir_to_1_for_both_directions():
    n = Normalization(ideal=[0.0, 10.0], nadir=[2.0, 5.0], signs=[1.0, -1.0])
    z = n.transform(torch.tensor([[0.0, 10.0], [2.0, 5.0], [1.0, 7.5]], dtype=torch.float64))
    assert torch.allclose(z, torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]], dtype=torch.float64))
    with pytest.raises(ScalarizationError, match="nadir must be worse"):
        Normalization(ideal=[0.0], nadir=[-1.0], signs=[1.0])


def test_from_points_is_payoff_table():
    n = Normalization.from_points([[0.0, 3.0], [2.0, 1.0]], [1.0, 1.0])
    assert n.ideal.tolist() == [0.0, 1.0] and n.nadir.tolist() == [2.0, 3.0]


def test_chebyshev_value_and_unweighted_augmentation():
    n = Normalization.identity([1.0, 1.0])
    s = AugmentedChebyshev([0.25, 0.75], n, rho=0.1, utopia_offset=0.0, smoothing=0.0)
    f = torch.tensor([0.8, 0.2], dtype=torch.float64)
    assert float(s(f)) == pytest.approx(max(0.25 * 0.8, 0.75 * 0.2) + 0.1 * 1.0)
    # with a zero weight the augmentation still ranks the other objective
    s0 = AugmentedChebyshev([1.0, 0.0], n)
    a, b = torch.tensor([0.0, 5.0]), torch.tensor([0.0, 1.0])
    assert float(s0(b)) < float(s0(a))


def test_weighted_sum_and_weights_checks():
    n = Normalization.identity([1.0, 1.0])
    assert float(WeightedSum([1, 3], n)(torch.tensor([4.0, 0.0]))) == pytest.approx(1.0)
    with pytest.raises(ScalarizationError, match="non-negative"):
        WeightedSum([-1, 2], n)
    with pytest.raises(ScalarizationError, match="expected 2 weights"):
        WeightedSum([1, 2, 3], n)
    with pytest.raises(ScalarizationError, match=r"shape \(\.\.\., 2\)"):
        WeightedSum([1, 1], n)(torch.zeros(3))


def test_budget_penalises_only_violations():
    n = Normalization.identity([1.0, 1.0])
    s = BudgetConstraint(0, [None, 0.5], n, penalty=100.0)
    assert float(s(torch.tensor([0.3, 0.4]))) == pytest.approx(0.3)
    assert float(s(torch.tensor([0.3, 0.6]))) == pytest.approx(0.3 + 100 * 0.01)
    with pytest.raises(ScalarizationError, match="needs a bound"):
        BudgetConstraint(0, [None, None], n)


def test_normalize_weights_is_one_rule_for_numpy_and_torch():
    w = [0.1, 0.2, 0.3, 0.15, 0.25, 0.05]
    out = normalize_weights(np.asarray(w))
    assert isinstance(out, np.ndarray) and out.tolist() == (np.asarray(w) / np.asarray(w).sum()).tolist()
    t = torch.tensor(w, dtype=torch.float64)
    out_t = normalize_weights(t, 6)
    assert isinstance(out_t, torch.Tensor) and out_t.tolist() == (t / float(t.sum())).tolist()
    assert normalize_weights([1.0, 3.0], 2).tolist() == [0.25, 0.75]
    for bad, match in (
        ([1.0, -1.0], "non-negative"),
        ([0.0, 0.0], "must not all be zero"),
        ([1.0, float("nan")], "finite"),
        ([[1.0, 2.0]], "vector"),
    ):
        with pytest.raises(ScalarizationError, match=match):
            normalize_weights(bad)
        if np.ndim(bad) == 1:
            with pytest.raises(ScalarizationError, match=match):
                normalize_weights(torch.tensor(bad))
    with pytest.raises(ScalarizationError, match="expected 3 weights"):
        normalize_weights([1.0, 2.0], 3)
