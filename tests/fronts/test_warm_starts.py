"""A trade-off that weighs every objective is warm-started from a trial that did too.

On DTLZ2 the optimum of a zero-weight trade-off lies on a face of the box (x1 = x2 = 0 for
weights (0, 1/4, 3/4)) where the slope of the first objective vanishes: a trade-off started
there ends on that face's spurious stationary point, worse than the optimum it would reach from
an interior start, and the local-optimum guard then pays 56-72 calls to re-solve it
(benchmarks/README.md, issue 19)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from paretoopt import InnerSettings, analytic
from paretoopt.inner import optimize_inner
from paretoopt.normalization import given_normalization
from paretoopt.run import anchor_donors, nearest_warm_start
from paretoopt.scalarize import make_scalarization, unsmoothed
from paretoopt.storage import FrozenTrial, TrialState
from paretoopt.study import _empty_trial
from paretoopt.trials import ANCHOR

BOUNDARY = (0.0, 0.25, 0.75)
INTERIOR = (0.1875, 0.25, 0.5625)
TARGET = (0.0625, 0.25, 0.6875)  # nearer BOUNDARY (0.088) than INTERIOR (0.125)


def _done(weights: tuple[float, ...], params: dict[str, float], choices: dict | None = None) -> FrozenTrial:
    return dataclasses.replace(
        _empty_trial(),
        id=1,
        state=TrialState.COMPLETE,
        source="grid",
        weights=weights,
        choices=choices or {},
        params=params,
        n_calls=1,
        converged=True,
    )


def test_an_interior_trade_off_skips_a_nearer_donor_with_a_zero_weight():
    face, inside = _done(BOUNDARY, {"x": 0.0}), _done(INTERIOR, {"x": 0.5})
    assert nearest_warm_start(TARGET, {}, [face, inside]) == {"x": 0.5}
    # without an interior donor, the nearest one; a zero-weight trade-off takes the nearest
    assert nearest_warm_start(TARGET, {}, [face]) == {"x": 0.0}
    assert nearest_warm_start((0.0, 0.3, 0.7), {}, [face, inside]) == {"x": 0.0}
    # a donor of other choices never counts
    other = _done(INTERIOR, {"x": 0.9}, {"kind": "B"})
    assert nearest_warm_start(TARGET, {}, [face, other]) == {"x": 0.0}


def test_a_population_of_an_unseen_combination_starts_from_the_anchors_extremes():
    """``donors`` (the set-based engine's populations): with no trial of these choices, the
    donor nearest in weights, whatever its choices; the donors are, per objective, the anchor
    best in the objective it anchors (maximised objectives: the largest); a trial of the same
    choices wins over any donor."""

    def anchor(weights, objectives, x, choices):  # type: ignore[no-untyped-def]
        return dataclasses.replace(_done(weights, {"x": x}, choices), source=ANCHOR, objectives=objectives)

    pb, fe = {"n": 35, "absorber": "Pb"}, {"n": 15, "absorber": "Fe"}
    trials = [
        anchor((1.0, 1e-3), [4.2, 250.0], 0.1, pb),
        anchor((1e-3, 1.0), [38.3, 53.5], 0.2, pb),  # the cheaper cost anchor
        anchor((1.0, 1e-3), [13.5, 333.0], 0.3, fe),
        anchor((1e-3, 1.0), [90.5, 83.9], 0.4, fe),
        dataclasses.replace(_done((0.5, 0.5), {"x": 0.9}, pb), objectives=[1.0, 1.0]),  # not an anchor
    ]
    donors = anchor_donors(trials, ["minimize", "minimize"])
    assert [t.params["x"] for t in donors] == [0.1, 0.2]
    assert [t.params["x"] for t in anchor_donors(trials, ["maximize", "minimize"])] == [0.3, 0.2]
    combo = {"n": 10, "absorber": "W"}
    assert nearest_warm_start((0.0, 1.0), combo, trials) is None  # the default: same choices only
    assert nearest_warm_start((0.0, 1.0), combo, trials, donors=donors) == {"x": 0.2}
    assert nearest_warm_start((1.0, 0.0), combo, trials, donors=donors) == {"x": 0.1}
    own = _done((1.0, 0.0), {"x": 0.7}, combo)
    assert nearest_warm_start((0.0, 1.0), combo, [*trials, own], donors=donors) == {"x": 0.7}


def test_on_dtlz2_the_zero_weight_donor_traps_the_trade_off_the_interior_donor_does_not():
    study = analytic.dtlz2_study(3)
    study.inner = InnerSettings()  # the defaults
    norm = given_normalization(study)

    def solve(weights, init=None):
        s = make_scalarization("chebyshev", weights, norm)
        r = optimize_inner(study, {}, s, init=init, seed=1)
        f = torch.tensor([r.objectives[k] for k in study.objective_names], dtype=torch.float64)
        return r, float(unsmoothed(s)(f))

    face, _ = solve(BOUNDARY)
    assert face.params["x1"] == pytest.approx(0.0, abs=1e-9) and face.params["x2"] == pytest.approx(
        0.0, abs=1e-9
    )
    inside, _ = solve(INTERIOR)
    donors = [_done(BOUNDARY, face.params), _done(INTERIOR, inside.params)]
    chosen = nearest_warm_start(TARGET, {}, donors)
    assert chosen == inside.params
    trapped, v_trapped = solve(TARGET, face.params)
    good, v_good = solve(TARGET, chosen)
    # the true optimum of this trade-off on the unit sphere, by a dense search over the octant
    u = torch.linspace(0, 1, 801, dtype=torch.float64)
    a, b = torch.meshgrid(u, u, indexing="ij")
    h = torch.pi / 2
    f = torch.stack(
        [torch.cos(a * h) * torch.cos(b * h), torch.cos(a * h) * torch.sin(b * h), torch.sin(a * h)], -1
    ).reshape(-1, 3)
    best = float(unsmoothed(make_scalarization("chebyshev", TARGET, norm))(f).min())
    assert v_good == pytest.approx(best, rel=2e-3)
    assert v_trapped > best * 1.02  # the face's spurious point: 2 % and more above the optimum
    assert good.n_calls < trapped.n_calls
