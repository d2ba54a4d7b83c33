"""Anchors find each objective's extreme when another objective spans decades, and a trade-off
re-solved because a known design beats it ends at least as well as that design.

Both were found on the user-written shield study (dose over seven decades, mass over one): the
"lowest mass" anchor stopped at 10.8 t where 4.47 t is reachable, and re-solves from a witness
spent 100+ calls and came back worse than the witness."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

from paretoopt import DesignSpace, InnerSettings, Objective, Real, StudyDefinition, load_study_definition
from paretoopt.inner import WARM_START_MARGIN
from paretoopt.normalization import resolve_normalization
from paretoopt.optimality import KnownDesign, best_witness
from paretoopt.run.execute import SPREAD_STARTS, execute_trial, spread_starts
from paretoopt.scalarize import Normalization, make_scalarization, unsmoothed
from paretoopt.storage import FrozenTrial, TrialState
from paretoopt.study import _empty_trial

MU_PER_CM = 0.9  # an attenuation of the order of lead's for 1 MeV gammas (0.0776 cm2/g x 11.35 g/cm3)


def _decades_study() -> StudyDefinition:
    """Dose ``5e4 exp(-mu t) (1 + y^2)`` (uSv/h; 23 decades over t) against mass ``t (1 + y)``
    (t): the lowest mass is 0.5 at t = 0.5 cm, y = 0; the lowest dose is at t = 60 cm, y = 0."""

    def simulate(params, choices, n_samples, generator):
        t, y = params["t_cm"], params["y"]
        return {"dose": 5.0e4 * torch.exp(-MU_PER_CM * t) * (1.0 + y**2), "mass": t * (1.0 + y)}

    return StudyDefinition(
        "decades",
        DesignSpace(Real("t_cm", 0.5, 60.0, unit="cm"), Real("y", 0.0, 1.0)),
        [Objective("dose", unit="uSv/h"), Objective("mass", unit="t")],
        simulate,
    )


def test_the_anchors_reach_each_extreme_when_another_objective_spans_decades():
    norm, anchors = resolve_normalization(_decades_study())
    dose_min = 5.0e4 * math.exp(-MU_PER_CM * 60.0)  # at t = 60, y = 0 (computed here)
    assert float(norm.ideal[0]) == pytest.approx(dose_min, rel=1e-4)
    assert float(norm.ideal[1]) == pytest.approx(0.5, rel=1e-4)  # t = 0.5 cm, y = 0
    # the nadir is the other anchor's value: the dose at the lightest design, the mass at the safest
    assert float(norm.nadir[0]) == pytest.approx(5.0e4 * math.exp(-MU_PER_CM * 0.5), rel=1e-3)
    assert float(norm.nadir[1]) == pytest.approx(60.0, rel=1e-4)
    assert all(a.converged for a in anchors)


def _trial(weights: tuple[float, ...], seed: int = 3) -> FrozenTrial:
    return dataclasses.replace(
        _empty_trial(),
        id=1,
        number=20,
        batch=3,
        state=TrialState.RUNNING,
        source="engine",
        weights=weights,
        seed=seed,
    )


def _zdt3_witness(zdt3: StudyDefinition):
    """ZDT3's normalisation, the weights (0.7, 0.3), their Chebyshev scalarisation with the exact
    max (what designs are compared by), the known design at that trade-off's optimum (brute force
    over f1 = x1, every other x at 0, where g = 1) and its value."""
    norm = Normalization(zdt3.ideal, zdt3.nadir, zdt3.signs)
    weights = (0.7, 0.3)
    scal = unsmoothed(make_scalarization("chebyshev", weights, norm))
    x1 = np.linspace(0.0, 1.0, 200_001)
    f = np.column_stack([x1, 1.0 - np.sqrt(x1) - x1 * np.sin(10.0 * np.pi * x1)])
    values = scal(torch.as_tensor(f, dtype=torch.float64)).numpy()
    best = int(np.argmin(values))
    names = zdt3.space.inner_names
    witness = KnownDesign(
        7,
        1,
        {},
        {n: (float(x1[best]) if n == names[0] else 0.0) for n in names},
        tuple(float(v) for v in f[best]),
        (0.0, 0.0),
        True,
        (0.5, 0.5),
    )
    return norm, weights, scal, witness, float(values[best])


def test_a_trade_off_beaten_by_a_known_design_ends_at_least_as_well_as_that_design(studies_dir):
    """ZDT3 with a 4-step inner loop (too few to converge from the centre or from a start moved
    off the bounds): the witness, the trade-off's optimum found here by brute force, must not be
    lost to the re-solves that start from it."""
    zdt3 = copy.copy(load_study_definition(studies_dir / "zdt3.py"))
    zdt3.inner = InnerSettings(max_steps=4)
    norm, weights, scal, witness, best_value = _zdt3_witness(zdt3)
    state, result = execute_trial(zdt3, _trial(weights), norm, "chebyshev", known=[witness])
    assert state is TrialState.COMPLETE
    got = float(scal(torch.as_tensor(result.objectives, dtype=torch.float64)))
    assert got <= best_value + 1e-12
    # both runs were paid for: the first loop and the re-solve from the witness (4 steps + a
    # final evaluation each); that re-solve ended better than the first loop, which settles it
    assert result.n_calls >= 2 * 5


def test_spread_starts_run_only_when_the_witness_leads_nowhere_better(studies_dir):
    """A witness that beats the trial: its design's re-solve ends better, and no spread start is
    tried (on DTLZ2 they had cost 50-75 calls per such trial for nothing). A trade-off that piles
    up on another's design (the same design, other weights): nothing known is better, so the
    spread starts are tried, each paid for."""
    zdt3 = load_study_definition(studies_dir / "zdt3.py")
    norm, weights, _, witness, _ = _zdt3_witness(zdt3)
    starts = spread_starts(zdt3, SPREAD_STARTS, _trial(weights).seed)

    # where each start's inner loop makes its first call: moved off the faces by the margin
    firsts = [{p.name: p.interior(s[p.name], WARM_START_MARGIN) for p in zdt3.space.inner} for s in starts]

    def run(known):
        study = copy.copy(zdt3)
        study.inner = InnerSettings(max_steps=4)
        study.simulate = _Recording(zdt3.simulate, blocks=False)
        state, result = execute_trial(study, _trial(weights), norm, "chebyshev", known=known)
        assert state is TrialState.COMPLETE
        assert result.n_calls == len(study.simulate.designs)  # every call paid for
        tried = [any(d == pytest.approx(s, abs=1e-12) for d in study.simulate.designs) for s in firsts]
        return result, tried

    alone, _ = run([])
    _, tried = run([witness])
    assert not any(tried)
    same = dataclasses.replace(
        witness, params=dict(alone.params), objectives=tuple(alone.objectives), weights=(0.3, 0.7)
    )
    piled, tried = run([same])
    assert all(tried)
    assert piled.n_calls > alone.n_calls


class _Recording:
    """A simulation wrapper that records the design of every call; with ``blocks`` it poses as a
    pipeline of blocks (``trial_artefacts``), whose last call must be the kept design's."""

    def __init__(self, simulate, blocks: bool) -> None:
        self.simulate = simulate
        self.designs: list[dict[str, float]] = []
        if blocks:
            self.trial_artefacts = lambda: ()

    def __call__(self, params, choices, n_samples, generator):
        self.designs.append({k: float(v) for k, v in params.items()})
        return self.simulate(params, choices, n_samples, generator)


