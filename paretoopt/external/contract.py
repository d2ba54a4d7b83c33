"""The external-simulator contract: what paretoopt writes (``input.json``), what it reads back
(``output.json``, ``output.parquet``, ``output.csv``) and how a figure is reduced.

Per evaluation the runner writes ``input.json`` =
``{"params": {name: value}, "choices": {name: value}, "units": {name: unit}, "seed": int,
"n_samples": int}`` and the simulator writes, for each objective and constraint, a number
(exact), a list of per-event numbers (mean and standard error ``std / sqrt(n)`` taken) or
``{"value": v, "stderr": s}``; per-event columns may instead go to ``output.parquet`` /
``output.csv`` (one column per name). docs/external.md is the user's description.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paretoopt.exceptions import NonFiniteError, SimulationError

INPUT = "input.json"
OUTPUT = "output.json"
OUTPUT_PARQUET = "output.parquet"
OUTPUT_CSV = "output.csv"
#: The largest seed written to ``input.json`` (exclusive): fits a signed 32-bit integer, which
#: every random-number engine (Geant4's CLHEP engines, numpy, ROOT's TRandom3) accepts.
SEED_MODULUS = 2**31 - 1

#: A figure: ``(value, stderr)`` in the output's unit; stderr 0 for an exact value.
Figure = tuple[float, float]


def _jsonable(value: Any) -> Any:
    """A choice value as JSON holds it (numbers, strings and booleans as they are)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def make_input(
    params: Mapping[str, float],
    choices: Mapping[str, Any],
    units: Mapping[str, str | None],
    seed: int,
    n_samples: int,
) -> dict[str, Any]:
    """The content of ``input.json`` (see the module docstring); ``seed`` is reduced modulo
    :data:`SEED_MODULUS`; only the parameters that have a unit appear in ``units``."""
    return {
        "params": {k: float(v) for k, v in params.items()},
        "choices": {k: _jsonable(v) for k, v in choices.items()},
        "units": {k: u for k, u in units.items() if u},
        "seed": int(seed) % SEED_MODULUS,
        "n_samples": int(n_samples),
    }


def reduce_figure(name: str, value: Any) -> Figure:
    """One output entry to ``(value, stderr)``: a number is exact, a list of per-event numbers
    gives its mean and ``std / sqrt(n)`` (``n >= 2``), ``{"value": v, "stderr": s}`` is taken as
    it is (``stderr`` defaults to 0). Raises :class:`SimulationError` on anything else and
    :class:`NonFiniteError` on NaN/inf."""
    if isinstance(value, bool):
        raise SimulationError(f"output {name!r} is a boolean ({value}), expected a number")
    if isinstance(value, (int, float)):
        v, se = float(value), 0.0
    elif isinstance(value, Mapping):
        if "value" not in value:
            raise SimulationError(f"output {name!r} is an object without 'value': {_short(value)}")
        v = _number(name, value["value"])
        se = _number(name + ".stderr", value.get("stderr", 0.0))
        if se < 0:
            raise SimulationError(f"output {name!r}: negative stderr {se}")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        return reduce_events(name, [_number(f"{name}[{i}]", x, finite=False) for i, x in enumerate(value)])
    else:
        raise SimulationError(
            f"output {name!r}: expected a number, a list of per-event numbers or "
            f'{{"value": v, "stderr": s}}, got {_short(value)}'
        )
    if not (math.isfinite(v) and math.isfinite(se)):
        raise NonFiniteError(f"output {name!r} is not finite (value {v}, stderr {se})")
    return v, se


def reduce_events(name: str, events: Iterable[float]) -> Figure:
    """Per-event values to their mean and standard error ``std / sqrt(n)`` (``ddof=1``)."""
    x = np.asarray(list(events), dtype=float)
    if x.size < 2:
        raise SimulationError(f"output {name!r}: a per-event list needs at least 2 events, got {x.size}")
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise NonFiniteError(f"output {name!r}: {bad} of {x.size} per-event values are not finite")
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def _number(name: str, value: Any, finite: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimulationError(f"output {name!r}: expected a number, got {_short(value)}")
    v = float(value)
    if finite and not math.isfinite(v):
        raise NonFiniteError(f"output {name!r} is not finite ({v})")
    return v


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_table(directory: Path) -> dict[str, np.ndarray]:
    """Per-event columns of ``output.parquet`` or ``output.csv`` (empty when neither exists)."""
    import pandas as pd

    parquet, csv = directory / OUTPUT_PARQUET, directory / OUTPUT_CSV
    if parquet.exists():
        try:
            frame = pd.read_parquet(parquet)
        except ImportError as exc:
            raise SimulationError(f"{OUTPUT_PARQUET} needs pyarrow or fastparquet installed ({exc})") from exc
        except Exception as exc:
            raise SimulationError(f"{OUTPUT_PARQUET} is unreadable: {type(exc).__name__}: {exc}") from exc
    elif csv.exists():
        try:
            frame = pd.read_csv(csv)
        except Exception as exc:
            raise SimulationError(f"{OUTPUT_CSV} is unreadable: {type(exc).__name__}: {exc}") from exc
    else:
        return {}
    out: dict[str, np.ndarray] = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        out[str(col).strip()] = values
    return out


def read_outputs(directory: Path, required: Sequence[str]) -> tuple[dict[str, Figure], dict[str, float]]:
    """The figures a simulator left in ``directory``: every name of ``required`` as
    ``(value, stderr)`` (``output.json`` first, then the per-event columns of ``output.parquet``
    or ``output.csv``), and the other numeric entries of ``output.json`` as extras.

    Raises :class:`SimulationError` naming the missing file, the unreadable content or the
    missing / malformed name, and :class:`NonFiniteError` for NaN/inf."""
    path = directory / OUTPUT
    data: dict[str, Any] = {}
    if path.exists():
        text = path.read_text(errors="replace")
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SimulationError(
                f"{OUTPUT} is not valid JSON ({exc.msg} at line {exc.lineno}): {_short(text)}"
            ) from exc
        if not isinstance(loaded, dict):
            raise SimulationError(f"{OUTPUT} must hold an object {{name: value}}, got {_short(loaded)}")
        data = loaded
    table = read_table(directory)
    if not path.exists() and not table:
        raise SimulationError(f"the simulator wrote no {OUTPUT} (nor {OUTPUT_PARQUET} / {OUTPUT_CSV})")
    figures: dict[str, Figure] = {}
    for name in required:
        if name in data:
            figures[name] = reduce_figure(name, data[name])
        elif name in table:
            figures[name] = reduce_events(name, table[name])
        else:
            wrote = sorted(set(data) | set(table))
            raise SimulationError(f"the simulator's output has no {name!r}; it wrote {wrote}")
    extras: dict[str, float] = {}
    for key, val in data.items():
        if key in figures:
            continue
        try:
            extras[key] = reduce_figure(key, val)[0]
        except SimulationError:
            continue
    return figures, extras
