"""Finished evaluations on record in an :class:`~paretoopt.ExternalSimulator`'s cache, for reuse
across trials: the local-surrogate inner loop (:mod:`paretoopt.inner.local`) fits its model to
earlier evaluations inside its trust region (the same command, image, choices and sample size)
before it runs new ones, as L-GSO (arXiv:2002.04632) reuses the simulations of earlier steps.

An entry is a cache directory ``workdir/<key[:2]>/<key>`` with ``input.json`` and
``result.json``; ``result.json`` names the command and image that produced it and the trial it
was run for (:class:`Origin`, set by the inner loop through :data:`ORIGIN`). A trial reuses only
entries of the same study from **earlier batches**: a trial's result is then a function of its
proposal, its seed and the trials before its batch, whatever ran beside it, so a resumed run, a
parallel run and a second run of the study in the same workdir repeat the first one (entries
without an origin, e.g. written before it was recorded, are never reused). Finished entries
never change, so each is read once per process (:class:`RecordIndex`); a later scan lists only
new directories.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paretoopt.external.contract import INPUT, Figure

RESULT = "result.json"


@dataclass(frozen=True)
class Origin:
    """The trial an evaluation was run for: its study's name, batch and number."""

    study: str
    batch: int
    number: int


#: The trial the evaluations of the current thread are run for (set by the inner loop).
ORIGIN: ContextVar[Origin | None] = ContextVar("paretoopt_origin", default=None)


@dataclass(frozen=True)
class Record:
    """One finished evaluation: its input (``params`` in their units, ``choices`` by name, the
    ``seed`` and ``n_samples`` it ran with), the figures read and the program that produced it."""

    params: dict[str, float]
    choices: dict[str, Any]
    seed: int
    n_samples: int
    figures: dict[str, Figure]
    command: tuple[str, ...]
    image: str | None
    directory: Path
    origin: Origin | None = None


def read_record(directory: Path) -> Record | None:
    """The record of a finished cache entry, or ``None`` when it is incomplete, damaged or was
    written without naming its program."""
    try:
        payload = json.loads((directory / INPUT).read_text())
        stored = json.loads((directory / RESULT).read_text())
        if "command" not in stored:
            return None
        origin = stored.get("origin")
        return Record(
            params={k: float(v) for k, v in payload["params"].items()},
            choices=dict(payload["choices"]),
            seed=int(payload["seed"]),
            n_samples=int(payload["n_samples"]),
            figures={k: (float(v[0]), float(v[1])) for k, v in stored["figures"].items()},
            command=tuple(str(c) for c in stored["command"]),
            image=stored.get("image"),
            directory=directory,
            origin=Origin(str(origin["study"]), int(origin["batch"]), int(origin["number"]))
            if origin
            else None,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


class RecordIndex:
    """The finished entries of one cache directory, read once each (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, Record | None] = {}
        self._lock = threading.Lock()

    def scan(self) -> list[Record]:
        """Every readable finished entry now on disk (new ones read, known ones remembered)."""
        with self._lock:
            if self.root.is_dir():
                for shard in sorted(self.root.iterdir()):
                    if len(shard.name) != 2 or not shard.is_dir():
                        continue  # tmp-*, failed/
                    for entry in sorted(shard.iterdir()):
                        if entry.name not in self._seen and (entry / RESULT).exists():
                            self._seen[entry.name] = read_record(entry)
            return [r for r in self._seen.values() if r is not None]

    def matching(
        self,
        command: Sequence[str],
        image: str | None,
        choices: Mapping[str, Any],
        n_samples: int,
        outputs: Sequence[str],
    ) -> list[Record]:
        """The entries of this program with these ``choices`` (as ``input.json`` holds them) and
        sample size that hold every name of ``outputs``, in a fixed order (by directory name)."""
        cmd = tuple(command)
        found = [
            r
            for r in self.scan()
            if r.command == cmd
            and r.image == image
            and r.n_samples == int(n_samples)
            and r.choices == dict(choices)
            and all(o in r.figures for o in outputs)
        ]
        return sorted(found, key=lambda r: r.directory.name)
