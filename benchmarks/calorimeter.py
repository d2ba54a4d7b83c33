"""Calorimeter benchmark: Monte Carlo throughput and the front traced in a fixed wall-time budget.

1. Throughput: events per second of the calorimeter Monte Carlo, forward + backward, 10,000
   events x 40 layers on one CPU thread, float64 and float32, for both blocks: the uniform
   calorimeter (``SamplingCalorimeter``, gradients of resolution and cost in both
   thicknesses, 10 GeV) and the segmented one (``SegmentedCalorimeter``, 10 sections, the six
   default energies, the fit of a and b, gradients in all 20 thicknesses); median of
   ``--repeats`` runs; peak resident memory added by the run (``ru_maxrss`` high-water mark
   above the post-import baseline).
2. Front: the outer loop with the default engine (``grid``; ``--engines grid,random`` adds
   others) on ``--study`` (default ``studies/calorimeter.py``); trials run in ``--workers`` processes of one
   thread each until ``--budget-s`` seconds of wall time are spent (default 600 s on 2
   workers); normalisation from two anchor inner loops on a mid-range design (30 layers, Pb,
   scintillator). Reports trials, simulator calls (forward and backward), the non-dominated
   designs and the hypervolume (moocore).

Run: ``PYTHONPATH=. python benchmarks/calorimeter.py [--budget-s 600] [--workers 2] [--skip-front]``.
Writes ``benchmarks/results/calorimeter.json`` (``--out``) and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
STUDY_FILE = ROOT / "studies" / "calorimeter.py"  # --study changes it (front only)


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _table(rows: list[dict[str, Any]], title: str) -> None:
    import pandas as pd

    print(f"\n## {title}\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4g"))


def _throughput_one(
    block: str, dtype_name: str, n_events: int, n_layers: int, repeats: int
) -> dict[str, Any]:
    """One block and dtype in a fresh process, so that ``ru_maxrss`` sees this run's peak alone."""
    from paretoopt.physics.calorimetry import SamplingCalorimeter, SegmentedCalorimeter

    torch.set_num_threads(1)
    dtype = getattr(torch, dtype_name)
    choices = {"n_layers": n_layers, "absorber": "Pb", "active": "scintillator"}
    if block == "uniform":
        sim: torch.nn.Module = SamplingCalorimeter()
        names = {"absorber_mm": 2.0, "active_mm": 3.0}
    else:
        seg = SegmentedCalorimeter()
        sim = seg
        names = {k: 2.0 for k in seg.absorber_names} | {k: 3.0 for k in seg.active_names}

    def run(n: int) -> None:
        p = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in names.items()}
        out = sim(p, choices, n, torch.Generator().manual_seed(0))
        (out["resolution"].value + out["cost"]).backward()

    run(600)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(n_events)
        times.append(time.perf_counter() - t0)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    med = statistics.median(times)
    return {
        "block": block,
        "dtype": dtype_name,
        "events": n_events,
        "layers": n_layers,
        "inner parameters": len(names),
        "fwd+bwd time median [s]": med,
        "time min-max [s]": f"{min(times):.3f}-{max(times):.3f}",
        "events/s (fwd+bwd)": n_events / med,
        "peak memory added [MiB]": max(peak_kb - base_kb, 0) / 1024,
    }


def throughput(n_events: int = 10_000, n_layers: int = 40, repeats: int = 5) -> list[dict[str, Any]]:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    rows = []
    for block in ("uniform", "segmented"):
        for dtype_name in ("float64", "float32"):
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                job = pool.submit(_throughput_one, block, dtype_name, n_events, n_layers, repeats)
                rows.append(job.result())
    return rows


# ----- the outer loop (mirrors paretoopt.run.Runner without storage) -----
_WORKER_STUDY = None


def _init_worker(study_file: str) -> None:
    global _WORKER_STUDY
    torch.set_num_threads(1)
    from paretoopt.problem import load_study_definition

    _WORKER_STUDY = load_study_definition(study_file)


def _trial(
    number: int, weights: tuple[float, ...], choices: dict[str, Any], norm: dict[str, Any]
) -> dict[str, Any]:
    from paretoopt.inner import optimize_inner
    from paretoopt.scalarize import AugmentedChebyshev, Normalization

    assert _WORKER_STUDY is not None
    scal = AugmentedChebyshev(weights, Normalization.from_dict(norm))
    r = optimize_inner(_WORKER_STUDY, choices, scal, seed=number)
    return {
        "number": number,
        "weights": list(weights),
        "choices": choices,
        "params": r.params,
        "objectives": [r.objectives[k] for k in _WORKER_STUDY.objective_names],
        "stderr": [r.stderr[k] for k in _WORKER_STUDY.objective_names],
        "depth_cm": r.constraints["depth"],
        "feasible": r.feasible,
        "n_calls": r.n_calls,
        "n_backward": r.n_backward,
        "wall_time_s": r.wall_time_s,
    }


def _non_dominated(points: np.ndarray) -> np.ndarray:
    keep = []
    for i, p in enumerate(points):
        if not any(np.all(q <= p) and np.any(q < p) for j, q in enumerate(points) if j != i):
            keep.append(i)
    return np.asarray(keep, dtype=int)


