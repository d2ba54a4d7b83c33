"""A torch study run as a black box through the external-simulator contract: the same physics,
numbers in and out, no gradients. This prices true gradients against local-surrogate ones on
the same simulation (benchmarks/external.py).

Command (what :func:`black_box_study` runs per evaluation)::

    python -m paretoopt.external.blackbox STUDY_FILE path/to/input.json

reads ``input.json``, calls the study's ``simulate`` under ``torch.no_grad`` (a module in
``.eval()`` mode: the hard physics of a final evaluation) with a generator seeded from
``seed`` and ``n_samples`` events, and writes ``output.json``: a per-sample output as
``{"value": mean, "stderr": std/sqrt(n)}``, an ``Estimate`` as its value and stderr, a 0-d
output as a number.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from paretoopt.external.contract import OUTPUT
from paretoopt.external.simulator import ExternalSimulator
from paretoopt.problem import Estimate, InnerSettings, StudyDefinition, load_study_definition


def _figure(value: Any) -> Any:
    if isinstance(value, Estimate):
        v = value.value
        se = value.stderr
        return {
            "value": float(v.detach() if isinstance(v, torch.Tensor) else v),
            "stderr": float(se.detach() if isinstance(se, torch.Tensor) else se),
        }
    if isinstance(value, torch.Tensor):
        x = value.detach().to(torch.float64).reshape(-1) if value.dim() else value.detach()
        if value.dim() == 0:
            return float(x)
        if x.numel() < 2:
            return float(x[0])
        return {"value": float(x.mean()), "stderr": float(x.std()) / math.sqrt(x.numel())}
    return float(value)


def run_file(study_file: str | Path, input_path: str | Path) -> dict[str, Any]:
    """Evaluate ``study_file``'s simulation on ``input_path`` and return what ``output.json``
    gets (the contract's forms; extras that are not numbers are left out)."""
    definition = load_study_definition(study_file)
    inp = json.loads(Path(input_path).read_text())
    sim = definition.simulate
    if isinstance(sim, torch.nn.Module):
        sim.eval()
    gen = torch.Generator()
    gen.manual_seed(int(inp["seed"]))
    params = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in inp["params"].items()}
    with torch.no_grad():
        out = sim(params, dict(inp["choices"]), int(inp["n_samples"]), gen)
    result: dict[str, Any] = {}
    for key, value in out.items():
        try:
            result[key] = _figure(value)
        except (TypeError, ValueError, RuntimeError):
            continue
    return result


class NoGradient:
    """A torch simulation called without gradients in this process (evaluation mode), marked
    ``black_box`` so the inner loop runs the local surrogate: the same algorithm and call count
    as the subprocess command, without a process start per call (the benchmark uses it)."""

    black_box = True
    max_parallel = 1

    def __init__(self, simulate: Any) -> None:
        self.simulate = simulate

    def __call__(
        self,
        params: dict[str, torch.Tensor],
        choices: dict[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        if isinstance(self.simulate, torch.nn.Module):
            self.simulate.eval()
        with torch.no_grad():
            out = self.simulate({k: v.detach() for k, v in params.items()}, choices, n_samples, generator)
        result: dict[str, Any] = {}
        for key, value in out.items():
            try:
                fig = _figure(value)
            except (TypeError, ValueError, RuntimeError):
                continue
            if isinstance(fig, dict):
                result[key] = Estimate(torch.tensor(fig["value"], dtype=torch.float64), fig["stderr"])
            else:
                result[key] = fig
        return result


def black_box_study(
    study_file: str | Path,
    *,
    timeout_s: float | None = None,
    workdir: str | Path | None = None,
    max_parallel: int = 1,
    name: str | None = None,
    in_process: bool = False,
) -> StudyDefinition:
    """The study of ``study_file`` with its simulation replaced by the black-box command above
    (same space, objectives, constraints, normalisation; the study's sample sizes kept, its
    optimiser dropped: the inner loop is the local surrogate). ``in_process``: the same physics
    through :class:`NoGradient` instead of a process per evaluation."""
    study_path = Path(study_file).resolve()
    original = load_study_definition(study_path)
    command = [sys.executable, "-m", "paretoopt.external.blackbox", str(study_path)]
    # the child imports the same paretoopt as this process, wherever it is installed
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    sim: Any = ExternalSimulator(
        command, timeout_s=timeout_s, workdir=workdir, max_parallel=max_parallel, env={"PYTHONPATH": path}
    )
    if in_process:
        sim = NoGradient(original.simulate)
    inner = original.inner
    return StudyDefinition(
        name or f"{original.name}_blackbox",
        original.space,
        original.objectives,
        sim,
        constraints=original.constraints,
        inner=InnerSettings(
            n_samples=inner.n_samples,
            n_eval_samples=inner.n_eval_samples,
            constraint_penalty=inner.constraint_penalty,
            dtype=inner.dtype,
        ),
        description=f"{original.description} (black box: {study_path.name} through the external contract)",
        ideal=original.ideal,
        nadir=original.nadir,
        true_front=original.true_front,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m paretoopt.external.blackbox STUDY_FILE INPUT_JSON``: write ``output.json``
    in the working directory."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m paretoopt.external.blackbox STUDY_FILE INPUT_JSON", file=sys.stderr)
        return 2
    result = run_file(args[0], args[1])
    Path(OUTPUT).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
