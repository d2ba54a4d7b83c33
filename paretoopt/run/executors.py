"""The executor protocol (how a batch of claimed trials is run) and the serial executor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from paretoopt.run.execute import TrialJob
from paretoopt.run.lifecycle import run_trial
from paretoopt.storage import BaseStorage, FrozenTrial

#: Called with each finished trial as soon as it is stored (progress, engine bookkeeping).
OnFinished = Callable[[FrozenTrial], None]
#: ``refill(n)`` enqueues up to ``n`` new trials for idle slots (``[]``: no more work).
Refill = Callable[[int], list[FrozenTrial]]


class Executor(Protocol):
    """Runs WAITING trials of one study: claims each, runs it (here or on workers), stores the
    outcome through :mod:`paretoopt.run.lifecycle`, and returns the trials it finished."""

    def run(
        self,
        storage: BaseStorage,
        job: TrialJob,
        trials: Sequence[FrozenTrial],
        *,
        worker: str,
        on_finished: OnFinished,
        refill: Refill | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[FrozenTrial]: ...


class SerialExecutor:
    """Runs trials one after the other in this process (the default); ``refill`` is unused,
    since the runner asks for the next batch itself once this one is done."""

    def run(
        self,
        storage: BaseStorage,
        job: TrialJob,
        trials: Sequence[FrozenTrial],
        *,
        worker: str,
        on_finished: OnFinished,
        refill: Refill | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[FrozenTrial]:
        """Run each trial unless a stop was requested; skip trials other processes took."""
        finished: list[FrozenTrial] = []
        for t in trials:
            if should_stop():
                break
            done = run_trial(storage, t, job, worker)
            if done is None:  # another process took it
                continue
            finished.append(done)
            on_finished(done)
        return finished
