"""BaselineCachedQLogNEHVI gives botorch's qLogNEHVI values and gradients, without asking the
model for the baseline's posterior at every call."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.models import MixedSingleTaskGP, ModelListGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.sampling import SobolQMCNormalSampler

from paretoopt.outer.botorch.acquisition import BaselineCachedQLogNEHVI

torch.set_num_threads(1)
DT = torch.float64


def _data(n: int, *, categorical: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` designs in [0, 1]^3 (the last one a 3-option choice when ``categorical``) and two
    conflicting objectives (maximised) plus a +-1 feasibility column."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=g, dtype=DT)
    if categorical:
        X[:, 2] = torch.randint(0, 3, (n,), generator=g).to(DT)
    f1 = -(X[:, 0] ** 2) - 0.3 * X[:, 2] + 0.05 * torch.sin(6 * X[:, 1])
    f2 = -((1 - X[:, 0]) ** 2) - 0.2 * X[:, 1]
    feasible = torch.where(X[:, 1] < 0.8, 1.0, -1.0).to(DT)
    return X, torch.stack([f1, f2, feasible], dim=-1)


def _model(X: torch.Tensor, Y: torch.Tensor, *, categorical: bool, fixed_noise: bool) -> object:
    m = Y.shape[-1]
    yvar = torch.full_like(Y, 1e-3) if fixed_noise else None
    if categorical:
        model = MixedSingleTaskGP(X, Y, cat_dims=[2], train_Yvar=yvar, outcome_transform=Standardize(m=m))
    else:
        model = SingleTaskGP(X, Y, train_Yvar=yvar, outcome_transform=Standardize(m=m))
    # fixed hyperparameters away from the defaults, so that the test does not depend on a fit
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lengthscale" in name:
                p.fill_(-0.5)
            elif "outputscale" in name:
                p.fill_(0.3)
    return model.eval()


def _pair(model: object, X: torch.Tensor, constrained: bool) -> tuple[object, object]:
    ref = torch.tensor([-1.3, -1.3], dtype=DT)
    kwargs: dict = {
        "model": model,
        "ref_point": ref,
        "X_baseline": X[:20],
        "prune_baseline": False,
    }
    if constrained:
        kwargs["objective"] = IdentityMCMultiOutputObjective(outcomes=[0, 1])
        kwargs["constraints"] = [lambda s: -s[..., 2]]
    stock = qLogNoisyExpectedHypervolumeImprovement(
        sampler=SobolQMCNormalSampler(torch.Size([32]), seed=3), **kwargs
    )
    cached = BaselineCachedQLogNEHVI(sampler=SobolQMCNormalSampler(torch.Size([32]), seed=3), **kwargs)
    return stock, cached


def _candidates(n: int, q: int, *, categorical: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    C = torch.rand(n, q, 3, generator=g, dtype=DT)
    if categorical:
        C[..., 2] = torch.randint(0, 3, (n, q), generator=g).to(DT)
    return C


@pytest.mark.parametrize(
    ("categorical", "fixed_noise", "constrained"),
    [(True, True, True), (False, False, False), (False, True, True), (True, False, False)],
)
def test_values_and_gradients_equal_botorchs_qlognehvi(categorical, fixed_noise, constrained):
    X, Y = _data(30, categorical=categorical, seed=1)
    Y = Y if constrained else Y[:, :2]  # the feasibility column only as a constraint
    model = _model(X, Y, categorical=categorical, fixed_noise=fixed_noise)
    stock, cached = _pair(model, X, constrained)
    for q in (1, 2):
        C = _candidates(12, q, categorical=categorical)
        with torch.no_grad():
            expected, got = stock(C), cached(C)
        assert torch.all(torch.isfinite(expected))
        assert expected.std() > 0.1  # the candidates differ: a constant would not test much
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
        xs, xc = C.clone().requires_grad_(True), C.clone().requires_grad_(True)
        stock(xs).sum().backward()
        cached(xc).sum().backward()
        torch.testing.assert_close(xc.grad, xs.grad, rtol=1e-5, atol=1e-5)


def test_pending_points_are_handled_as_botorch_does():
    """Pending points join the baseline (botorch caches them with new box decompositions);
    the cached block follows, so values stay equal as pending points come and go."""
    X, Y = _data(30, categorical=True, seed=2)
    model = _model(X, Y, categorical=True, fixed_noise=True)
    stock, cached = _pair(model, X, True)
    C = _candidates(10, 1, categorical=True)
    for pending in (X[25:27], X[25:29], None):
        stock.set_X_pending(pending)
        cached.set_X_pending(pending)
        with torch.no_grad():
            torch.testing.assert_close(cached(C), stock(C), rtol=1e-6, atol=1e-6)


def test_calls_do_not_ask_the_model_for_the_baseline_posterior(monkeypatch):
    """The point of the class: after construction, a call evaluates the kernel at its own
    candidates only. botorch's own forward calls ``model.posterior`` on baseline + candidates."""
    X, Y = _data(40, categorical=True, seed=3)
    model = _model(X, Y, categorical=True, fixed_noise=True)
    stock, cached = _pair(model, X, True)
    C = _candidates(6, 1, categorical=True)
    calls: list[int] = []
    original = type(model).posterior

    def spy(self, X, *args, **kwargs):
        calls.append(X.shape[-2])
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(type(model), "posterior", spy)
    with torch.no_grad():
        cached(C)
        assert calls == []
        stock(C)
        assert calls == [20 + 1]  # baseline + the candidate, recomputed per call


def test_models_it_does_not_know_get_botorchs_computation():
    X, Y = _data(25, categorical=False, seed=4)
    models = [SingleTaskGP(X, Y[:, i : i + 1], outcome_transform=Standardize(m=1)) for i in range(2)]
    model = ModelListGP(*models).eval()
    ref = torch.tensor([-1.3, -1.3], dtype=DT)
    kwargs = {"model": model, "ref_point": ref, "X_baseline": X[:15], "prune_baseline": False}
    sampler = SobolQMCNormalSampler(torch.Size([16]), seed=1)
    stock = qLogNoisyExpectedHypervolumeImprovement(sampler=sampler, **kwargs)
    cached = BaselineCachedQLogNEHVI(sampler=SobolQMCNormalSampler(torch.Size([16]), seed=1), **kwargs)
    C = _candidates(8, 1, categorical=False)
    with torch.no_grad():
        torch.testing.assert_close(cached(C), stock(C))
