"""Freezing: a frozen block's parameters get no gradient and are bit-identical after an inner
loop; the frozen detector leaves the design where it started, the frozen reconstruction keeps
its trained weights while the design moves."""

from __future__ import annotations

import torch

from paretoopt.blocks import Context, calorimeter_pipeline_study
from paretoopt.inner import optimize_inner
from paretoopt.scalarize import AugmentedChebyshev, Normalization

torch.set_num_threads(1)
KW = dict(
    n_sections=2,
    energies_gev=(5.0, 20.0, 50.0),
    n_layers=(10, 20),
    absorbers=("Pb",),
    actives=("scintillator",),
)
CHOICES = {"n_layers": 10, "absorber": "Pb", "active": "scintillator", "reconstruction": "learned"}


def run(study, seed=3):
    settings = study.inner.replace(max_steps=5, n_samples=600, n_eval_samples=1200)
    scal = AugmentedChebyshev([0.8, 0.2], Normalization([0.5, 0.0], [30.0, 500.0], study.signs))
    return optimize_inner(study, CHOICES, scal, settings=settings, seed=seed)


def test_frozen_detector_keeps_the_design_bit_identical():
    study = calorimeter_pipeline_study(frozen=("detector",), **KW)
    start = study.space.default_inner()
    result = run(study)
    # bit for bit along the whole loop (every step's design, as the loop mapped it from its
    # unit box, is the first step's): no gradient reached the design
    assert result.trajectory and result.n_calls >= 2
    assert all(step.params == result.trajectory[0].params for step in result.trajectory)
    assert result.params == result.trajectory[0].params
    assert max(abs(result.params[k] - start[k]) for k in start) < 1e-12  # the start, to rounding
    free = run(calorimeter_pipeline_study(**KW))
    assert max(abs(free.params[k] - start[k]) for k in start) > 1e-3  # unfrozen, it moves


def test_frozen_reconstruction_is_bit_identical_and_gets_no_gradient():
    study = calorimeter_pipeline_study(**KW)
    pipe = study.simulate.pipelines["learned"]
    reco = pipe.block("reconstruction")
    # train it once for the start design, then freeze it
    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in study.space.default_inner().items()}
    pipe.train(Context(p, CHOICES, 2000, torch.Generator().manual_seed(0), phase="train"))
    study.simulate.freeze("reconstruction")
    before = {k: v.clone() for k, v in reco.state_tensors().items()}
    result = run(study)
    after = reco.state_tensors()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(t.grad is None for t in reco.trainable_parameters())
    assert result.params != study.space.default_inner()  # the design moved meanwhile
