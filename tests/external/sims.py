"""Test simulators for the external-simulator contract: small Python scripts run with
``sys.executable`` (each reads input.json, appends one line to ``$CALL_LOG`` when set, writes
output.json), written into a temporary directory by :func:`write_sim`."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

#: Common head: read the input, log the call.
HEAD = """
import json, os, sys, math
inp = json.load(open(sys.argv[1]))
p, c = inp["params"], inp["choices"]
log = os.environ.get("CALL_LOG")
if log:
    with open(log, "a") as fh:
        fh.write(json.dumps(inp, sort_keys=True) + "\\n")
def write(out):
    json.dump(out, open("output.json", "w"))
"""

#: A noisy quadratic with a known optimum: per-event values ``(x - a)^2 + (y - b)^2 + N(0, 0.3)``.
NOISY_QUADRATIC = """
import numpy as np
rng = np.random.default_rng(inp["seed"])
x, y = p["x"], p["y"]
n = inp["n_samples"]
f1 = (x - 0.3) ** 2 + (y - 0.6) ** 2 + 0.3 * rng.standard_normal(n)
f2 = (x - 0.7) ** 2 + (y - 0.2) ** 2 + 0.3 * rng.standard_normal(n)
write({"f1": f1.tolist(), "f2": f2.tolist()})
"""

#: ZDT1 on six variables, exact (Zitzler, Deb & Thiele 2000).
ZDT1 = """
x = [p[f"x{i}"] for i in range(6)]
g = 1 + 9 * sum(x[1:]) / 5
write({"f1": float(x[0]), "f2": float(g * (1 - math.sqrt(x[0] / g)))})
"""


def write_sim(directory: Path, name: str, body: str) -> list[str]:
    """Write a simulator script (atomically: a study file that calls this may run again on a
    Dask worker while the script runs) and return the command that runs it."""
    path = directory / f"{name}.py"
    tmp = directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(HEAD + body)
    os.replace(tmp, path)
    return [sys.executable, str(path)]


#: The same figures, or one failure per ``choices["mode"]``; ``f = x^2`` and ``g = (1 - x)^2``
#: are exact, and ``echo`` repeats the input's numbers as extras.
FLAKY = """
mode = c.get("mode", "ok")
x = p["x"]
kill = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kill_at")
if os.path.exists(kill) and log and sum(1 for _ in open(log)) >= int(open(kill).read()):
    os.remove(kill)
    os.kill(os.getppid(), 9)  # the runner dies mid-trial, as under kill -9
    sys.exit(9)
if mode == "crash":
    print("G4Exception: detector geometry overlaps", file=sys.stderr)
    sys.exit(3)
if mode == "timeout":
    import time
    time.sleep(120)
if mode == "garbage":
    open("output.json", "w").write("Segmentation violation <<<")
    sys.exit(0)
if mode == "missing":
    print("warning: g not computed", file=sys.stderr)
    write({"f": x * x})
    sys.exit(0)
if mode == "nan":
    write({"f": float("nan"), "g": 1.0})
    sys.exit(0)
write({"f": x * x, "g": (1 - x) ** 2, "seed_seen": inp["seed"]})
"""


#: Per-event energies ``E ~ Normal(mu, sigma)`` with ``mu = 10 + 10 x`` and ``sigma = 0.5 +
#: 4 (y - 0.6)^2 + 4 (x - 0.3)^2``, and an exact cost ``x``: a resolution ``std / mean`` of the
#: events is a figure of their distribution, not of any one event.
SMEARED = """
import numpy as np
rng = np.random.default_rng(inp["seed"])
x, y = p["x"], p["y"]
mu = 10 + 10 * x
sigma = 0.5 + 4 * (y - 0.6) ** 2 + 4 * (x - 0.3) ** 2
write({"energy": (mu + sigma * rng.standard_normal(inp["n_samples"])).tolist(), "cost": float(x)})
"""
