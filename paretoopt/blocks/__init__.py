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

__all__ = [
    "RECONSTRUCTION",
    "RECONSTRUCTIONS",
    "Block",
    "CalibratedSum",
    "CalorimeterDetector",
    "Check",
    "Context",
    "LearnedBlock",
    "LearnedEnergyRegression",
    "Pipeline",
    "PipelineError",
    "PipelineSwitch",
    "Port",
    "ResolutionFigure",
    "calorimeter_pipeline",
    "calorimeter_pipeline_study",
    "check_connections",
    "check_table",
    "is_learned",
]
