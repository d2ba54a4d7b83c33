"""Study files the archive tests write (so the study stores its file and ``refine`` can load it)."""

from __future__ import annotations

from pathlib import Path

from paretoopt import load_study_definition

#: Exact, two parameters, a maximised objective and a constraint the centre of the box violates:
#: f1 = x, gain = -g (1 - sqrt(x / g)) with g = 1 + 9 y (ZDT1's front for y = 0), x <= 0.4.
#: With PARETOOPT_TEST_LOG set, every call appends its design to that file; with
#: PARETOOPT_TEST_KILL_AT=k the k-th call kills its own process (SIGKILL) before evaluating.
CONSTRAINED = """
import json, os, signal
import torch
from paretoopt import Constraint, DesignSpace, InnerSettings, Objective, Real, StudyDefinition

def simulate(params, choices, n_samples, generator):
    x, y = params["x"], params["y"]
    log = os.environ.get("PARETOOPT_TEST_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps([float(x), float(y)]) + "\\n")
        with open(log) as fh:
            count = sum(1 for _ in fh)
        if count == int(os.environ.get("PARETOOPT_TEST_KILL_AT", "0")):
            os.kill(os.getpid(), signal.SIGKILL)
    g = 1 + 9 * y
    return {"f1": x, "gain": -g * (1 - torch.sqrt(x / g)), "xcap": x}

study = StudyDefinition(
    "archive_constrained",
    DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)),
    [Objective("f1"), Objective("gain", direction="maximize")],
    simulate,
    constraints=[Constraint("xcap", upper=0.4, scale=0.1)],
    inner=InnerSettings(mode="exact"),
)
"""

#: Monte Carlo, one parameter: per-event f1 = x + 0.5 e1 and f2 = (1 - x)^2 + 0.5 e2 with
#: standard normal e1, e2, so an estimate on n events has the standard error 0.5 / sqrt(n).
#: ``CALLS`` collects the sample size of every call (the events, counted independently).
MONTE_CARLO = """
import torch
from paretoopt import DesignSpace, InnerSettings, Objective, Real, StudyDefinition

SIGMA = 0.5
CALLS = []

def simulate(params, choices, n_samples, generator):
    CALLS.append(int(n_samples))
    x = params["x"]
    e = torch.randn(2, n_samples, generator=generator, dtype=x.dtype)
    return {"f1": x + SIGMA * e[0], "f2": (1 - x) ** 2 + SIGMA * e[1]}

study = StudyDefinition(
    "archive_mc",
    DesignSpace(Real("x", 0.0, 1.0)),
    [Objective("f1"), Objective("f2")],
    simulate,
    inner=InnerSettings(n_samples=200, n_eval_samples=5000, max_steps=40),
)
"""


def write_study(folder: Path, text: str, name: str):
    """Write ``text`` as ``folder/name.py`` and load it."""
    path = folder / f"{name}.py"
    path.write_text(text)
    return path, load_study_definition(path)
