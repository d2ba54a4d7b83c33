"""Successive halving promotes the discrete combinations that own the front of the mixed
analytic study, within a seeded budget, every call counted.

The owners are computed here from the study's formulas (brute force over a grid of f1, not
with the package's code): family A's front is ``f2 = g (1 - sqrt(f1 / g))``, B's the mirror image,
with ``g = 1 + 0.25 level`` on its Pareto set."""

from __future__ import annotations

import math

import numpy as np

from paretoopt import optimize
from paretoopt.analytic import mixed_study
from paretoopt.outer import SetGradEngine
from paretoopt.outer.halving import contributions, promote, rung_steps
from paretoopt.problem import StudyDefinition


def _true_owners() -> dict[tuple[str, int], tuple[float, float]]:
    """Each (family, level) that owns part of the union front, with the f1 interval it owns
    (brute force on a fine grid of f1 in [0, 1.75])."""
    f1 = np.unique(np.append(np.linspace(0.0, 1.75, 20001), 1.0))  # 1.0: where x1 = 1 ends
    curves = {}
    for fam in ("A", "B"):
        for level in range(4):
            g = 1.0 + 0.25 * level
            with np.errstate(invalid="ignore"):
                if fam == "A":  # f1 = x1 in [0, 1], f2 = g (1 - sqrt(x1 / g))
                    f2 = np.where(f1 <= 1.0, g * (1.0 - np.sqrt(f1 / g)), np.inf)
                else:  # f2 = x1, f1 = g (1 - sqrt(x1 / g)) -> x1 = g (1 - f1 / g)^2, x1 <= 1
                    x1 = g * (1.0 - f1 / g) ** 2
                    f2 = np.where((f1 <= g) & (x1 <= 1.0), x1, np.inf)
            curves[(fam, level)] = f2
    stacked = np.vstack(list(curves.values()))
    best = np.argmin(stacked, axis=0)
    lowest = stacked.min(axis=0)
    # non-dominated: lower f2 than every point with a smaller f1
    before = np.concatenate([[np.inf], np.minimum.accumulate(lowest)[:-1]])
    on_front = lowest < before - 1e-12  # strictly better: ties at f2 = 0 are dominated
    keys = list(curves)
    owners: dict[tuple[str, int], tuple[float, float]] = {}
    unique = (stacked <= lowest + 1e-12).sum(axis=0) == 1  # points two curves share own no interval
    for i in np.unique(best[on_front]):
        where = f1[on_front & unique & (best == i)]
        owners[keys[i]] = (float(where.min()), float(where.max()))
    return owners


def test_true_owners_are_level_zero_of_both_families() -> None:
    owners = _true_owners()
    assert set(owners) == {("A", 0), ("B", 0)}
    crossing = (3 - math.sqrt(5)) / 2  # A's and B's fronts cross at f1 = f2 = 0.382
    assert abs(owners[("A", 0)][1] - crossing) < 1e-3


def test_halving_promotes_the_owners_of_the_front() -> None:
    base = mixed_study(n_var=6)
    calls = {"n": 0}

    def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return base.simulate(params, choices, n_samples, generator)

    definition = StudyDefinition(
        base.name, base.space, base.objectives, simulate, inner=base.inner, ideal=base.ideal, nadir=base.nadir
    )
    options = {"population": 8, "steps": 30, "screen_population": 4, "screen_steps": 3, "eta": 3}
    assert rung_steps(3, 30, 3) == [3, 9]  # two screening rungs: 8 combinations, then 3
    budget = 8 * 4 + 3 * 4 + 2 * 8  # rung 0, rung 1, one full population per survivor
    study = optimize(
        definition,
        storage="sqlite:///:memory:",
        engine="setgrad",
        engine_options=options,
        n_trials=budget,
        seed=0,
    )
    df = study.trials_dataframe()
    assert len(df) == budget
    assert int(df["n_calls"].sum()) == calls["n"]  # every call of every rung is a trial's
    full = df[df["source"] == "setgrad"]
    survivors = {(f, int(lv)) for f, lv in zip(full["family"], full["level"], strict=True)}
    owners = _true_owners()
    assert survivors == set(owners)
    assert (df["source"] == "setgrad-r0").sum() == 8 * 4  # every combination screened once
    assert (df["source"] == "setgrad-r1").sum() == 3 * 4  # then 3 of 8
    # the study's front: each point owned by the combination that owns that part of the front
    f = df[["f1", "f2"]].to_numpy()
    nd = np.array([not np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)) for p in f])
    assert nd.sum() >= 8
    on_true_front: dict[str, int] = {"A": 0, "B": 0}
    for fam, level, f1, f2 in zip(df["family"][nd], df["level"][nd], df["f1"][nd], df["f2"][nd], strict=True):
        true_f2 = 1.0 - math.sqrt(f1) if f1 <= (3 - math.sqrt(5)) / 2 else (1.0 - f1) ** 2
        if f2 - true_f2 < 1e-2:  # a point on the true front is its owner's
            on_true_front[fam] += 1
            lo, hi = owners[(fam, int(level))]
            # inside its owner's interval, or where both families' curves meet the front (f1 = 1,
            # f2 = 0 is reached by A at x1 = 1 and by B at x1 = 0)
            ends_tie = abs(f1 - 1.0) < 1e-3 and f2 < 1e-2
            assert lo - 1e-3 <= f1 <= hi + 1e-3 or ends_tie, (fam, level, f1)
    # both owners contribute points on the true front (not a vacuous loop)
    assert min(on_true_front.values()) >= 3, on_true_front
    engine = SetGradEngine(**options).setup(definition)
    from paretoopt.run.feed import to_record

    engine.tell([to_record(t) for t in study.trials])
    assert {(c["family"], int(c["level"])) for c in engine.survivors() or []} == set(owners)


def test_contributions_against_brute_force() -> None:
    """Exclusive contributions on a small set, against a Monte Carlo-free grid count."""
    pts = np.array([[0.1, 0.9], [0.5, 0.5], [0.9, 0.1], [0.6, 0.6], [0.45, 0.55]])
    keys = ["a", "b", "c", "d", "b"]
    scores = contributions(pts, keys, [1.0, 1.0], np.zeros(2), np.ones(2))
    grid = (np.arange(1100) + 0.5) / 1000.0  # cells of 0.001 over [0, 1.1]^2
    gx, gy = np.meshgrid(grid, grid, indexing="ij")

    def covered(mask: np.ndarray) -> np.ndarray:
        out = np.zeros_like(gx, dtype=bool)
        for p in pts[mask]:
            out |= (gx >= p[0]) & (gy >= p[1])
        return out

    arr = np.array(keys)
    total = covered(np.ones(5, dtype=bool))
    brute = {}
    for k in "abcd":
        brute[k] = (total & ~covered(arr != k)).sum() * 1e-6
        assert abs(scores[k][0] - brute[k]) < 3e-3, (k, scores[k], brute[k])
    assert scores["d"][0] == 0.0  # dominated by b
    # keep max(min_keep, ceil(4 / 3)) = 2: the two largest exclusive contributions, in input order
    top2 = sorted("abcd", key=lambda k: -brute[k])[:2]
    assert promote(["a", "b", "c", "d"], scores, eta=3, min_keep=2) == sorted(top2)