def front(
    engine_name: str = "grid",
    budget_s: float = 600.0,
    workers: int = 2,
    seed: int = 0,
    study_file: Path = STUDY_FILE,
) -> dict[str, Any]:
    """The outer loop on ``study_file`` (two objectives: resolution and cost) in a wall-time budget."""
    import moocore

    from paretoopt.normalization import resolve_normalization
    from paretoopt.outer import TrialRecord, make_engine
    from paretoopt.problem import load_study_definition

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    study = load_study_definition(study_file)
    norm, anchors = resolve_normalization(
        study, {"n_layers": 30, "absorber": "Pb", "active": "scintillator"}, seed=seed
    )
    engine = make_engine(engine_name, seed=seed).setup(study)
    trials: list[dict[str, Any]] = []
    calls = sum(a.n_calls for a in anchors)
    backward = sum(a.n_backward for a in anchors)
    deadline = t0 + budget_s
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(str(study_file),)
    ) as pool:
        running = {}
        number = 0
        while True:
            while len(running) < workers and time.perf_counter() < deadline:
                (prop,) = engine.ask(1)
                fut = pool.submit(_trial, number, prop.weights, prop.choices, norm.to_dict())
                running[fut] = number
                number += 1
            if not running:
                break
            done, _ = wait(
                running, timeout=max(deadline - time.perf_counter(), 0.1), return_when=FIRST_COMPLETED
            )
            if not done and time.perf_counter() >= deadline:
                for f in running:
                    f.cancel()
                break  # trials still running at the deadline do not count
            for f in done:
                running.pop(f)
                res = f.result()
                trials.append(res)
                calls += res["n_calls"]
                backward += res["n_backward"]
                engine.tell(
                    [
                        TrialRecord(
                            number=res["number"],
                            state="COMPLETE",
                            weights=tuple(res["weights"]),
                            choices=res["choices"],
                            objectives=tuple(res["objectives"]),
                            stderr=tuple(res["stderr"]),
                            params=res["params"],
                            n_calls=res["n_calls"],
                            feasible=res["feasible"],
                        )
                    ]
                )
        wall = time.perf_counter() - t0
        for f in list(running):
            f.cancel()
    feasible = [t for t in trials if t["feasible"]]
    pts = np.array([t["objectives"] for t in feasible]) if feasible else np.zeros((0, 2))
    nd = _non_dominated(pts) if len(pts) else np.zeros(0, dtype=int)
    ref = np.array([100.0, 3000.0])  # resolution %, cost kEUR: worse than any design of interest
    hv = float(moocore.hypervolume(pts[nd], ref=ref)) if len(nd) else 0.0
    front_rows = sorted(
        (
            {
                "resolution [%]": feasible[i]["objectives"][0],
                "cost [kEUR]": feasible[i]["objectives"][1],
                "n_layers": feasible[i]["choices"]["n_layers"],
                "absorber": feasible[i]["choices"]["absorber"],
                "active": feasible[i]["choices"]["active"],
                **{f"{k} [mm]": v for k, v in feasible[i]["params"].items()},
                "depth [cm]": feasible[i]["depth_cm"],
            }
            for i in nd
        ),
        key=lambda r: r["cost [kEUR]"],
    )
    return {
        "engine": engine_name,
        "budget_s": budget_s,
        "workers": workers,
        "wall_time_s": wall,
        "trials": len(trials),
        "feasible_trials": len(feasible),
        "anchor_runs": len(anchors),
        "simulator_calls": calls,
        "backward_passes": backward,
        "forward_equivalents": calls + 2 * backward,
        "mean_trial_time_s": float(np.mean([t["wall_time_s"] for t in trials])) if trials else None,
        "normalization": norm.to_dict(),
        "hypervolume_ref": ref.tolist(),
        "hypervolume": hv,
        "choices_covered": sorted({json.dumps(t["choices"], sort_keys=True) for t in trials}),
        "weights_covered": sorted({tuple(round(w, 4) for w in t["weights"]) for t in trials}),
        "front": front_rows,
        "trials_detail": trials,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engines", default="grid", help="comma-separated engine names, e.g. grid,random")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-front", action="store_true")
    ap.add_argument("--study", default=str(STUDY_FILE), help="study file of the front runs")
    ap.add_argument("--out", default="calorimeter", help="results/<OUT>.json")
    args = ap.parse_args(argv)
    payload: dict[str, Any] = {"machine": _machine()}
    rows = throughput(repeats=args.repeats)
    _table(rows, "Calorimeter Monte Carlo, 10k events x 40 layers, forward + backward, 1 thread")
    payload["throughput"] = rows
    payload["fronts"] = []
    for engine in [] if args.skip_front else args.engines.split(","):
        res = front(engine, args.budget_s, args.workers, study_file=Path(args.study).resolve())
        skip = ("front", "trials_detail", "choices_covered", "weights_covered")
        summary = {k: v for k, v in res.items() if k not in skip}
        summary["distinct choices"] = len(res["choices_covered"])
        summary["distinct weights"] = len(res["weights_covered"])
        _table(
            [{k: v for k, v in summary.items() if not isinstance(v, (dict, list))}],
            f"Front by the {engine} engine",
        )
        _table(res["front"], f"Non-dominated designs ({engine})")
        payload["fronts"].append(res)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{args.out}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
