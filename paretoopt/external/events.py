"""Per-event outputs of an external simulator: read them, compute the figures a study derives
from them (``ExternalSimulator(derived={name: function})``, e.g. a resolution ``std / mean``
of an energy column), and keep them beside a cached evaluation (``events.npz``) for the
generative local surrogate (:mod:`paretoopt.inner.generative`).

A derived figure's standard error is a bootstrap one (``BOOTSTRAP`` resamples of the events,
seeded by the evaluation's seed, so the same input gives the same figure): it holds for any
function of the event distribution, where an error formula would be function-specific.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from paretoopt.exceptions import NonFiniteError, SimulationError
from paretoopt.external.contract import OUTPUT, Figure, read_table

#: Bootstrap resamples of a derived figure's standard error.
BOOTSTRAP = 200
EVENTS = "events.npz"

#: A figure of the event distribution: per-event columns (torch, float64) to a 0-d tensor.
Derived = Callable[[Mapping[str, torch.Tensor]], torch.Tensor]


def read_events(directory: Path) -> dict[str, np.ndarray]:
    """Every per-event column the simulator left in ``directory``: the lists of ``output.json``
    (two or more numbers) and the columns of ``output.parquet`` / ``output.csv``."""
    out = {k: v for k, v in read_table(directory).items() if v.size >= 2}
    path = directory / OUTPUT
    if path.exists():
        try:
            data = json.loads(path.read_text(errors="replace"))
        except json.JSONDecodeError:
            data = {}
        for key, value in data.items() if isinstance(data, dict) else ():
            if isinstance(value, list) and len(value) >= 2:
                try:
                    out[key] = np.asarray(value, dtype=float)
                except (TypeError, ValueError):
                    continue
    return out


def derived_value(name: str, function: Derived, events: Mapping[str, np.ndarray]) -> float:
    """``function`` of the per-event columns ``events`` (as float64 tensors); raises
    :class:`SimulationError` when it fails (a column the simulator did not write) or is not a
    finite number."""
    cols = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in events.items()}
    try:
        value = float(torch.as_tensor(function(cols)).detach())
    except KeyError as exc:
        raise SimulationError(
            f"derived figure {name!r} needs per-event column {exc}; the simulator wrote {sorted(events)}"
        ) from exc
    except Exception as exc:
        raise SimulationError(f"derived figure {name!r} raised {type(exc).__name__}: {exc}") from exc
    if not math.isfinite(value):
        raise NonFiniteError(f"derived figure {name!r} is not finite ({value})")
    return value


def derived_figures(
    derived: Mapping[str, Derived], events: Mapping[str, np.ndarray], seed: int
) -> dict[str, Figure]:
    """Every derived figure with its bootstrap standard error (see the module docstring)."""
    if not derived:
        return {}
    sizes = {v.size for v in events.values()}
    if len(sizes) != 1:
        raise SimulationError(f"per-event columns of different lengths: {sorted(sizes)}")
    n = sizes.pop()
    rng = np.random.default_rng(int(seed))
    draws = rng.integers(0, n, size=(BOOTSTRAP, n))
    out: dict[str, Figure] = {}
    for name, function in derived.items():
        value = derived_value(name, function, events)
        boot = [derived_value(name, function, {k: v[idx] for k, v in events.items()}) for idx in draws]
        out[name] = (value, float(np.std(boot, ddof=1)))
    return out


def save_events(directory: Path, events: Mapping[str, np.ndarray]) -> None:
    """Keep the per-event columns beside a cached evaluation."""
    if events:
        arrays = {k: np.asarray(v, dtype=float) for k, v in events.items()}
        np.savez(directory / EVENTS, **arrays)  # type: ignore[arg-type]


def load_events(directory: Path) -> dict[str, np.ndarray] | None:
    """The per-event columns kept beside a cached evaluation, or ``None``."""
    try:
        with np.load(directory / EVENTS) as data:
            return {k: np.asarray(data[k], dtype=float) for k in data.files}
    except (OSError, ValueError, KeyError):
        return None
