"""BotorchEngine specifics: directions and reference point, observation noise, pending points,
and the fused C++ kernel's visible compile and clean fallback."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

from paretoopt.outer import BotorchEngine, TrialRecord
from paretoopt.outer.botorch import compat, optimise
from paretoopt.outer.botorch import engine as engine_module
from paretoopt.problem import Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Real

torch.set_num_threads(1)

FAST = {"initial_trials": 4, "num_restarts": 1, "raw_samples": 16, "mc_samples": 16, "fit_maxiter": 20}


def _definition(*, ideal=None, nadir=None) -> StudyDefinition:
    space = DesignSpace(Real("x", 0.0, 1.0), Choice("material", ("lead", "tungsten")))

    def simulate(params, choices, n_samples, generator):  # never called here
        raise AssertionError

    return StudyDefinition(
        "bo",
        space,
        [Objective("cost", unit="kEUR"), Objective("gain", "maximize")],
        simulate,
        ideal=ideal,
        nadir=nadir,
    )


def _tell_grid(engine: BotorchEngine, n: int, stderr: float) -> None:
    rng = np.random.default_rng(0)
    records = []
    for k in range(n):
        w1 = float(rng.random())
        material = ("lead", "tungsten")[k % 2]
        cost = 10.0 * w1 + (2.0 if material == "lead" else 0.0)
        gain = 5.0 * np.sqrt(w1)
        records.append(
            TrialRecord(
                number=k,
                state="COMPLETE",
                weights=(w1, 1 - w1),
                choices={"material": material},
                objectives=(cost, gain),
                stderr=(stderr, stderr),
            )
        )
    engine.tell(records)
    engine.skip(n)


def test_objectives_enter_as_maximisation_with_the_definitions_reference_point():
    engine = BotorchEngine(seed=0, fused_kernel=False, **FAST).setup(
        _definition(ideal=[0.0, 5.0], nadir=[12.0, 0.0])
    )
    _tell_grid(engine, 6, 0.1)
    _, Y, _ = engine._training_data()
    objectives = np.array([t.objectives for t in engine.completed])
    np.testing.assert_allclose(Y.numpy(), objectives * np.array([-1.0, 1.0]))  # cost negated
    # nadir + 10 % of the range, in botorch's maximised space: cost 13.2 -> -13.2, gain -0.5
    np.testing.assert_allclose(engine._reference_point(Y).numpy(), [-13.2, -0.5])


def test_reference_point_from_data_without_a_normalisation():
    engine = BotorchEngine(seed=0, fused_kernel=False, **FAST).setup(_definition())
    _tell_grid(engine, 6, 0.1)
    _, Y, _ = engine._training_data()
    ref = engine._reference_point(Y).numpy()
    # every observed point on the front is strictly better than the reference
    assert np.all(Y.numpy().max(axis=0) > ref)


def test_noise_from_stored_standard_errors():
    from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

    for stderr, fixed in ((0.1, True), (0.0, False)):
        engine = BotorchEngine(seed=0, fused_kernel=False, **FAST).setup(_definition())
        _tell_grid(engine, 6, stderr)
        model = engine._fitted_model(*engine._training_data())
        assert isinstance(model.likelihood, FixedNoiseGaussianLikelihood) is fixed
        if fixed:
            # noise = stderr^2 in the standardised outputs: stderr^2 / (sample variance of the
            # objective), recomputed here from the values _tell_grid tells
            rng = np.random.default_rng(0)
            w1 = np.array([float(rng.random()) for _ in range(6)])
            cost = 10.0 * w1 + np.where(np.arange(6) % 2 == 0, 2.0, 0.0)
            gain = 5.0 * np.sqrt(w1)
            expected = [stderr**2 / np.var(y, ddof=1) for y in (cost, gain)]
            noise = model.likelihood.noise.detach().numpy().reshape(2, 6)  # one row per objective
            np.testing.assert_allclose(noise, np.repeat(np.array(expected)[:, None], 6, axis=1), rtol=1e-9)


def test_pending_proposals_are_not_proposed_again():
    engine = BotorchEngine(seed=0, fused_kernel=False, batch_size=2, **FAST).setup(_definition())
    _tell_grid(engine, 6, 0.0)
    first = engine.ask(2)
    second = engine.ask(2)  # nothing told in between: the first batch is pending
    keys = {(round(p.weights[0], 6), p.choices["material"]) for p in first + second}
    assert len(keys) == 4
    assert len(engine._pending) == 4
    engine.tell(
        [
            TrialRecord(number=10 + i, state="FAILED", weights=p.weights, choices=p.choices)
            for i, p in enumerate(first)
        ]
    )
    assert len(engine._pending) == 2


def test_infeasible_region_is_modelled_and_avoided():
    # weights only (no outer parameters); designs with w1 >= 0.5 are infeasible but would
    # dominate the feasible ones: without the feasibility model qLogNEHVI would chase them
    space = DesignSpace(Real("x", 0.0, 1.0))
    definition = StudyDefinition("c", space, [Objective("f1"), Objective("f2")], lambda *a: None)
    engine = BotorchEngine(seed=1, fused_kernel=False, batch_size=4, **FAST).setup(definition)
    records = []
    for k, w1 in enumerate(np.linspace(0.02, 0.98, 12)):
        ok = w1 < 0.5
        f = (w1, 1.0 - np.sqrt(w1)) if ok else (w1 - 0.45, 0.05)
        records.append(
            TrialRecord(
                number=k, state="COMPLETE", weights=(w1, 1 - w1), choices={}, objectives=f, feasible=ok
            )
        )
    engine.tell(records)
    engine.skip(12)
    _, Y, _ = engine._training_data()
    assert Y.shape == (12, 3) and set(Y[:, 2].tolist()) == {1.0, -1.0}
    props = engine.ask(4)
    assert len(props) == 4
    assert all(p.weights[0] < 0.55 for p in props), [p.weights for p in props]


@pytest.fixture
def fresh_kernel_state(monkeypatch):
    """Make botorch believe it never tried to load its fused kernel (restored afterwards)."""
    from botorch.acquisition.multi_objective import logei

    monkeypatch.setattr(logei, "_load_attempted", False)
    monkeypatch.setattr(logei, "_C", None)
    monkeypatch.setitem(sys.modules, "logei_fused_ext", None)  # no pre-built extension
    return logei


def test_failed_compile_is_announced_and_falls_back(fresh_kernel_state, monkeypatch):
    import torch.utils.cpp_extension as cpp

    def broken_load(*args, **kwargs):
        raise RuntimeError("no C++ compiler here")

    monkeypatch.setattr(cpp, "load", broken_load)
    monkeypatch.setattr(compat, "kernel_cached", lambda build_dir: False)
    with pytest.warns(UserWarning) as record:
        assert compat.prepare_fused_kernel(True) is False
    messages = [str(w.message) for w in record]
    assert any("compiling botorch's fused qLogNEHVI" in m for m in messages)  # the delay is shown
    assert any("unavailable" in m and "no C++ compiler here" in m for m in messages)
    assert fresh_kernel_state._C is None and fresh_kernel_state._load_attempted

    # the engine then proposes with botorch's pure-Python qLogNEHVI
    engine = BotorchEngine(seed=0, fused_kernel=True, **FAST).setup(_definition())
    _tell_grid(engine, 6, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "model-based proposal failed"
        props = engine.ask(1)
    assert len(props) == 1 and 0.0 <= props[0].weights[0] <= 1.0


def test_disabled_kernel_never_compiles(fresh_kernel_state, monkeypatch):
    import torch.utils.cpp_extension as cpp

    def must_not_load(*args, **kwargs):
        raise AssertionError("compiled although fused_kernel=False")

    monkeypatch.setattr(cpp, "load", must_not_load)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compat.prepare_fused_kernel(False) is False


def _layers_definition() -> StudyDefinition:
    from paretoopt.space import Integer

    space = DesignSpace(
        Real("x", 0.0, 1.0), Integer("layers", 5, 60), Choice("material", ("lead", "tungsten"))
    )

    def simulate(params, choices, n_samples, generator):  # never called here
        raise AssertionError

    return StudyDefinition(
        "bo_layers", space, [Objective("cost", unit="kEUR"), Objective("gain", "maximize")], simulate
    )


def _tell_layers(engine: BotorchEngine, n: int, start: int = 0) -> None:
    rng = np.random.default_rng(start)
    records = []
    for k in range(start, start + n):
        w1, layers = float(rng.random()), int(rng.integers(5, 61))
        material = ("lead", "tungsten")[k % 2]
        records.append(
            TrialRecord(
                number=k,
                state="COMPLETE",
                weights=(w1, 1 - w1),
                choices={"layers": layers, "material": material},
                objectives=(0.2 * layers + 3.0 * w1, np.log(layers) + np.sqrt(w1)),
                stderr=(0.05, 0.05),
            )
        )
    engine.tell(records)
    engine.skip(n)


@pytest.mark.parametrize("relax", [True, False])
def test_many_integer_levels_are_relaxed_and_rounded(monkeypatch, relax):
    # 56 layer counts x 2 materials = 112 combinations > max_enumerate: with relax_integers the
    # layer count is optimised as a continuous coordinate and only the materials are enumerated
    engine = BotorchEngine(seed=0, fused_kernel=False, relax_integers=relax, batch_size=2, **FAST)
    engine.setup(_layers_definition())
    _tell_layers(engine, 10)
    seen = []
    inner = engine._optimize_enumerated
    monkeypatch.setattr(engine, "_optimize_enumerated", lambda *a: seen.append(a[-1]) or inner(*a))
    proposals = engine.ask(2)
    assert seen == ([("choice",)] if relax else [])
    for p in proposals:
        assert isinstance(p.choices["layers"], int) and 5 <= p.choices["layers"] <= 60
        assert p.choices["material"] in ("lead", "tungsten")
        assert sum(p.weights) == pytest.approx(1.0)


def test_an_ask_without_new_results_reuses_the_fit(monkeypatch):
    engine = BotorchEngine(seed=0, fused_kernel=False, **FAST).setup(_definition())
    _tell_grid(engine, 6, 0.1)
    fits = []
    inner = engine._fit
    monkeypatch.setattr(engine, "_fit", lambda model, maxiter: fits.append(maxiter) or inner(model, maxiter))
    engine.ask(1)
    n_first = len(fits)
    assert n_first >= 1
    engine.ask(1)  # a refill: nothing new was told, the previous proposal is pending
    assert len(fits) == n_first
    new_result = [
        TrialRecord(
            number=6,
            state="COMPLETE",
            weights=(0.3, 0.7),
            choices={"material": "lead"},
            objectives=(5.0, 2.0),
            stderr=(0.1, 0.1),
        )
    ]
    engine.tell(new_result)
    engine.ask(1)
    assert len(fits) > n_first


def test_hyperparameters_are_refitted_at_checkpoints_and_condition_on_every_trial(monkeypatch):
    # refit_fraction 0.25: a cold anchor fit (5 fit_maxiter) on 8 trials, a warm one (fit_maxiter) on
    # 10; at 9 and 11 trials no fit, the GP conditions on all of them with the last fit's
    # hyperparameters
    records = []
    rng = np.random.default_rng(1)
    for k in range(12):
        w1 = float(rng.random())
        records.append(
            TrialRecord(
                number=k,
                state="COMPLETE",
                weights=(w1, 1 - w1),
                choices={"material": ("lead", "tungsten")[k % 2]},
                objectives=(10.0 * w1, 5.0 * np.sqrt(w1)),
                stderr=(0.1, 0.1),
            )
        )
    engine = BotorchEngine(seed=0, fused_kernel=False, **FAST).setup(_definition())
    fits = []
    inner = engine._fit
    monkeypatch.setattr(
        engine,
        "_fit",
        lambda model, maxiter: (
            fits.append((model.train_inputs[0].shape[-2], maxiter)) or inner(model, maxiter)
        ),
    )
    engine.tell(records[:8])
    models = {8: engine._fitted_model(*engine._training_data())}
    for n in (9, 10, 11):
        engine.tell(records[n - 1 : n])
        models[n] = engine._fitted_model(*engine._training_data())
    assert fits == [(8, 100), (10, 20)]
    assert [engine._checkpoint(n) for n in (8, 9, 10, 11, 16, 23, 24, 100)] == [8, 8, 10, 10, 16, 20, 24, 96]
    for n, model in models.items():
        assert model.train_inputs[0].shape[-2] == n  # every finished trial conditions the GP
    states = {n: m.state_dict() for n, m in models.items()}
    names = [k for k in states[8] if k.endswith("raw_lengthscale")]
    assert names
    for name in names:
        torch.testing.assert_close(states[9][name], states[8][name])  # the anchor's, unchanged
        torch.testing.assert_close(states[11][name], states[10][name])
    assert any(not torch.equal(states[10][k], states[8][k]) for k in names)  # 10 was refitted
    # refit_fraction 0: a fit after every new result, as before checkpoints
    eager = BotorchEngine(seed=0, fused_kernel=False, refit_fraction=0.0, **FAST).setup(_definition())
    assert [eager._checkpoint(n) for n in (8, 9, 10, 11)] == [8, 9, 10, 11]


def test_anchors_above_64_trials_start_from_the_checkpoint_before_them(monkeypatch):
    """A cold anchor fit at 128 trials cost 1.2 s on the calorimeter; it starts from the fit at
    112 trials instead (2 fit_maxiter iterations), which starts from the cold one at 64."""
    engine = BotorchEngine(seed=0, fused_kernel=False, **{**FAST, "fit_maxiter": 2}).setup(_definition())
    _tell_grid(engine, 129, 0.1)
    fits, starts = [], {}
    inner = engine._fit

    def spy(model, maxiter):
        n = model.train_inputs[0].shape[-2]
        fits.append((n, maxiter))
        starts[n] = {k: v.detach().clone() for k, v in model.named_parameters()}
        return inner(model, maxiter)

    monkeypatch.setattr(engine, "_fit", spy)
    engine._fitted_model(*engine._training_data())
    assert engine._checkpoint(129) == 128
    assert fits == [(64, 10), (112, 2), (128, 4)]
    m = engine._training_data()[1].shape[1]
    for name, value in engine._fits[(112, m)].items():
        torch.testing.assert_close(starts[128][name], value)  # warm from the checkpoint at 112
    for name, value in engine._fits[(64, m)].items():
        torch.testing.assert_close(starts[112][name], value)


def test_the_acquisition_baseline_is_capped_at_max_baseline(monkeypatch):
    engine = BotorchEngine(seed=0, fused_kernel=False, max_baseline=5, **FAST).setup(_definition())
    _tell_grid(engine, 20, 0.1)  # gain = 5 sqrt(w1), cost = 10 w1 (+2 for lead): ~10 on the front
    sizes = []
    inner = engine._spread_baseline

    def spy(model, probable, ref_point):
        out = inner(model, probable, ref_point)
        sizes.append((probable.shape[0], out.shape[0]))
        return out

    monkeypatch.setattr(engine, "_spread_baseline", spy)
    proposals = engine.ask(1)
    assert len(proposals) == 1
    assert sizes and sizes[0][0] > 5 and sizes[0][1] == 5


def test_the_baseline_keeps_the_trials_that_hold_the_most_hypervolume():
    # 20 noise-free trials, all on the front (cost = 10 w1, gain = 5 sqrt(w1)): every one is
    # Pareto-optimal with probability 1, so botorch's own cap would keep the first 5 told;
    # the hypervolume-spread 5 hold more of the front's hypervolume than those, and most of it
    from paretoopt.pareto import hypervolume

    w1 = np.random.default_rng(3).random(20)
    records = [
        TrialRecord(
            number=k,
            state="COMPLETE",
            weights=(float(w), 1 - float(w)),
            choices={"material": "tungsten"},
            objectives=(10.0 * float(w), 5.0 * float(np.sqrt(w))),
            stderr=(0.0, 0.0),
        )
        for k, w in enumerate(w1)
    ]
    engine = BotorchEngine(seed=0, fused_kernel=False, max_baseline=5, **FAST).setup(_definition())
    engine.tell(records)
    X, Y, SE = engine._training_data()
    model = engine._fitted_model(X, Y, SE)
    ref = engine._reference_point(Y)
    kept = engine._spread_baseline(model, X, ref)
    assert kept.shape == (5, X.shape[1])
    rows = [int(torch.nonzero(torch.all(X == k, dim=1))[0]) for k in kept]
    objectives = np.array([r.objectives for r in records])
    dirs = ("minimize", "maximize")
    natural_ref = -ref.numpy() * np.array([1.0, -1.0])  # back from botorch's maximised space

    def hv(idx: list[int]) -> float:
        return hypervolume(objectives[idx], dirs, ref_point=natural_ref)

    assert hv(rows) > hv(list(range(5)))
    assert hv(rows) > 0.9 * hv(list(range(20)))
    assert engine._spread_baseline(model, X[:4], ref).shape[0] == 4  # under the cap: all kept


def test_a_batch_refines_once_and_picks_distinct_points_greedily(monkeypatch):
    # q = 4 over the enumerated materials: one batched L-BFGS-B run per batch (not one per
    # pick); the later picks come from the rescored pool with the earlier ones pending, so
    # they differ from the first and from each other, and each lies in the space
    engine = BotorchEngine(seed=0, fused_kernel=False, batch_size=4, **FAST).setup(_definition())
    _tell_grid(engine, 8, 0.1)
    import botorch.generation.gen as gen

    runs = []
    inner = gen.gen_candidates_scipy
    monkeypatch.setattr(gen, "gen_candidates_scipy", lambda *a, **k: runs.append(1) or inner(*a, **k))
    proposals = engine.ask(4)
    assert len(runs) == 1
    assert len(proposals) == 4
    keys = {(round(p.weights[0], 9), p.choices["material"]) for p in proposals}
    assert len(keys) == 4
    for p in proposals:
        assert 0.0 <= p.weights[0] <= 1.0 and sum(p.weights) == pytest.approx(1.0)
        assert p.choices["material"] in ("lead", "tungsten")


def test_expected_numerical_warnings_are_dropped_and_others_passed_on():
    from botorch.exceptions.warnings import BotorchWarning, OptimizationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with engine_module.quiet_expected_warnings():
            warnings.warn(
                "Optimization failed within `scipy.optimize.minimize`", RuntimeWarning, stacklevel=1
            )
            warnings.warn("stopped after 10 iterations", OptimizationWarning, stacklevel=1)
            warnings.warn(
                "Low-rank cholesky updates failed due NaNs or due to an ill-conditioned covariance matrix. "
                "Falling back to standard sampling.",
                BotorchWarning,
                stacklevel=1,
            )
            warnings.warn("the reference point lies inside the front", BotorchWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["the reference point lies inside the front"]


def test_many_combinations_are_scored_in_two_stages_and_refined_from_the_best_four(monkeypatch):
    # 6 materials (> 4): raw_samples 16 -> the first quarter (4 points) for all 6, the other 12
    # for the 4 most promising materials only; L-BFGS-B from num_restarts x 4 starts
    materials = ("Pb", "W", "Fe", "Cu", "Al", "U")
    space = DesignSpace(Real("x", 0.0, 1.0), Choice("material", materials))

    def simulate(params, choices, n_samples, generator):  # never called here
        raise AssertionError

    definition = StudyDefinition(
        "six", space, [Objective("cost", unit="kEUR"), Objective("gain", "maximize")], simulate
    )
    engine = BotorchEngine(seed=0, fused_kernel=False, **FAST).setup(definition)
    rng = np.random.default_rng(0)
    records = []
    for k in range(12):
        w1 = float(rng.random())
        extra = materials.index(materials[k % 6])
        records.append(
            TrialRecord(
                number=k,
                state="COMPLETE",
                weights=(w1, 1 - w1),
                choices={"material": materials[k % 6]},
                objectives=(10.0 * w1 + extra, 5.0 * np.sqrt(w1)),
                stderr=(0.1, 0.1),
            )
        )
    engine.tell(records)
    engine.skip(12)
    import botorch.generation.gen as gen

    evaluated, starts = [], []
    inner_eval = optimise.evaluate
    monkeypatch.setattr(
        optimise,
        "evaluate",
        lambda acq, pts, **k: evaluated.append(pts.shape[0]) or inner_eval(acq, pts, **k),
    )
    inner_gen = gen.gen_candidates_scipy
    monkeypatch.setattr(
        gen, "gen_candidates_scipy", lambda s, *a, **k: starts.append(s.shape[0]) or inner_gen(s, *a, **k)
    )
    (proposal,) = engine.ask(1)
    assert evaluated[:2] == [6 * 4, 4 * 12]
    assert starts == [FAST["num_restarts"] * 4]
    assert proposal.choices["material"] in materials
