"""The generative local surrogate (``surrogate_model="generative"``, the L-GSO part): a
conditional model of per-event outputs whose samples give a figure of the event distribution
(a resolution ``std / mean``) and its gradient. Checked against the simulator's known event
distribution: the derived figure and its bootstrap error, the direction of the gradient near
the optimum (cosine > 0.9 with the analytic one) and the optimum itself (brute force on the
analytic figures)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from paretoopt import DesignSpace, Objective, Real, StudyDefinition
from paretoopt.external import ExternalSimulator, Origin
from paretoopt.inner import optimize_inner
from paretoopt.inner.generative import GenerativeModel
from paretoopt.inner.local import LocalSurrogate, surrogate_gradient
from paretoopt.inner.quadratic import LocalModel
from paretoopt.inner.sample import Run
from paretoopt.scalarize import Normalization, make_scalarization
from tests.external.sims import SMEARED, write_sim

W = np.array([0.7, 0.3])
#: resolution scaled by 0.05, cost by 1 (ideal 0)
NORM = Normalization([0.0, 0.0], [0.05, 1.0], [1.0, 1.0])


def _resolution(energy: dict[str, torch.Tensor]) -> torch.Tensor:
    return energy["energy"].std() / energy["energy"].mean()


def _study(tmp_path, model: str, work: str = "work") -> StudyDefinition:
    sim = ExternalSimulator(
        write_sim(tmp_path, "smeared", SMEARED),
        timeout_s=60,
        workdir=tmp_path / work,
        max_parallel=2,
        derived={"resolution": _resolution},
        surrogate_model=model,
    )
    space = DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0))
    return StudyDefinition("smeared", space, [Objective("resolution"), Objective("cost")], sim)


def _true_loss(t: torch.Tensor) -> torch.Tensor:
    """The weighted sum of the analytic figures: resolution sigma / mu and cost x."""
    x, y = t[0], t[1]
    mu = 10 + 10 * x
    sigma = 0.5 + 4 * (y - 0.6) ** 2 + 4 * (x - 0.3) ** 2
    return float(W[0]) * sigma / mu / 0.05 + float(W[1]) * x


def _optimum() -> np.ndarray:
    """Brute force on a 1001 x 1001 grid of the analytic loss."""
    g = torch.linspace(0, 1, 1001, dtype=torch.float64)
    x, y = torch.meshgrid(g, g, indexing="ij")
    loss = _true_loss(torch.stack([x, y]))
    i = int(torch.argmin(loss))
    return np.array([float(x.flatten()[i]), float(y.flatten()[i])])


def test_derived_figure_and_its_bootstrap_error(tmp_path):
    sim = _study(tmp_path, "generative").simulate
    figures, _ = sim.run({"x": 0.2, "y": 0.5}, {}, seed=9, n_samples=4000)
    (out,) = list((tmp_path / "work").rglob("output.json"))
    energy = np.array(json.loads(out.read_text())["energy"])
    value, se = figures["resolution"]
    assert value == pytest.approx(np.std(energy, ddof=1) / np.mean(energy), rel=1e-12)
    # the standard error of a normal sample's std / mean is about r / sqrt(2 n)
    assert se == pytest.approx(value / np.sqrt(2 * len(energy)), rel=0.25)
    events = sim.events_of({"x": 0.2, "y": 0.5}, {}, 9, 4000)
    assert events is not None and np.array_equal(events["energy"], energy)


@pytest.mark.parametrize("offset", [(0.08, -0.05), (-0.06, -0.07), (0.05, 0.09)])
def test_generative_gradient_points_where_the_true_one_does_near_the_optimum(tmp_path, offset):
    study = _study(tmp_path, "generative")
    t = _optimum() + np.array(offset)
    settings = study.inner.replace(max_steps=200, tol=1e-3)
    run = Run(study, {}, make_scalarization("weighted_sum", W, NORM), settings, torch.device("cpu"))
    local = LocalSurrogate(run, seed=11, n_samples=1000, tol=1e-3)
    local.simulate([t])
    assert local.fill(t, 0.1)
    model = local.fit(t, 0.1)
    assert isinstance(model, GenerativeModel)
    _, g = surrogate_gradient(run, model, t)
    tt = torch.tensor(t, requires_grad=True)
    (true,) = torch.autograd.grad(_true_loss(tt), tt)
    true_np = true.numpy()
    cosine = float(g @ true_np / (np.linalg.norm(g) * np.linalg.norm(true_np)))
    assert cosine > 0.9, (g, true_np)


def test_the_loop_finds_the_known_optimum_of_a_resolution_trade_off(tmp_path):
    model = "generative"
    study = _study(tmp_path, model)
    settings = study.inner.replace(n_samples=4000)
    res = optimize_inner(study, {}, make_scalarization("weighted_sum", W, NORM), settings=settings, seed=5)
    found = np.array([res.params["x"], res.params["y"]])
    optimum = _optimum()
    print(f"{model}: {found} vs {optimum} in {res.n_calls} calls ({res.stop_reason})")
    assert res.optimizer == "surrogate" and res.stop_reason == "converged"
    assert np.max(np.abs(found - optimum)) < 0.05, (found, optimum)
    # the final resolution is the analytic one within 4 standard errors
    mu, sigma = 10 + 10 * found[0], 0.5 + 4 * (found[1] - 0.6) ** 2 + 4 * (found[0] - 0.3) ** 2
    assert abs(res.objectives["resolution"] - sigma / mu) < 4 * res.stderr["resolution"]


def test_the_quadratic_setting_fits_quadratics_to_the_same_data(tmp_path):
    study = _study(tmp_path, "quadratic")
    run = Run(
        study, {}, make_scalarization("weighted_sum", W, NORM), study.inner.replace(max_steps=50), "cpu"
    )
    local = LocalSurrogate(run, seed=1, n_samples=200, tol=1e-3)
    t = np.array([0.5, 0.5])
    local.simulate([t])
    assert local.fill(t, 0.1)
    assert isinstance(local.fit(t, 0.1), LocalModel)


def test_reused_evaluations_bring_their_events(tmp_path):
    """A later batch's trial reuses the first trial's simulations with their per-event columns
    (kept in the cache as events.npz): the same energies the simulator wrote."""
    study = _study(tmp_path, "generative")
    scal = make_scalarization("weighted_sum", W, NORM)
    settings = study.inner.replace(max_steps=30)
    optimize_inner(study, {}, scal, settings=settings, seed=1, origin=Origin("smeared", 0, 0))
    run = Run(study, {}, scal, settings, torch.device("cpu"))
    local = LocalSurrogate(run, seed=2, n_samples=1000, tol=1e-3, origin=Origin("smeared", 1, 1))
    assert local.pool and local.run.calls == 0
    for i in sorted(local.pool)[:3]:
        events = local.data.events[i]
        values = run.values(local.data.t[i])
        written = []
        for p in (tmp_path / "work").rglob("input.json"):
            inp = json.loads(p.read_text())
            at = [inp["params"]["x"] - values["x"], inp["params"]["y"] - values["y"]]
            if inp["n_samples"] == 1000 and np.max(np.abs(at)) < 1e-12:
                written.append(json.loads((p.parent / "output.json").read_text())["energy"])
        assert events is not None and len(written) == 1
        assert np.array_equal(events["energy"], np.array(written[0]))
    centre = local.data.t[min(local.pool)]
    assert isinstance(local.fit(centre, 0.1), GenerativeModel)
    assert local.reused
