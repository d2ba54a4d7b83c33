"""The one rule that fixes a study's normalisation: the definition's ideal/nadir, else anchors.

An anchor is an inner loop that minimises one objective (weight 1 on it, 1e-3 on the others,
on raw values: :func:`anchor_scalarization`). The anchors' optima give the payoff-table estimate
of ideal and nadir; an ``ideal`` or ``nadir`` the definition states wins over the estimate. The
runner stores anchors as trials (batch -1) and :func:`paretoopt.resolve_normalization` runs
them in memory; both use the functions below, so they agree trial for trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from paretoopt.inner import InnerResult, optimize_inner
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import Normalization, WeightedSum
from paretoopt.trials import trial_seed

#: Weight of the other objectives in an anchor's weighted sum (keeps it off weakly dominated points).
ANCHOR_OFF_WEIGHT = 1e-3


def anchor_weights(m: int) -> list[tuple[float, ...]]:
    """The weights of the ``m`` anchors: anchor ``k`` puts 1 on objective ``k``, 1e-3 elsewhere."""
    out = []
    for k in range(m):
        w = [ANCHOR_OFF_WEIGHT] * m
        w[k] = 1.0
        out.append(tuple(w))
    return out


def anchor_seed(study_seed: int, k: int) -> int:
    """The inner-loop seed of anchor ``k`` (trial number ``-1 - k`` of the study's seed stream)."""
    return trial_seed(study_seed, -1 - k)


def anchor_scalarization(
    weights: Sequence[float] | torch.Tensor, signs: Sequence[float] | torch.Tensor
) -> WeightedSum:
    """An anchor's loss: a weighted sum of the raw (direction-signed, unscaled) objectives."""
    return WeightedSum(weights, Normalization.identity(signs))


def given_normalization(definition: StudyDefinition) -> Normalization | None:
    """The definition's own normalisation when it states both ``ideal`` and ``nadir``."""
    if definition.ideal is not None and definition.nadir is not None:
        return Normalization(definition.ideal, definition.nadir, definition.signs)
    return None


def normalization_from_anchors(definition: StudyDefinition, points: np.ndarray | None) -> Normalization:
    """Ideal and nadir from the anchors' objective vectors (``n x m``, natural units; ``None`` or
    empty when every anchor failed: identity), with the definition's ``ideal``/``nadir`` winning."""
    signs = definition.signs
    if points is None or len(points) == 0:
        norm = Normalization.identity(signs)
    else:
        norm = Normalization.from_points(np.asarray(points, dtype=float), signs)
    if definition.ideal is not None:
        norm = Normalization(definition.ideal, norm.nadir, signs)
    if definition.nadir is not None:
        norm = Normalization(norm.ideal, definition.nadir, signs)
    return norm


def resolve_normalization(
    definition: StudyDefinition,
    choices: Mapping[str, Any] | None = None,
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[Normalization, list[InnerResult]]:
    """The normalisation a study of seed ``seed`` gets: the definition's own ``ideal`` / ``nadir``
    when given, else estimated from anchor runs on ``choices`` (default: the middle of the space,
    :meth:`DesignSpace.default_outer`), with the runner's anchor weights and seeds. Returns the
    anchor results too, so a caller can keep their simulator calls."""
    given = given_normalization(definition)
    if given is not None:
        return given, []
    if choices is None:
        choices = definition.space.default_outer()
    anchors = [
        optimize_inner(
            definition,
            choices,
            anchor_scalarization(w, definition.signs),
            settings=settings,
            seed=anchor_seed(seed, k),
            device=device,
        )
        for k, w in enumerate(anchor_weights(len(definition.objectives)))
    ]
    points = np.array([a.objective_vector(definition.objective_names) for a in anchors])
    return normalization_from_anchors(definition, points), anchors
