"""Blocks and pipelines: a simulation as encapsulated steps, each runnable and validatable alone.

``Block`` (protocol) and ``Pipeline`` (checked when built, callable as a study's simulation);
the calorimeter's blocks (detector, calibrated sum, learned energy regression, resolution fit)
and its pipeline study; artefacts (trained block parameters as checksummed safetensors).
Guide: docs/blocks.md.
"""

from paretoopt.blocks.calorimeter import (
    CalibratedSum,
    CalorimeterDetector,
    ResolutionFigure,
    calorimeter_pipeline,
)
from paretoopt.blocks.calorimeter_study import (
    RECONSTRUCTION,
    RECONSTRUCTIONS,
    PipelineSwitch,
    calorimeter_pipeline_study,
)
from paretoopt.blocks.core import Block, Check, Context, LearnedBlock, Port, check_table, is_learned
from paretoopt.blocks.learned import LearnedEnergyRegression
from paretoopt.blocks.pipeline import Pipeline, PipelineError, check_connections
from paretoopt.blocks.realdata import (
    MEASURED_FILE,
    FineTuneResult,
    MeasuredEvents,
    fine_tune,
    load_measured,
)
from paretoopt.blocks.tomography import TomographyDetector, TomographyScan, tomography_pipeline_study

__all__ = [
    "MEASURED_FILE",
    "RECONSTRUCTION",
    "RECONSTRUCTIONS",
    "Block",
    "CalibratedSum",
    "CalorimeterDetector",
    "Check",
    "Context",
    "FineTuneResult",
    "LearnedBlock",
    "LearnedEnergyRegression",
    "MeasuredEvents",
    "Pipeline",
    "PipelineError",
    "PipelineSwitch",
    "Port",
    "ResolutionFigure",
    "TomographyDetector",
    "TomographyScan",
    "calorimeter_pipeline",
    "calorimeter_pipeline_study",
    "check_connections",
    "check_table",
    "fine_tune",
    "is_learned",
    "load_measured",
    "tomography_pipeline_study",
]
