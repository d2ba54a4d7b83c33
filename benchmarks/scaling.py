"""Trials per minute with 1 and 2 Dask workers on this machine, and trial-write throughput on
PostgreSQL vs SQLite (issue 9).

    python benchmarks/scaling.py [--trials 16] [--cost-s 0.5]

The workload is ZDT1 with a simulated cost per simulator call (a CPU-bound busy loop of
``--cost-s`` / 40 seconds per call, about ``--cost-s`` per trial), so that the speed-up measures the
runner and Dask, not the analytic function. Target: speed-up >= 1.8x with 2 workers on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path

from _common import print_table, write_json

STUDY = textwrap.dedent(
    '''
    """ZDT1 (8 variables) whose every call burns CPU for COST seconds (a stand-in physics cost)."""
    import time

    from paretoopt.analytic import zdt_study

    COST = {cost}
    _base = zdt_study("zdt1", n_var=8)
    _exact = _base.simulate


    def simulate(params, choices, n_samples, generator):
        end = time.process_time() + COST
        x = 0.0
        while time.process_time() < end:
            x += 1.0
        return _exact(params, choices, n_samples, generator)


    _base.simulate = simulate
    _base.name = "costly_zdt1"
    study = _base
    '''
)


def run_once(study_file: Path, url: str, trials: int, workers: int) -> float:
    from paretoopt import load_study_definition, optimize
    from paretoopt.parallel import DaskExecutor

    d = load_study_definition(study_file)
    if workers == 1:
        t0 = time.perf_counter()
        optimize(d, storage=url, n_trials=trials, batch_size=2, seed=0)
        return time.perf_counter() - t0
    with DaskExecutor(workers=workers) as ex:
        _ = ex.client  # start the cluster outside the timed region
        t0 = time.perf_counter()
        optimize(d, storage=url, n_trials=trials, batch_size=workers, seed=0, executor=ex)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--cost-s", type=float, default=0.5, help="simulated cost per trial (s)")
    args = ap.parse_args()
    import json

    from paretoopt.analytic import zdt_study
    from paretoopt.inner import optimize_inner
    from paretoopt.scalarize import AugmentedChebyshev, Normalization

    # calls per trial, to turn the per-trial cost into a per-call cost
    d = zdt_study("zdt1", n_var=8)
    calls = optimize_inner(
        d, {}, AugmentedChebyshev([0.5, 0.5], Normalization(d.ideal, d.nadir, d.signs))
    ).n_calls
    per_call = args.cost_s / calls
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        study_file = Path(tmp) / "costly.py"
        study_file.write_text(STUDY.format(cost=per_call))
        times = {}
        for w in (1, 2):
            times[w] = run_once(study_file, f"sqlite:///{Path(tmp) / f'w{w}.db'}", args.trials, w)
            rows.append(
                {
                    "workers": w,
                    "trials": args.trials,
                    "wall s": times[w],
                    "trials/min": 60 * args.trials / times[w],
                    "speed-up": times[1] / times[w],
                }
            )
    print_table(rows, f"Dask scaling, ZDT1 with ~{args.cost_s} s of CPU per trial ({calls} calls)")
    storage_rows = []
    storage_json = Path(__file__).parent / "results" / "storage.json"
    if storage_json.exists():
        for r in json.loads(storage_json.read_text())["rows"]:
            if r["storage"].startswith("paretoopt"):
                storage_rows.append({"storage": r["storage"], "trials/s": r["trials/s"]})
        print_table(storage_rows, "Trial-write throughput (from benchmarks/storage.py, same machine)")
    path = write_json("scaling", {"cost_s_per_trial": args.cost_s, "rows": rows, "writes": storage_rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
