"""Where learning the reconstruction moves the calorimeter front (issue 20).

Three studies of the same calorimeter pipeline (paretoopt.blocks.calorimeter_pipeline_study),
differing only in the outer choice ``reconstruction``: fixed to ``reference`` (the calibrated
sum), fixed to ``learned`` (per-segment weights + small network trained for every design) and
free (the engine picks per trial). Equal simulator calls: a learned call simulates the same
number of events as a reference call (half trains the reconstruction, half measures the
resolution), so training is counted inside the calls; each study's trials are cut at the
smallest total of calls among the three. Short runs (random engine, seeded, quick inner
settings): a picture of where learning pays, not converged fronts.

    nice -n 10 python benchmarks/blocks.py --trials 20 --seed 0

Writes results/blocks_seed<N>.json and .png (the fronts) and prints the table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import RESULTS, print_table, write_json

VARIANTS = {"reference": ("reference",), "learned": ("learned",), "free": ("reference", "learned")}


def definition(variant: str) -> Any:
    from paretoopt.blocks import calorimeter_pipeline_study
    from paretoopt.physics.calorimetry import SEGMENTED_QUICK_INNER

    return calorimeter_pipeline_study(
        reconstructions=VARIANTS[variant],
        name=f"blocks_{variant}",
        n_sections=3,
        energies_gev=(2.0, 10.0, 50.0),
        absorbers=("Pb", "W"),
        actives=("scintillator", "silicon"),
        n_layers=(10, 40),
        inner=SEGMENTED_QUICK_INNER.replace(max_steps=15, n_samples=600, n_eval_samples=3000),
    )


def front(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows (both objectives minimised), sorted by cost."""
    keep = [
        i
        for i, p in enumerate(points)
        if not np.any(np.all(points <= p, axis=1) & np.any(points < p, axis=1))
    ]
    f = points[keep]
    return f[np.argsort(f[:, 1])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from paretoopt import optimize
    from paretoopt.pareto import hypervolume

    runs: dict[str, list[dict[str, Any]]] = {}
    wall: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            t0 = time.perf_counter()
            s = optimize(
                definition(variant), storage=f"sqlite:///{Path(tmp) / 'b.db'}", n_trials=args.trials,
                seed=args.seed, engine="random",
            )  # fmt: skip
            wall[variant] = time.perf_counter() - t0
            runs[variant] = [
                {
                    "number": t.number,
                    "calls": t.n_calls,
                    "resolution": t.objectives[0],
                    "resolution_stderr": t.stderr[0],
                    "cost": t.objectives[1],
                    "feasible": t.feasible,
                    "reconstruction": t.choices.get("reconstruction", VARIANTS[variant][0]),
                    "n_layers": t.choices["n_layers"],
                    "absorber": t.choices["absorber"],
                    "active": t.choices["active"],
                }
                for t in s.completed_trials
            ]
            n_calls = sum(r["calls"] for r in runs[variant])
            print(f"{variant}: {len(runs[variant])} trials, {n_calls} calls, {wall[variant]:.0f} s")
    budget = min(sum(r["calls"] for r in rs) for rs in runs.values())
    cut: dict[str, list[dict[str, Any]]] = {}
    for v, rs in runs.items():
        total, kept = 0, []
        for r in sorted(rs, key=lambda r: r["number"]):
            if total + r["calls"] > budget:
                break
            total += r["calls"]
            kept.append(r)
        cut[v] = [r for r in kept if r["feasible"]]
    allpts = np.array([[r["resolution"], r["cost"]] for rs in cut.values() for r in rs])
    ref = allpts.max(axis=0) * 1.1  # one reference point for the three: the union's worst + 10 %
    rows, fronts = [], {}
    for v, rs in cut.items():
        pts = np.array([[r["resolution"], r["cost"]] for r in rs])
        fronts[v] = front(pts)
        # cheap third of the union's cost range: where short, leaking stacks live
        cheap = pts[pts[:, 1] <= np.quantile(allpts[:, 1], 1 / 3)]
        rows.append(
            {
                "variant": v,
                "trials": len(rs),
                "calls": sum(r["calls"] for r in rs),
                "hypervolume": hypervolume(pts, ["minimize", "minimize"], ref),
                "front points": len(fronts[v]),
                "best resolution % (cheap third)": float(cheap[:, 0].min()) if len(cheap) else float("nan"),
                "best resolution % (all)": float(pts[:, 0].min()),
                "learned on front": sum(
                    1
                    for r in rs
                    if r["reconstruction"] == "learned"
                    and any(np.allclose([r["resolution"], r["cost"]], f) for f in fronts[v])
                ),
                "wall s": wall[v],
            }
        )
    print_table(
        rows, f"calorimeter front by reconstruction, {budget} simulator calls each (seed {args.seed})"
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    style = {"reference": ("tab:blue", "o"), "learned": ("tab:orange", "s"), "free": ("tab:green", "^")}
    for v, rs in cut.items():
        c, m = style[v]
        pts = np.array([[r["resolution"], r["cost"]] for r in rs])
        ax.scatter(pts[:, 1], pts[:, 0], s=12, alpha=0.35, color=c, marker=m)
        f = fronts[v]
        ax.step(f[:, 1], f[:, 0], where="post", color=c, label=f"{v} (front)")
    ax.set_xlabel("cost (kEUR)")
    ax.set_ylabel("resolution at 10 GeV (%)")
    ax.set_yscale("log")
    ax.set_title(f"reconstruction fixed / free, {budget} simulator calls each")
    ax.legend()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / f"blocks_seed{args.seed}.png", dpi=110)
    write_json(
        f"blocks_seed{args.seed}", {"args": vars(args), "budget_calls": budget, "rows": rows, "trials": cut}
    )


if __name__ == "__main__":
    main()
