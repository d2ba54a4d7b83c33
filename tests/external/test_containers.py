"""Container command lines, checked exactly; the contract run through a stand-in ``docker`` that
executes the command line it is given (no daemon here); the image's entry point; and the image
builds where a container runtime can build (skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from paretoopt import DesignSpace, Objective, Real, StudyDefinition
from paretoopt.exceptions import SimulationError
from paretoopt.external import (
    ExternalSimulator,
    container_command,
    jobqueue_python,
    resolve_runtime,
    worker_command,
)
from paretoopt.problem import evaluate
from tests.external.sims import ZDT1, write_sim

ROOT = Path(__file__).resolve().parents[2]


def test_docker_command_line():
    line = container_command(
        "docker", "ghcr.io/lab/g4sim:1.2", ["/opt/sim", "--fast"], "/scratch/ev", uid=1000, gid=100
    )
    assert line == [
        "docker", "run", "--rm", "--user", "1000:100", "-v", "/scratch/ev:/scratch/ev", "-w", "/scratch/ev",
        "ghcr.io/lab/g4sim:1.2", "/opt/sim", "--fast", "/scratch/ev/input.json",
    ]  # fmt: skip


def test_apptainer_command_line():
    assert container_command("apptainer", "/images/g4sim.sif", ["g4sim"], "/scratch/ev") == [
        "apptainer", "exec", "--bind", "/scratch/ev:/scratch/ev", "--pwd", "/scratch/ev",
        "/images/g4sim.sif", "g4sim", "/scratch/ev/input.json",
    ]  # fmt: skip


def test_simulator_with_an_image_wraps_its_command(tmp_path):
    sim = ExternalSimulator(["g4sim", "-q"], image="g4sim.sif", container="singularity", workdir=tmp_path)
    assert sim.argv(tmp_path / "ev") == [
        "singularity", "exec", "--bind", f"{tmp_path}/ev:{tmp_path}/ev", "--pwd", f"{tmp_path}/ev",
        "g4sim.sif", "g4sim", "-q", f"{tmp_path}/ev/input.json",
    ]  # fmt: skip
    assert ExternalSimulator(["g4sim"], workdir=tmp_path).argv(tmp_path) == [
        "g4sim",
        f"{tmp_path}/input.json",
    ]


def test_runtime_choice(monkeypatch):
    monkeypatch.setenv("PARETOOPT_CONTAINER", "apptainer")
    assert resolve_runtime() == "apptainer"
    assert resolve_runtime("docker") == "docker"
    with pytest.raises(SimulationError, match="unknown container runtime 'podmn'"):
        resolve_runtime("podmn")
    monkeypatch.delenv("PARETOOPT_CONTAINER")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SimulationError, match="none of apptainer, singularity, docker"):
        resolve_runtime()


def test_worker_and_jobqueue_command_lines():
    assert worker_command("apptainer", "/img/paretoopt.sif", "tcp://10.0.0.1:8786", binds=["/scratch"]) == [
        "apptainer", "run", "--bind", "/scratch:/scratch", "/img/paretoopt.sif", "worker", "tcp://10.0.0.1:8786",
    ]  # fmt: skip
    assert worker_command("docker", "paretoopt:cpu", "tcp://h:8786") == [
        "docker", "run", "--rm", "--network", "host", "paretoopt:cpu", "worker", "tcp://h:8786",
    ]  # fmt: skip
    assert jobqueue_python("apptainer", "/img/p.sif", binds=["/a", "/b"]) == (
        "apptainer exec --bind /a:/a --bind /b:/b /img/p.sif python"
    )
    assert (
        jobqueue_python("docker", "paretoopt:cpu")
        == "docker run --rm --network host --entrypoint python paretoopt:cpu"
    )


FAKE_DOCKER = """#!{python}
# stands in for `docker run`: checks the options paretoopt passes, then runs the command in -w
import os, subprocess, sys
args = sys.argv[1:]
assert args[:2] == ["run", "--rm"], args
args = args[2:]
opts = {{}}
while args[0].startswith("-"):
    opts[args[0]] = args[1]
    args = args[2:]
image, command = args[0], args[1:]
src, dst = opts["-v"].split(":")
assert src == dst == opts["-w"], opts
with open(os.path.join(os.path.dirname(__file__), "images.log"), "a") as fh:
    fh.write(image + "\\n")
sys.exit(subprocess.call(command, cwd=opts["-w"]))
"""


def test_the_contract_through_a_container_command_line(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(python=sys.executable))
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    sim = ExternalSimulator(
        write_sim(tmp_path, "zdt1", ZDT1), image="lab/zdt1:1", container="docker", workdir=tmp_path / "w"
    )
    space = DesignSpace(*[Real(f"x{i}", 0.0, 1.0) for i in range(6)])
    study = StudyDefinition("zdt1_in_a_container", space, [Objective("f1"), Objective("f2")], sim)
    x = [0.25, 0.0, 0.0, 0.0, 0.0, 0.5]
    gen = torch.Generator()
    gen.manual_seed(0)
    ev = evaluate(study, {f"x{i}": torch.tensor(v, dtype=torch.float64) for i, v in enumerate(x)}, {}, 1, gen)
    g = 1 + 9 * 0.5 / 5
    assert ev.objectives.tolist() == pytest.approx([0.25, g * (1 - (0.25 / g) ** 0.5)], rel=1e-12)
    assert (bin_dir / "images.log").read_text() == "lab/zdt1:1\n"


def test_image_entry_point(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("dask", "paretoopt"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho {name} "$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    entry = str(ROOT / "containers" / "entrypoint.sh")
    run = subprocess.run(
        ["sh", entry, "worker", "tcp://h:8786"], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout == "dask worker tcp://h:8786 --nthreads 1\n"
    run = subprocess.run(
        ["sh", entry, "run", "s.py", "--trials", "3"], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout == "paretoopt run s.py --trials 3\n"


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker_daemon(), reason="no docker daemon to build with")
def test_the_cpu_image_builds_and_runs():  # pragma: no cover - needs a daemon and the registries
    subprocess.run(
        ["docker", "build", "-f", "containers/Dockerfile", "-t", "paretoopt:test", "."], cwd=ROOT, check=True
    )
    out = subprocess.run(
        ["docker", "run", "--rm", "paretoopt:test", "--help"], capture_output=True, text=True, check=True
    )
    assert "run" in out.stdout
