"""The problem a study defines: its definition, evaluating its simulation, loading study files.

:mod:`~paretoopt.problem.definition` (objectives, constraints, inner settings, the
definition), :mod:`~paretoopt.problem.evaluation` (one checked simulation call) and
:mod:`~paretoopt.problem.loader` (``studies/*.py`` from disk).
"""

from paretoopt.problem.definition import (
    LEGACY_DEFAULTS,
    Constraint,
    Direction,
    Estimate,
    InnerMode,
    InnerSettings,
    Objective,
    Simulate,
    StudyDefinition,
    definition_from_source,
)
from paretoopt.problem.evaluation import Evaluation, evaluate, warn_no_gradient
from paretoopt.problem.loader import load_study_definition

__all__ = [
    "LEGACY_DEFAULTS",
    "Constraint",
    "Direction",
    "Estimate",
    "Evaluation",
    "InnerMode",
    "InnerSettings",
    "Objective",
    "Simulate",
    "StudyDefinition",
    "definition_from_source",
    "evaluate",
    "load_study_definition",
    "warn_no_gradient",
]
