"""The archive as tables (:mod:`paretoopt.archive`): one row per evaluated design with its
``source`` (``"trial"``, ``"trajectory"``, ``"refined"``), sample size and ``review_grade``, in
the columns of :meth:`paretoopt.study.Study.trials_dataframe`; and the hypervolume history over
trials, calls or simulated events."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from paretoopt import pareto
from paretoopt.archive import ArchivePoint
from paretoopt.problem import Constraint, Objective
from paretoopt.report.columns import constraint_column, objective_column, param_column, stderr_column
from paretoopt.space import DesignSpace
from paretoopt.storage import FrozenTrial, TrialState

if TYPE_CHECKING:
    import pandas as pd

#: Columns an archive row adds to a trial row (``source`` then holds the archive source and
#: ``n_samples`` the events of the point's own estimate).
ARCHIVE_COLUMNS = ("trial_source", "step", "review_grade")
#: What :meth:`~paretoopt.study.Study.hypervolume_history` can index by.
HISTORY_BY = ("trials", "calls", "events")


def archive_row(
    p: ArchivePoint,
    trial_row: dict[str, Any],
    space: DesignSpace,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> dict[str, Any]:
    """The row of archive point ``p``: its trial's row (``trial_row``) with the point's design,
    figures, feasibility and source, plus :data:`ARCHIVE_COLUMNS`."""
    row = dict(trial_row)
    row["trial_source"] = row.get("source")
    row["source"] = p.source
    for q in space.inner:
        if q.name in p.params:
            row[param_column(q)] = p.params[q.name]
    for i, o in enumerate(objectives):
        row[objective_column(o)] = p.objectives[i] if i < len(p.objectives) else np.nan
        row[stderr_column(o)] = p.stderr[i] if i < len(p.stderr) else np.nan
    for i, c in enumerate(constraints):
        row[constraint_column(c)] = p.constraints[i] if i < len(p.constraints) else np.nan
        row[stderr_column(c)] = p.constraint_stderr[i] if i < len(p.constraint_stderr) else np.nan
    row["feasible"] = p.feasible
    row["step"] = p.step
    row["n_samples"] = p.n_samples
    row["review_grade"] = p.review_grade
    return row


def archive_dataframe(
    points: Sequence[ArchivePoint],
    trials: Sequence[FrozenTrial],
    row: Callable[[FrozenTrial], dict[str, Any]],
    columns: Sequence[str],
    space: DesignSpace,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> pd.DataFrame:
    """The archive ``points`` as a table: ``columns`` (a trial row's), then :data:`ARCHIVE_COLUMNS`."""
    import pandas as pd

    by_id = {t.id: t for t in trials}
    rows = [archive_row(p, row(by_id[p.trial_id]), space, objectives, constraints) for p in points]
    return pd.DataFrame(rows, columns=[*columns, *ARCHIVE_COLUMNS])


def hypervolume_history(
    trials: Sequence[FrozenTrial],
    points_of: Callable[[FrozenTrial], list[tuple[float, ...]]],
    directions: Sequence[str],
    ref: np.ndarray | None,
    by: str,
) -> pd.DataFrame:
    """Hypervolume of the points ``points_of(t)`` added trial by trial (finished trials in
    number order), with the cumulative forward calls, backward passes and simulated events
    (``NaN`` from the first trial whose events were not counted: stored before schema 0005)."""
    import pandas as pd

    if by not in HISTORY_BY:
        raise ValueError(f"by must be one of {', '.join(map(repr, HISTORY_BY))}, got {by!r}")
    finished = [t for t in trials if t.state.is_finished]
    rows: list[dict[str, Any]] = []
    points: list[tuple[float, ...]] = []
    counts: list[int] = []
    calls = backward = 0
    events: float = 0.0
    for t in finished:
        calls += t.n_calls
        backward += t.n_backward
        events += t.n_events if t.n_events is not None else math.nan
        if t.state is TrialState.COMPLETE:
            points.extend(points_of(t))
        rows.append(
            {
                "trials": len(rows) + 1,
                "number": t.number,
                "calls": calls,
                "backward": backward,
                "events": events,
            }
        )
        counts.append(len(points))
    hv_by_count = np.zeros(0)
    if ref is not None and points:
        hv_by_count = pareto.hypervolume_history(np.array(points, dtype=float), directions, ref)
    df = pd.DataFrame(rows, columns=["trials", "number", "calls", "backward", "events"])
    df["hypervolume"] = [float(hv_by_count[k - 1]) if k > 0 else 0.0 for k in counts]
    return df.set_index(by)
