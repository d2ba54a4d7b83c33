"""Refining a budget answer with the epsilon-constraint inner loop: on f2 = 1 - sqrt(f1) (a
one-parameter deterministic study, the ZDT1 front's shape) the refined design reaches the
analytic optimum under the bound, beyond the stored front's spacing, and the bound's multiplier
gives the analytic trade-off rate df2/df1 = -1 / (2 sqrt(f1))."""

from __future__ import annotations

import math

import pytest
import torch

from paretoopt import decide, optimize
from paretoopt.problem import Objective, StudyDefinition
from paretoopt.space import DesignSpace, Real


def simulate(params, choices, n, generator):
    x = params["x"]
    return {"f1": x, "f2": 1 - torch.sqrt(x)}


DEFINITION = StudyDefinition(
    "sqrt_front", DesignSpace(Real("x", 0.01, 1.0)), [Objective("f1"), Objective("f2")], simulate
)


def test_refined_budget_reaches_the_analytic_optimum_and_rate(tmp_path):
    study = optimize(DEFINITION, storage=f"sqlite:///{tmp_path / 'r.db'}", n_trials=6, engine="grid", seed=0)
    front = decide.front_of(study)
    bound = 0.3
    chosen = decide.budget(front, {"f1": bound}, "f2")
    refined = decide.refine_budget(DEFINITION, study, front, chosen)
    f1, f2 = refined.objectives["f1"], refined.objectives["f2"]
    # the quadratic penalty leaves a violation of about slope / (2 * 1000) in normalised units
    assert abs(f1 - bound) < 2e-3
    assert f2 == pytest.approx(1 - math.sqrt(f1), abs=1e-9)
    assert f2 < chosen.design.objectives["f2"]  # better than the best stored design
    assert abs(f2 - (1 - math.sqrt(bound))) < 2e-3
    assert refined.rates["f1"] == pytest.approx(-1 / (2 * math.sqrt(bound)), rel=0.05)
    assert refined.multipliers["f1"] > 0 and refined.result.n_calls > 0


def test_only_budget_answers_on_objectives_are_refined(tmp_path):
    study = optimize(DEFINITION, storage=f"sqlite:///{tmp_path / 'r.db'}", n_trials=4, engine="grid", seed=0)
    front = decide.front_of(study)
    near = decide.reference_point(front, {"f1": 0.2, "f2": 0.2})
    with pytest.raises(decide.DecisionError, match="only a budget answer"):
        decide.refine_budget(DEFINITION, study, front, near)


def test_cli_refine_runs_the_inner_loop_from_the_study_file(tmp_path):
    import json

    from typer.testing import CliRunner

    from paretoopt.cli import app

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    url = f"sqlite:///{tmp_path / 'z.db'}"
    runner = CliRunner()
    r = runner.invoke(
        app, ["run", str(root / "studies" / "zdt1.py"), "--trials", "4", "--storage", url, "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    args = ["decide", "zdt1", "--budget", "f1=0.3", "--json", "--storage", url]
    r = runner.invoke(app, [*args, "--refine", str(root / "studies" / "zdt1.py")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    f1, f2 = out["refined"]["objectives"]["f1"], out["refined"]["objectives"]["f2"]
    assert abs(f1 - 0.3) < 5e-3 and abs(f2 - (1 - math.sqrt(0.3))) < 5e-3  # ZDT1: f2 = 1 - sqrt(f1)
    other = tmp_path / "other.py"
    other.write_text((root / "studies" / "zdt1.py").read_text() + "\n# changed\n")
    r = runner.invoke(app, [*args, "--refine", str(other)])
    assert r.exit_code == 2 and "changed since the study was created, or is another file" in r.output
