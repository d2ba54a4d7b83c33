"""Parallel trials on Dask: a ``LocalCluster`` on one machine (``--workers N``), or an existing
scheduler (``--scheduler tcp://host:8786``, e.g. one started by dask-jobqueue on HTCondor or
Slurm). We write no scheduler of our own.

Only the client process (the one running :func:`paretoopt.optimize`) writes to the database:
workers receive the study definition (as its source text), the trial and the normalisation, run
the inner loop and send the result back. So SQLite stays fine with a LocalCluster; several
machines sharing one study use PostgreSQL. A worker that dies mid-trial gives its task back to
the scheduler, which runs it on another worker (up to ``max_retries`` deaths, after which the
trial is FAILED); the trial keeps its number, proposal and seed, so nothing is lost or doubled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from paretoopt.exceptions import ParetoOptError, StorageError
from paretoopt.run.execute import TrialJob
from paretoopt.run.executors import OnFinished, Refill
from paretoopt.run.lifecycle import claim_trial, finish_trial
from paretoopt.storage import BaseStorage, FrozenTrial, TrialResult, TrialState


def _warm_worker(torch_threads: int) -> bool:
    """Import torch and paretoopt on a worker before the first trial (seconds, paid once)."""
    import torch

    import paretoopt.run.execute  # noqa: F401

    if torch_threads > 0:
        torch.set_num_threads(torch_threads)
    return True


def _remote_trial(job: TrialJob, trial: FrozenTrial, torch_threads: int) -> tuple[str, TrialResult]:
    """Runs on a Dask worker: one trial's inner loop (no database access)."""
    import torch

    if torch_threads > 0:
        torch.set_num_threads(torch_threads)
    state, result = job.execute(trial)
    return state.value, result


class DaskExecutor:
    """Runs trials concurrently on a Dask cluster, refilling a worker as soon as it is free.

    Args:
        client: an existing ``distributed.Client``; else one is made from ``scheduler`` or a
            ``LocalCluster`` of ``workers`` processes.
        workers: processes of the local cluster (one trial each at a time).
        scheduler: address of an existing scheduler.
        torch_threads: torch threads per trial on a worker (1 avoids oversubscription).
        max_retries: how many worker deaths a trial survives before it is FAILED.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        workers: int = 2,
        scheduler: str | None = None,
        torch_threads: int = 1,
        max_retries: int = 2,
    ) -> None:
        self.workers = int(workers)
        self.scheduler = scheduler
        self.torch_threads = int(torch_threads)
        self.max_retries = int(max_retries)
        self._client = client
        self._cluster: Any = None

    @classmethod
    def for_cli(cls, *, workers: int, scheduler: str | None, storage_url: str) -> DaskExecutor:
        """Check the CLI's combination of options, then build the executor."""
        if scheduler and storage_url.startswith("sqlite"):
            raise StorageError(
                "--scheduler runs trials on several machines: use a shared PostgreSQL study database "
                "(--storage postgresql+psycopg://user@host/db), not SQLite; see docs/cluster.md"
            )
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ParetoOptError(
                "--workers / --scheduler need dask.distributed: pip install 'paretoopt[cluster]'"
            ) from exc
        return cls(workers=workers, scheduler=scheduler)

    @property
    def client(self) -> Any:
        if self._client is None:
            import dask
            from distributed import Client, LocalCluster

            dask.config.set({"distributed.scheduler.allowed-failures": self.max_retries})
            if self.scheduler:
                self._client = Client(self.scheduler)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                )
                self._client = Client(self._cluster)
            self._client.run(_warm_worker, self.torch_threads)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def slots(self) -> int:
        """Trials the cluster runs at once: the total threads of its workers (at least 1)."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # pragma: no cover - a scheduler that cannot say
            return max(1, self.workers)

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
        """Submit every trial, write each result as it arrives, return the finished trials.

        ``refill(n)`` (optional) enqueues up to ``n`` new trials; it is called whenever fewer
        trials are in flight than the cluster has slots, so no worker waits for the slowest
        trial of a batch. Returning ``[]`` ends the run once the trials in flight are done.
        A stop request is honoured by ``refill`` (it returns ``[]``): the trials in flight finish.
        """
        from distributed import as_completed
        from distributed.client import FutureCancelledError

        try:
            from distributed.scheduler import KilledWorker
        except ImportError:  # pragma: no cover - moved in some versions
            from distributed import KilledWorker  # type: ignore[no-redef]

        client = self.client
        futures: dict[Any, FrozenTrial] = {}

        def submit(t: FrozenTrial) -> Any:
            claimed = claim_trial(storage, t, worker)
            if claimed is None:  # another process took it
                return None
            fut = client.submit(
                _remote_trial,
                job,
                claimed,
                self.torch_threads,
                pure=False,
                key=f"paretoopt-{job.study_name}-{claimed.number}-{claimed.retries}",
            )
            futures[fut] = claimed
            return fut

        pending = as_completed([f for f in map(submit, trials) if f is not None])
        finished: list[FrozenTrial] = []
        for fut in pending:
            trial = futures.pop(fut)
            try:
                state_name, result = fut.result()
                state = TrialState(state_name)
            except KilledWorker as exc:
                state = TrialState.FAILED
                result = TrialResult(
                    params={}, error=f"worker died {self.max_retries} times running this trial: {exc}"
                )
            except FutureCancelledError as exc:
                state = TrialState.FAILED
                result = TrialResult(params={}, error=f"cancelled: {exc}")
            done = finish_trial(storage, trial, state, result)
            finished.append(done)
            on_finished(done)
            # the slots are read again after every trial: a worker that joins mid-run (a nanny's
            # restart after a crash, an adaptive or dask-jobqueue cluster scaling up) gets work
            slots = self.slots() if refill is not None else 0
            if refill is not None and len(futures) < slots:
                for t in refill(slots - len(futures)):
                    new = submit(t)
                    if new is not None:
                        pending.add(new)
        return finished
