"""The local-surrogate inner loop (``mode="surrogate"``, chosen for every ExternalSimulator) on
external simulators with known answers: the optimum of a scalarisation of a noisy quadratic,
the direction of the surrogate's gradient, and ZDT1's front."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paretoopt import DesignSpace, Objective, Real, StudyDefinition, optimize
from paretoopt.external import ExternalSimulator
from paretoopt.inner import optimize_inner
from paretoopt.inner.local import LocalSurrogate, surrogate_gradient
from paretoopt.inner.plan import SURROGATE_DEFAULTS
from paretoopt.inner.sample import Run
from paretoopt.scalarize import Normalization, make_scalarization
from paretoopt.storage import TrialState
from tests.external.sims import NOISY_QUADRATIC, ZDT1, write_sim

#: centres of the two noisy quadratics of NOISY_QUADRATIC (unit box = parameter values here)
A, B = np.array([0.3, 0.6]), np.array([0.7, 0.2])


def _noisy_study(tmp_path):
    sim = ExternalSimulator(
        write_sim(tmp_path, "noisy", NOISY_QUADRATIC), timeout_s=60, workdir=tmp_path / "work"
    )
    space = DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0))
    return StudyDefinition("noisy_quadratic", space, [Objective("f1"), Objective("f2")], sim)


def _weighted_sum(w):
    return make_scalarization("weighted_sum", w, Normalization([0.0, 0.0], [1.0, 1.0], [1.0, 1.0]))


def _true_loss_grad(w, t):
    """The exact gradient of w1 f1 + w2 f2 of the noise-free quadratics (written here by hand)."""
    return 2 * w[0] * (t - A) + 2 * w[1] * (t - B)


def test_converges_to_the_known_optimum_of_a_scalarisation(tmp_path):
    study = _noisy_study(tmp_path)
    w = np.array([0.25, 0.75])
    res = optimize_inner(study, {}, _weighted_sum(w), seed=3)
    optimum = (w[0] * A + w[1] * B) / w.sum()  # where the exact gradient vanishes
    found = np.array([res.params["x"], res.params["y"]])
    assert res.optimizer == "surrogate" and res.stop_reason == "converged"
    assert np.max(np.abs(found - optimum)) < 0.03, (found, optimum)
    assert res.n_calls <= SURROGATE_DEFAULTS["max_steps"] + 1
    assert res.n_backward == 0
    # the reported objectives agree with the noise-free values within 4 standard errors
    f1 = np.sum((found - A) ** 2)
    assert abs(res.objectives["f1"] - f1) < 4 * res.stderr["f1"] + 1e-12


@pytest.mark.parametrize("offset", [(0.08, -0.05), (-0.06, -0.07), (0.05, 0.09)])
def test_surrogate_gradient_points_where_the_true_one_does_near_the_optimum(tmp_path, offset):
    study = _noisy_study(tmp_path)
    w = np.array([0.5, 0.5])
    t = (w[0] * A + w[1] * B) + np.array(offset)  # 0.05-0.1 of the range off the optimum
    settings = study.inner.replace(max_steps=200, tol=1e-3)
    run = Run(study, {}, _weighted_sum(w), settings, torch.device("cpu"))
    local = LocalSurrogate(run, seed=11, n_samples=1000, tol=1e-3)
    local.simulate([t])
    assert local.fill(t, 0.1)
    model = local.fit(t, 0.1)
    _, g = surrogate_gradient(run, model, t)
    true = _true_loss_grad(w, t)
    cosine = float(g @ true / (np.linalg.norm(g) * np.linalg.norm(true)))
    assert cosine > 0.9, (g, true)


def igd(points: np.ndarray, front: np.ndarray) -> float:
    """Mean distance from each true-front point to the nearest found point (Coello & Cortés 2005)."""
    d = np.linalg.norm(front[:, None, :] - points[None, :, :], axis=2)
    return float(d.min(axis=1).mean())


def test_external_zdt1_traces_the_known_front(tmp_path):
    sim = ExternalSimulator(
        write_sim(tmp_path, "zdt1", ZDT1), timeout_s=60, workdir=tmp_path / "work", max_parallel=2
    )
    space = DesignSpace(*[Real(f"x{i}", 0.0, 1.0) for i in range(6)])
    definition = StudyDefinition(
        "zdt1_external", space, [Objective("f1"), Objective("f2")], sim, ideal=[0.0, 0.0], nadir=[1.0, 1.0]
    )
    study = optimize(definition, storage=f"sqlite:///{tmp_path / 's.db'}", n_trials=24, engine="grid", seed=0)
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(done) == 24
    points = np.array([[t.objectives[0], t.objectives[1]] for t in done])
    f1 = np.linspace(0.0, 1.0, 2001)
    front = np.column_stack([f1, 1.0 - np.sqrt(f1)])  # ZDT1's Pareto front, g = 1
    value = igd(points, front)
    print(f"IGD {value:.4f} with {study.n_calls} calls")
    assert value < 0.02
