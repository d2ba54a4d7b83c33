"""paretoopt: gradient inner loops plus multi-objective outer loops for detector design.

A study (``studies/*.py``) defines a design space, objectives and a differentiable simulation;
paretoopt traces its Pareto front of physics performance against cost.
"""

from paretoopt import decide
from paretoopt.archive import ARCHIVE_SOURCES, ArchivePoint
from paretoopt.blocks import Block, Pipeline
from paretoopt.exceptions import (
    ParetoOptError,
    SimulationError,
    SpaceError,
    StorageError,
    StudyDefinitionError,
    StudyNotFoundError,
)
from paretoopt.external import ExternalSimulator
from paretoopt.inner import (
    InnerResult,
    ParetoSetSettings,
    PopulationSettings,
    TrajectoryStep,
    optimize_inner,
    optimize_population,
    train_pareto_set,
)
from paretoopt.normalization import resolve_normalization
from paretoopt.problem import (
    Constraint,
    Estimate,
    InnerSettings,
    Objective,
    StudyDefinition,
    load_study_definition,
)
from paretoopt.refine import RefineReport, refine_study
from paretoopt.report.export import export_front
from paretoopt.report.table import ExportData
from paretoopt.run import optimize
from paretoopt.scalarize import (
    AugmentedChebyshev,
    BudgetConstraint,
    Normalization,
    WeightedSum,
)
from paretoopt.space import Choice, DesignSpace, Integer, Real
from paretoopt.study import Study, load_study
from paretoopt.surrogate import Surrogate, fit_surrogate, load_surrogate
from paretoopt.version import __version__
from paretoopt.workflows import optimize_on_surrogate

__all__ = [
    "ARCHIVE_SOURCES",
    "ArchivePoint",
    "AugmentedChebyshev",
    "Block",
    "BudgetConstraint",
    "Choice",
    "Constraint",
    "DesignSpace",
    "Estimate",
    "ExportData",
    "ExternalSimulator",
    "InnerResult",
    "InnerSettings",
    "Integer",
    "Normalization",
    "Objective",
    "ParetoOptError",
    "ParetoSetSettings",
    "Pipeline",
    "PopulationSettings",
    "Real",
    "RefineReport",
    "SimulationError",
    "SpaceError",
    "StorageError",
    "Study",
    "StudyDefinition",
    "StudyDefinitionError",
    "StudyNotFoundError",
    "Surrogate",
    "TrajectoryStep",
    "WeightedSum",
    "__version__",
    "decide",
    "export_front",
    "fit_surrogate",
    "load_study",
    "load_study_definition",
    "load_surrogate",
    "optimize",
    "optimize_inner",
    "optimize_on_surrogate",
    "optimize_population",
    "refine_study",
    "resolve_normalization",
    "train_pareto_set",
]
