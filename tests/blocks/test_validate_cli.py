"""``paretoopt validate``: the table of every block's checks, exit 0 when all pass, 1 when one
fails, 2 on bad input (no pipeline, unknown block, missing file)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from paretoopt.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

FAILING = '''
"""A pipeline whose one block fails its check: 2 + 2 computed as 5."""
import torch
from paretoopt import DesignSpace, Objective, Real, StudyDefinition
from paretoopt.blocks import Check, Pipeline, Port


class Adder:
    name = "adder"
    inputs = ()
    outputs = (Port("y", ("n",), "1"),)

    def forward(self, inputs, context):
        return {"y": context.params["x"] * torch.ones(max(context.n_samples, 2))}

    def trainable_parameters(self):
        return []

    def reference(self):
        return None

    def validate(self):
        return [
            Check(self.name, "2 + 2", 5.0, 4.0, 0.0, "arithmetic"),
            Check(self.name, "1 + 1", 2.0, 2.0, 0.0),
        ]


study = StudyDefinition("adder", DesignSpace(Real("x", 0.0, 1.0)), [Objective("y")], Pipeline([Adder()]))
'''


def test_the_calorimeter_validates_and_prints_every_block():
    res = runner.invoke(app, ["validate", str(ROOT / "studies" / "calorimeter.py")])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["block", "check", "value", "reference", "tolerance", "pass"]
    blocks = {line.split()[0] for line in lines[1:] if line.strip() and "checks pass" not in line}
    assert blocks == {"detector", "reconstruction[reference]", "reconstruction[learned]", "figure_of_merit"}
    assert "False" not in res.output
    only = runner.invoke(
        app, ["validate", str(ROOT / "studies" / "calorimeter.py"), "--block", "figure_of_merit"]
    )
    assert only.exit_code == 0
    assert {
        line.split()[0]
        for line in only.output.splitlines()[1:]
        if line.startswith(" ") or line.startswith("f")
    } <= {"figure_of_merit"}
    assert "fitted a" in only.output and "containment" not in only.output


def test_a_failing_check_exits_1(tmp_path):
    f = tmp_path / "adder.py"
    f.write_text(FAILING)
    res = runner.invoke(app, ["validate", str(f)])
    assert res.exit_code == 1, res.output
    assert "2 + 2" in res.output and "False" in res.output and "1 of 2 checks pass" in res.output


def test_bad_input_exits_2(tmp_path):
    assert (
        runner.invoke(app, ["validate", str(ROOT / "studies" / "zdt1.py")]).exit_code == 2
    )  # not a pipeline
    assert runner.invoke(app, ["validate", str(tmp_path / "missing.py")]).exit_code == 2
    res = runner.invoke(app, ["validate", str(ROOT / "studies" / "calorimeter.py"), "--block", "nope"])
    assert res.exit_code == 2 and "no block 'nope'" in res.output
