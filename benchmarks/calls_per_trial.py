"""Calls per trial, by study and engine, with the current inner-loop defaults (issue #19, item 1).

A trial is one inner loop: its forward simulator calls (auto-mode probe and final evaluation
included), backward passes and simulated events (calls x sample size) are read from the study
database. Trials are split into anchors (fix the normalisation), cold starts (no warm start: the
first trial of a discrete combination) and warm starts (started from the nearest finished trial
with the same choices). Each study and engine runs a short study (``--trials``, default 12) on a
fresh SQLite file; the inner-loop method is the one ``mode="auto"`` picks (exact for
deterministic studies, L-BFGS-B or Adam for Monte Carlo ones) unless a study names its own.

Run: ``python benchmarks/calls_per_trial.py [--trials 12] [--engines grid,random,nsga2,botorch]``
(a few minutes on 2 cores; botorch dominates).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_json  # noqa: E402
from benchmarks.user_studies import detector_mc_study, sensors_study, tracker_study  # noqa: E402
from paretoopt import load_study_definition, optimize  # noqa: E402
from paretoopt.trials import ANCHOR  # noqa: E402

USER_STUDIES = Path("/work/shared/user-studies")


def definitions() -> dict[str, Any]:
    """The studies measured: shipped analytic studies, benchmarks/user_studies.py and the shared
    user-written studies (when present)."""
    out: dict[str, Any] = {}
    for name in ("zdt1", "dtlz2", "mixed_zdt"):
        out[name] = lambda name=name: load_study_definition(ROOT / "studies" / f"{name}.py")
    out["tracker"] = tracker_study
    out["mc_detector"] = detector_mc_study
    out["sensors"] = sensors_study
    for path in sorted(USER_STUDIES.glob("*.py")) if USER_STUDIES.is_dir() else []:
        out[path.stem] = lambda path=path: load_study_definition(path)
    return out


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{np.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def measure(name: str, build: Any, engine: str, n_trials: int, folder: Path, seed: int) -> dict[str, Any]:
    """Run one short study and summarise its trials' calls and events by kind of start."""
    t0 = time.perf_counter()
    study = optimize(
        build(),
        storage=f"sqlite:///{folder / f'{name}-{engine}.db'}",
        engine=engine,
        n_trials=n_trials,
        seed=seed,
    )
    wall = time.perf_counter() - t0
    done = [t for t in study.trials if t.state.is_finished]
    kinds: dict[str, list[Any]] = {"anchor": [], "cold": [], "warm": []}
    for t in done:
        kinds[ANCHOR if t.source == ANCHOR else "warm" if t.init else "cold"].append(t)
    exact = all(t.n_samples == 1 for t in done if t.n_samples is not None)
    row: dict[str, Any] = {"study": name, "engine": engine, "method": "exact" if exact else "Monte Carlo"}
    for kind, ts in kinds.items():
        row[f"{kind} n"] = len(ts)
        row[f"{kind} calls"] = _stats([t.n_calls for t in ts])
    warm = kinds["warm"]
    row["warm events"] = _stats([t.n_events for t in warm if t.n_events is not None])
    row["warm converged"] = f"{sum(t.converged for t in warm)}/{len(warm)}"
    row["total calls"] = study.n_calls
    row["total events"] = study.n_events
    row["wall s"] = round(wall, 1)
    row["_warm_calls"] = [t.n_calls for t in warm]
    row["_stop_reasons"] = [t.stop_reason for t in done]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--engines", default="grid,random,nsga2,botorch")
    parser.add_argument("--studies", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="calls_per_trial", help="name of the JSON under benchmarks/results/")
    args = parser.parse_args()
    defs = definitions()
    chosen = [s for s in args.studies.split(",") if s] or list(defs)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            for engine in args.engines.split(","):
                row = measure(name, defs[name], engine, args.trials, Path(tmp), args.seed)
                print(
                    f"{name:>14} {engine:>8}: warm {row['warm calls']}, cold {row['cold calls']}", flush=True
                )
                rows.append(row)
    print_table(
        [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
        f"calls per trial, median (min-max), {args.trials} trials per study",
    )
    path = write_json(args.out, {"trials": args.trials, "seed": args.seed, "rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
