"""Is a Monte Carlo study's reference front fair to peers that evaluate each design once on a
small sample? (issue 19, the segmented calorimeter)

Runs pymoo NSGA-II (``front_quality.run_pymoo``: every design on the study's ``n_samples``
events, common random numbers) and paretoopt's ``setgrad`` engine with the defaults (final
evaluations on ``n_eval_samples`` events, a fresh sample per trial) for ``--seed``, re-evaluates
each one's final non-dominated designs on ``--events`` fresh events, and prints the hypervolume
of both versions as a fraction of the union reference of ``--runs`` (a ``--save-runs`` file of
``front_quality.py``): when the re-evaluated front loses little, the sample is not what puts a
method ahead.

Run: ``PYTHONPATH=. python benchmarks/noise_check.py --runs all.json --seed 0`` (defaults:
``calorimeter_segmented``, NSGA-II 20,000 calls, ``setgrad`` 3,000, 24,000 events). Writes
``benchmarks/results/<--out>.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import front_quality as fq
from benchmarks._common import print_table, write_json
from paretoopt import pareto
from paretoopt.problem import InnerSettings, StudyDefinition, evaluate


def _reevaluate(
    definition: StudyDefinition,
    designs: list[tuple[dict[str, float], dict[str, Any]]],
    events: int,
    seed: int,
) -> np.ndarray:
    """Objectives of each design on ``events`` fresh events (seed ``seed + index``), no gradient."""
    out = []
    for j, (params, choices) in enumerate(designs):
        gen = torch.Generator()
        gen.manual_seed(seed + j)
        with torch.no_grad():
            tensors = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in params.items()}
            out.append(evaluate(definition, tensors, choices, events, gen).objectives.numpy())
    return np.array(out)


def nsga2_front(definition: StudyDefinition, seed: int, budget: int) -> tuple[np.ndarray, list[Any]]:
    """NSGA-II's feasible non-dominated points as found, and their designs."""
    seen: list[tuple[dict[str, float], dict[str, Any], np.ndarray, bool]] = []
    simulate_g = fq._simulate_g

    def recording(
        d: StudyDefinition, params: dict[str, float], choices: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        f, g = simulate_g(d, params, choices)
        seen.append((dict(params), dict(choices), f.copy(), bool(np.all(g <= 0))))
        return f, g

    setattr(fq, "_simulate_g", recording)  # noqa: B010 - the peer's own evaluation, recorded
    try:
        fq.run_pymoo(definition, seed, budget, "noise_check")
    finally:
        setattr(fq, "_simulate_g", simulate_g)  # noqa: B010
    ok = [s for s in seen if s[3]]
    f = np.array([s[2] for s in ok])
    nd = np.where(pareto.non_dominated(f, pareto.directions_of(definition)))[0]
    return f[nd], [(ok[k][0], ok[k][1]) for k in nd]


def setgrad_front(definition: StudyDefinition, seed: int, budget: int) -> tuple[np.ndarray, list[Any]]:
    """paretoopt ``setgrad`` (the defaults): the completed feasible trials' non-dominated points."""
    from paretoopt.storage import TrialState

    d = copy.copy(definition)
    d.inner = InnerSettings()
    done: list[Any] = []

    def keep(study: Any) -> None:
        done.extend(t for t in study.trials if t.state is TrialState.COMPLETE and t.feasible and t.objectives)

    fq.run_paretoopt(d, "setgrad", seed, budget, "noise_check", on_study=keep)
    f = np.array([t.objectives for t in done])
    nd = np.where(pareto.non_dominated(f, pareto.directions_of(d)))[0]
    return f[nd], [(dict(done[k].params), dict(done[k].choices)) for k in nd]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--runs", required=True, help="front_quality.py --save-runs file(s) of the union reference", nargs="+"
    )
    ap.add_argument("--problem", default="calorimeter_segmented")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nsga2-budget", type=int, default=20_000)
    ap.add_argument("--setgrad-budget", type=int, default=3_000)
    ap.add_argument("--events", type=int, default=24_000)
    ap.add_argument("--out", default="fq19g_noise_check")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    definition = fq.PROBLEMS[args.problem]()
    directions = pareto.directions_of(definition)
    pts = np.array(
        [
            f
            for path in args.runs
            for r in json.loads(Path(path).read_text())["runs"]
            for f in r["objectives"]
        ],
        dtype=float,
    )
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    union = pts[pareto.non_dominated(pts, directions)]
    ref = pareto.reference_point(union, directions)
    hv_union = pareto.hypervolume(union, directions, ref)

    def ratio(f: np.ndarray) -> float:
        return float(pareto.hypervolume(f[pareto.non_dominated(f, directions)], directions, ref) / hv_union)

    rows = []
    for name, run, budget in (
        ("pymoo-nsga2", nsga2_front, args.nsga2_budget),
        ("paretoopt-setgrad (defaults)", setgrad_front, args.setgrad_budget),
    ):
        found, designs = run(definition, args.seed, budget)
        again = _reevaluate(definition, designs, args.events, 1_000_000 + args.seed * 10_000)
        change = (again[:, 0] - found[:, 0]) / np.abs(found[:, 0])
        rows.append(
            {
                "method": name,
                "seed": args.seed,
                "calls": budget,
                "front_points": len(designs),
                "hv_as_found": ratio(found),
                "hv_reevaluated": ratio(again),
                "objective0_median_rel_change": float(np.median(change)),
            }
        )
    print_table(rows, f"{args.problem}: fronts re-evaluated on {args.events} fresh events")
    write_json(args.out, {"problem": args.problem, "events": args.events, "rows": rows})


if __name__ == "__main__":
    main()
