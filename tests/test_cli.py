"""The command line: exit codes, one-line messages, and no database writes on bad input."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paretoopt.cli import app
from paretoopt.study import load_study
from tests.export_truth import check_export

DATA = Path(__file__).parent / "data" / "studies"
STUDIES = Path(__file__).resolve().parents[1] / "studies"
runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "studies.db"
    r = _invoke(
        "run", str(STUDIES / "zdt1.py"), "--trials", "6", "--storage", f"sqlite:///{path}", "--no-progress"
    )
    assert r.exit_code == 0, r.output
    return path


@pytest.mark.parametrize("command", [[], ["run"], ["list"], ["show"], ["export"]])
def test_help_on_every_command(command):
    r = _invoke(*command, "--help")
    assert r.exit_code == 0 and "Usage" in r.output


def test_run_prints_front_and_resumes(db):
    url = f"sqlite:///{db}"
    r = _invoke("run", str(STUDIES / "zdt1.py"), "--trials", "8", "--storage", url, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "8 trials, 8 complete" in r.output and "f1" in r.output
    # it ends with the inner loops' health, counted here from the rows themselves
    con = sqlite3.connect(db)
    reasons = [row[0] for row in con.execute("SELECT stop_reason FROM trials")]
    con.close()
    assert len(reasons) == 8 and None not in reasons
    if set(reasons) == {"converged"}:
        assert r.output.rstrip().splitlines()[-1] == "8 of 8 inner loops converged"
    else:
        assert "of 8 inner loops" in r.output and "what to change" in r.output


STARVED = """
from paretoopt import DesignSpace, InnerSettings, Objective, Real, StudyDefinition

def simulate(params, choices, n, gen):
    x, y = params["x"], params["y"]
    return {"f": (x - 1) ** 2 + y**2, "g": (x + 1) ** 2 + (y - 1) ** 2}

study = StudyDefinition("starved", DesignSpace(Real("x", -3, 3), Real("y", -3, 3)),
                        [Objective("f"), Objective("g")], simulate,
                        inner=InnerSettings(mode="exact", max_steps=1), ideal=[0, 0], nadir=[5, 5])
"""


def test_run_ends_with_what_to_change_when_inner_loops_stop_short(tmp_path):
    """One call per inner loop cannot reach a Chebyshev optimum away from the centre: every
    trial says max_steps, and the run's last lines say so and what to change."""
    study = tmp_path / "starved.py"
    study.write_text(STARVED)
    url = f"sqlite:///{tmp_path / 's.db'}"
    r = _invoke("run", str(study), "--trials", "4", "--storage", url, "--no-progress")
    assert r.exit_code == 0, r.output
    last = r.output.rstrip().splitlines()[-2:]
    assert last[0].startswith("4 of 4 inner loops hit max_steps (trials 0, 1, 2, 3); 0 converged"), last
    assert "raise InnerSettings(max_steps=...)" in last[1] and "docs/design.md" in last[1]
    r = _invoke("show", "starved", "--storage", url)
    assert "inner loops 4 of 4 inner loops hit max_steps" in r.output
    # the review table names the stop reason of every front point that did not converge
    assert "inner loop" in r.output and "max_steps" in r.output.split("hypervolume")[-1]


def test_list_and_show(db):
    url = f"sqlite:///{db}"
    r = _invoke("list", "--storage", url)
    assert r.exit_code == 0 and "zdt1" in r.output
    r = _invoke("show", "zdt1", "--storage", url)
    assert r.exit_code == 0 and "hypervolume" in r.output and "knee" in r.output.lower()
    assert "inner loops " in r.output


