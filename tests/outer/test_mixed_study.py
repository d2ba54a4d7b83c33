"""On the mixed analytic study both smart engines find, within a small budget, the family that
owns each part of the front (A left of the crossing f1 = 0.382, B right of it) at level 0.

The driver loop is what the runner does minus storage: ask -> inner loop -> tell."""

from __future__ import annotations

import numpy as np
import torch

from paretoopt.analytic import mixed_front, mixed_owner, mixed_study
from paretoopt.inner import optimize_inner
from paretoopt.outer import BotorchEngine, Engine, PymooEngine, TrialRecord
from paretoopt.pareto import igd, non_dominated
from paretoopt.scalarize import AugmentedChebyshev, Normalization

torch.set_num_threads(1)


def drive(engine: Engine, n_trials: int, batch: int) -> list[TrialRecord]:
    d = engine.definition
    assert d is not None
    norm = Normalization(d.ideal, d.nadir, d.signs)
    trials: list[TrialRecord] = []
    while len(trials) < n_trials:
        records = []
        for p in engine.ask(batch):
            k = len(trials) + len(records)
            r = optimize_inner(d, p.choices, AugmentedChebyshev(p.weights, norm), seed=k)
            records.append(
                TrialRecord(
                    number=k,
                    state="COMPLETE",
                    weights=p.weights,
                    choices=p.choices,
                    objectives=tuple(r.objectives[o] for o in d.objective_names),
                    stderr=tuple(r.stderr[o] for o in d.objective_names),
                    params=r.params,
                    n_calls=r.n_calls,
                )
            )
        engine.tell(records)
        trials.extend(records)
    return trials


#: Points of the true front to check: A owns the first three, B the rest. They keep away from
#: where the families meet (both ends and the crossing at f1 = 0.382): at each, the other
#: family's front is at least 0.06 away, twice the tolerance below.
TARGET_F1 = (0.05, 0.15, 0.25, 0.6, 0.7, 0.8)


def check_owners(trials: list[TrialRecord], tolerance: float = 0.05) -> None:
    """Near every target point of the true front, the engine's closest design uses the family
    that owns that part of the front, at level 0; and the traced front is close to the true one."""
    f = np.array([t.objectives for t in trials])
    for f1 in TARGET_F1:
        target = np.array([f1, 1.0 - np.sqrt(f1) if mixed_owner(f1) == "A" else (1.0 - f1) ** 2])
        i = int(np.argmin(np.linalg.norm(f - target, axis=1)))
        closest = trials[i].choices
        assert np.linalg.norm(f[i] - target) < tolerance, (f1, f[i], closest)
        assert closest == {"family": mixed_owner(f1), "level": 0}, (f1, f[i], closest)
    front = non_dominated(f, ("minimize", "minimize"))
    assert igd(f[front], mixed_front(200), ("minimize", "minimize")) < 0.05


def test_nsga2_finds_the_owning_family():
    # NSGA-II needs about 20 generations of 12 here (it passes for seeds 0-5 at this budget,
    # for about half of them at 144 trials; benchmarks/README.md)
    engine = PymooEngine(seed=0, population=12).setup(mixed_study(n_var=4))
    check_owners(drive(engine, 240, 12))


def test_botorch_finds_the_owning_family():
    # 8 Sobol trials, then 6 qLogNEHVI batches of 4
    engine = BotorchEngine(
        seed=0,
        initial_trials=8,
        batch_size=4,
        num_restarts=2,
        raw_samples=32,
        mc_samples=32,
        fused_kernel=False,
    ).setup(mixed_study(n_var=4))
    check_owners(drive(engine, 32, 4))
