"""An external-simulator study on two Dask workers (``--workers 2``): the definition travels as
its source text, each worker runs its trials' simulator processes, and the trials are those of
the sequential run (no warm starts and no reuse of earlier trials' evaluations: a trial is then
a function of its proposal and seed; with either, of which earlier trials had finished when it
started, which in a parallel run depends on timing)."""

from __future__ import annotations

import pytest

from paretoopt import load_study_definition, optimize
from paretoopt.run import DaskExecutor
from paretoopt.storage import TrialState
from tests.components import require_distributed

STUDY = """
import sys
from pathlib import Path
from paretoopt import DesignSpace, ExternalSimulator, Objective, Real, StudyDefinition
from tests.external.sims import ZDT1, write_sim

here = Path(__file__).parent
sim = ExternalSimulator(write_sim(here, "zdt1", ZDT1), timeout_s=60, workdir=here / "{workdir}",
                        reuse=False)
study = StudyDefinition("zdt1_external", DesignSpace(*[Real(f"x{{i}}", 0.0, 1.0) for i in range(6)]),
                        [Objective("f1"), Objective("f2")], sim, ideal=[0, 0], nadir=[1, 1])
"""


@pytest.mark.slow
def test_two_dask_workers_give_the_sequential_trials(tmp_path):
    require_distributed()
    (tmp_path / "seq.py").write_text(STUDY.format(workdir="runs-seq"))
    (tmp_path / "par.py").write_text(STUDY.format(workdir="runs-par"))
    kw = {"n_trials": 4, "batch_size": 2, "seed": 3, "warm_start": False, "engine": "grid"}
    seq = optimize(
        load_study_definition(tmp_path / "seq.py"), storage=f"sqlite:///{tmp_path / 'seq.db'}", **kw
    )
    ex = DaskExecutor(workers=2)
    try:
        par = optimize(
            load_study_definition(tmp_path / "par.py"),
            storage=f"sqlite:///{tmp_path / 'par.db'}",
            executor=ex,
            **kw,
        )
    finally:
        ex.close()
    assert all(t.state is TrialState.COMPLETE for t in par.trials)
    key = [(t.number, t.weights, t.objectives, t.params, t.n_calls) for t in seq.trials]
    assert [(t.number, t.weights, t.objectives, t.params, t.n_calls) for t in par.trials] == key
    # the parallel run ran its own simulations (its own workdir), on the workers
    assert len(list((tmp_path / "runs-par").rglob("result.json"))) == len(
        list((tmp_path / "runs-seq").rglob("result.json"))
    )
