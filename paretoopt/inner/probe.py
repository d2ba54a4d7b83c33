"""What ``InnerSettings(mode="auto")`` learns about a simulation before choosing a method.

A few calls at the centre of the box, on fixed probe samples (never the trial's seed, so the
answer is a property of the study and its discrete choices, the same in every process):

1. ``N_PROBE`` samples, with the gradient of every output;
2. one sample of another seed (``exact=True``: a per-sample output of one sample is taken as
   exact), or two when the simulation cannot run on one.

The simulation is **deterministic** when every output of call 1 has a zero standard error
(zero per-sample variance, 0-d outputs, zero-stderr Estimates) and call 2 reproduces every value
(to 1e-9 relative: an Estimate whose stderr says 0 but whose value moves with the sample is
caught here). Otherwise it is Monte Carlo, and two more calls on call 1's sample at the centre
plus and minus ``H_PROBE`` along a fixed direction compare each output's central difference with
its pathwise (autograd) derivative: the fixed-sample loss is **smooth** when they agree within
``SMOOTH_RTOL``. A smooth fixed-sample loss suits L-BFGS-B on common random numbers; a rough one
(per-sample jumps, hits that come and go, a sample the generator does not control) makes the
pathwise gradient miss part of the change, and Adam on fresh samples is the safer choice.

The answer is memoised per definition and choices in this process; the calls are counted in
the trial that made them.
"""

from __future__ import annotations

import json
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import SimulationError
from paretoopt.inner.loss import set_mode, step_seed
from paretoopt.problem import Evaluation, InnerSettings, StudyDefinition, evaluate

#: Samples of the first probe call.
N_PROBE = 64
#: Step (unit box) of the central difference that tests smoothness.
H_PROBE = 1e-2
#: Largest relative disagreement of central difference and pathwise derivative still "smooth".
SMOOTH_RTOL = 0.1
#: Relative difference of two probe values still "the same value".
SAME_RTOL = 1e-9
_SEEDS = (step_seed(0x5EED, 1), step_seed(0x5EED, 2))

