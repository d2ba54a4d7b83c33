"""Where the ``surrogate`` mode's batch of trust-region simulations runs: on the Dask cluster
when the trial itself runs on a Dask worker (``--workers N`` / ``--scheduler``), else in threads
of the trial's process (``max_parallel`` at a time).

On a worker the trial's task leaves its thread while it waits (``distributed.worker_client``
secedes and rejoins) and each simulation is its own task, so a batch spreads over the whole
cluster. A definition loaded from a study file travels as its source text and is executed once
per worker process (:func:`shared_definition`), not once per batch: a study file that writes
files when it runs (a generated script) would otherwise rewrite them under running
simulations. Each simulation has its own seed, so where it runs changes nothing in its result.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from paretoopt.external.records import ORIGIN, Origin
from paretoopt.problem import Evaluation, StudyDefinition, definition_from_source, evaluate

#: ``dispatch`` values: ``"auto"`` (Dask on a Dask worker, else threads) and ``"threads"``.
DISPATCHES = ("auto", "threads")


def evaluate_point(
    definition: StudyDefinition,
    values: Mapping[str, float],
    choices: Mapping[str, Any],
    n_samples: int,
    seed: int,
    origin: Origin | None = None,
) -> Evaluation:
    """One simulation without gradients at parameter ``values`` (their units) on the sample
    ``(seed, n_samples)``, its evaluations tagged with ``origin`` (see
    :mod:`paretoopt.external.records`)."""
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
    token = ORIGIN.set(origin)
    try:
        with torch.no_grad():
            return evaluate(definition, params, dict(choices), int(n_samples), gen, dtype=torch.float64)
    finally:
        ORIGIN.reset(token)


_DEFINITIONS: dict[str, StudyDefinition] = {}
_DEFINITIONS_LOCK = threading.Lock()


def shared_definition(source: str, path: str) -> StudyDefinition:
    """The study file's definition, executed once per process for each ``(source, path)``."""
    key = hashlib.sha256(f"{path}\0{source}".encode()).hexdigest()
    with _DEFINITIONS_LOCK:
        found = _DEFINITIONS.get(key)
        if found is None:
            found = _DEFINITIONS[key] = definition_from_source(source, path)
        return found


def evaluate_point_from_source(
    source: str,
    path: str,
    values: Mapping[str, float],
    choices: Mapping[str, Any],
    n_samples: int,
    seed: int,
    origin: Origin | None = None,
) -> Evaluation:
    """:func:`evaluate_point` on the definition of a study file's text (a worker's task)."""
    return evaluate_point(shared_definition(source, path), values, choices, n_samples, seed, origin)


def on_dask_worker() -> bool:
    """True inside a task running on a Dask worker."""
    try:
        from distributed import get_worker
    except ImportError:
        return False
    try:
        get_worker()
    except ValueError:
        return False
    return True


def evaluate_batch(
    definition: StudyDefinition,
    points: Sequence[Mapping[str, float]],
    choices: Mapping[str, Any],
    n_samples: int,
    seeds: Sequence[int],
    *,
    origin: Origin | None = None,
    parallel: int = 1,
) -> list[Evaluation]:
    """Simulate every parameter set of ``points`` with its seed (see the module docstring); the
    simulation's ``dispatch`` (``"auto"`` by default for an ExternalSimulator, ``"threads"``
    for any other) says whether a Dask worker may send them to the cluster."""
    args = [(p, s) for p, s in zip(points, seeds, strict=True)]
    dispatch = getattr(definition.simulate, "dispatch", "threads")
    if dispatch == "auto" and len(args) > 1 and on_dask_worker():
        from distributed import worker_client

        with worker_client() as client:
            if definition.source is not None:
                path = definition.path or f"<{definition.name}>"
                head: tuple[Any, ...] = (evaluate_point_from_source, definition.source, str(path))
            else:  # built in process: pickled as it is, once per batch
                head = (evaluate_point, client.scatter(definition, broadcast=True, hash=False))
            futures = [
                client.submit(*head, p, dict(choices), n_samples, s, origin, pure=False) for p, s in args
            ]
            return list(client.gather(futures))
    if parallel > 1 and len(args) > 1:
        with ThreadPoolExecutor(parallel) as pool:
            return list(
                pool.map(lambda a: evaluate_point(definition, a[0], choices, n_samples, a[1], origin), args)
            )
    return [evaluate_point(definition, p, choices, n_samples, s, origin) for p, s in args]
