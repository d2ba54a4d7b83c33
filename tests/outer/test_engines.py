"""Contract tests over every outer engine: proposals stay in the space, same seed gives the same
proposals, an engine rebuilt by setup + tell proposes what the running one would, failed
trials do not crash it. The objectives are a cheap closed-form stand-in for the inner loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from paretoopt.encoding import MixedEncoding, unit_from_weights, weights_from_unit
from paretoopt.exceptions import EngineError
from paretoopt.outer import ENGINES, BotorchEngine, Engine, PymooEngine, TrialRecord, make_engine
from paretoopt.problem import Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer, Real
from tests.outer import FAST_BOTORCH

torch.set_num_threads(1)

#: Small, fast settings: the contract does not depend on them.
FAST = {
    "grid": {},
    "random": {},
    "nsga2": {"population": 6},
    "botorch": FAST_BOTORCH,
}


def _definition(n_obj: int = 2, *, big_discrete: bool = False) -> StudyDefinition:
    params = [
        Real("x", 0.0, 1.0),
        Real("gap_mm", 0.1, 10.0, unit="mm", log=True, differentiable=False),
        Integer("layers", 1, 12 if big_discrete else 3),
        Choice("material", ("lead", "tungsten", 3)),
    ]
    space = DesignSpace(*params)
    objectives = [Objective(f"f{i}") for i in range(n_obj - 1)] + [Objective("gain", "maximize")]

    def simulate(params, choices, n_samples, generator):  # never called here
        raise AssertionError

    return StudyDefinition("contract", space, objectives, simulate)


def _objectives(weights, choices) -> tuple[float, ...]:
    """A closed-form stand-in for the inner loop's result (last objective maximised)."""
    w = np.asarray(weights)
    penalty = 0.1 * choices["layers"] + (0.2 if choices["material"] == "lead" else 0.0)
    penalty += 0.05 * math.log(choices["gap_mm"])
    f = 1.0 - np.sqrt(np.clip(w, 0.0, 1.0)) + penalty
    return (*f[:-1], -float(f[-1]))


def _records(engine: Engine, props, start: int, fail_every: int = 0) -> list[TrialRecord]:
    out = []
    for i, p in enumerate(props):
        k = start + i
        if fail_every and k % fail_every == fail_every - 1:
            out.append(TrialRecord(number=k, state="FAILED", weights=p.weights, choices=p.choices))
            continue
        f = _objectives(p.weights, p.choices)
        out.append(
            TrialRecord(
                number=k,
                state="COMPLETE",
                weights=p.weights,
                choices=p.choices,
                objectives=f,
                stderr=(0.01,) * len(f),
                feasible=k % 5 != 0,
            )
        )
    return out


def _run(engine: Engine, rounds: int, batch: int, fail_every: int = 0) -> list:
    """Ask/tell ``rounds`` times; returns the proposals in order."""
    proposals = []
    for _ in range(rounds):
        props = engine.ask(batch)
        engine.tell(_records(engine, props, len(proposals), fail_every))
        proposals.extend(props)
    return proposals


def _signature(props) -> list:
    return [(tuple(round(w, 12) for w in p.weights), tuple(sorted(p.choices.items()))) for p in props]


def _make(name: str, seed: int) -> Engine:
    return make_engine(name, seed=seed, **FAST[name])


def test_registry_names_and_option_checking():
    assert ENGINES["botorch"] is BotorchEngine and ENGINES["nsga2"] is PymooEngine
    with pytest.raises(EngineError):
        make_engine("nsga2", populaton=10)  # typo is rejected, not ignored
    with pytest.raises(EngineError):
        make_engine("botorch", batch_size=0)
    with pytest.raises(EngineError):
        make_engine("nsga2", population=1)


def test_encoding_round_trip():
    rng = np.random.default_rng(0)
    for m in (2, 3, 4):
        u = rng.random((50, m - 1))
        w = weights_from_unit(u, m)
        assert np.all(w >= 0) and np.allclose(w.sum(axis=1), 1.0)
        np.testing.assert_allclose(unit_from_weights(w), u, atol=1e-9)
    np.testing.assert_allclose(weights_from_unit([0.3], 2), [0.3, 0.7])
    # uniform cube -> uniform simplex: each weight of 3 has mean 1/3
    w = weights_from_unit(rng.random((20000, 2)), 3)
    np.testing.assert_allclose(w.mean(axis=0), [1 / 3] * 3, atol=0.01)
    enc = MixedEncoding(_definition().space, 2)
    choices = {"gap_mm": 2.5, "layers": 3, "material": 3}
    x = enc.encode((0.2, 0.8), choices)
    weights, back = enc.decode(x)
    np.testing.assert_allclose(weights, (0.2, 0.8))
    assert back["layers"] == 3 and back["material"] == 3 and type(back["material"]) is int
    assert back["gap_mm"] == pytest.approx(2.5)


