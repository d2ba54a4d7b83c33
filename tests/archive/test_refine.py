"""``paretoopt refine`` through the real database (SQLite and PostgreSQL), in fresh processes:
killed midway (SIGKILL from inside the simulation, at a chosen call) it keeps what it stored and
the next run finishes the rest without evaluating a stored point again; a run after that
evaluates nothing. Reference: the simulation's own log of every call it served, and the study's
closed-form objectives at the refined designs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paretoopt.run import optimize
from paretoopt.storage import get_storage
from paretoopt.study import load_study
from paretoopt.testing.storages import STORAGE_MODES, StorageModeUnavailable, StorageSupplier
from tests.archive.studies import CONSTRAINED, write_study
from tests.components import missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=STORAGE_MODES)
def url(request):
    supplier = StorageSupplier(request.param)
    try:
        yield supplier.url
    except StorageModeUnavailable as exc:
        missing(request.param, str(exc))
    finally:
        supplier.close()


def _refine(url, log, kill_at=0):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PARETOOPT_TEST_LOG": str(log)}
    env["PARETOOPT_TEST_KILL_AT"] = str(kill_at)
    return subprocess.run(
        [sys.executable, "-m", "paretoopt.cli", "refine", "archive_constrained", "--storage", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _calls(log: Path) -> list[list[float]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_refine_is_resumable_and_idempotent(url, tmp_path):
    _, d = write_study(tmp_path, CONSTRAINED, "con")
    optimize(d, storage=url, engine="grid", n_trials=8, seed=0)
    study = load_study(study_name="archive_constrained", storage=get_storage(url))
    todo = study.pareto_front(include_archive=True)
    assert (~todo.review_grade).sum() >= 4

    log = tmp_path / "calls.log"
    killed = _refine(url, log, kill_at=3)  # the 3rd evaluation kills the process
    assert killed.returncode == -9, killed.stderr
    stored = study.storage.get_refinements(study.record.id)
    assert len(stored) == 2 and len(_calls(log)) == 3

    done = _refine(url, log)
    assert done.returncode == 0, done.stderr
    assert "0 not review-grade" in done.stdout
    after = study.storage.get_refinements(study.record.id)
    first_run = {json.dumps([r.params["x"], r.params["y"]]) for r in stored}
    second_run = {json.dumps(c) for c in _calls(log)[3:]}
    assert not first_run & second_run  # a stored point is never evaluated again
    assert len(after) == len(stored) + len(_calls(log)) - 3  # every evaluation stored once
    assert f"{len(after) - 2} calls" in done.stdout

    front = study.pareto_front(include_archive=True)
    assert front.review_grade.all() and (front.source != "trajectory").all()
    refined = front[front.source == "refined"]
    assert len(refined) > 0
    g = 1 + 9 * refined["y"]
    assert np.allclose(refined["gain"], -g * (1 - np.sqrt(refined["x"] / g)))  # the closed form
    assert (refined["n_samples"] == 1).all() and (refined["xcap"] <= 0.4).all()

    n_log = len(_calls(log))
    again = _refine(url, log)
    assert again.returncode == 0 and "nothing to refine (0 calls)" in again.stdout
    assert len(_calls(log)) == n_log and len(study.storage.get_refinements(study.record.id)) == len(after)
