"""Trials per minute with 1 and 2 Dask workers on this machine, and trial-write throughput on
PostgreSQL vs SQLite (issue 9).

    python benchmarks/scaling.py [--trials 16] [--cost-s 0.5] [--repeats 3]

The workload is ZDT1 with a simulated cost per simulator call: a fixed amount of pure-Python
arithmetic (a loop whose iteration count is calibrated once in this process to take
``--cost-s`` / calls-per-trial seconds), so that every trial does the same work whichever process
runs it and the speed-up measures the runner and Dask, not the analytic function. (A loop that
ran until ``time.process_time()`` had advanced would stop early in a process whose other threads
also burn CPU, and pays a system call per iteration.) Measured with warm starts off (both runs
then compute exactly the same trials: equal work) and on (the default: a trial starts from the
nearest finished one, so how much work a trial needs depends on what had finished when it was
asked). Target: speed-up >= 1.8x with 2 workers on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from _common import print_table, write_json

STUDY = textwrap.dedent(
    '''
    """ZDT1 (8 variables) whose every call does ITERATIONS loop steps (a stand-in physics cost)."""
    from paretoopt.analytic import zdt_study

    ITERATIONS = {iterations}
    _base = zdt_study("zdt1", n_var=8)
    _exact = _base.simulate


    def simulate(params, choices, n_samples, generator):
        x = 0.0
        for _ in range(ITERATIONS):
            x += 1.0
        return _exact(params, choices, n_samples, generator)


    _base.simulate = simulate
    _base.name = "costly_zdt1"
    study = _base
    '''
)


def run_once(study_file: Path, url: str, trials: int, workers: int, warm_start: bool) -> float:
    from paretoopt import load_study_definition, optimize
    from paretoopt.run import DaskExecutor

    d = load_study_definition(study_file)
    with DaskExecutor(workers=workers) if workers > 1 else contextlib.nullcontext() as ex:
        if ex is not None:
            _ = ex.client  # start the cluster outside the timed region
        t0 = time.perf_counter()
        optimize(
            d,
            storage=url,
            n_trials=trials,
            batch_size=2,
            seed=0,
            executor=ex,
            warm_start=warm_start,
            progress=False,
        )
        return time.perf_counter() - t0


def _loop_rate() -> float:
    """Iterations per second of the stand-in cost loop in this process (best of 5)."""
    n = 2_000_000
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        x = 0.0
        for _ in range(n):
            x += 1.0
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--cost-s", type=float, default=0.5, help="simulated cost per trial (s)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration (median reported)")
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
    iterations = int(per_call * _loop_rate())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        study_file = Path(tmp) / "costly.py"
        study_file.write_text(STUDY.format(iterations=iterations))
        for warm in (False, True):
            times: dict[int, list[float]] = {1: [], 2: []}
            for rep in range(args.repeats):
                for w in (1, 2):
                    url = f"sqlite:///{Path(tmp) / f'w{w}-{warm}-{rep}.db'}"
                    times[w].append(run_once(study_file, url, args.trials, w, warm))
            for w in (1, 2):
                med = statistics.median(times[w])
                rows.append(
                    {
                        "warm starts": "on" if warm else "off (equal work)",
                        "workers": w,
                        "trials": args.trials,
                        "wall s (median)": med,
                        "wall s min-max": f"{min(times[w]):.2f}-{max(times[w]):.2f}",
                        "trials/min": 60 * args.trials / med,
                        "speed-up": statistics.median(times[1]) / med,
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