def _check_in_space(definition: StudyDefinition, props) -> None:
    space = definition.space
    for p in props:
        w = np.asarray(p.weights)
        assert w.shape == (len(definition.objectives),)
        assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
        assert set(p.choices) == set(space.outer_names)
        assert space.validate_outer(p.choices) == p.choices
        material = space["material"]
        assert any(
            p.choices["material"] == o and type(p.choices["material"]) is type(o) for o in material.options
        )
        assert isinstance(p.choices["layers"], int)
        assert 0.1 <= p.choices["gap_mm"] <= 10.0


@pytest.mark.parametrize(
    "name, n_obj, big, rounds, batch",
    [
        ("grid", 2, False, 3, 4),
        ("random", 3, False, 3, 4),
        ("nsga2", 2, False, 5, 4),
        ("nsga2", 3, True, 3, 8),
        ("botorch", 2, False, 3, 3),  # 4 Sobol, then one enumerated (12 combinations) qLogNEHVI batch
        ("botorch", 3, True, 3, 3),  # 36 combinations: optimize_acqf_mixed_alternating
    ],
)
def test_proposals_stay_in_the_space(name, n_obj, big, rounds, batch):
    definition = _definition(n_obj, big_discrete=big)
    engine = _make(name, seed=3).setup(definition)
    props = _run(engine, rounds, batch, fail_every=4)  # failed trials must not crash it
    assert len(props) >= rounds
    _check_in_space(definition, props)


@pytest.mark.parametrize("name", ["grid", "random", "nsga2", "botorch"])
def test_same_seed_same_proposals_and_resume(name):
    definition = _definition(2)
    rounds = {"botorch": 3, "nsga2": 4}.get(name, 3)
    a = _make(name, seed=7).setup(definition)
    b = _make(name, seed=7).setup(definition)
    props_a = _run(a, rounds, 2, fail_every=5)
    props_b = _run(b, rounds, 2, fail_every=5)
    assert _signature(props_a) == _signature(props_b)
    if name != "grid":  # the grid has no seed-dependence
        c = _make(name, seed=8).setup(definition)
        assert _signature(_run(c, rounds, 2, fail_every=5)) != _signature(props_a)

    # resume: a fresh engine told the stored trials proposes what the running one does next
    resumed = _make(name, seed=7).setup(definition)
    resumed.tell(a.archive)
    resumed.skip(a.n_asked)
    assert _signature(resumed.ask(2)) == _signature(a.ask(2))


def test_nsga2_hands_out_generations_and_asks_ahead():
    definition = _definition(2)
    engine = PymooEngine(seed=1, population=6).setup(definition)
    first = engine.ask(4)
    rest = engine.ask(4)  # the generation ends: fewer than asked
    assert len(first) == 4 and len(rest) == 2
    ahead = engine.ask(3)  # nothing told yet: extra offspring instead of nothing
    assert len(ahead) == 3
    _check_in_space(definition, first + rest + ahead)
    engine.tell(_records(engine, first + rest + ahead, 0))
    nxt = engine.ask(6)
    assert 1 <= len(nxt) <= 6
    _check_in_space(definition, nxt)


def test_nsga3_for_three_objectives():
    from pymoo.algorithms.moo.nsga3 import NSGA3

    engine = PymooEngine(seed=0, population=10).setup(_definition(3))
    assert isinstance(engine._algorithm, NSGA3)
    assert isinstance(PymooEngine(seed=0).setup(_definition(2))._algorithm, NSGA3) is False


def test_engines_survive_only_failed_trials():
    definition = _definition(2)
    for name in ("nsga2", "botorch"):
        engine = _make(name, seed=0).setup(definition)
        for _ in range(3):
            props = engine.ask(3)
            engine.tell(
                [
                    TrialRecord(number=i, state="FAILED", weights=p.weights, choices=p.choices)
                    for i, p in enumerate(props)
                ]
            )
        _check_in_space(definition, engine.ask(2))
