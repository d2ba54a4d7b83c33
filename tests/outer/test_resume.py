"""Resume through the real runner: a study stopped between batches and run again continues
with exactly the trials an uninterrupted run makes, and re-runs none of the finished ones."""

from __future__ import annotations

import pytest

from paretoopt.analytic import mixed_study
from paretoopt.run import optimize
from paretoopt.storage import TrialState
from tests.outer import FAST_BOTORCH

OPTIONS = {
    "nsga2": {"population": 4},
    "botorch": {"batch_size": 2, **FAST_BOTORCH},
}


def _signature(study) -> list:
    """Everything a trial is: proposal, inner-loop optimum, objectives, cost, seed (exactly)."""
    return [
        (t.number, t.source, t.weights, t.choices, t.params, t.objectives, t.stderr, t.n_calls, t.seed)
        for t in sorted(study.trials, key=lambda t: t.number)
    ]


@pytest.mark.parametrize("engine, first, total", [("nsga2", 8, 16), ("botorch", 6, 10)])
def test_stopped_and_resumed_run_equals_an_uninterrupted_one(tmp_path, engine, first, total):
    definition = mixed_study(n_var=2)
    kwargs = {"engine": engine, "engine_options": OPTIONS[engine], "seed": 3}

    whole = optimize(definition, storage=f"sqlite:///{tmp_path / 'whole.db'}", n_trials=total, **kwargs)

    url = f"sqlite:///{tmp_path / 'parts.db'}"
    part = optimize(definition, storage=url, n_trials=first, **kwargs)  # stops between batches
    before = {t.number: (t.finished_at, t.n_calls) for t in part.trials}
    resumed = optimize(definition, storage=url, n_trials=total, **kwargs)

    assert all(t.state is TrialState.COMPLETE for t in resumed.trials)
    assert len(resumed.trials) == total
    # finished trials were not run again
    assert {t.number: (t.finished_at, t.n_calls) for t in resumed.trials if t.number in before} == before
    assert _signature(resumed) == _signature(whole)
