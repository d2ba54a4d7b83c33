"""botorch internals are used only with a tested botorch that has them; otherwise the engine keeps
to botorch's public API (one log warning) and still proposes, with botorch's own qLogNEHVI."""

from __future__ import annotations

import logging
import tomllib
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from paretoopt.outer import BotorchEngine, TrialRecord
from paretoopt.outer.botorch import compat
from paretoopt.problem import Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Real

torch.set_num_threads(1)

FAST = {"initial_trials": 4, "num_restarts": 1, "raw_samples": 16, "mc_samples": 16, "fit_maxiter": 20}
COMPAT_LOGGER = "paretoopt.outer.botorch.compat"


def test_the_tested_range_is_the_one_pyproject_states():
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert f"botorch{','.join(compat.TESTED_BOTORCH)}" in dependencies


@pytest.mark.parametrize(
    ("version", "tested"),
    [
        ("0.12.0", True),
        ("0.18.1", True),
        ("0.18.2.dev3+g1234abc", True),
        ("0.11.9", False),
        ("0.19.0", False),
        ("0.19.0.dev1", False),
        ("1.0", False),
        ("Unknown", False),
    ],
)
def test_version_range(version, tested):
    assert compat.version_in_range(version) is tested


@pytest.mark.parametrize(
    ("version", "tested"),
    [
        ("0.12", True),
        ("0.18.1", True),
        ("0.18.2.dev3", True),
        ("0.11.9", False),
        ("0.19.0", False),
        ("x", False),
    ],
)
def test_version_range_without_packaging(monkeypatch, version, tested):
    import builtins

    real_import = builtins.__import__

    def no_packaging(name, *args, **kwargs):
        if name.startswith("packaging"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_packaging)
    compat.version_in_range.cache_clear()
    try:
        assert compat.version_in_range(version) is tested
    finally:
        monkeypatch.undo()
        compat.version_in_range.cache_clear()


def _definition() -> StudyDefinition:
    space = DesignSpace(Real("x", 0.0, 1.0), Choice("material", ("lead", "tungsten")))

    def simulate(params, choices, n_samples, generator):  # never called here
        raise AssertionError

    return StudyDefinition(
        "bo", space, [Objective("cost", unit="kEUR"), Objective("gain", "maximize")], simulate
    )


def _proposes(engine: BotorchEngine) -> None:
    """The engine, told 6 trials, makes a model-based proposal (no Sobol fallback)."""
    rng = np.random.default_rng(0)
    records = []
    for k in range(6):
        w1, material = float(rng.random()), ("lead", "tungsten")[k % 2]
        cost = 10.0 * w1 + (2.0 if material == "lead" else 0.0)
        records.append(
            TrialRecord(
                number=k,
                state="COMPLETE",
                weights=(w1, 1 - w1),
                choices={"material": material},
                objectives=(cost, 5.0 * np.sqrt(w1)),
                stderr=(0.1, 0.1),
            )
        )
    engine.tell(records)
    engine.skip(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "model-based proposal failed"
        (proposal,) = engine.ask(1)
    assert 0.0 <= proposal.weights[0] <= 1.0 and proposal.choices["material"] in ("lead", "tungsten")


@pytest.fixture
def kernel_never_loaded_by_us(monkeypatch):
    """botorch's kernel state as after a failed load (botorch will not compile), and a loader
    that must not be called by paretoopt."""
    from botorch.acquisition.multi_objective import logei

    monkeypatch.setattr(logei, "_load_attempted", True)
    monkeypatch.setattr(logei, "_C", None)
    return logei


def _stock_and_cached(X: torch.Tensor, Y: torch.Tensor) -> tuple[object, object, object]:
    from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.sampling import SobolQMCNormalSampler

    from paretoopt.outer.botorch.acquisition import BaselineCachedQLogNEHVI

    model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=2)).eval()
    kwargs = {"model": model, "ref_point": torch.tensor([-1.3, -1.3], dtype=torch.float64)}
    kwargs |= {"X_baseline": X[:12], "prune_baseline": False}
    stock = qLogNoisyExpectedHypervolumeImprovement(
        sampler=SobolQMCNormalSampler(torch.Size([16]), seed=1), **kwargs
    )
    cached = BaselineCachedQLogNEHVI(sampler=SobolQMCNormalSampler(torch.Size([16]), seed=1), **kwargs)
    return model, stock, cached


