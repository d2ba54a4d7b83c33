"""``ExternalSimulator``: any program as a study's simulation, through files
(:mod:`paretoopt.external.contract`), with a content-addressed cache of finished evaluations.

Each evaluation runs in a fresh directory ``workdir/tmp-<random>``; on success the directory is
renamed to ``workdir/<key[:2]>/<key>``, where ``key`` is the SHA-256 of the command, image and
``input.json``, and ``result.json`` there holds the figures read. The same input again (a
resumed run re-running the trial it lost, an anchor repeated) reads ``result.json`` instead of
running the program. A failed evaluation is kept as ``workdir/failed/<key>-<random>`` and never
cached, so a resumed run tries it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import SimulationError
from paretoopt.external.containers import container_command, resolve_runtime
from paretoopt.external.contract import INPUT, Figure, make_input, read_outputs
from paretoopt.external.events import Derived, derived_figures, load_events, read_events, save_events
from paretoopt.external.records import ORIGIN, RESULT, Origin, Record, RecordIndex
from paretoopt.problem import Estimate

#: Lines of the simulator's stderr quoted in a failure's reason.
STDERR_LINES = 8


def _tail(path: Path, n: int = STDERR_LINES) -> str:
    try:
        lines = path.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


@dataclass(frozen=True)
class Counters:
    """Evaluations this process ran (``runs``) and read from the cache (``cached``)."""

    runs: int = 0
    cached: int = 0


@dataclass
class ExternalSimulator:
    """Runs ``command + [path/to/input.json]`` in a working directory per evaluation and reads
    ``output.json`` back (the contract of docs/external.md); usable as a
    :class:`~paretoopt.StudyDefinition`'s ``simulate``.

    Args:
        command: the program and its leading arguments, e.g. ``["./toycal"]`` or
            ``[sys.executable, "sim.py"]``.
        timeout_s: seconds an evaluation may run before it is killed (and fails); ``None``: no limit.
        image: run the command inside this container image (docker or apptainer, see
            :mod:`paretoopt.external.containers`), the working directory mounted.
        workdir: where evaluations and the cache live; default ``$PARETOOPT_EXTERNAL_DIR`` or
            ``./paretoopt-external``, made absolute when the simulator is created.
        container: ``"docker"``, ``"apptainer"`` or ``"singularity"``; default: see
            :func:`~paretoopt.external.containers.resolve_runtime`.
        env: extra environment variables for the program.
        max_parallel: evaluations of one inner loop run at once (threads each waiting on a process).
        cache: reuse finished evaluations of the same input (a resumed run re-runs nothing).
        reuse: let the local-surrogate inner loop fit its model to earlier trials' evaluations
            on record in the cache (same command, image, choices and sample size) inside its
            trust region; they cost no new call (:mod:`paretoopt.external.records`).
        dispatch: ``"auto"``: a trial running on a Dask worker sends its batch of simulations
            to the cluster (:mod:`paretoopt.inner.dispatch`); ``"threads"``: always threads of
            the trial's process (``max_parallel`` at a time).
        derived: figures paretoopt computes from the program's per-event columns, ``{name:
            function(columns) -> 0-d tensor}`` (torch float64 columns, e.g. ``lambda e:
            e["energy"].std() / e["energy"].mean()``), with bootstrap standard errors
            (:mod:`paretoopt.external.events`); the program need not write these names.
        surrogate_model: the local surrogate of the ``surrogate`` inner mode: ``"quadratic"``
            (a quadratic per figure) or ``"generative"`` (a conditional model of the per-event
            columns whose samples give the figures and their gradients,
            :mod:`paretoopt.inner.generative`); per-event columns are then kept in the cache.
    """

    command: Sequence[str]
    timeout_s: float | None = None
    image: str | None = None
    workdir: str | Path | None = None
    container: str | None = None
    env: Mapping[str, str] | None = None
    max_parallel: int = 1
    cache: bool = True
    reuse: bool = True
    dispatch: str = "auto"
    derived: Mapping[str, Derived] | None = None
    surrogate_model: str = "quadratic"
    #: bound by StudyDefinition: parameter units, and the names the output must hold
    units: Mapping[str, str | None] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()

    #: tells the inner loop that this simulation gives no gradients (local surrogate mode)
    black_box = True

    def __post_init__(self) -> None:
        if isinstance(self.command, str) or not self.command:
            raise SimulationError("ExternalSimulator.command must be a non-empty list of strings")
        self.command = tuple(str(c) for c in self.command)
        base = self.workdir or os.environ.get("PARETOOPT_EXTERNAL_DIR") or "paretoopt-external"
        self.workdir = Path(base).expanduser().resolve()
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise SimulationError("ExternalSimulator.timeout_s must be > 0 or None")
        if int(self.max_parallel) < 1:
            raise SimulationError("ExternalSimulator.max_parallel must be >= 1")
        if self.surrogate_model not in ("quadratic", "generative"):
            raise SimulationError(
                "ExternalSimulator.surrogate_model must be 'quadratic' or 'generative', "
                f"not {self.surrogate_model!r}"
            )
        if self.dispatch not in ("auto", "threads"):
            raise SimulationError(
                f"ExternalSimulator.dispatch must be 'auto' or 'threads', not {self.dispatch!r}"
            )
        self._lock = threading.Lock()
        self._counters = Counters()
        self._index: RecordIndex | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state["_index"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def recorded(self, choices: Mapping[str, Any], n_samples: int, before: Origin) -> list[Record]:
        """Finished evaluations of this program on record in the cache with these ``choices``
        and ``n_samples`` (every bound output present) that were run for trials of the study
        ``before.study`` in batches before ``before.batch`` (see
        :mod:`paretoopt.external.records`). Empty unless ``cache`` and ``reuse``."""
        if not (self.cache and self.reuse):
            return []
        with self._lock:
            if self._index is None:
                self._index = RecordIndex(Path(self.workdir))  # type: ignore[arg-type]
            index = self._index
        wanted = make_input({}, choices, {}, 0, n_samples)["choices"]
        found = index.matching(self.command, self.image, wanted, n_samples, self.outputs)
        return [
            r
            for r in found
            if r.origin is not None and r.origin.study == before.study and r.origin.batch < before.batch
        ]

    def bind_study(self, space: Any, outputs: Sequence[str]) -> ExternalSimulator:
        """A copy that knows the parameters' units and the output names to read (called by
        :class:`~paretoopt.StudyDefinition`)."""
        units = {p.name: getattr(p, "unit", None) for p in space.params}
        return replace(self, units=units, outputs=tuple(outputs))

    @property
    def counters(self) -> Counters:
        """Evaluations run and read from the cache by this object in this process."""
        return self._counters

    def key(self, payload: Mapping[str, Any]) -> str:
        """The cache key of an evaluation: SHA-256 of command, image and input."""
        blob = json.dumps(
            {"command": list(self.command), "image": self.image, "input": payload}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def argv(self, directory: Path) -> list[str]:
        """The command line of one evaluation in ``directory`` (container-wrapped with ``image``)."""
        if self.image:
            return container_command(resolve_runtime(self.container), self.image, self.command, directory)
        return [*self.command, str(directory / INPUT)]

    def run(
        self, params: Mapping[str, float], choices: Mapping[str, Any], seed: int, n_samples: int
    ) -> tuple[dict[str, Figure], dict[str, float]]:
        """One evaluation (or its cached result): ``{name: (value, stderr)}`` for every bound
        output, and the extra numbers the program wrote. Raises :class:`SimulationError` with
        the reason (exit code / timeout / output problem) and the program's last stderr lines."""
        payload = make_input(params, choices, self.units, seed, n_samples)
        key = self.key(payload)
        root = Path(self.workdir)  # type: ignore[arg-type]
        final = root / key[:2] / key
        if self.cache and (final / RESULT).exists():
            try:
                stored = json.loads((final / RESULT).read_text())
                with self._lock:
                    self._counters = replace(self._counters, cached=self._counters.cached + 1)
                figures = {k: (float(v[0]), float(v[1])) for k, v in stored["figures"].items()}
                return figures, {k: float(v) for k, v in stored["extras"].items()}
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged cache entry: run again
        work = root / f"tmp-{uuid.uuid4().hex}"
        work.mkdir(parents=True)
        (work / INPUT).write_text(json.dumps(payload, indent=1, sort_keys=True))
        with self._lock:
            self._counters = replace(self._counters, runs=self._counters.runs + 1)
        derived = dict(self.derived or {})
        try:
            self._execute(work)
            figures, extras = read_outputs(work, [o for o in self.outputs if o not in derived])
            if derived or self.surrogate_model == "generative":
                events = read_events(work)
                figures.update(derived_figures(derived, events, payload["seed"]))
                if self.surrogate_model == "generative":
                    save_events(work, events)
        except SimulationError as exc:
            failed = root / "failed" / f"{key}-{work.name[4:12]}"
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work, failed)
            tail = _tail(failed / "stderr.txt")
            where = f" (kept in {failed})"
            quoted = f"; last stderr lines:\n{tail}" if tail else "; stderr was empty"
            raise type(exc)(f"{exc}{where}{quoted}") from exc
        origin = ORIGIN.get()
        stored = {
            "figures": figures,
            "extras": extras,
            "command": list(self.command),
            "image": self.image,
            "origin": asdict(origin) if origin is not None else None,
        }
        (work / RESULT).write_text(json.dumps(stored))
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(work, final)
        except OSError:  # the same input finished elsewhere first: keep that one
            _remove_tree(work)
        return figures, extras

    def events_of(
        self, params: Mapping[str, float], choices: Mapping[str, Any], seed: int, n_samples: int
    ) -> dict[str, np.ndarray] | None:
        """The per-event columns of a finished evaluation kept in the cache (``None`` when it
        has none: not run yet, ``surrogate_model`` not ``"generative"``, or no per-event output)."""
        payload = make_input(params, choices, self.units, seed, n_samples)
        key = self.key(payload)
        return load_events(Path(self.workdir) / key[:2] / key)  # type: ignore[arg-type]

    def _execute(self, work: Path) -> None:
        env = {**os.environ, **(self.env or {})}
        argv = self.argv(work)
        with open(work / "stdout.txt", "wb") as out, open(work / "stderr.txt", "wb") as err:
            try:
                # the study's own command, never a shell: running it is the point
                proc = subprocess.Popen(  # noqa: S603
                    argv, cwd=work, stdout=out, stderr=err, env=env, start_new_session=True
                )
            except OSError as exc:
                raise SimulationError(f"cannot start {argv[0]!r}: {exc}") from exc
            try:
                code = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise SimulationError(
                    f"the simulator ran past its timeout of {self.timeout_s:g} s and was killed"
                ) from None
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise SimulationError(f"the simulator {how}")

    def __call__(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        """The ``simulate`` signature: the generator's seed becomes ``input.json``'s ``seed``;
        every figure comes back as an :class:`~paretoopt.Estimate` (no gradient)."""
        values = {
            k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in params.items()
        }
        figures, extras = self.run(values, choices, int(generator.initial_seed()), int(n_samples))
        out: dict[str, Any] = {
            k: Estimate(torch.tensor(v, dtype=torch.float64), float(se)) for k, (v, se) in figures.items()
        }
        out.update({k: v for k, v in extras.items() if k not in out})
        return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
