"""The calorimeter as a pipeline with the reference reconstruction is today's
SegmentedCalorimeter, bit for bit: every output of the same design on the same seed, and a
whole inner loop (same trials) of the study built both ways."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from paretoopt.blocks import calorimeter_pipeline, calorimeter_pipeline_study
from paretoopt.inner import optimize_inner
from paretoopt.physics.calorimetry import SegmentedCalorimeter, segmented_calorimeter_study
from paretoopt.problem import Estimate, load_study_definition
from paretoopt.scalarize import AugmentedChebyshev, Normalization

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


def same(a, b) -> bool:
    if isinstance(a, Estimate):
        return same(a.value, b.value) and same(a.stderr, b.stderr)
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    return type(a) is type(b) and a == b


def design(sim: SegmentedCalorimeter, values: list[float]) -> dict[str, torch.Tensor]:
    names = sim.absorber_names + sim.active_names
    return {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in zip(names, values, strict=True)
    }


@pytest.mark.parametrize(
    ("values", "choices", "seed"),
    [
        ([2.0, 4.0, 1.0, 3.0], {"n_layers": 20, "absorber": "Pb", "active": "scintillator"}, 3),
        ([1.0, 1.5, 0.5, 0.5], {"n_layers": 33, "absorber": "W", "active": "silicon"}, 11),
        ([8.0, 6.0, 5.0, 2.0], {"n_layers": 12, "absorber": "Fe", "active": "LAr"}, 0),
    ],
)
def test_reference_pipeline_reproduces_every_output_and_gradient(values, choices, seed):
    sim = SegmentedCalorimeter(n_sections=2)
    p1, p2 = design(sim, values), design(sim, values)
    today = sim(p1, choices, 1200, torch.Generator().manual_seed(seed))
    piped = calorimeter_pipeline(sim)(p2, choices, 1200, torch.Generator().manual_seed(seed))
    assert today.keys() == piped.keys()
    for k in today:
        assert same(today[k], piped[k]), k
    # the gradient of the resolution reaches the design the same way
    today["resolution"].value.backward()
    piped["resolution"].value.backward()
    for k in p1:
        assert torch.equal(p1[k].grad, p2[k].grad), k


def test_study_with_the_reference_only_is_todays_study_trial_for_trial():
    kwargs = dict(
        n_sections=2, energies_gev=(5.0, 20.0, 50.0), n_layers=(10, 20), absorbers=("Pb",), actives=("LAr",)
    )
    today = segmented_calorimeter_study(**kwargs)
    piped = calorimeter_pipeline_study(reconstructions=("reference",), **kwargs)
    assert piped.space.names == today.space.names
    settings = today.inner.replace(max_steps=4, n_samples=300, n_eval_samples=600)
    scal = AugmentedChebyshev([0.5, 0.5], Normalization([0.5, 0.0], [5.0, 2000.0], today.signs))
    choices = {"n_layers": 15, "absorber": "Pb", "active": "LAr"}
    r1 = optimize_inner(today, choices, scal, settings=settings, seed=4)
    r2 = optimize_inner(piped, choices, scal, settings=settings, seed=4)
    assert r1.params == r2.params
    assert r1.objectives == r2.objectives and r1.stderr == r2.stderr
    assert r1.n_calls == r2.n_calls


def test_the_study_file_offers_both_reconstructions_and_pickles():
    study = load_study_definition(ROOT / "studies" / "calorimeter.py")
    assert study.space.outer_names == ["n_layers", "absorber", "active", "reconstruction"]
    assert study.space["reconstruction"].options == ("reference", "learned")
    again = pickle.loads(pickle.dumps(study))
    assert again.space.names == study.space.names
