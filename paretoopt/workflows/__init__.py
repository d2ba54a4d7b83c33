"""Workflows that drive the runner for a purpose beyond one optimisation (surrogate runs)."""

from paretoopt.workflows.surrogate_run import (
    comparison_summary,
    optimize_on_surrogate,
    surrogate_comparison,
    surrogate_definition,
    surrogate_study_name,
)

__all__ = [
    "comparison_summary",
    "optimize_on_surrogate",
    "surrogate_comparison",
    "surrogate_definition",
    "surrogate_study_name",
]
