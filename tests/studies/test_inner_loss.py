"""The inner loop on each physics study lowers the loss it minimises: the scalarised objectives
(plus the constraint penalty) of the design it ends at, against the design it started from, both
evaluated on the same Monte Carlo sample (same seed, evaluation mode), by more than three
standard errors. Generic over the study files, so it holds whatever the physics inside."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from paretoopt.inner import optimize_inner
from paretoopt.inner.loop import evaluate_design
from paretoopt.problem import load_study_definition
from paretoopt.scalarize import AugmentedChebyshev, Normalization

torch.set_num_threads(1)

STUDIES = Path(__file__).resolve().parents[2] / "studies"
EVAL_SEED = 5


@pytest.mark.slow
@pytest.mark.parametrize("file", ["calorimeter.py", "muon_tomography.py", "ladle_furnace.py"])
def test_inner_loop_lowers_the_loss_on_a_physics_study(file: str) -> None:
    study = load_study_definition(STUDIES / file)
    m = len(study.objectives)
    choices = study.space.default_outer()
    start = study.space.default_inner()
    # short runs on small samples: the contract is "lower", not "converged"
    settings = study.inner.replace(
        max_steps=6,
        n_samples=min(study.inner.n_samples, 3000),
        n_eval_samples=min(study.inner.n_eval_samples, 6000),
    )
    # a normalisation fixed here from the start design (f0 -> 0.5 in every objective), so the
    # test does not depend on the study's own ideal/nadir or on anchor runs
    first = evaluate_design(
        study, start, choices, AugmentedChebyshev([1.0 / m] * m, Normalization.identity(study.signs)),
        settings=settings, seed=EVAL_SEED,
    )  # fmt: skip
    f0 = first.objective_vector(study.objective_names)
    signs = np.asarray([1.0 if o.direction == "minimize" else -1.0 for o in study.objectives])
    assert np.all(np.abs(f0) > 0)
    norm = Normalization(f0 - signs * np.abs(f0), f0 + signs * np.abs(f0), study.signs)
    weights = [1.0 / m] * m
    scal = AugmentedChebyshev(weights, norm)

    before = evaluate_design(study, start, choices, scal, settings=settings, seed=EVAL_SEED)
    result = optimize_inner(study, choices, scal, settings=settings, seed=1)
    after = evaluate_design(study, result.params, choices, scal, settings=settings, seed=EVAL_SEED)

    def loss_error(r) -> float:
        """Standard error of the Chebyshev loss from the objectives' errors (bound: every
        objective at its weight over its normalised range)."""
        return sum(
            w * r.stderr[o.name] / abs(2.0 * f) for w, o, f in zip(weights, study.objectives, f0, strict=True)
        )

    sigma = math.hypot(loss_error(before), loss_error(after))
    assert result.params != start and result.n_steps >= 1
    assert after.loss < before.loss - 3.0 * sigma, (before.loss, after.loss, sigma, result.params)
