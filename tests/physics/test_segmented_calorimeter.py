"""The segmented calorimeter (sampling that varies with depth): gradients with respect to every
section's thicknesses against finite differences, a uniform profile against the uniform
calorimeter (an independent weighted fit written here), the per-layer records, the study files
and an inner loop on the quick configuration."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from paretoopt.inner import optimize_inner
from paretoopt.physics.calorimetry import (
    SEGMENTED_QUICK_INNER,
    SamplingCalorimeter,
    SegmentedCalorimeter,
    resolution_estimate,
    segmented_calorimeter_study,
)
from paretoopt.problem import load_study_definition
from paretoopt.problem.evaluation import evaluate
from paretoopt.scalarize import AugmentedChebyshev, Normalization

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
F64 = torch.float64


def section_params(sim, absorber, active, grad=False):
    p = {
        k: torch.tensor(v, dtype=F64, requires_grad=grad)
        for k, v in zip(sim.absorber_names, absorber, strict=True)
    }
    p |= {
        k: torch.tensor(v, dtype=F64, requires_grad=grad)
        for k, v in zip(sim.active_names, active, strict=True)
    }
    return p


@pytest.mark.parametrize(("absorber", "active", "n_layers"), [("Pb", "scintillator", 25), ("W", "LAr", 30)])
def test_gradients_for_every_section_match_finite_differences(absorber, active, n_layers):
    sim = SegmentedCalorimeter()
    choices = {"n_layers": n_layers, "absorber": absorber, "active": active}
    abs_mm = [1.2 + 0.25 * k for k in range(10)]
    act_mm = [3.0 - 0.15 * k for k in range(10)]
    names = sim.absorber_names + sim.active_names
    base = abs_mm + act_mm

    def outputs(values, grad=False):
        p = section_params(sim, values[:10], values[10:], grad)
        out = sim(p, choices, 3000, torch.Generator().manual_seed(8))
        return p, [out["resolution"].value, out["cost"], out["depth"]]

    p, values = outputs(base, grad=True)
    h = 1e-4
    for k, value in enumerate(values):
        grads = torch.autograd.grad(value, [p[n] for n in names], retain_graph=True)
        g = np.array([float(x) for x in grads])
        assert np.all(np.isfinite(g))
        fd = []
        for i in range(len(names)):
            up, down = list(base), list(base)
            up[i] += h
            down[i] -= h
            with torch.no_grad():
                fd.append((float(outputs(up)[1][k]) - float(outputs(down)[1][k])) / (2 * h))
        fd = np.array(fd)
        scale = np.abs(fd).max()
        assert np.allclose(g, fd, rtol=0.02, atol=1e-3 * scale), (k, g, fd)
        if k == 2:  # depth: each section's layers count once, in cm
            per_section = np.bincount((np.arange(n_layers) * 10) // n_layers, minlength=10) / 10
            assert np.allclose(g, np.concatenate([per_section, per_section]))


def weighted_fit(energies, res, se):
    """Independent fit of r^2 = A/E + B (weights 1/(2 r se)^2) by numpy least squares."""
    e, r, s = map(np.asarray, (energies, res, se))
    w = 1 / (2 * r * s)
    design = np.column_stack([1 / e, np.ones_like(e)]) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, r**2 * w, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    return math.sqrt(coef[0]), math.sqrt(cov[0, 0]) / (2 * math.sqrt(coef[0])), coef[1]


def test_a_uniform_profile_reproduces_the_uniform_calorimeter():
    energies = (2.0, 10.0, 50.0)
    seg = SegmentedCalorimeter(energies_gev=energies)
    choices = {"n_layers": 40, "absorber": "Pb", "active": "scintillator"}
    p = section_params(seg, [2.0] * 10, [4.0] * 10)
    n_per = 12000
    out = seg.simulate_events(p, choices, n_per, torch.Generator().manual_seed(1))
    figures = seg(p, choices, len(energies) * n_per, torch.Generator().manual_seed(1))
    uni = SamplingCalorimeter()
    ures, use = [], []
    for i, e in enumerate(energies):
        uni.energies_gev = (e,)
        uout = uni(
            {"absorber_mm": torch.tensor(2.0, dtype=F64), "active_mm": torch.tensor(4.0, dtype=F64)},
            choices,
            n_per,
            torch.Generator().manual_seed(100 + i),
        )
        ures.append(float(uout["resolution"].value) / 100)
        use.append(uout["resolution"].stderr / 100)
        # geometry and cost do not depend on the energy or the sample: identical
        assert float(figures["cost"]) == pytest.approx(float(uout["cost"]), rel=1e-12)
        assert float(figures["depth"]) == pytest.approx(float(uout["depth"]), rel=1e-12)
        assert float(figures["depth_x0"]) == pytest.approx(float(uout["depth_x0"]), rel=1e-12)
        assert float(figures["moliere_radius_cm"]) == pytest.approx(
            float(uout["moliere_radius_cm"]), rel=1e-12
        )
        # the resolution at each energy agrees within 3 combined standard errors
        r, se = resolution_estimate(out.response[i * n_per : (i + 1) * n_per])
        assert float(r) == pytest.approx(ures[-1], abs=3 * math.hypot(se, use[-1]))
    # a and b: the segmented study's fit against a fit of the uniform calorimeter written here
    a_uni, a_se_uni, b2_uni = weighted_fit(energies, ures, use)
    a_seg = float(figures["stochastic_term"].value) / 100
    a_se_seg = figures["stochastic_term_stderr"] / 100
    assert a_seg == pytest.approx(a_uni, abs=3 * math.hypot(a_se_seg, a_se_uni))
    b_seg = float(figures["constant_term"].value) / 100
    assert b_seg == pytest.approx(
        math.sqrt(max(b2_uni, 0.0)), abs=3 * figures["constant_term_stderr"] / 100 + 1e-3
    )


def test_per_layer_records_are_kept_for_a_learned_reconstruction():
    sim = SegmentedCalorimeter(energies_gev=(5.0, 20.0))
    p = section_params(sim, [1.0 + 0.3 * k for k in range(10)], [2.0] * 10)
    out = sim(
        p, {"n_layers": 24, "absorber": "W", "active": "silicon"}, 400, torch.Generator().manual_seed(0)
    )
    dep, sig = out["layer_deposits_gev"], out["layer_signals_gev"]
    assert dep.shape == sig.shape == (400, 24)
    assert out["segment_signals_gev"].shape == (400, 24)  # silicon: every layer read out
    assert torch.equal(out["energy_gev"], torch.tensor([5.0] * 200 + [20.0] * 200, dtype=F64))
    # the deposits are the showers' energy inside the stack and the cluster
    assert torch.allclose(dep.sum(-1), out["energy_gev"] * out["containment"], rtol=1e-12)
    assert torch.all(dep >= 0) and float(out["containment"].max()) < 1.0
    # the reduction of a study ignores the per-layer tensors; their mean is not an extra
    study = segmented_calorimeter_study(
        absorbers=("W",), actives=("silicon",), n_layers=(20, 30), energies_gev=(5.0, 20.0)
    )
    ev = evaluate(
        study,
        p,
        {"n_layers": 24, "absorber": "W", "active": "silicon"},
        400,
        torch.Generator().manual_seed(0),
    )
    assert "layer_deposits_gev" not in ev.extras and "stochastic_term" in ev.extras


def test_terms_objectives_are_the_fitted_a_and_b():
    kwargs = {"energies_gev": (2.0, 10.0, 50.0)}
    res = SegmentedCalorimeter(**kwargs)
    terms = SegmentedCalorimeter(objectives="terms", **kwargs)
    p = section_params(res, [2.0] * 10, [3.0] * 10)
    choices = {"n_layers": 30, "absorber": "Pb", "active": "scintillator"}
    a = res(p, choices, 3000, torch.Generator().manual_seed(2))
    b = terms(p, choices, 3000, torch.Generator().manual_seed(2))
    assert "resolution" not in b
    assert float(b["stochastic_term"].value) == float(a["stochastic_term"].value)
    assert float(b["constant_term"].value) == float(a["constant_term"].value)
    # the resolution objective is the fitted curve at the reference energy
    expected = math.sqrt(
        float(a["stochastic_term"].value) ** 2 / 10.0
        + float(a["constant_term"].value) ** 2
        + (100 * float(a["noise_term_gev"]) / 10.0) ** 2
    )
    assert float(a["resolution"].value) == pytest.approx(expected, rel=1e-3)  # b's 0.01 % floor
    study = segmented_calorimeter_study(objectives="terms")
    assert study.objective_names == ["stochastic_term", "constant_term", "cost"]
    with pytest.raises(ValueError, match="below the number of sections"):
        res(p, {**choices, "n_layers": 8}, 100, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="n_sections"):
        segmented_calorimeter_study(n_layers=(5, 60))


@pytest.mark.parametrize("file", ["calorimeter.py", "calorimeter_quick.py"])
def test_study_files_load_and_pickle(file):
    study = load_study_definition(ROOT / "studies" / file)
    inner = study.space.inner_names
    assert len(inner) == 20 and inner[0] == "absorber_mm_01" and inner[-1] == "active_mm_10"
    extra = ["reconstruction"] if file == "calorimeter.py" else []  # the flagship's pipeline choice
    assert study.space.outer_names == ["n_layers", "absorber", "active", *extra]
    assert study.objective_names == ["resolution", "cost"]
    assert study.constraints[0].name == "depth" and study.constraints[0].upper == 40.0
    assert study.space["n_layers"].low >= 10
    again = pickle.loads(pickle.dumps(study))
    assert again.space.inner_names == inner


def test_quick_study_inner_loop_improves_its_scalarisation():
    study = load_study_definition(ROOT / "studies" / "calorimeter_quick.py")
    assert study.inner == SEGMENTED_QUICK_INNER
    settings = study.inner.replace(max_steps=25)
    norm = Normalization([2.0, 20.0], [15.0, 400.0], study.signs)
    scal = AugmentedChebyshev([0.7, 0.3], norm)
    choices = {"n_layers": 20, "absorber": "Pb", "active": "scintillator"}
    r = optimize_inner(study, choices, scal, settings=settings, seed=4)
    assert r.feasible and r.n_backward == 25
    assert {"stochastic_term", "constant_term", "stochastic_term_stderr", "fit_chi2"} <= set(r.extras)

    def loss_at(params):
        p = {k: torch.tensor(v, dtype=F64) for k, v in params.items()}
        ev = evaluate(study, p, choices, 12000, torch.Generator().manual_seed(77))
        return float(scal(ev.objectives)), float(ev.objective_stderr[0])

    start, se0 = loss_at(study.space.default_inner())
    end, se1 = loss_at(r.params)
    assert start - end > 3 * 0.7 * math.hypot(se0, se1) / (15.0 - 2.0)