def test_a_pipeline_kept_at_its_witness_is_not_evaluated_twice(studies_dir):
    """When the re-solve keeps the witness's own evaluation, that evaluation was the simulation's
    last call: a pipeline's blocks are already trained on the kept design, and no further call
    is made (one was, a duplicate of the witness's evaluation). Two steps per inner loop: too
    few for any re-solve to come back to the witness's value, so its evaluation is kept."""
    zdt3 = load_study_definition(studies_dir / "zdt3.py")
    norm, weights, _, witness, _ = _zdt3_witness(zdt3)
    runs = {}
    for blocks in (False, True):
        study = copy.copy(zdt3)
        study.inner = InnerSettings(max_steps=2)
        study.simulate = _Recording(zdt3.simulate, blocks)
        state, result = execute_trial(study, _trial(weights), norm, "chebyshev", known=[witness])
        assert state is TrialState.COMPLETE
        runs[blocks] = (study.simulate.designs, result)
    plain, piped = runs[False], runs[True]
    assert piped[1].params == witness.params  # the witness's design was kept ...
    assert piped[0][-1] == pytest.approx(witness.params)  # ... and evaluated last
    assert len(piped[0]) == len(plain[0]) == piped[1].n_calls  # no call beyond the plain study's


def test_a_design_beside_the_kink_is_no_witness_against_the_optimum_on_it():
    """On the front ``f2 = 1 - f1`` the weights (0.9375, 0.0625) have their Chebyshev optimum on
    the kink of the max, at ``f1 = 0.05375``. A design 1e-3 beside it is worse by 6.25e-5 on the
    exact max, but the log-sum-exp max (smoothing 1e-3) is ``ln 2`` smoothings high on the kink
    and ranked it better by 3e-4: the guard re-solved such optima (35-90 calls each on the mixed
    study). Designs compare on the exact max, and a witness must win by more than the smoothing's
    gap (``1e-3 ln 2``) as well: a design that beats by 1.3e-3 is one."""
    norm = Normalization([0.0, 0.0], [1.0, 1.0], [1.0, 1.0])
    scal = make_scalarization("chebyshev", (0.9375, 0.0625), norm)
    f1 = (0.0625 * 1.01 - 0.9375 * 0.01) / 1.0
    beside = KnownDesign(3, 3, {}, {"x": 0.0}, (f1 - 1e-3, 1.0 - f1 + 1e-3), (0.0, 0.0))
    smoothed = scal(torch.tensor([[f1, 1.0 - f1], list(beside.objectives)], dtype=torch.float64))
    assert float(smoothed[1]) < float(smoothed[0]) - 2e-4  # the smoothed max prefers it ...
    assert best_witness(scal, (f1, 1.0 - f1), (0.0, 0.0), [beside], [1.0, 1.0]) is None  # ... not the judge
    better = dataclasses.replace(beside, objectives=(f1 - 2e-2, 1.0 - f1 - 2e-2))  # dominates
    assert best_witness(scal, (f1, 1.0 - f1), (0.0, 0.0), [beside, better], [1.0, 1.0]) is better
