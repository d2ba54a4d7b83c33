"""Constraints are hard constraints of the fixed-sample solvers (SLSQP), not only a penalty.

Found on a user-style tracker (resolution in %, cost in kEUR, a length limit in m): with the
quadratic penalty alone, the "best resolution" anchor zig-zagged across the length limit for 89
calls and then spent 14 more on a polish it dropped. The references here are computed in the
tests: the constrained extreme in closed form, a trade-off by scipy's SLSQP on the same formulas
written in numpy (finite differences) from many starts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch

from paretoopt import Constraint, DesignSpace, Objective, Real, StudyDefinition
from paretoopt.inner import optimize_inner
from paretoopt.inner.sample import Point
from paretoopt.inner.stationarity import kkt_stationarity
from paretoopt.normalization import anchor_weights, optimize_anchor
from paretoopt.scalarize import AugmentedChebyshev, Normalization

LAYERS = (3.0, 20.0)
PITCH_UM = (10.0, 200.0)
LEVER_M = (0.2, 2.0)
LENGTH_M = 2.0


def _resolution(layers, pitch, lever):
    return 0.04 + pitch / (50.0 * np.sqrt(layers) * lever) + 0.3 / (layers * lever)


def _cost(layers, pitch, lever):
    return 1000.0 + 60.0 * layers**1.5 * lever + 4.0e4 / pitch


def _length(layers, lever):
    return lever * (1.0 + 0.02 * layers)


def _tracker(ideal=None, nadir=None) -> StudyDefinition:
    """The toy tracker of benchmarks/user_studies.py: resolution (%) and cost (kEUR) against a
    length limit of 2 m (torch versions of the numpy formulas above)."""

    def simulate(params, choices, n_samples, generator):
        layers, pitch, lever = params["layers"], params["pitch_um"], params["lever_m"]
        return {
            "resolution": 0.04 + pitch / (50.0 * torch.sqrt(layers) * lever) + 0.3 / (layers * lever),
            "cost": 1000.0 + 60.0 * layers**1.5 * lever + 4.0e4 / pitch,
            "length": lever * (1.0 + 0.02 * layers),
        }

    return StudyDefinition(
        "tracker",
        DesignSpace(Real("layers", *LAYERS), Real("pitch_um", *PITCH_UM), Real("lever_m", *LEVER_M)),
        [Objective("resolution", unit="%"), Objective("cost", unit="kEUR")],
        simulate,
        constraints=[Constraint("length", upper=LENGTH_M, unit="m")],
        ideal=ideal,
        nadir=nadir,
    )


def test_a_length_limited_anchor_reaches_the_constrained_extreme_in_few_calls():
    # every term of the resolution falls with more layers, finer pitch and a longer lever arm:
    # the best is 20 layers at 10 um with the lever arm the length limit allows
    lever = LENGTH_M / (1.0 + 0.02 * LAYERS[1])
    best = _resolution(LAYERS[1], PITCH_UM[0], lever)
    res = optimize_anchor(_tracker(), {}, anchor_weights(2)[0], seed=0)
    assert res.objectives["resolution"] == pytest.approx(best, rel=1e-6)
    assert res.feasible and res.converged
    assert res.constraints["length"] <= LENGTH_M * (1.0 + 1e-9)
    # with the penalty alone it took 103 calls (89 zig-zagging across the limit)
    assert res.n_calls <= 30


def _reference_chebyshev(w, norm, sc) -> float:
    """The lowest augmented Chebyshev value over the feasible box: scipy's SLSQP on the numpy
    formulas (finite-difference gradients), epigraph form, from 30 seeded starts."""
    ideal, nadir = np.asarray(norm.ideal, float), np.asarray(norm.nadir, float)

    def loss(x):
        f = np.array([_resolution(*x), _cost(*x)])
        z = (f - ideal) / (nadir - ideal)
        return float(np.max(w * (z + sc.utopia_offset)) + sc.rho * np.sum(z))

    def z_of(x):
        return (np.array([_resolution(*x), _cost(*x)]) - ideal) / (nadir - ideal)

    # the max is kinked: solve the epigraph form, variables (x, s)
    def epi(v):
        return v[3] - w * (z_of(v[:3]) + sc.utopia_offset)

    bounds = [LAYERS, PITCH_UM, LEVER_M, (None, None)]
    cons = [
        {"type": "ineq", "fun": epi},
        {"type": "ineq", "fun": lambda v: LENGTH_M - _length(v[0], v[2])},
    ]
    rng = np.random.default_rng(7)
    best = math.inf
    for _ in range(30):
        x0 = np.array([rng.uniform(*LAYERS), rng.uniform(*PITCH_UM), rng.uniform(0.2, 1.3)])
        v0 = np.append(x0, loss(x0))
        r = scipy.optimize.minimize(
            lambda v: v[3] + sc.rho * np.sum(z_of(v[:3])),
            v0,
            method="SLSQP",
            bounds=bounds,
            constraints=cons,
            options={"maxiter": 500, "ftol": 1e-12},
        )
        x = np.clip(r.x[:3], [b[0] for b in bounds[:3]], [b[1] for b in bounds[:3]])
        if _length(x[0], x[2]) <= LENGTH_M * (1 + 1e-9):
            best = min(best, loss(x))
    return best


@pytest.mark.parametrize("w1", [0.875, 0.97])
def test_a_trade_off_on_the_active_length_limit_matches_an_independent_solve(w1):
    ideal, nadir = (0.0818, 1262.0), (12.1, 12670.0)  # the anchors' values (see the test above)
    definition = _tracker(ideal=ideal, nadir=nadir)
    norm = Normalization(ideal, nadir, definition.signs)
    w = np.array([w1, 1.0 - w1])
    sc = AugmentedChebyshev(w, norm)
    res = optimize_inner(definition, {}, sc, seed=0)
    x = res.params
    length = _length(x["layers"], x["lever_m"])
    assert length == pytest.approx(LENGTH_M, rel=1e-6)  # the limit is active at these weights
    assert res.feasible and res.converged
    f = np.array([res.objectives["resolution"], res.objectives["cost"]])
    z = (f - np.array(ideal)) / (np.array(nadir) - np.array(ideal))
    ours = float(np.max(w * (z + sc.utopia_offset)) + sc.rho * np.sum(z))
    assert ours <= _reference_chebyshev(w, norm, sc) + 1e-7


def _gate_study() -> StudyDefinition:
    """Minimise ``x`` and ``(1 - x)^2 + y^2`` with ``x >= 0.9``: from the centre of the box the
    limit lies beyond the first trust region (0.15 of the range), where the linearised
    constraint cannot be met."""

    def simulate(params, choices, n_samples, generator):
        x, y = params["x"], params["y"]
        return {"a": x + 0.1 * y**2, "b": (1.0 - x) ** 2 + y**2, "gate": x}

    return StudyDefinition(
        "gate",
        DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)),
        [Objective("a"), Objective("b")],
        simulate,
        constraints=[Constraint("gate", lower=0.9)],
    )


def test_an_infeasible_start_beyond_the_first_trust_region_ends_on_the_constraint():
    res = optimize_anchor(_gate_study(), {}, anchor_weights(2)[0], seed=0)
    # the lowest a = x + 0.1 y^2 with x >= 0.9 is 0.9 at (0.9, 0)
    assert res.params["x"] == pytest.approx(0.9, abs=1e-6)
    assert res.params["y"] == pytest.approx(0.0, abs=1e-6)
    assert res.feasible and res.converged


def test_kkt_stationarity_takes_off_the_active_constraints_pull_only():
    t = np.array([0.4, 0.5])
    grad = np.array([-0.3, 0.0])  # the loss falls towards larger t0, where the slack 0.4 - t0 ...
    held = Point(t, 0.0, grad, 0.0, g=np.array([0.0]), jg=np.array([[-1.0, 0.0]]))  # ... holds it
    assert kkt_stationarity(held, grad) == pytest.approx(0.0, abs=1e-12)
    slack = Point(t, 0.0, grad, 0.0, g=np.array([0.2]), jg=np.array([[-1.0, 0.0]]))  # inactive
    assert kkt_stationarity(slack, grad) == pytest.approx(0.3)
    wrong_side = Point(t, 0.0, -grad, 0.0, g=np.array([0.0]), jg=np.array([[-1.0, 0.0]]))
    assert kkt_stationarity(wrong_side, -grad) == pytest.approx(0.3)  # nothing holds a move inward


def _flat_study() -> StudyDefinition:
    """Two quadratic wells at (0.2, 0.2) and (0.8, 0.8) of the unit square."""

    def simulate(params, choices, n_samples, generator):
        x, y = params["x"], params["y"]
        return {"f1": (x - 0.2) ** 2 + (y - 0.2) ** 2, "f2": (x - 0.8) ** 2 + (y - 0.8) ** 2}

    return StudyDefinition(
        "flat",
        DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)),
        [Objective("f1"), Objective("f2")],
        simulate,
    )


def test_a_nearly_flat_chebyshev_loss_is_solved_to_its_optimum_without_creeping():
    """A nadir 1,000 times the objectives' range (a user's generous guess) makes the normalised
    loss ~1e-3 flat: SLSQP's first steps crept, and a first scaled version stopped on the trust
    region's edge with ``no_progress``. The utopia offset makes the first term the max
    everywhere, so the optimum is that of ``(w1 + rho) f1 + rho f2``: on the diagonal at
    ``((w1 + rho) 0.2 + rho 0.8) / (w1 + 2 rho)`` (computed here)."""
    definition = _flat_study()
    sc = AugmentedChebyshev((0.8, 0.2), Normalization((0.0, 0.0), (1000.0, 1000.0), definition.signs))
    rho = sc.rho
    best = ((0.8 + rho) * 0.2 + rho * 0.8) / (0.8 + 2.0 * rho)
    res = optimize_inner(definition, {}, sc, seed=0)
    assert res.params["x"] == pytest.approx(best, abs=1e-5)
    assert res.params["y"] == pytest.approx(best, abs=1e-5)
    assert res.converged
    assert res.n_calls <= 14  # 16 unscaled