def _assert_acquisition_is_botorchs(monkeypatch) -> None:
    """BaselineCachedQLogNEHVI computes exactly what botorch's qLogNEHVI computes, by asking
    the model for the joint posterior at every call as botorch does."""
    g = torch.Generator().manual_seed(4)
    X = torch.rand(20, 2, generator=g, dtype=torch.float64)
    Y = torch.stack([-(X[:, 0] ** 2), -((1 - X[:, 0]) ** 2) - 0.2 * X[:, 1]], dim=-1)
    model, stock, cached = _stock_and_cached(X, Y)
    calls: list[int] = []
    original = type(model).posterior

    def spy(self, X, *args, **kwargs):
        calls.append(X.shape[-2])
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(type(model), "posterior", spy)
    C = torch.rand(8, 1, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        got = cached(C)
        assert calls == [12 + 1]  # botorch's path: baseline + candidate asked of the model
        expected = stock(C)
    assert torch.equal(got, expected)


def test_an_untested_botorch_is_used_through_its_public_api(monkeypatch, caplog, kernel_never_loaded_by_us):
    import botorch

    def must_not_load():
        raise AssertionError("paretoopt touched botorch's kernel loader outside the tested range")

    monkeypatch.setattr(botorch, "__version__", "0.99.0")
    caplog.set_level(logging.WARNING, logger=COMPAT_LOGGER)
    assert not compat.botorch_tested()
    with monkeypatch.context() as patch, warnings.catch_warnings():
        patch.setattr(kernel_never_loaded_by_us, "_try_load_fused_kernel", must_not_load)
        patch.setattr(kernel_never_loaded_by_us, "_load_attempted", False)
        warnings.simplefilter("error")  # no compile announcement either
        assert compat.prepare_fused_kernel(True) is False
        assert compat.prepare_fused_kernel(False) is False
        assert kernel_never_loaded_by_us._load_attempted is False  # left to botorch
    assert not compat.posterior_hook_available()
    _assert_acquisition_is_botorchs(monkeypatch)
    _proposes(BotorchEngine(seed=0, fused_kernel=True, **FAST).setup(_definition()))
    records = [r for r in caplog.records if r.name == COMPAT_LOGGER]
    assert len(records) == 1  # one warning, however often the version is checked
    assert records[0].levelno == logging.WARNING and "0.99.0" in records[0].getMessage()


def test_missing_internals_fall_back_to_the_public_api(monkeypatch, caplog, kernel_never_loaded_by_us):
    import botorch.acquisition.multi_objective as multi_objective

    # a botorch whose logei module has none of the fused-kernel internals
    monkeypatch.setattr(multi_objective, "logei", types.ModuleType("logei"))
    # and whose qLogNEHVI lacks one of the members the posterior hook needs
    monkeypatch.setattr(
        compat, "POSTERIOR_HOOK_INTERNALS", (*compat.POSTERIOR_HOOK_INTERNALS, "_a_member_botorch_dropped")
    )
    caplog.set_level(logging.WARNING, logger=COMPAT_LOGGER)
    assert compat.botorch_tested()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compat.fused_kernel_module() is None
        assert compat.prepare_fused_kernel(True) is False
    assert not compat.posterior_hook_available()
    _assert_acquisition_is_botorchs(monkeypatch)
    _proposes(BotorchEngine(seed=0, fused_kernel=True, **FAST).setup(_definition()))
    assert not [r for r in caplog.records if r.name == COMPAT_LOGGER]  # a tested version: no warning


def test_the_tested_botorch_uses_the_internals():
    if not compat.botorch_tested():
        pytest.skip(f"botorch {compat.botorch_version()} is outside {compat.TESTED_BOTORCH}")
    assert compat.posterior_hook_available()
