"""Scale-out: Dask workers, a worker killed mid-trial, two processes on one PostgreSQL study."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paretoopt import load_study_definition
from paretoopt.cli import app
from paretoopt.run import DaskExecutor, optimize
from paretoopt.storage import TrialState
from paretoopt.study import load_study
from tests.components import require_distributed

DATA = Path(__file__).parent / "data" / "studies"
STUDIES = Path(__file__).resolve().parents[1] / "studies"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dask_executor():
    require_distributed()
    ex = DaskExecutor(workers=2)
    yield ex
    ex.close()


def _key(trials):
    return [(t.number, t.weights, t.choices, t.objectives, t.params) for t in trials]


@pytest.mark.slow
def test_two_dask_workers_give_the_sequential_trials(tmp_path, dask_executor):
    # Without warm starts a trial's result is a function of its proposal and seed alone, so the
    # parallel run must reproduce the sequential one exactly. (With warm starts a refilled trial
    # starts from the nearest trial finished *when it was asked*, which depends on timing.)
    d = load_study_definition(STUDIES / "mixed_zdt.py")
    kw = {"n_trials": 16, "batch_size": 2, "seed": 5, "warm_start": False}
    seq = optimize(d, storage=f"sqlite:///{tmp_path / 'seq.db'}", **kw)
    par = optimize(d, storage=f"sqlite:///{tmp_path / 'par.db'}", executor=dask_executor, **kw)
    assert _key(par.trials) == _key(seq.trials)
    assert all(t.state is TrialState.COMPLETE for t in par.trials)
    assert list(par.pareto_front()["number"]) == list(seq.pareto_front()["number"])


@pytest.mark.slow
def test_with_warm_starts_the_parallel_front_matches_the_sequential_one(tmp_path, dask_executor):
    d = load_study_definition(STUDIES / "mixed_zdt.py")
    kw = {"n_trials": 16, "batch_size": 2, "seed": 5}
    seq = optimize(d, storage=f"sqlite:///{tmp_path / 'seq.db'}", **kw)
    par = optimize(d, storage=f"sqlite:///{tmp_path / 'par.db'}", executor=dask_executor, **kw)
    assert [(t.number, t.weights, t.choices) for t in par.trials] == [
        (t.number, t.weights, t.choices) for t in seq.trials
    ]
    for a, b in zip(seq.trials, par.trials, strict=True):
        assert b.objectives == pytest.approx(a.objectives, abs=1e-4)


_UNEVEN = """
import os, sqlite3, time

from paretoopt.analytic import zdt_study

_base = zdt_study("zdt1", n_var=6)
_exact = _base.simulate


def _finished():
    con = sqlite3.connect("file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    finally:
        con.close()


def simulate(params, choices, n_samples, generator):
    try:  # the first call anywhere in the cluster blocks until 5 other trials have finished
        os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        pass
    else:
        deadline = time.monotonic() + 600  # a fail-safe only: batches that wait never get there
        while _finished() < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    return _exact(params, choices, n_samples, generator)


_base.simulate = simulate
_base.name = "uneven_zdt1"
study = _base
"""


@pytest.mark.slow
def test_a_free_worker_is_refilled_without_waiting_for_the_batch(tmp_path, dask_executor):
    """The first trial blocks until five others have finished (an event in the database, not a
    clock): only an executor that refills the free worker gets there; with batches of 2 that
    wait for each other, one trial at most could finish while it blocks."""
    db = tmp_path / "u.db"
    source = tmp_path / "uneven.py"
    source.write_text(_UNEVEN.format(marker=str(tmp_path / "slow-once"), db=str(db)))
    d = load_study_definition(source)
    study = optimize(d, storage=f"sqlite:///{db}", n_trials=10, batch_size=2, seed=0, executor=dask_executor)
    trials = study.trials
    assert [t.number for t in trials] == list(range(10))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    slow = max(trials, key=lambda t: t.wall_time_s)
    during = [t for t in trials if t is not slow and t.finished_at <= slow.finished_at]
    assert len(during) >= 5, [(t.number, t.finished_at) for t in trials]


@pytest.mark.slow
def test_worker_killed_mid_trial_loses_nothing(tmp_path, dask_executor, monkeypatch):
    monkeypatch.setenv("PARETOOPT_TEST_KILL_MARKER", str(tmp_path / "killed"))
    # the workers were started before the variable was set: restart them so they inherit it
    dask_executor.client.restart()
    d = load_study_definition(DATA / "killer.py")
    study = optimize(
        d, storage=f"sqlite:///{tmp_path / 'k.db'}", n_trials=8, batch_size=2, seed=0, executor=dask_executor
    )
    assert (tmp_path / "killed").exists()  # a worker really died
    trials = study.trials
    assert [t.number for t in trials] == list(range(8))
    assert all(t.state is TrialState.COMPLETE for t in trials)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_run_processes_share_one_postgresql_study(request, tmp_path):
    from tests.storage.postgres import postgres_url

    """Each process's first simulation waits until the other holds a trial too (files, not a
    clock): both processes provably did work."""
    url = postgres_url(request)
    meeting = tmp_path / "rendezvous"
    meeting.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PARETOOPT_TEST_RENDEZVOUS": f"{meeting}:2"}
    cmd = [
        sys.executable,
        "-m",
        "paretoopt.cli",
        "run",
        str(DATA / "slow_zdt1.py"),
        "--trials",
        "20",
        "--storage",
        url,
        "--seed",
        "1",
        "--no-progress",
        "--engine",
        "random",
    ]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
    trials = load_study(study_name="slow_zdt1", storage=url).trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(20))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert len(list(meeting.iterdir())) == 2  # both met ...
    assert {t.worker for t in trials} == {f"{socket.gethostname()}:{p.pid}" for p in procs}  # ... and worked


def test_scheduler_with_sqlite_is_refused(tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "run",
            str(STUDIES / "zdt1.py"),
            "--scheduler",
            "tcp://127.0.0.1:8786",
            "--storage",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
    )
    assert r.exit_code == 2 and "PostgreSQL" in r.output
    assert not (tmp_path / "x.db").exists()


def test_device_passes_through_to_the_simulation(tmp_path):
    import torch

    seen = []
    d = load_study_definition(STUDIES / "zdt1.py")
    inner = d.simulate

    def spy(params, choices, n, gen):
        seen.append((params["x1"].device.type, gen.device.type))
        return inner(params, choices, n, gen)

    d.simulate = spy
    optimize(d, storage=f"sqlite:///{tmp_path / 'dev.db'}", n_trials=1, device="cpu")
    assert seen and set(seen) == {("cpu", "cpu")}
    if not torch.cuda.is_available():
        r = CliRunner().invoke(
            app,
            [
                "run",
                str(STUDIES / "zdt1.py"),
                "--device",
                "cuda",
                "--storage",
                f"sqlite:///{tmp_path / 'y.db'}",
            ],
        )
        assert r.exit_code == 2 and "no CUDA device" in r.output


def test_idle_dask_workers_take_fills_too(tmp_path, dask_executor):
    # an idle worker is refilled with a fill when one is due, as the serial loop would ask one
    d = load_study_definition(STUDIES / "zdt1.py")
    study = optimize(
        d,
        storage=f"sqlite:///{tmp_path / 'fill.db'}",
        n_trials=20,
        batch_size=2,
        fill=0.5,
        executor=dask_executor,
    )
    sources = [t.source for t in study.trials if t.state.is_finished]
    assert len(sources) == 20 and "interpolated" in sources and "grid" in sources
