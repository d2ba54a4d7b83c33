"""Model-guided screening: with many discrete combinations, rung 0 screens only some (chosen by a
Gaussian process over the combinations), and the survivors still include every combination that
owns part of the front, for far fewer screening calls than screening them all.

The study (written here): the mixed analytic study's two families and a copy of each that is
never better, times 16 integer levels (64 combinations); a family's level ``k`` acts as level
``|k - k*|`` of the mixed study (``k* = 3`` for A, ``11`` for B, ``+2`` for the copies), so
each family has its best level in the middle of the range, not at an end. The owners of the
front are computed by brute force over a grid of f1 from the families' formulas (not with the
package's code)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from paretoopt import optimize
from paretoopt.analytic import mixed_objectives
from paretoopt.outer import SetGradEngine
from paretoopt.outer.screening import choose_next, front_scores, initial_design
from paretoopt.problem import InnerSettings, Objective, StudyDefinition
from paretoopt.run import anchor_donors
from paretoopt.run.feed import to_record
from paretoopt.space import Choice, DesignSpace, Integer, Real
from paretoopt.trials import ANCHOR

BEST = {"A": 3, "B": 11, "C": 3, "D": 11}
OFFSET = {"A": 0, "B": 0, "C": 2, "D": 2}
BASE = {"A": "A", "B": "B", "C": "A", "D": "B"}
N_VAR = 4


def _effective(family: str, level: int) -> int:
    return abs(int(level) - BEST[family]) + OFFSET[family]


def _study(counter: dict[str, int]) -> StudyDefinition:
    space = DesignSpace(
        *[Real(f"x{i}", 0.0, 1.0) for i in range(1, N_VAR + 1)],
        Choice("family", ("A", "B", "C", "D")),
        Integer("level", 0, 15),
    )

    def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
        counter["n"] += 1
        x = torch.stack([torch.as_tensor(params[f"x{i}"], dtype=torch.float64) for i in range(1, N_VAR + 1)])
        fam = choices["family"]
        f1, f2 = mixed_objectives(x, BASE[fam], _effective(fam, choices["level"]))
        return {"f1": f1, "f2": f2}

    return StudyDefinition(
        "mixed_many",
        space,
        [Objective("f1"), Objective("f2")],
        simulate,
        inner=InnerSettings(optimizer="lbfgs", max_steps=200, n_samples=1, n_eval_samples=1),
        ideal=[0.0, 0.0],
        nadir=[1.0, 1.0],
    )


def _true_owners() -> set[tuple[str, int]]:
    """Every (family, level) owning part of the union front, by brute force over f1: family A's
    front is ``f2 = g (1 - sqrt(f1 / g))``, B's its mirror, ``g = 1 + 0.25 |k - k*| (+0.5)``."""
    f1 = np.linspace(0.0, 1.75, 20001)
    keys, curves = [], []
    for fam in "ABCD":
        for level in range(16):
            g = 1.0 + 0.25 * _effective(fam, level)
            with np.errstate(invalid="ignore"):
                if BASE[fam] == "A":
                    f2 = np.where(f1 <= 1.0, g * (1.0 - np.sqrt(f1 / g)), np.inf)
                else:
                    x1 = g * (1.0 - f1 / g) ** 2
                    f2 = np.where((f1 <= g) & (x1 <= 1.0), x1, np.inf)
            keys.append((fam, level))
            curves.append(f2)
    stacked = np.vstack(curves)
    lowest = stacked.min(axis=0)
    before = np.concatenate([[np.inf], np.minimum.accumulate(lowest)[:-1]])
    on_front = lowest < before - 1e-12
    unique = (stacked <= lowest + 1e-12).sum(axis=0) == 1
    best = np.argmin(stacked, axis=0)
    return {keys[i] for i in np.unique(best[on_front & unique])}


def test_brute_force_owners() -> None:
    assert _true_owners() == {("A", 3), ("B", 11)}


def _screening_calls(df: Any) -> int:
    return int(df.loc[df["source"].str.startswith("setgrad-r"), "n_calls"].sum())


