"""Outer engines: propose (scalarisation weights, discrete choices) pairs by ask/tell."""

from __future__ import annotations

from typing import Any

from paretoopt.exceptions import EngineError
from paretoopt.outer.base import Engine, Proposal, TrialRecord, nested_simplex_weights, simplex_lattice
from paretoopt.outer.botorch import BotorchEngine
from paretoopt.outer.grid import GridEngine
from paretoopt.outer.pymoo import PymooEngine
from paretoopt.outer.random import RandomEngine
from paretoopt.outer.setgrad import SetGradEngine

ENGINES: dict[str, type[Engine]] = {
    "grid": GridEngine,
    "random": RandomEngine,
    "botorch": BotorchEngine,
    "nsga2": PymooEngine,
    "setgrad": SetGradEngine,
}


def make_engine(name: str, **options: Any) -> Engine:
    """Build an engine by its CLI name (``grid``, ``random``, ``botorch``, ``nsga2``)."""
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}; choose from {sorted(ENGINES)}")
    try:
        return ENGINES[name](**options)
    except TypeError as exc:
        raise EngineError(f"bad options for engine {name!r}: {exc}") from exc


__all__ = [
    "ENGINES",
    "BotorchEngine",
    "Engine",
    "GridEngine",
    "Proposal",
    "PymooEngine",
    "RandomEngine",
    "SetGradEngine",
    "TrialRecord",
    "make_engine",
    "nested_simplex_weights",
    "simplex_lattice",
]
