"""Exports against the database: every format, written through ``Study.export`` and through
``paretoopt export``, parsed back (tests/export_truth.py, independent of paretoopt.report) and
compared row by row with the stored trials: the Pareto set recomputed by brute force, every
parameter, objective, standard error and constraint, exact in CSV/XLSX and rounded by the PDG
rule in Markdown, LaTeX and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paretoopt import load_study_definition, optimize
from paretoopt.cli import app
from paretoopt.study import load_study
from tests.export_truth import READERS, check_export, front_trials

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "tests" / "data" / "studies" / "review.py"
FORMATS = ("csv", "md", "latex", "xlsx", "html")
EXT = {"csv": "csv", "md": "md", "latex": "tex", "xlsx": "xlsx", "html": "html"}


@pytest.fixture(scope="module")
def review_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'review.db'}"
    optimize(load_study_definition(REVIEW), storage=url, engine="random", n_trials=20, seed=3)
    return url


def test_the_review_study_exercises_every_kind_of_cell(review_url):
    """The fixture is worth comparing: a front of several designs with negative parameters,
    formula-like and markup options, errors > 0, and numbers printed with a power of ten."""
    study = load_study(study_name="review", storage=review_url)
    front = front_trials(study)
    assert len(front) >= 4
    assert any(t.params["offset_cm"] < 0 for t in front)
    assert {t.choices["material"] for t in front} & {"=1+1", "W|Cu", "x & y_%", "<b>Fe</b>"}
    assert all(t.stderr[0] > 0 and t.stderr[1] == 0 for t in front)
    assert any(t.objectives[1] >= 1e5 for t in front)  # printed as (...)e5
    assert len(front) < len(study.trials)  # some trials are dominated


@pytest.mark.parametrize("fmt", FORMATS)
def test_study_export_equals_the_database(review_url, tmp_path, fmt):
    study = load_study(study_name="review", storage=review_url)
    path = tmp_path / f"front.{EXT[fmt]}"
    study.export(fmt, str(path))
    check_export(path, fmt, study)


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_export_equals_the_database(review_url, tmp_path, fmt):
    path = tmp_path / f"cli.{EXT[fmt]}"
    r = CliRunner().invoke(
        app, ["export", "review", "--format", fmt, "-o", str(path), "--storage", review_url]
    )
    assert r.exit_code == 0, r.output
    study = load_study(study_name="review", storage=review_url)
    check_export(path, fmt, study)
    # and the same table as the Python API writes
    api = tmp_path / f"api.{EXT[fmt]}"
    study.export(fmt, str(api))
    assert READERS[fmt](path) == READERS[fmt](api)