def test_env_var_selects_storage(db, monkeypatch):
    monkeypatch.setenv("PARETOOPT_STORAGE", f"sqlite:///{db}")
    r = _invoke("list")
    assert r.exit_code == 0 and "zdt1" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing_study.py"], "study file not found"),
        (["run", str(STUDIES / "zdt1.py"), "--engine", "simplex"], "unknown engine 'simplex'"),
        (["run", str(STUDIES / "zdt1.py"), "--population", "10"], "--population applies to --engine nsga2"),
        (
            ["run", str(STUDIES / "zdt1.py"), "--max-baseline", "16"],
            "--max-baseline applies to --engine botorch",
        ),
        (
            ["run", str(STUDIES / "zdt1.py"), "--engine", "botorch", "--max-baseline", "1"],
            "max_baseline must be at least 2",
        ),
        (["run", str(STUDIES / "zdt1.py"), "--trials", "0"], "--trials must be >= 1"),
        (["show", "no_such_study"], "no study named 'no_such_study'"),
        (["export", "no_such_study", "-f", "csv"], "no study named 'no_such_study'"),
        (["export", "zdt1", "-f", "docx"], "unknown format 'docx'"),
        (
            [
                "run",
                str(STUDIES / "zdt1.py"),
                "--study-name",
                "zdt1",
                "--engine",
                "grid",
                "--scalarization",
                "x",
            ],
            "--scalarization must be",
        ),
    ],
)
def test_bad_input_exit_2_one_line_and_database_unchanged(db, args, message):
    before = _dump(db)
    r = _invoke(*args, "--storage", f"sqlite:///{db}")
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert _dump(db) == before


def test_malformed_study_file(tmp_path, db):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    before = _dump(db)
    r = _invoke("run", str(bad), "--storage", f"sqlite:///{db}")
    assert r.exit_code == 2 and "no variable named 'study'" in r.output
    assert _dump(db) == before


def test_incompatible_existing_study_is_refused_without_writing(db):
    before = _dump(db)
    r = _invoke("run", str(STUDIES / "dtlz2.py"), "--study-name", "zdt1", "--storage", f"sqlite:///{db}")
    assert r.exit_code == 2 and "objectives" in r.output
    assert _dump(db) == before


def test_bad_storage_urls(tmp_path):
    r = _invoke("list", "--storage", "nosuchdialect://x")
    assert r.exit_code == 2 and "bad storage URL" in r.output
    missing = tmp_path / "nothing.db"
    r = _invoke("show", "zdt1", "--storage", f"sqlite:///{missing}")
    assert r.exit_code == 2 and "no database at" in r.output
    assert not missing.exists()
    r = _invoke("run", str(STUDIES / "zdt1.py"), "--storage", f"sqlite:///{tmp_path}/no/dir/x.db")
    assert r.exit_code == 2 and "does not exist" in r.output


def test_every_trial_failing_exits_1(tmp_path):
    bad = tmp_path / "allnan.py"
    bad.write_text(
        "import torch\n"
        "from paretoopt import *\n"
        "def sim(p, c, n, g):\n    return {'f': p['x'] * float('nan'), 'g': p['x']}\n"
        "study = StudyDefinition('allnan', DesignSpace(Real('x', 0, 1)), [Objective('f'), Objective('g')],"
        " sim, ideal=[0, 0], nadir=[1, 1])\n"
    )
    r = _invoke(
        "run", str(bad), "--trials", "2", "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--no-progress"
    )
    assert r.exit_code == 1 and "no trial completed" in r.output and "is not finite" in r.output


@pytest.mark.parametrize("fmt", ["csv", "md", "latex", "xlsx", "html"])
def test_export_every_format(db, tmp_path, fmt):
    out = tmp_path / f"front.{fmt}"
    r = _invoke("export", "zdt1", "--format", fmt, "-o", str(out), "--storage", f"sqlite:///{db}")
    assert r.exit_code == 0, r.output
    # parsed back and compared row by row with the database (tests/export_truth.py)
    check_export(out, fmt, load_study(study_name="zdt1", storage=f"sqlite:///{db}"))


def test_run_with_fill_adds_interpolated_trials_and_rejects_a_bad_share(tmp_path):
    path = tmp_path / "fill.db"
    url = f"sqlite:///{path}"
    r = _invoke(
        "run", str(STUDIES / "zdt1.py"), "-n", "16", "--fill", "0.5", "--storage", url, "--no-progress"
    )
    assert r.exit_code == 0, r.output
    sources = [t.source for t in load_study(study_name="zdt1", storage=url).trials]
    assert len(sources) == 16 and "interpolated" in sources and "grid" in sources
    bad = tmp_path / "bad.db"
    for args in (["--fill", "1.5"], ["--fill", "0.5", "--engine", "setgrad"]):
        r = _invoke("run", str(STUDIES / "zdt1.py"), "-n", "4", *args, "--storage", f"sqlite:///{bad}")
        assert r.exit_code == 2 and "--fill" in r.output
        assert not bad.exists()
