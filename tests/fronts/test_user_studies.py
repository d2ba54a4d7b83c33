"""Studies written the way a physicist writes a first study (ten minutes, own units, no
InnerSettings, objectives of very different magnitudes) reach their known extremes within 1 %
and lie on their known fronts. The extremes and fronts are computed here, independently of
paretoopt: in closed form, or by scipy on a plain numpy copy of the model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize

from benchmarks.user_studies import detector_mc_study, sensors_study, tracker_study
from paretoopt import optimize


def _extremes_reached(study, extremes, rtol=0.01):
    best = np.array([t.objectives for t in study.best_trials])
    for k, target in enumerate(extremes):
        got = best[:, k].min()
        assert got <= target + rtol * abs(target), f"objective {k}: best {got:.6g}, known {target:.6g}"


def _tracker_numpy(x):
    layers, pitch, lever = x
    resolution = 0.04 + pitch / (50.0 * math.sqrt(layers) * lever) + 0.3 / (layers * lever)
    cost = 1000.0 + 60.0 * layers**1.5 * lever + 4.0e4 / pitch
    length = lever * (1.0 + 0.02 * layers)
    return resolution, cost, length


def _tracker_extremes():
    """Each objective minimised by scipy (SLSQP, length <= 2 m, several starts)."""
    bounds = [(3.0, 20.0), (10.0, 200.0), (0.2, 2.0)]
    cons = [{"type": "ineq", "fun": lambda x: 2.0 - _tracker_numpy(x)[2]}]
    out = []
    for k in range(2):
        best = math.inf
        for x0 in ([4, 20, 0.5], [10, 100, 1.0], [18, 180, 1.8], [19, 11, 1.5]):
            r = scipy.optimize.minimize(
                lambda x, k=k: _tracker_numpy(x)[k], x0, bounds=bounds, constraints=cons, method="SLSQP"
            )
            if r.success and _tracker_numpy(r.x)[2] <= 2.0 + 1e-9:
                best = min(best, float(r.fun))
        out.append(best)
    return out


def test_a_deterministic_constrained_tracker_reaches_its_extremes(tmp_path):
    study = optimize(
        tracker_study(), storage=f"sqlite:///{tmp_path / 't.db'}", engine="grid", n_trials=12, seed=0
    )
    _extremes_reached(study, _tracker_extremes())


def test_a_monte_carlo_detector_reaches_its_extremes_and_its_front(tmp_path):
    """Resolution 0.10/sqrt(t) + 0.002 t (per event, x(1 + 0.05 N(0,1))), cost 2e5 t EUR:
    minimum resolution at t* = 25^(2/3) mm, minimum cost at t = 0.5 mm; the front is the curve
    t in [0.5, t*]."""
    study = optimize(
        detector_mc_study(), storage=f"sqlite:///{tmp_path / 'd.db'}", engine="grid", n_trials=10, seed=0
    )
    t_star = 25.0 ** (2.0 / 3.0)
    res = lambda t: 0.10 / np.sqrt(t) + 0.002 * t  # noqa: E731
    best = sorted(study.best_trials, key=lambda t: t.objectives[1])
    errors = np.array([t.stderr[0] for t in best])
    assert best[0].objectives[1] <= 2.0e5 * 0.5 * 1.01
    assert min(t.objectives[0] for t in best) <= res(t_star) + max(3 * errors.max(), 0.01 * res(t_star))
    # every front point lies on the known curve, within its error
    for t in best:
        thickness = t.params["thickness_mm"]
        assert t.objectives[0] == pytest.approx(res(thickness), abs=3 * t.stderr[0] + 1e-9)
        assert thickness <= t_star * 1.01


def test_a_mixed_study_with_a_thousandfold_dearer_option_reaches_both_extremes(tmp_path):
    """Resolution gain x (0.2 + (x - 0.7)^2), cost price x (1 + x^2), with silicon (gain 1,
    price 1) or diamond (gain 0.1, price 1000): best resolution 0.02 (diamond, x = 0.7),
    lowest cost 1 (silicon, x = 0)."""
    study = optimize(
        sensors_study(), storage=f"sqlite:///{tmp_path / 's.db'}", engine="grid", n_trials=16, seed=0
    )
    _extremes_reached(study, [0.02, 1.0])
