"""Convergence in every export: ``converged`` / ``stop_reason`` columns in the trials table, the
CSV front and the XLSX trials sheet; an ``inner loop`` column naming the stop reason of front
points that did not converge, and the inner-loop summary in every format's study facts."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from paretoopt import DesignSpace, Objective, Real, StudyDefinition
from paretoopt.report.csv_format import read_front_csv
from paretoopt.report.table import INNER_LOOP_HEADER, format_front_table
from paretoopt.run import build_engine, open_or_create_study
from paretoopt.storage import TrialProposal, TrialResult, TrialState, get_storage

#: (x, stop reason) of the four trials: all on the front f1 = x, f2 = 1 - x
TRIALS = [(0.1, "converged"), (0.4, "max_steps"), (0.6, "converged"), (0.9, "nan")]


def _sim(params, choices, n, gen):
    return {"f1": params["x"], "f2": 1 - params["x"]}


@pytest.fixture
def study(tmp_path: Path):
    """A study whose trials are written through the storage API with chosen stop reasons (no
    inner loop runs: the exports are checked against what was written)."""
    definition = StudyDefinition(
        "conv",
        DesignSpace(Real("x", 0, 1)),
        [Objective("f1"), Objective("f2")],
        _sim,
        ideal=[0, 0],
        nadir=[1, 1],
    )
    storage = get_storage(f"sqlite:///{tmp_path / 'c.db'}")
    s = open_or_create_study(storage, definition, name="conv", engine=build_engine("grid"))
    trials = storage.enqueue_trials(
        s.record.id, [TrialProposal((0.5, 0.5), {}, i) for i in range(len(TRIALS))], batch=0
    )
    for t, (x, reason) in zip(trials, TRIALS, strict=True):
        storage.start_trial(t.id, "test")
        result = TrialResult(
            params={"x": x},
            objectives=[x, 1 - x],
            stderr=[0.0, 0.0],
            converged=reason == "converged",
            stop_reason=reason,
        )
        storage.finish_trial(t.id, TrialState.COMPLETE, result)
    return s


def test_trials_dataframe_and_review_table_carry_convergence(study) -> None:
    df = study.trials_dataframe().sort_values("number")
    assert list(df["stop_reason"]) == [r for _, r in TRIALS]
    assert list(df["converged"]) == [r == "converged" for _, r in TRIALS]
    table = format_front_table(study.export_data())
    assert list(table.columns)[-1] == INNER_LOOP_HEADER
    shown = dict(zip(table["trial"], table[INNER_LOOP_HEADER], strict=True))
    assert shown == {"0": "", "1": "max_steps", "2": "", "3": "nan"}
    summary = study.convergence_summary()
    assert summary == "1 of 4 inner loops hit max_steps (trial 1); 1 met NaN/inf (trial 3); 2 converged"


def test_csv_and_xlsx_carry_convergence(study, tmp_path: Path) -> None:
    back = read_front_csv(study.export("csv", str(tmp_path / "f.csv"))).sort_values("number")
    assert list(back["stop_reason"]) == [r for _, r in TRIALS]
    assert list(back["converged"]) == [r == "converged" for _, r in TRIALS]
    wb = openpyxl.load_workbook(study.export("xlsx", str(tmp_path / "f.xlsx")))
    rows = list(wb["Trials"].iter_rows(values_only=True))
    sheet = pd.DataFrame(rows[1:], columns=rows[0]).sort_values("number")
    assert list(sheet["stop_reason"]) == [r for _, r in TRIALS]
    assert [bool(v) for v in sheet["converged"]] == [r == "converged" for _, r in TRIALS]
    facts = {r[0]: r[1] for r in wb["Study"].iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    assert facts["inner loops"] == study.convergence_summary()


@pytest.mark.parametrize("fmt", ["md", "html", "latex"])
def test_text_formats_show_the_inner_loop_column_and_summary(study, tmp_path: Path, fmt: str) -> None:
    text = Path(study.export(fmt, str(tmp_path / f"f.{fmt}"))).read_text()
    assert INNER_LOOP_HEADER in text
    assert ("max\\_steps" if fmt == "latex" else "max_steps") in text
    assert "met NaN/inf (trial 3)" in text
