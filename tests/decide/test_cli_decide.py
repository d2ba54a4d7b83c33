"""``paretoopt decide``: the JSON object and table against brute force over the stored front,
exit 2 with one line for bad questions, ``--log`` into the decision log and from there into the
HTML and XLSX exports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from paretoopt.cli import app
from paretoopt.problem import Objective
from paretoopt.storage import SQLStorage
from paretoopt.study import load_study
from paretoopt.testing.fronts import store_study
from tests.decide.conftest import MIXED_SPACE, mixed_values
from tests.decide.test_choose import brute_budget, brute_reference

runner = CliRunner()


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    st = SQLStorage(url)
    values, stderr, choices, params = mixed_values()
    objs = [
        Objective("resolution", unit="%"),
        Objective("efficiency", direction="maximize"),
        Objective("cost", unit="kEUR"),
    ]
    store_study(st, "calo", objs, values, stderr=stderr, space=MIXED_SPACE, choices=choices, params=params)
    store_study(st, "empty", objs, np.zeros((0, 3)))
    st.close()
    return url


def invoke(*args):
    return runner.invoke(app, ["decide", *args], catch_exceptions=False)


def test_budget_json_is_the_brute_force_answer(url):
    r = invoke(
        "calo",
        "--budget",
        "cost=3000",
        "--budget",
        "efficiency=0.9",
        "--minimize",
        "resolution",
        "--json",
        "--storage",
        url,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"trial", "objectives", "stderr", "ties", "neighbours"} <= set(out)
    study = load_study(study_name="calo", storage=url)
    best, ties = brute_budget(
        study.best_trials, study.objectives, "resolution", {"cost": 3000.0, "efficiency": 0.9}
    )
    assert out["trial"] == best and set(out["ties"]) == ties
    stored = {t.number: t for t in study.best_trials}[best]
    assert out["objectives"]["cost"] == pytest.approx(stored.objectives[2])
    assert out["stderr"]["resolution"] == pytest.approx(stored.stderr[0])


def test_reference_prints_a_table_with_the_chosen_design(url):
    r = invoke("calo", "--reference", "resolution=0.3,efficiency=0.95,cost=2000", "--storage", url)
    assert r.exit_code == 0, r.output
    study = load_study(study_name="calo", storage=url)
    best = brute_reference(
        study.best_trials, study.objectives, {"resolution": 0.3, "efficiency": 0.95, "cost": 2000.0}
    )
    first = r.output.splitlines()[1].split()
    assert first[:2] == ["chosen", str(best)]
    assert "resolution [%]" in r.output and "±" in r.output and "absorber=" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calo", "--budget", "depth=40"], "unknown objective 'depth'"),
        (["calo", "--reference", "weight=1"], "unknown objective 'weight'"),
        (["calo", "--budget", "cost=1"], "relax cost by"),
        (["empty", "--budget", "cost=1"], "front is empty"),
        (["calo"], "say what to decide"),
        (["calo", "--budget", "cost"], "NAME=VALUE"),
        (["calo", "--budget", "cost=lots"], "not a number"),
        (["nosuch", "--budget", "cost=1"], "no study named 'nosuch'"),
    ],
)
def test_bad_questions_exit_2_with_one_line(url, args, message):
    r = runner.invoke(app, ["decide", *args, "--storage", url])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.output


def test_log_stores_steps_and_the_exports_show_the_trail(url, tmp_path):
    r = invoke("calo", "--budget", "cost=3000", "--json", "--log", "--author", "ana", "--storage", url)
    assert r.exit_code == 0 and json.loads(r.output)["log_step"] == 1
    first = json.loads(r.output)["trial"]
    r = invoke("calo", "--reference", "cost=1500,resolution=0.3", "--log", "--parent", "1", "--storage", url)
    assert r.exit_code == 0 and "logged as step 2" in r.output
    r = invoke("calo", "--navigate", "3", "--json", "--log", "--parent", "2", "--storage", url)
    assert r.exit_code == 0
    study = load_study(study_name="calo", storage=url)
    log = study.decisions()
    assert [d.method for d in log] == [
        "budget",
        "reference",
        "navigate-step",
        "navigate-step",
        "navigate-step",
        "navigate",
    ]
    assert [d.parent for d in log] == [None, 1, 2, 3, 4, 5]
    assert log[0].author == "ana" and log[0].outputs["trial"] == first
    assert log[0].inputs == {"objective": "resolution", "bounds": {"cost": 3000.0}}
    # the exports carry the trail
    html = tmp_path / "r.html"
    study.export("html", str(html))
    text = html.read_text()
    assert "Decision trail" in text and "best resolution with cost bound 3000" in text
    xlsx = tmp_path / "r.xlsx"
    study.export("xlsx", str(xlsx))
    from openpyxl import load_workbook

    ws = load_workbook(xlsx)["Decision trail"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("step", "parent", "method", "question", "chosen trial")
    assert len(rows) == 7 and rows[1][4] == first and rows[1][7] == "ana"
