"""Command lines that run an external simulator inside a container image, the evaluation's
working directory mounted at the same path (so ``input.json``'s path is the same inside).

``docker``: ``docker run --rm --user UID:GID -v DIR:DIR -w DIR IMAGE COMMAND... DIR/input.json``;
``apptainer``: ``apptainer exec --bind DIR:DIR --pwd DIR IMAGE COMMAND... DIR/input.json``.
Which runtime: the simulator's ``container=``, else ``$PARETOOPT_CONTAINER``, else the first of
``apptainer``, ``singularity``, ``docker`` found on ``PATH`` (HPC sites have the first two).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from paretoopt.exceptions import SimulationError

RUNTIMES = ("apptainer", "singularity", "docker")


def resolve_runtime(configured: str | None = None) -> str:
    """The container runtime to use (see the module docstring); raises
    :class:`SimulationError` when none is configured or found."""
    name = configured or os.environ.get("PARETOOPT_CONTAINER") or None
    if name is not None:
        if name not in RUNTIMES:
            raise SimulationError(f"unknown container runtime {name!r}; known: {list(RUNTIMES)}")
        return name
    for candidate in RUNTIMES:
        if shutil.which(candidate):
            return candidate
    raise SimulationError(
        "image= needs a container runtime: none of apptainer, singularity, docker is on PATH "
        "(set container= or $PARETOOPT_CONTAINER)"
    )


def container_command(
    runtime: str,
    image: str,
    command: Sequence[str],
    directory: str | Path,
    *,
    uid: int | None = None,
    gid: int | None = None,
) -> list[str]:
    """The full command line that runs ``command + [directory/input.json]`` in ``image`` with
    ``directory`` mounted at the same path (docker runs as ``uid:gid``, default this process's,
    so the outputs belong to the user)."""
    d = str(Path(directory))
    argv = [*command, f"{d}/input.json"]
    if runtime == "docker":
        u = os.getuid() if uid is None else uid
        g = os.getgid() if gid is None else gid
        return ["docker", "run", "--rm", "--user", f"{u}:{g}", "-v", f"{d}:{d}", "-w", d, image, *argv]
    if runtime in ("apptainer", "singularity"):
        return [runtime, "exec", "--bind", f"{d}:{d}", "--pwd", d, image, *argv]
    raise SimulationError(f"unknown container runtime {runtime!r}; known: {list(RUNTIMES)}")


def worker_command(runtime: str, image: str, scheduler: str, *, binds: Sequence[str] = ()) -> list[str]:
    """The command line that starts one Dask worker (one thread: each trial is one process's
    work) from paretoopt's own image (containers/), connected to ``scheduler``; ``binds``:
    directories the worker needs (the study file's, the external simulators' ``workdir``).
    The image's entry point (containers/entrypoint.sh) turns ``worker ADDRESS`` into
    ``dask worker ADDRESS --nthreads 1``."""
    if runtime == "docker":
        mounts = [arg for b in binds for arg in ("-v", f"{b}:{b}")]
        return ["docker", "run", "--rm", "--network", "host", *mounts, image, "worker", scheduler]
    if runtime in ("apptainer", "singularity"):
        mounts = [arg for b in binds for arg in ("--bind", f"{b}:{b}")]
        return [runtime, "run", *mounts, image, "worker", scheduler]
    raise SimulationError(f"unknown container runtime {runtime!r}; known: {list(RUNTIMES)}")


def jobqueue_python(runtime: str, image: str, *, binds: Sequence[str] = ()) -> str:
    """The ``python=`` of a dask-jobqueue cluster whose workers run inside ``image``: the batch
    job then runs ``<this> -m distributed.cli.dask_worker ...`` in the container."""
    if runtime in ("apptainer", "singularity"):
        mounts = " ".join(f"--bind {b}:{b}" for b in binds)
        return " ".join(p for p in (runtime, "exec", mounts, image, "python") if p)
    if runtime == "docker":
        mounts = " ".join(f"-v {b}:{b}" for b in binds)
        parts = ("docker", "run", "--rm", "--network", "host", mounts, "--entrypoint", "python", image)
        return " ".join(p for p in parts if p)
    raise SimulationError(f"unknown container runtime {runtime!r}; known: {list(RUNTIMES)}")
