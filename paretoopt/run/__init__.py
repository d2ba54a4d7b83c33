"""Running trials: the public ``Runner``, ``optimize()``, and the executors trials run on.

Data flow: :mod:`.prepare` (engine, study) -> :mod:`.runner` (normalisation, ask, run, tell) ->
:mod:`.executors` / :mod:`.dask` (where trials run) -> :mod:`.lifecycle` (claim, execute, finish)
-> :mod:`.execute` (one inner loop); :mod:`.feed` tells the engine what finished; :mod:`.fill`
proposes single evaluations halfway between neighbouring front trials.
"""

from paretoopt.run.control import RunProgress
from paretoopt.run.dask import DaskExecutor
from paretoopt.run.execute import TrialJob, execute_trial, scalarization_for
from paretoopt.run.executors import Executor, SerialExecutor
from paretoopt.run.feed import EngineFeed, to_record
from paretoopt.run.fill import fill_proposals, fill_rate
from paretoopt.run.lifecycle import run_trial
from paretoopt.run.prepare import build_engine, check_compatible, open_or_create_study
from paretoopt.run.runner import Runner, optimize, run_waiting_trials
from paretoopt.run.warm_start import anchor_donors, nearest_warm_start

__all__ = [
    "DaskExecutor",
    "EngineFeed",
    "Executor",
    "RunProgress",
    "Runner",
    "SerialExecutor",
    "TrialJob",
    "anchor_donors",
    "build_engine",
    "check_compatible",
    "execute_trial",
    "fill_proposals",
    "fill_rate",
    "nearest_warm_start",
    "open_or_create_study",
    "optimize",
    "run_trial",
    "run_waiting_trials",
    "scalarization_for",
    "to_record",
]
