"""Anchor runs: a study's normalisation from its ideal / nadir or one inner loop per objective."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from paretoopt.inner.loop import optimize_inner
from paretoopt.inner.result import InnerResult
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import Normalization, WeightedSum


def resolve_normalization(
    definition: StudyDefinition,
    choices: Mapping[str, Any] | None = None,
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[Normalization, list[InnerResult]]:
    """The normalisation for ``definition``: its own ``ideal`` / ``nadir`` when given, else
    estimated from anchor runs (one inner loop per objective, nearly all weight on it) on
    ``choices`` (default: the middle of the space, :meth:`DesignSpace.default_outer`).
    Returns the anchor results too, so a runner can store them as trials rather than waste
    their simulator calls."""
    signs = definition.signs
    if definition.ideal is not None and definition.nadir is not None:
        return Normalization(definition.ideal, definition.nadir, signs), []
    if choices is None:
        choices = definition.space.default_outer()
    m = len(definition.objectives)
    identity = Normalization.identity(signs)
    anchors = []
    for k in range(m):
        w = [1e-3] * m
        w[k] = 1.0
        anchors.append(
            optimize_inner(
                definition, choices, WeightedSum(w, identity), settings=settings, seed=seed + k, device=device
            )
        )
    points = np.array([a.objective_vector(definition.objective_names) for a in anchors])
    norm = Normalization.from_points(points, signs)
    if definition.ideal is not None:
        norm = Normalization(definition.ideal, norm.nadir, signs)
    if definition.nadir is not None:
        norm = Normalization(norm.ideal, definition.nadir, signs)
    return norm, anchors
