"""Simulator calls to 95 % of the reference hypervolume when the simulation gives no gradients
(issue 21): the same physics with true gradients, with local-surrogate gradients (the
``surrogate`` inner mode of an ExternalSimulator), and the black-box peers on the full space.

Problems: ZDT1 with 6 variables (known front; exact) and the uniform calorimeter
(``studies/calorimeter_uniform.py``, Monte Carlo; reference = the non-dominated union of every
run here, reference point at its nadir + 10 %). Methods, side by side in one process:

* ``true-gradients``: paretoopt, grid engine, the torch study as it is (its own inner loop);
* ``local-surrogate``: paretoopt, grid engine, the same study as a black box: ZDT1 through a
  real ``ExternalSimulator`` (a Python script per call, the contract's files and cache), the
  calorimeter through :class:`paretoopt.external.blackbox.NoGradient` (the same physics in this
  process without gradients; tests/external/test_blackbox.py shows the command gives the same
  figures, here it saves a torch import per call);
* ``botorch-full``, ``pymoo-nsga2``, ``optuna-tpe``: the peers of benchmarks/front_quality.py
  (its code, reused), on the full design space without gradients.

Currency: one forward simulation is one call (a gradient call also counts one backward pass,
reported as forward-equivalents in front_quality.py; here only calls). Short runs: one seed,
``--budget`` calls (BO and TPE capped, as front_quality.py does).

Run: ``PYTHONPATH=. python benchmarks/external.py --budget 3000``; writes
``benchmarks/results/<--out>.json`` (default ``external``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table, write_json
from benchmarks.front_quality import (
    Run,
    reference,
    run_botorch_full,
    run_optuna,
    run_paretoopt,
    run_pymoo,
    summarise,
)
from paretoopt import analytic
from paretoopt.external import ExternalSimulator
from paretoopt.external.blackbox import black_box_study
from paretoopt.problem import InnerSettings, StudyDefinition, load_study_definition

STUDIES = Path(__file__).resolve().parents[1] / "studies"

ZDT1_SCRIPT = """
import json, math, sys
p = json.load(open(sys.argv[1]))["params"]
x = [p[f"x{i}"] for i in range(1, 7)]
g = 1 + 9 * sum(x[1:]) / 5
json.dump({"f1": x[0], "f2": g * (1 - math.sqrt(x[0] / g))}, open("output.json", "w"))
"""


def zdt1_pair(workdir: Path) -> tuple[StudyDefinition, StudyDefinition]:
    """ZDT1 (6 variables) in torch, and the same through an ExternalSimulator script."""
    torch_study = analytic.zdt_study("zdt1", n_var=6)
    script = workdir / "zdt1.py"
    script.write_text(ZDT1_SCRIPT)
    sim = ExternalSimulator([sys.executable, str(script)], timeout_s=60, workdir=workdir / "runs")
    box = StudyDefinition(
        torch_study.name,
        torch_study.space,
        torch_study.objectives,
        sim,
        ideal=torch_study.ideal,
        nadir=torch_study.nadir,
        true_front=torch_study.true_front,
    )
    return torch_study, box


def calorimeter_pair() -> tuple[StudyDefinition, StudyDefinition]:
    path = STUDIES / "calorimeter_uniform.py"
    original = load_study_definition(path)
    box = black_box_study(path, in_process=True, name=original.name)
    box.inner = InnerSettings(n_samples=1000, n_eval_samples=20000, max_steps=60, constraint_penalty=5.0)
    return original, box


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--problems", nargs="*", default=["zdt1-6", "calorimeter"])
    parser.add_argument("--methods", nargs="*", default=[
        "true-gradients", "local-surrogate", "botorch-full", "pymoo-nsga2", "optuna-tpe"])  # fmt: skip
    parser.add_argument("--bo-cap", type=int, default=60)
    parser.add_argument("--tpe-cap", type=int, default=500)
    parser.add_argument("--out", default="external")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for problem in args.problems:
            torch_study, box = zdt1_pair(Path(tmp)) if problem == "zdt1-6" else calorimeter_pair()
            runs: list[Run] = []
            for method in args.methods:
                t0 = time.perf_counter()
                if method == "true-gradients":
                    run = run_paretoopt(torch_study, "grid", args.seed, args.budget, problem)
                elif method == "local-surrogate":
                    run = run_paretoopt(box, "grid", args.seed, args.budget, problem)
                elif method == "botorch-full":
                    run = run_botorch_full(torch_study, args.seed, args.budget, problem, args.bo_cap)
                elif method == "pymoo-nsga2":
                    run = run_pymoo(torch_study, args.seed, args.budget, problem)
                elif method == "optuna-tpe":
                    run = run_optuna(torch_study, args.seed, args.budget, problem, "tpe", args.tpe_cap)
                else:
                    raise SystemExit(f"unknown method {method}")
                run.method = method
                run.wall_s = time.perf_counter() - t0
                runs.append(run)
                print(
                    f"{problem} {method}: {run.spent} calls, {run.trials} trials, {run.wall_s:.0f} s",
                    flush=True,
                )
            ref, front, hv_true = reference(torch_study, runs if torch_study.true_front is None else None)
            for run in runs:
                row = summarise(run, torch_study, ref, front, hv_true, args.budget)
                row.pop("_hv_curve", None)
                rows.append(row)
    table = [
        {
            "problem": r["problem"],
            "method": r["method"],
            "calls to 95 % HV": "-" if math.isnan(r["calls_to_95"]) else int(r["calls_to_95"]),
            "HV ratio at end": round(r["hv@end"], 4),
            "calls": r["calls"],
            "trials": r["trials"],
            "wall s": round(r["wall_s"], 1),
            "note": r["note"],
        }
        for r in rows
    ]
    for problem in args.problems:
        ours = {r["method"]: r["calls to 95 % HV"] for r in table if r["problem"] == problem}
        base = ours.get("local-surrogate")
        for r in table:
            if r["problem"] == problem:
                mine = r["calls to 95 % HV"]
                ok = isinstance(base, int) and isinstance(mine, int)
                r["ratio to local-surrogate"] = round(mine / base, 2) if ok else "-"
    print_table(table, f"Calls to 95 % of the reference hypervolume (budget {args.budget}, seed {args.seed})")
    path = write_json(args.out, {"budget": args.budget, "seed": args.seed, "rows": rows, "table": table})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
