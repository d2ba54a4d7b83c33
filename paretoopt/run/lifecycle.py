"""The one path a trial takes through a process: claim -> heartbeat -> execute -> finish -> log."""

from __future__ import annotations

import logging
import threading

from paretoopt.exceptions import FinishedTrialError, ParetoOptError
from paretoopt.run.execute import TrialJob
from paretoopt.storage import BaseStorage, FrozenTrial, TrialResult, TrialState
from paretoopt.trials import HEARTBEAT_EVERY_S

log = logging.getLogger("paretoopt")


class Heartbeat:
    """Touches a RUNNING trial every ``HEARTBEAT_EVERY_S`` from a background thread, so other
    processes do not take it for dead."""

    def __init__(self, storage: BaseStorage, trial_id: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(storage, trial_id), daemon=True)

    def _run(self, storage: BaseStorage, trial_id: int) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            try:
                storage.heartbeat(trial_id)
            except ParetoOptError:  # a missed heartbeat is not fatal
                log.debug("heartbeat failed for trial %s", trial_id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def claim_trial(storage: BaseStorage, trial: FrozenTrial, worker: str) -> FrozenTrial | None:
    """WAITING -> RUNNING for ``worker``; ``None`` when another process took it first, or even
    finished it between our reading it as WAITING and this claim (processes sharing a study)."""
    try:
        return storage.start_trial(trial.id, worker)
    except FinishedTrialError:
        return None


def finish_trial(
    storage: BaseStorage, trial: FrozenTrial, state: TrialState, result: TrialResult
) -> FrozenTrial:
    """Store a trial's outcome in one transaction and log a failure's first line."""
    done = storage.finish_trial(trial.id, state, result)
    if state is TrialState.FAILED:
        log.warning("trial %d failed: %s", done.number, (result.error or "").splitlines()[0])
    return done


def run_trial(storage: BaseStorage, trial: FrozenTrial, job: TrialJob, worker: str) -> FrozenTrial | None:
    """Claim ``trial``, run it in this process under a heartbeat and store the outcome; returns
    the finished trial, or ``None`` when another process claimed it first."""
    running = claim_trial(storage, trial, worker)
    if running is None:
        return None
    with Heartbeat(storage, trial.id):
        state, result = job.execute(running)
    return finish_trial(storage, running, state, result)
