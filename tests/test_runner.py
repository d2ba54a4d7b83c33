"""The runner against a real SQLite file: fronts, failures, resume, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from paretoopt import load_study_definition
from paretoopt.analytic import distance_to_front
from paretoopt.exceptions import DuplicateStudyError, StudyDefinitionError
from paretoopt.run import optimize
from paretoopt.storage import TrialState
from paretoopt.study import load_study

DATA = Path(__file__).parent / "data" / "studies"
ROOT = Path(__file__).resolve().parents[1]


def _url(tmp_path, name="s.db"):
    return f"sqlite:///{tmp_path / name}"


def test_grid_on_zdt1_30_trials_all_on_the_front(tmp_path, studies_dir):
    d = load_study_definition(studies_dir / "zdt1.py")
    study = optimize(d, storage=_url(tmp_path), n_trials=30, engine="grid", seed=0)
    done = study.completed_trials
    assert len(done) == 30
    f = np.array([t.objectives for t in done])
    assert distance_to_front(f, d.true_front(20000)).max() < 1e-2
    front = study.pareto_front()
    assert len(front) == 30 and front["knee"].sum() == 1
    assert list(front["f1"]) == sorted(front["f1"])
    hv = study.hypervolume_history()
    assert hv["hypervolume"].is_monotonic_increasing and hv["hypervolume"].iloc[-1] > 0.85
    by_calls = study.hypervolume_history(by="calls")
    assert by_calls.index[-1] == study.n_calls


def test_study_written_by_one_process_is_read_whole_by_another(tmp_path, studies_dir):
    url = _url(tmp_path)
    d = load_study_definition(studies_dir / "zdt2.py")
    study = optimize(d, storage=url, n_trials=8, seed=1)
    mine = study.trials_dataframe()
    code = (
        "import sys, pandas as pd; from paretoopt.study import load_study;"
        f"s = load_study(study_name='zdt2', storage={url!r});"
        "df = s.trials_dataframe(); df.to_json(sys.stdout, orient='split', double_precision=15)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    import io

    import pandas as pd

    theirs = pd.read_json(io.StringIO(out.stdout), orient="split")
    assert theirs.shape == mine.shape
    assert np.allclose(theirs["f1"], mine["f1"], rtol=1e-12) and np.allclose(theirs["x3"], mine["x3"])
    traj = load_study(study_name="zdt2", storage=url).trajectory(3)
    assert len(traj) == study.trials[3].n_steps and {"step", "loss", "f1", "x1"} <= set(traj.columns)


def test_failing_simulations_give_failed_trials_with_reason(tmp_path):
    d = load_study_definition(DATA / "flaky.py")
    study = optimize(d, storage=_url(tmp_path), n_trials=9, engine="grid", seed=0)
    trials = study.trials
    assert len(trials) == 9
    for t in trials:
        mode = t.choices["mode"]
        if mode == "ok":
            assert t.state is TrialState.COMPLETE
        else:
            assert t.state is TrialState.FAILED
            assert ("'f' is not finite" if mode == "nan" else "detector geometry overlaps") in t.error
    df = study.trials_dataframe()
    assert (df["state"] == "FAILED").sum() == 6 and "f [GeV]" in df.columns and "x [m]" in df.columns


def test_resume_reaches_the_requested_count_without_rerunning(tmp_path, studies_dir):
    url = _url(tmp_path)
    d = load_study_definition(studies_dir / "zdt1.py")
    first = optimize(d, storage=url, n_trials=10, seed=0)
    ids = {t.number: t.finished_at for t in first.trials}
    study = optimize(d, storage=url, n_trials=16, seed=0)
    trials = study.trials
    assert len(trials) == 16 and [t.number for t in trials] == list(range(16))
    assert all(t.finished_at == ids[t.number] for t in trials if t.number in ids)
    # the same seed in one go gives the same trials
    once = optimize(d, storage=_url(tmp_path, "once.db"), n_trials=16, seed=0)
    assert [t.objectives for t in once.trials] == [t.objectives for t in trials]


def test_load_if_exists_false_and_incompatible_definitions(tmp_path, studies_dir):
    url = _url(tmp_path)
    d = load_study_definition(studies_dir / "zdt1.py")
    optimize(d, storage=url, n_trials=2)
    with pytest.raises(DuplicateStudyError):
        optimize(d, storage=url, n_trials=2, load_if_exists=False)
    other = load_study_definition(studies_dir / "dtlz2.py")
    with pytest.raises(StudyDefinitionError, match="objectives"):
        optimize(other, storage=url, study_name="zdt1", n_trials=2)


def test_anchor_normalization_is_estimated_and_stored(tmp_path):
    from tests.test_inner import _noisy_quadratic

    d = _noisy_quadratic()
    study = optimize(d, storage=_url(tmp_path), n_trials=5, seed=0)
    sources = [t.source for t in study.trials]
    assert sources[:2] == ["anchor", "anchor"] and len(sources) == 5
    norm = study.normalization
    assert norm is not None and norm.nadir[1].item() == pytest.approx(5.0, abs=0.3)


def _run_cli(url: str, trials: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "paretoopt.cli", "run", str(DATA / "slow_zdt1.py"), "--trials", str(trials),
           "--storage", url, "--seed", "3", "--no-progress"]  # fmt: skip
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _states(url: str) -> dict[str, int]:
    trials = load_study(study_name="slow_zdt1", storage=url).trials
    return {s.value: sum(t.state is s for t in trials) for s in TrialState}


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """kill -9 a running study four times, each time in the middle of a trial at a random
    simulation call (drawn from a seeded generator; the run signals the call by a file, the
    test kills on it: no clock involved); the resumed study equals the uninterrupted one."""
    n = 24
    ref_url = _url(tmp_path, "ref.db")
    assert _run_cli(ref_url, n).wait(600) == 0
    url = _url(tmp_path, "killed.db")
    rng = np.random.default_rng(2024)
    finished = 0
    # 24 trials cost ~170 calls with the exact solver: four runs killed within their first 40
    for k, call in enumerate(rng.integers(5, 40, size=4)):
        marker = tmp_path / f"hang-{k}"
        hang = {"PARETOOPT_TEST_HANG_AT_CALL": str(call), "PARETOOPT_TEST_HANG_MARKER": str(marker)}
        p = _run_cli(url, n, hang)
        deadline = time.monotonic() + 600  # a fail-safe only
        while not marker.exists():
            assert p.poll() is None, f"run {k} ended before call {call}: {p.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(60)
        p.stderr.close()
        states = _states(url)
        assert states["RUNNING"] == 1  # killed mid-trial: the trial it was in is left RUNNING
        assert states["COMPLETE"] >= finished  # nothing finished was lost
        finished = states["COMPLETE"]
    assert finished < n
    assert _run_cli(url, n).wait(600) == 0
    ref = load_study(study_name="slow_zdt1", storage=ref_url).trials
    got = load_study(study_name="slow_zdt1", storage=url).trials
    assert len(got) == n and [t.number for t in got] == list(range(n))
    assert all(t.state is TrialState.COMPLETE for t in got)
    assert sum(t.retries for t in got) >= 1  # the trials killed mid-run were run again
    key = [(t.weights, t.objectives, t.params) for t in ref]
    assert [(t.weights, t.objectives, t.params) for t in got] == key


def test_a_trial_another_process_finished_before_our_claim_is_skipped(tmp_path, studies_dir):
    """Processes sharing a study: a trial read as WAITING may be claimed and finished by another
    process before this one claims it; the serial executor then skips it instead of failing."""
    from paretoopt.run import SerialExecutor, TrialJob
    from paretoopt.scalarize import Normalization
    from paretoopt.storage import TrialProposal, TrialResult, get_storage

    d = load_study_definition(studies_dir / "zdt1.py")
    url = f"sqlite:///{tmp_path / 'race.db'}"
    study = optimize(d, storage=url, engine="grid", n_trials=2, seed=0)
    st = get_storage(url)
    (stale,) = st.enqueue_trials(study.record.id, [TrialProposal((0.5, 0.5), {}, 1)], batch=9)
    assert st.start_trial(stale.id, "other-host:1") is not None  # the other process ...
    st.finish_trial(stale.id, TrialState.FAILED, TrialResult(params={}, error="theirs"))  # ... is done
    job = TrialJob(d, Normalization(d.ideal, d.nadir, d.signs))
    seen = []
    done = SerialExecutor().run(st, job, [stale], worker="me:2", on_finished=seen.append)
    assert done == [] and seen == []
    assert load_study(study_name="zdt1", storage=url).trials[-1].error == "theirs"
