"""DESDEO 2.8's reference-point method and E-NAUTILUS on an exported front: the peer of
benchmarks/decide.py, run in its own virtual environment (DESDEO needs Python >= 3.12 and pins
numpy < 2.4; ``/work/venvs/desdeo``, see benchmarks/README.md), never imported by paretoopt.

Reads one JSON object on stdin: ``objectives`` ([{"symbol", "maximize"}]), ``values`` (n x m,
natural units), ``aspirations`` (list of {symbol: value}), ``navigations`` (list of
{"iterations", "n_points", "towards"}), ``rho``; writes one JSON object on stdout: for each aspiration the row
DESDEO's reference-point method picks (ProximalSolver on the discrete representation), for the
navigation the row E-NAUTILUS ends on when each step takes the option whose representative has
the smallest achievement for ``towards``, each with its time in seconds.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import polars as pl
from desdeo.mcdm.enautilus import enautilus_step
from desdeo.mcdm.reference_point_method import rpm_solve_solutions
from desdeo.problem import Objective, ObjectiveTypeEnum, Problem, Variable, VariableTypeEnum
from desdeo.problem.schema import DiscreteRepresentation
from desdeo.tools import ProximalSolver


def problem_of(objectives: list[dict], values: np.ndarray) -> Problem:
    """A fully discrete DESDEO problem whose objective values are the front's rows."""
    syms = [o["symbol"] for o in objectives]
    objs = []
    for j, o in enumerate(objectives):
        col = values[:, j]
        best, worst = (col.max(), col.min()) if o["maximize"] else (col.min(), col.max())
        objs.append(
            Objective(
                name=o["symbol"],
                symbol=o["symbol"],
                func=None,
                objective_type=ObjectiveTypeEnum.data_based,
                maximize=bool(o["maximize"]),
                ideal=float(best),
                nadir=float(worst),
            )
        )
    variables = [
        Variable(
            name="row",
            symbol="row",
            variable_type=VariableTypeEnum.real,
            lowerbound=0.0,
            upperbound=float(len(values)),
            initial_value=0.0,
        )
    ]
    rep = DiscreteRepresentation(
        variable_values={"row": [float(i) for i in range(len(values))]},
        objective_values={s: values[:, j].tolist() for j, s in enumerate(syms)},
    )
    return Problem(
        name="front",
        description="exported paretoopt front",
        variables=variables,
        objectives=objs,
        discrete_representation=rep,
    )


def achievement(g: np.ndarray, z: np.ndarray, span: np.ndarray, rho: float) -> np.ndarray:
    d = (g - z) / span
    return d.max(axis=1) + rho * d.sum(axis=1)


def enautilus(objectives: list[dict], values: np.ndarray, towards: dict[str, float], nav: dict) -> dict:
    """One E-NAUTILUS walk over ``values``, each step taking the option whose representative has
    the smallest achievement for ``towards``; the row it ends on, its time and its steps."""
    syms = [o["symbol"] for o in objectives]
    signs = np.array([-1.0 if o["maximize"] else 1.0 for o in objectives])
    problem = problem_of(objectives, values)
    g = values * signs
    span = np.where(g.max(0) > g.min(0), g.max(0) - g.min(0), 1.0)
    z = np.array([towards[s] for s in syms]) * signs
    frame = pl.DataFrame(
        {**{s: values[:, j] for j, s in enumerate(syms)}, **{f"{s}_min": g[:, j] for j, s in enumerate(syms)}}
    )
    selected = {
        s: float(values[:, j].min() if objectives[j]["maximize"] else values[:, j].max())
        for j, s in enumerate(syms)
    }
    reachable = list(range(len(values)))
    h = int(nav["iterations"])
    t0 = time.perf_counter()
    steps = []
    for it in range(h):
        res = enautilus_step(problem, frame, it, h - it, selected, reachable, int(nav["n_points"]))
        # each option's representative: its intermediate point moved the rest of the way
        pts = np.array([[p[s] for s in syms] for p in res.intermediate_points]) * signs
        left = h - it
        reps = left * pts - (left - 1) * np.array([selected[s] for s in syms]) * signs
        pick = int(np.argmin(achievement(reps, z, span, 1e-4)))
        selected, reachable = res.intermediate_points[pick], res.reachable_point_indices[pick]
        steps.append({"reachable": len(reachable)})
    elapsed = time.perf_counter() - t0
    final = np.array([selected[s] for s in syms])
    return {"row": int(np.argmin(np.abs(values - final).sum(axis=1))), "seconds": elapsed, "steps": steps}


def main() -> None:
    job = json.load(sys.stdin)
    objectives = job["objectives"]
    values = np.asarray(job["values"], dtype=float)
    syms = [o["symbol"] for o in objectives]
    problem = problem_of(objectives, values)
    rho = float(job.get("rho", 1e-6))
    out: dict = {"reference": [], "navigations": []}
    for asp in job["aspirations"]:
        t0 = time.perf_counter()
        res = rpm_solve_solutions(
            problem,
            asp,
            scalarization_options={"rho": rho, "delta": 1e-12},
            solver=ProximalSolver,
            include_perturbed=False,
        )[0]
        elapsed = time.perf_counter() - t0
        row = round(float(np.ravel(res.optimal_variables["row"])[0]))
        out["reference"].append({"row": row, "seconds": elapsed})
    navs = job.get("navigations") or []
    if navs:
        # E-NAUTILUS's clustering uses raw values: give it the front scaled to its ideal-nadir box
        # (a positive affine map per objective, which changes nothing else), as paretoopt does
        lo, hi = values.min(axis=0), values.max(axis=0)
        scale = np.where(hi > lo, hi - lo, 1.0)
        scaled = (values - lo) / scale
        out["navigations"] = [
            enautilus(
                objectives,
                scaled,
                {s: (nav["towards"][s] - lo[j]) / scale[j] for j, s in enumerate(syms)},
                nav,
            )
            for nav in navs
        ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
