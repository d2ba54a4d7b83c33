"""Synthetic stored studies for the decision tests and benchmarks: a study whose trials carry
given objective values (and standard errors, discrete choices, constraint values), written
through the Storage API as completed trials, without running any simulation.

The study has no stored normalisation, so :meth:`paretoopt.study.Study.best_trials` is the
plain non-dominated set of the stored values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paretoopt.problem import Constraint, Objective
from paretoopt.space import DesignSpace, space_to_list
from paretoopt.storage import BaseStorage, StudySpec, TrialProposal, TrialResult, TrialState
from paretoopt.study import Study, constraint_to_dict, objective_to_dict


def store_study(
    storage: BaseStorage,
    name: str,
    objectives: Sequence[Objective],
    values: Any,
    *,
    stderr: Any = None,
    space: DesignSpace | None = None,
    choices: Sequence[Mapping[str, Any]] | None = None,
    params: Sequence[Mapping[str, float]] | None = None,
    constraints: Sequence[Constraint] = (),
    constraint_values: Any = None,
    sources: Sequence[str] | None = None,
) -> Study:
    """Store ``values`` (``n x m``, natural units) as ``n`` completed trials of a new study
    ``name`` and return it. ``choices``/``params``/``sources``: one per trial (default empty /
    ``"engine"``); ``space`` defaults to one real ``x`` in [0, 1]."""
    from paretoopt.space import Real

    f = np.asarray(values, dtype=float)
    n = len(f)
    se = np.zeros_like(f) if stderr is None else np.asarray(stderr, dtype=float)
    cv = None if constraint_values is None else np.asarray(constraint_values, dtype=float).reshape(n, -1)
    space = space or DesignSpace(Real("x", 0.0, 1.0))
    rec = storage.create_study(
        StudySpec(
            name=name,
            definition_name=name,
            definition_hash="0" * 64,
            space=space_to_list(space),
            objectives=[objective_to_dict(o) for o in objectives],
            constraints=[constraint_to_dict(c) for c in constraints],
            engine="synthetic",
        )
    )
    proposals = [
        TrialProposal(
            weights=(1.0 / f.shape[1],) * f.shape[1],
            choices=dict(choices[i]) if choices else {},
            seed=i,
            source=sources[i] if sources else "engine",
        )
        for i in range(n)
    ]
    trials = storage.enqueue_trials(rec.id, proposals, batch=0)
    for i, t in enumerate(trials):
        storage.finish_trial(
            t.id,
            TrialState.COMPLETE,
            TrialResult(
                params=dict(params[i]) if params else {"x": 0.5},
                objectives=[float(v) for v in f[i]],
                stderr=[float(v) for v in se[i]],
                constraints=[] if cv is None else [float(v) for v in cv[i]],
                constraint_stderr=[] if cv is None else [0.0] * cv.shape[1],
                n_calls=1,
                converged=True,
                stop_reason="converged",
            ),
        )
    return Study(storage, storage.get_study(name))
