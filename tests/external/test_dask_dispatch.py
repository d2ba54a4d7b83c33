"""The local surrogate's batch of trust-region simulations on a Dask cluster: a trial running on
a worker of a real ``LocalCluster`` (two worker processes) sends its simulations to both
workers (each simulator process records its parent, the worker that started it), and the
trial's result is the threaded run's exactly (each simulation has its own seed)."""

from __future__ import annotations

import json
import os

import pytest

from paretoopt import load_study_definition
from paretoopt.inner import optimize_inner
from paretoopt.scalarize import Normalization, make_scalarization
from tests.components import require_distributed

STUDY = """
from pathlib import Path
from paretoopt import DesignSpace, ExternalSimulator, Objective, Real, StudyDefinition
from tests.external.sims import NOISY_QUADRATIC, write_sim

here = Path(__file__).parent
body = NOISY_QUADRATIC.replace('write({{"f1"', 'write({{"parent_pid": os.getppid(), "f1"')
sim = ExternalSimulator(write_sim(here, "noisy_pid", body), timeout_s=60, workdir=here / "{workdir}",
                        max_parallel=2)
study = StudyDefinition("noisy_pid", DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0)),
                        [Objective("f1"), Objective("f2")], sim)
"""


def _parents(workdir) -> list[int]:
    """The parent process of every simulation that ran (from its cached extras)."""
    return [int(json.loads(p.read_text())["extras"]["parent_pid"]) for p in workdir.rglob("result.json")]


@pytest.mark.slow
def test_a_trial_on_a_dask_worker_spreads_its_simulations_over_the_cluster(tmp_path):
    require_distributed()
    from distributed import Client, LocalCluster

    (tmp_path / "threads.py").write_text(STUDY.format(workdir="runs-threads"))
    (tmp_path / "dask.py").write_text(STUDY.format(workdir="runs-dask"))
    scal = make_scalarization("weighted_sum", [0.3, 0.7], Normalization([0.0, 0.0], [1.0, 1.0], [1.0, 1.0]))
    threaded = optimize_inner(load_study_definition(tmp_path / "threads.py"), {}, scal, seed=4)
    assert set(_parents(tmp_path / "runs-threads")) == {os.getpid()}

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
        ) as cluster,
        Client(cluster) as client,
    ):
        workers = set(client.run(os.getpid).values())
        fut = client.submit(
            optimize_inner, load_study_definition(tmp_path / "dask.py"), {}, scal, seed=4, pure=False
        )
        remote = fut.result()
    parents = _parents(tmp_path / "runs-dask")
    # every simulation was started by a worker process, and both workers ran some
    assert set(parents) <= workers and os.getpid() not in parents
    assert len(set(parents)) == 2, parents
    assert len(parents) == remote.n_calls == threaded.n_calls
    assert (remote.params, remote.objectives, remote.stderr, remote.stop_reason) == (
        threaded.params,
        threaded.objectives,
        threaded.stderr,
        threaded.stop_reason,
    )
