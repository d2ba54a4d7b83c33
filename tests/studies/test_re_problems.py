"""The RE problems written in torch (studies/re21.py, re37.py) against published values and an
independent transcription, and their stored reference fronts against the published extremes.

Published ideal/nadir: Tanabe & Ishibuchi's approximated Pareto fronts for the RE suite
(arXiv:2009.12867; the values their reference implementation "reproblems" ships):
RE21 ideal (1237.8414230005742, 0.002761423749158419), nadir (2886.3695604236013, 0.04);
RE37 ideal (0.00889341391106, 0.00488, -0.431499999825)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from paretoopt import load_study_definition

ROOT = Path(__file__).resolve().parents[2]


def _eval(name: str, x: dict[str, float]) -> np.ndarray:
    d = load_study_definition(ROOT / "studies" / f"{name}.py")
    out = d.simulate(
        {k: torch.tensor(v, dtype=torch.float64) for k, v in x.items()}, {}, 1, torch.Generator()
    )
    return np.array([float(out[o.name]) for o in d.objectives])


def test_re21_values_and_extremes() -> None:
    rng = np.random.default_rng(1)
    lo = np.array([1.0, math.sqrt(2), math.sqrt(2), 1.0])
    for _ in range(5):
        x = lo + (3.0 - lo) * rng.random(4)
        # the paper's formulas, transcribed independently (F = 10, E = 2e5, L = 200)
        f1 = 200 * (2 * x[0] + math.sqrt(2) * x[1] + math.sqrt(x[2]) + x[3])
        f2 = 10 * 200 / 2e5 * (2 / x[0] + 2 * math.sqrt(2) / x[1] - 2 * math.sqrt(2) / x[2] + 2 / x[3])
        got = _eval("re21", {f"x{i + 1}": float(x[i]) for i in range(4)})
        np.testing.assert_allclose(got, [f1, f2], rtol=1e-12)
    # f1 grows and f2 falls in x1, x2, x4 (f2 rises in x3): the extremes sit on corners
    ideal_f1 = _eval("re21", {"x1": 1.0, "x2": math.sqrt(2), "x3": math.sqrt(2), "x4": 1.0})
    ideal_f2 = _eval("re21", {"x1": 3.0, "x2": 3.0, "x3": math.sqrt(2), "x4": 3.0})
    np.testing.assert_allclose(
        [ideal_f1[0], ideal_f2[1]], [1237.8414230005742, 0.002761423749158419], rtol=1e-9
    )
    np.testing.assert_allclose([ideal_f2[0], ideal_f1[1]], [2886.3695604236013, 0.04], rtol=1e-9)


def test_re37_values() -> None:
    rng = np.random.default_rng(2)
    for _ in range(5):
        a, ha, oa, tt = rng.random(4)
        tf = (0.692 + 0.477 * a - 0.687 * ha - 0.080 * oa - 0.0650 * tt - 0.167 * a**2 - 0.0129 * ha * a
              + 0.0796 * ha**2 - 0.0634 * oa * a - 0.0257 * oa * ha + 0.0877 * oa**2 - 0.0521 * tt * a
              + 0.00156 * tt * ha + 0.00198 * tt * oa + 0.0184 * tt**2)  # fmt: skip
        xcc = (0.153 - 0.322 * a + 0.396 * ha + 0.424 * oa + 0.0226 * tt + 0.175 * a**2 + 0.0185 * ha * a
               - 0.0701 * ha**2 - 0.251 * oa * a + 0.179 * oa * ha + 0.0150 * oa**2 + 0.0134 * tt * a
               + 0.0296 * tt * ha + 0.0752 * tt * oa + 0.0192 * tt**2)  # fmt: skip
        ttm = (0.370 - 0.205 * a + 0.0307 * ha + 0.108 * oa + 1.019 * tt - 0.135 * a**2 + 0.0141 * ha * a
               + 0.0998 * ha**2 + 0.208 * oa * a - 0.0301 * oa * ha - 0.226 * oa**2 + 0.353 * tt * a
               - 0.0497 * tt * oa - 0.423 * tt**2 + 0.202 * ha * a**2 - 0.281 * oa * a**2
               - 0.342 * ha**2 * a - 0.245 * ha**2 * oa + 0.281 * oa**2 * ha - 0.184 * tt**2 * a
               - 0.281 * ha * a * oa)  # fmt: skip
        got = _eval("re37", {"alpha": a, "dHA": ha, "dOA": oa, "OPTT": tt})
        np.testing.assert_allclose(got, [tf, xcc, ttm], rtol=1e-12, atol=1e-15)


def test_reference_fronts_reach_the_published_extremes() -> None:
    fronts = ROOT / "benchmarks" / "reference_fronts"
    re21 = np.asarray(json.loads((fronts / "re21.json").read_text())["front"])
    np.testing.assert_allclose(re21.min(axis=0), [1237.8414230005742, 0.002761423749158419], rtol=1e-6)
    np.testing.assert_allclose(re21.max(axis=0), [2886.3695604236013, 0.04], rtol=1e-6)
    re37 = np.asarray(json.loads((fronts / "re37.json").read_text())["front"])
    np.testing.assert_allclose(re37.min(axis=0), [0.00889341391106, 0.00488, -0.431499999825], atol=1e-5)
    for front in (re21, re37):  # stored as a non-dominated set
        dominated = [np.any(np.all(front <= p, axis=1) & np.any(front < p, axis=1)) for p in front]
        assert not any(dominated)
