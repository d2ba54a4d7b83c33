"""The grid engine's layout: weights-major for small discrete spaces, choices-major when the
budget is smaller than twice the number of combinations."""

import pytest

from paretoopt.analytic import mixed_study, zdt_study
from paretoopt.outer import GridEngine


def test_weights_major_when_budget_covers_the_combinations():
    e = GridEngine(seed=0).setup(mixed_study(), budget=40)
    props = e.ask(16)
    combos = {(p.choices["family"], p.choices["level"]) for p in props[:8]}
    assert len(combos) == 8  # every combination at the first weight
    assert all(p.weights == props[0].weights for p in props[:8])
    assert props[8].weights != props[0].weights


def test_choices_major_when_budget_is_small():
    e = GridEngine(seed=0).setup(mixed_study(), budget=6)
    props = e.ask(6)
    assert all(p.weights == (0.5, 0.5) for p in props)  # one (equal) weight per combination
    assert len({(p.choices["family"], p.choices["level"]) for p in props}) == 6


def test_prefix_stable_without_choices():
    a = GridEngine().setup(zdt_study("zdt1", 5), budget=10).ask(10)
    b = GridEngine().setup(zdt_study("zdt1", 5), budget=30).ask(10)
    assert a == b


def _two_geometries():
    """ZDT1-like trade-off (exact) with a "bad" geometry that adds 0.5 to both objectives: every
    one of its designs is dominated by the "good" geometry's same design."""
    import torch

    from paretoopt import Choice, DesignSpace, Objective, Real, StudyDefinition

    def simulate(params, choices, n_samples, generator):
        x, y = params["x"], params["y"]
        g = 1.0 + 9.0 * y
        f1, f2 = x, g * (1.0 - torch.sqrt(x / g))
        shift = 0.5 if choices["geometry"] == "bad" else 0.0
        return {"f1": f1 + shift, "f2": f2 + shift}

    return StudyDefinition(
        "geometries",
        DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0), Choice("geometry", ("good", "bad"))),
        [Objective("f1"), Objective("f2")],
        simulate,
    )


def test_a_combination_owning_no_front_point_is_visited_less_but_still_visited(tmp_path):
    from paretoopt import optimize
    from paretoopt.outer.grid import DEFER_PACE, screen_size

    study = optimize(
        _two_geometries(), storage=f"sqlite:///{tmp_path / 'g.db'}", engine="grid", n_trials=24, seed=0
    )
    engine_trials = [t for t in study.trials if t.source == "grid"]
    bad = [t for t in engine_trials if t.choices["geometry"] == "bad"]
    good = [t for t in engine_trials if t.choices["geometry"] == "good"]
    assert len(engine_trials) == 20  # 24 minus the 4 anchors (2 objectives x 2 geometries)
    # the bad geometry's screen of 3 is its 2 anchors (its extremes, both dominated by the good
    # geometry's) and its trade-off weight (0.5, 0.5), which comes first; then it gets one turn
    # per 4 of the good one's over the 18 trials left: at most 1 + ceil(18 / 5) = 5, where
    # weights-major alternation would have given it 10; and it is not dropped (more than 1)
    assert DEFER_PACE == 4 and screen_size(2) == 3
    assert 1 < len(bad) <= 5 and len(good) == 20 - len(bad)
    assert bad[0].weights == (0.5, 0.5) and good[0].weights == (0.5, 0.5)
    assert [t.choices["geometry"] for t in engine_trials[:7]] == ["good", "bad", *["good"] * 4, "bad"]
    # both walk the same weight sequence: the bad geometry's weights are a prefix of the good's
    assert [t.weights for t in bad] == [t.weights for t in good][: len(bad)]


def test_the_deferral_resumes_and_extends_as_an_uninterrupted_run(tmp_path):
    from paretoopt import optimize

    whole = optimize(
        _two_geometries(), storage=f"sqlite:///{tmp_path / 'a.db'}", engine="grid", n_trials=24, seed=0
    )
    url = f"sqlite:///{tmp_path / 'b.db'}"
    finished = []

    class Interrupted(Exception):
        pass

    def stop_after_eleven(info):
        finished.append(info)
        if len(finished) == 11:  # past the deferral of the bad geometry (its screen told)
            raise Interrupted

    with pytest.raises(Interrupted):
        optimize(
            _two_geometries(), storage=url, engine="grid", n_trials=24, seed=0, progress=stop_after_eleven
        )
    parts = optimize(_two_geometries(), storage=url, engine="grid", n_trials=24, seed=0)

    def sig(study):
        return [
            (t.number, t.weights, t.choices, t.params) for t in sorted(study.trials, key=lambda t: t.number)
        ]

    assert sig(parts) == sig(whole)


def test_an_anchored_combination_walks_its_trade_off_weights_before_its_extremes():
    import numpy as np

    from paretoopt.outer.base import nested_simplex_weights
    from paretoopt.outer.grid import anchored_order

    w = nested_simplex_weights(3, 10)
    order = [anchored_order(k, 3) for k in range(10)]
    assert sorted(order) == list(range(10))  # a permutation: every weight still comes
    # first the three midpoints (two halves each), then the three vertices, then the rest as before
    assert all(sorted(w[i].tolist()) == [0.0, 0.5, 0.5] for i in order[:3])
    assert all(np.max(w[i]) == 1.0 for i in order[3:6])
    assert order[6:] == list(range(6, 10))