def test_guided_screening_keeps_the_owners_for_fewer_calls() -> None:
    counter = {"n": 0}
    definition = _study(counter)
    options = {"population": 8, "steps": 30, "screen_steps": 5, "eta": 3}
    engine = SetGradEngine(**options).setup(definition)
    assert len(definition.space.discrete_combinations()) == 64 > engine.screen_all  # guided
    budget = 200
    study = optimize(
        definition,
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options=options,
        n_trials=budget,
        seed=0,
    )
    df = study.trials_dataframe()
    assert int(df["n_calls"].sum()) == counter["n"]  # every call of every rung is a trial's
    engine.tell([to_record(t) for t in study.trials])
    survivors = {(c["family"], int(c["level"])) for c in engine.survivors() or []}
    assert _true_owners() <= survivors, survivors
    screened = engine.screened()
    assert len(screened) < 64  # not every combination paid for
    # screening them all as before (rung 0: 64 combinations x 4 members x (5 steps + 1 final
    # evaluation); an exact study needs no probe) costs 1,536 calls; the guided rungs (rung 0 on
    # some combinations, then the 5-step rung on a third of those) cost less than half of it
    guided = _screening_calls(df)
    assert guided < 64 * 4 * (5 + 1) / 2, guided
    # the study's front lies on the true front where the owners are (not only screened)
    full = df[df["source"] == "setgrad"]
    assert {(f, int(lv)) for f, lv in zip(full["family"], full["level"], strict=True)} <= survivors


def test_front_scores_against_brute_force() -> None:
    """Signed scores: minus the exclusive contribution of an owner, else the uniform shift that
    frees the best point, checked by shifting the points by hand."""
    pts = np.array([[0.1, 0.9], [0.5, 0.5], [0.9, 0.1], [0.7, 0.8], [0.6, 0.65]])
    keys = ["a", "b", "c", "d", "d"]
    s = front_scores(pts, keys, [1.0, 1.0], np.zeros(2), np.ones(2))
    assert s["a"] < 0 and s["b"] < 0 and s["c"] < 0
    # d's best point (0.6, 0.65) is dominated by b's (0.5, 0.5): freed by min(0.1, 0.15) = 0.1
    assert s["d"] == pytest.approx(0.1)
    # b's exclusive area, by hand: the box between its neighbours' corners (0.4 x 0.4) less the
    # part d's (0.6, 0.65) still covers without b (0.3 x 0.25)
    assert s["b"] == pytest.approx(-(0.4 * 0.4 - 0.3 * 0.25))


def test_choose_next_follows_the_model() -> None:
    """On a one-dimensional row set whose score grows with distance from row 7, the model picks
    an unscreened row near 7 and stops once every unscreened bound is far above 0."""
    X = np.linspace(0.0, 1.0, 16)[:, None]
    truth = np.abs(np.arange(16) - 7) * 0.1 - 0.05
    screened = [0, 5, 10, 15]
    pick = choose_next(X, [], screened, truth[screened], seed=0)
    assert pick is not None and abs(pick - 7) <= 2
    assert choose_next(X, [], list(range(16)), truth) is None
    # every screened row far from the front, smoothly: no unscreened row plausibly reaches it
    far = 1.0 + 0.2 * X[:, 0]
    rows = [0, 2, 4, 6, 8, 10, 12, 14, 15]
    assert choose_next(X, [], rows, far[rows], seed=0) is None
    spread = initial_design(X, [], 3, seed=1)
    assert len(set(spread)) == 3
    gaps = np.abs(X[:, 0] - X[spread[0], 0])
    assert gaps[spread[1]] == gaps.max()  # maximin: the second is the farthest from the first


def test_unseen_combinations_start_from_the_anchors_extremes() -> None:
    """Without a given ideal / nadir the study runs anchors; every screening population of a
    combination no anchor ran on then starts from the anchors' extremes (the same designs for
    every combination: common starts), member by member the one nearest its weights."""
    definition = copy.copy(_study({"n": 0}))
    definition.ideal = definition.nadir = None
    study = optimize(
        definition,
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options={"population": 8, "steps": 30, "screen_steps": 5, "eta": 3},
        n_trials=60,
        seed=0,
    )
    trials = study.trials
    donors = anchor_donors(trials, ["minimize", "minimize"])
    assert [int(np.argmax(t.weights)) for t in donors] == [0, 1]
    anchored = {tuple(sorted(t.choices.items())) for t in trials if t.source == ANCHOR}
    fresh = [
        t for t in trials if t.source == "setgrad-r0" and tuple(sorted(t.choices.items())) not in anchored
    ]
    assert len(fresh) >= 10
    for t in fresh:
        nearest = donors[int(np.argmax(t.weights))]
        assert t.init == nearest.params, (t.number, t.weights, t.init)
