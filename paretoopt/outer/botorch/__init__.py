"""The botorch engine package: engine, GP fit schedule, acquisition optimiser and function, botorch compat."""

from __future__ import annotations

from typing import Any

from paretoopt.outer.botorch.engine import BotorchEngine

#: names re-exported lazily: their modules import botorch, which ``import paretoopt`` does not
_LAZY = {
    "BaselineCachedQLogNEHVI": "paretoopt.outer.botorch.acquisition",
    "TESTED_BOTORCH": "paretoopt.outer.botorch.compat",
    "prepare_fused_kernel": "paretoopt.outer.botorch.compat",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TESTED_BOTORCH", "BaselineCachedQLogNEHVI", "BotorchEngine", "prepare_fused_kernel"]
