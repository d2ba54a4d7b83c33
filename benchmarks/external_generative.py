"""The generative local surrogate against the quadratic one (issue 21, the L-GSO part) on an
external simulator with a known per-event distribution: energies ``Normal(10 + 10 x, 0.5 +
4 (y - 0.6)^2 + 4 (x - 0.3)^2)`` per event, objectives the resolution ``std / mean`` (derived
from the events by paretoopt) and an exact cost ``x``; weighted sum 0.7 / 0.3 on scales 0.05
and 1. The optimum (brute force on the analytic figures, a 1001 x 1001 grid) is known, so each
run reports its distance to it and its calls.

Run: ``PYTHONPATH=. python benchmarks/external_generative.py --seeds 1 2 3 --n-samples 4000``;
writes ``benchmarks/results/external_generative.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table, write_json
from paretoopt import DesignSpace, ExternalSimulator, Objective, Real, StudyDefinition
from paretoopt.inner import optimize_inner
from paretoopt.scalarize import Normalization, make_scalarization

SCRIPT = """
import json, sys
import numpy as np
inp = json.load(open(sys.argv[1]))
x, y = inp["params"]["x"], inp["params"]["y"]
rng = np.random.default_rng(inp["seed"])
mu = 10 + 10 * x
sigma = 0.5 + 4 * (y - 0.6) ** 2 + 4 * (x - 0.3) ** 2
energy = mu + sigma * rng.standard_normal(inp["n_samples"])
json.dump({"energy": energy.tolist(), "cost": float(x)}, open("output.json", "w"))
"""
W = (0.7, 0.3)
NORM = Normalization([0.0, 0.0], [0.05, 1.0], [1.0, 1.0])


def resolution(events: dict[str, torch.Tensor]) -> torch.Tensor:
    return events["energy"].std() / events["energy"].mean()


def optimum() -> np.ndarray:
    g = np.linspace(0.0, 1.0, 1001)
    x, y = np.meshgrid(g, g, indexing="ij")
    loss = W[0] * (0.5 + 4 * (y - 0.6) ** 2 + 4 * (x - 0.3) ** 2) / (10 + 10 * x) / 0.05 + W[1] * x
    i = np.unravel_index(np.argmin(loss), loss.shape)
    return np.array([x[i], y[i]])


def one(model: str, seed: int, n_samples: int, tmp: Path) -> dict[str, Any]:
    script = tmp / "smeared.py"
    script.write_text(SCRIPT)
    sim = ExternalSimulator(
        [sys.executable, str(script)],
        timeout_s=60,
        workdir=tmp / f"{model}-{seed}",
        max_parallel=2,
        derived={"resolution": resolution},
        surrogate_model=model,
    )
    space = DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0))
    study = StudyDefinition("smeared", space, [Objective("resolution"), Objective("cost")], sim)
    t0 = time.perf_counter()
    res = optimize_inner(
        study,
        {},
        make_scalarization("weighted_sum", list(W), NORM),
        settings=study.inner.replace(n_samples=n_samples),
        seed=seed,
    )
    found = np.array([res.params["x"], res.params["y"]])
    return {
        "model": model,
        "seed": seed,
        "n_samples": n_samples,
        "x": round(float(found[0]), 4),
        "y": round(float(found[1]), 4),
        "distance": round(float(np.max(np.abs(found - optimum()))), 4),
        "calls": res.n_calls,
        "stop": res.stop_reason,
        "wall s": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--out", default="external_generative")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("generative", "quadratic"):
            for seed in args.seeds:
                rows.append(one(model, seed, args.n_samples, Path(tmp)))
                print(rows[-1], flush=True)
    opt = optimum()
    print_table(rows, f"Distance to the optimum ({opt[0]:.3f}, {opt[1]:.3f}) and calls")
    path = write_json(args.out, {"optimum": opt.tolist(), "rows": rows})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
