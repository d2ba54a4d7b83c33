"""A small study in the column layout of ``Study.trials_dataframe()`` / ``pareto_front()``,
for the export and plot tests (no database needed): a mixed design space (real with a
negative range, integer, choice whose options look like formulas and negative numbers), two
minimised objectives with standard errors, one constraint, a few failed and infeasible trials.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from paretoopt.problem import Constraint, Objective
from paretoopt.report.columns import constraint_column, objective_column, param_column, stderr_column
from paretoopt.report.table import ExportData
from paretoopt.space import Choice, DesignSpace, Integer, Real

SOURCE = '''"""Toy calorimeter: resolution vs cost."""
from paretoopt import Real, Choice
# cost < 100 & resolution > 0 {ok} ~ ^ \\ <b>
study = ...
'''

MATERIALS = ("lead", '=HYPERLINK("http://x")', "-1.5", "@sum", "tungsten|W")


def non_dominated(f: np.ndarray) -> np.ndarray:
    """Mask of the non-dominated rows of ``f`` (all minimised), by brute force."""
    n = len(f)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        others = np.delete(f, i, axis=0)
        dominated = np.any(np.all(others <= f[i], axis=1) & np.any(others < f[i], axis=1))
        mask[i] = not dominated
    return mask


def make_data(n_trials: int = 40, seed: int = 0, *, objectives: list[Objective] | None = None) -> ExportData:
    """A study of ``n_trials`` trials (every tenth failed, those deeper than 100 cm infeasible)
    whose front and knee are computed here."""
    rng = np.random.default_rng(seed)
    space = DesignSpace(
        Real("absorber_mm", 1.0, 50.0, unit="mm"),
        Real("offset_mm", -5.0, 5.0, unit="mm"),
        Integer("n_layers", 2, 12),
        Choice("material", MATERIALS),
    )
    objectives = objectives or [
        Objective("resolution", "minimize", "%"),
        Objective("cost", "minimize", "kEUR"),
    ]
    constraints = [Constraint("depth", upper=100.0, unit="cm")]
    rows = []
    for n in range(n_trials):
        t = float(rng.uniform(0.02, 0.98))
        state = "FAILED" if n % 10 == 7 else "COMPLETE"
        depth = float(rng.uniform(50, 120))
        feasible = state == "COMPLETE" and depth <= 100.0
        row = {
            "number": n,
            "state": state,
            "source": "grid",
            "weights": f"{t:.6g},{1 - t:.6g}",
            param_column(space["absorber_mm"]): float(rng.uniform(1, 50)),
            param_column(space["offset_mm"]): float(rng.uniform(-5, 5)),
            param_column(space["n_layers"]): int(rng.integers(2, 13)),
            param_column(space["material"]): MATERIALS[n % len(MATERIALS)],
        }
        spread = float(rng.uniform(0, 0.15))
        values = [t + spread, 1.0 - np.sqrt(t) + spread]
        for o, v in zip(objectives, values, strict=False):
            ok = state == "COMPLETE"
            row[objective_column(o)] = v * (1 if o.direction == "minimize" else -1) if ok else np.nan
            row[stderr_column(o)] = float(rng.uniform(0.001, 0.05)) if ok else np.nan
        row[constraint_column(constraints[0])] = depth if state == "COMPLETE" else np.nan
        row[stderr_column(constraints[0])] = float(rng.uniform(0.0, 1.0)) if state == "COMPLETE" else np.nan
        row.update(
            feasible=feasible,
            n_calls=int(rng.integers(50, 500)),
            n_backward=100,
            n_steps=50,
            wall_time_s=float(rng.uniform(0.1, 2.0)),
            seed=n,
            error="simulate raised ValueError: =1+1" if state == "FAILED" else None,
        )
        rows.append(row)
    trials = pd.DataFrame(rows)
    ok = trials[(trials["state"] == "COMPLETE") & trials["feasible"]]
    f = np.column_stack([ok[objective_column(o)].to_numpy() * o.sign for o in objectives])
    front = ok[non_dominated(f)].copy()
    # knee: farthest from the line through the extremes (normalised), as paretoopt.pareto does
    fn = np.column_stack([front[objective_column(o)].to_numpy() * o.sign for o in objectives])
    z = (fn - fn.min(0)) / (fn.max(0) - fn.min(0))
    knee = np.zeros(len(front), dtype=bool)
    knee[int(np.argmax(1.0 - z.sum(1)))] = True
    front["knee"] = knee
    # rows in no particular order: the export must sort them
    front = front.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return ExportData(
        study_name="calo_demo & 50% #1",
        objectives=objectives,
        constraints=constraints,
        space=space,
        front=front,
        trials=trials,
        metadata={
            "study": "calo_demo & 50% #1",
            "engine": "grid",
            "engine options": {"batch_size": 1, "levels": 12},
            "seed": seed,
            "created": "2025-01-02T03:04:05",
            "storage": "sqlite:///calo.db",
            "paretoopt version": "0.1.0",
            "trials": n_trials,
        },
        definition_source=SOURCE,
        definition_hash="0123456789abcdef" * 4,
    )
