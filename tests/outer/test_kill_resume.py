"""Every engine, killed (SIGKILL) in the middle of a trial and resumed, ends with the designs and
objectives of the uninterrupted run: the same trials (numbers, sources, weights, choices), the same
inner-loop optima (parameters) and the same objective values and standard errors, bit for bit.

The study (tests/data/studies/catalogue.py) is Monte Carlo (the trial seeds matter), has anchor
trials, a 76-option choice and two inner reals. The kill is synchronised on an event: the
simulation writes a marker file at a fixed call and blocks; the test kills the process when the
file appears, so the kill lands mid-trial at the same point on every machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paretoopt.storage import TrialState
from paretoopt.study import load_study

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "tests" / "data" / "studies" / "catalogue.py"
N_TRIALS = 12
# The call at which the killed run hangs: past the botorch engine's Sobol design (anchors 0-1,
# 52 calls each with both of their stages; Sobol 2-7), inside a model-based trial, and past
# nsga2's first generation (population 4).
HANG_AT_CALL = 410
ENGINE_ARGS = {
    "grid": [],
    "random": [],
    "nsga2": ["--population", "4"],
    "botorch": [],
}


def run_cli(url: str, engine: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "paretoopt.cli", "run", str(STUDY), "--engine", engine,
           "--trials", str(N_TRIALS), "--seed", "11", "--storage", url, "--no-progress",
           *ENGINE_ARGS[engine]]  # fmt: skip
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(p: subprocess.Popen) -> None:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()[-3000:]


def signature(url: str) -> list[tuple]:
    trials = load_study(study_name="catalogue", storage=url).trials
    return [
        (t.number, t.source, t.state.value, t.weights, t.choices, t.params, t.objectives, t.stderr, t.seed)
        for t in trials
    ]


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(ENGINE_ARGS))
def test_killed_mid_trial_and_resumed_equals_the_uninterrupted_run(tmp_path, engine):
    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    finish(run_cli(whole_url, engine))

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    marker = tmp_path / "hanging"
    p = run_cli(
        url,
        engine,
        {"PARETOOPT_TEST_HANG_AT_CALL": str(HANG_AT_CALL), "PARETOOPT_TEST_HANG_MARKER": str(marker)},
    )
    deadline = time.monotonic() + 600  # a fail-safe only: the test waits for the marker file
    while not marker.exists():
        assert p.poll() is None, f"the run ended before the hang: {p.stderr.read().decode()[-3000:]}"
        assert time.monotonic() < deadline, "the run never reached the hanging call"
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    p.stderr.close()

    killed = load_study(study_name="catalogue", storage=url).trials
    running = [t for t in killed if t.state is TrialState.RUNNING]
    assert len(running) == 1, [(t.number, t.state) for t in killed]  # killed mid-trial
    finished_before = {t.number: t.finished_at for t in killed if t.state.is_finished}
    assert 2 < len(finished_before) < N_TRIALS - 1
    if engine == "botorch":  # the kill hit the model-based phase (after the 2 anchors + 6 Sobol)
        assert running[0].number >= 8

    finish(run_cli(url, engine))
    resumed = load_study(study_name="catalogue", storage=url).trials
    assert all(t.state is TrialState.COMPLETE for t in resumed)
    # finished trials were kept, not run again; the killed one was re-run with its stored proposal
    assert {t.number: t.finished_at for t in resumed if t.number in finished_before} == finished_before
    assert signature(url) == signature(whole_url)