_MEMO: weakref.WeakKeyDictionary[StudyDefinition, dict[str, Probe]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Probe:
    """What the probe found: deterministic or not, whether the fixed-sample loss is smooth,
    whether the simulation runs on one sample, the calls it cost (0 when memoised), and a
    one-line account."""

    deterministic: bool
    smooth: bool
    single_sample: bool
    n_calls: int
    detail: str


def probe_events(probe: Probe) -> int:
    """Events the probe's calls simulated: ``N_PROBE`` at the centre, one (two) on another
    sample, and ``2 N_PROBE`` for the smoothness test when it ran; 0 when memoised."""
    if probe.n_calls == 0:
        return 0
    first_two = 1 + (2 - probe.single_sample)
    events = N_PROBE + (1 if probe.single_sample else 2)
    return events + (2 * N_PROBE if probe.n_calls > first_two else 0)


def _outputs(ev: Evaluation) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([ev.objectives, ev.constraints]), torch.cat([ev.objective_stderr, ev.constraint_stderr])


def forget_probes(definition: StudyDefinition) -> None:
    """Drop what this process memoised about ``definition`` (a benchmark's next seed must pay
    its own probes, as a fresh study in a fresh process would)."""
    _MEMO.pop(definition, None)


def probe_simulation(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    settings: InnerSettings,
    device: torch.device,
    *,
    smoothness: bool = True,
) -> Probe:
    """Probe ``definition`` at the centre of its box with ``choices`` (see the module docstring).

    ``smoothness=False`` (a population, which runs Adam on fresh samples whatever the answer):
    a Monte Carlo simulation is not tested for smoothness, which saves the test's two calls per
    combination (half of a one-step screening population's overhead), and is reported as rough;
    a full probe memoised for these choices is used when there is one."""
    key = json.dumps(
        {"choices": dict(choices), "dtype": settings.dtype, "device": str(device)},
        sort_keys=True,
        default=str,
    )
    memo = _MEMO.setdefault(definition, {})
    if key in memo:
        return replace(memo[key], n_calls=0)
    short = key + "|no-smoothness"
    if not smoothness and short in memo:
        return replace(memo[short], n_calls=0)
    set_mode(definition, training=True)
    try:
        found = _probe(definition, dict(choices), settings.torch_dtype, device, smoothness)
    finally:
        set_mode(definition, training=False)
    memo[key if smoothness else short] = found
    return found


def _call(
    definition: StudyDefinition,
    choices: dict[str, Any],
    t: torch.Tensor,
    seed: int,
    n: int,
    dtype: torch.dtype,
    device: torch.device,
    exact: bool = False,
) -> Evaluation:
    params = {p.name: p.from_unit(t[i]) for i, p in enumerate(definition.space.inner)}
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return evaluate(definition, params, choices, n, gen, dtype=dtype, exact=exact)


def _probe(
    definition: StudyDefinition,
    choices: dict[str, Any],
    dtype: torch.dtype,
    device: torch.device,
    smoothness: bool = True,
) -> Probe:
    space = definition.space
    d = len(space.inner)
    centre = [float(p.to_unit(torch.tensor(p.midpoint(), dtype=torch.float64))) for p in space.inner]
    t = torch.tensor(centre, dtype=dtype, device=device, requires_grad=True)
    first = _call(definition, choices, t, _SEEDS[0], N_PROBE, dtype, device)
    values, errors = _outputs(first)
    values_f = values.detach().cpu().numpy().astype(float)
    calls = 1
    single = True
    with torch.no_grad():
        try:
            other = _call(definition, choices, t.detach(), _SEEDS[1], 1, dtype, device, exact=True)
        except SimulationError:  # it cannot run on one sample (an RMS of one event, say)
            single = False
            other = _call(definition, choices, t.detach(), _SEEDS[1], 2, dtype, device)
        calls += 2 - single
    again = _outputs(other)[0].cpu().numpy().astype(float)
    exact_errors = bool(torch.all(errors == 0))
    same = bool(np.all(np.abs(again - values_f) <= SAME_RTOL * np.maximum(np.abs(values_f), 1e-300)))
    if exact_errors and same:
        return Probe(
            True,
            True,
            single,
            calls,
            "deterministic: zero standard errors, the same values on another sample",
        )
    why = "non-zero standard errors" if not exact_errors else "values change with the sample"
    if d == 0 or not values.requires_grad:
        return Probe(
            False, True, single, calls, f"Monte Carlo ({why}); no inner parameters to test smoothness on"
        )
    if not smoothness:
        return Probe(
            False, False, single, calls, f"Monte Carlo ({why}); smoothness not tested (a population)"
        )
    # pathwise derivatives of every output along a fixed direction
    rng = np.random.default_rng(20261207)
    direction = rng.standard_normal(d)
    direction /= np.max(np.abs(direction))
    dir_t = torch.tensor(direction, dtype=dtype, device=device)
    pathwise = []
    for k in range(len(values)):
        (g,) = torch.autograd.grad(values[k], t, retain_graph=True, allow_unused=True)
        pathwise.append(0.0 if g is None else float(g @ dir_t))
    h = min(H_PROBE, *(min(c, 1.0 - c) for c in centre)) if d else H_PROBE
    with torch.no_grad():
        plus = _outputs(
            _call(definition, choices, t.detach() + h * dir_t, _SEEDS[0], N_PROBE, dtype, device)
        )[0]
        minus = _outputs(
            _call(definition, choices, t.detach() - h * dir_t, _SEEDS[0], N_PROBE, dtype, device)
        )[0]
    calls += 2
    central = ((plus - minus) / (2 * h)).cpu().numpy().astype(float)
    path = np.array(pathwise)
    scale = np.maximum(np.abs(central), np.abs(path))
    tiny = 1e-12 * np.maximum(np.abs(values_f), 1e-300) / h
    rough = (np.abs(central - path) > SMOOTH_RTOL * scale) & (scale > tiny)
    names = definition.objective_names + definition.constraint_names
    if rough.any():
        bad = [names[i] for i in np.flatnonzero(rough)]
        return Probe(
            False, False, single, calls, f"Monte Carlo ({why}); fixed-sample loss not smooth in {bad}"
        )
    if not math.isfinite(float(np.max(scale, initial=0.0))):
        return Probe(False, False, single, calls, f"Monte Carlo ({why}); non-finite derivatives")
    return Probe(False, True, single, calls, f"Monte Carlo ({why}); smooth fixed-sample loss")
