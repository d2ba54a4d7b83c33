"""Is a trial the best known design for its own trade-off? The guard against local optima.

A trial minimised its scalarisation ``s_w`` (weights ``w``, its batch's normalisation) from one
start; on a disconnected or non-convex front the inner loop can stop in a local minimum on a
dominated arc that no other trial happens to dominate. Every other known design ``u`` is a
witness: if ``s_w(f_u) < s_w(f_t)`` beyond both standard errors, ``t`` is not the optimum of its
own trade-off. The runner then re-solves the trade-off from the witness's design (in
:mod:`paretoopt.run.execute`), and the read API does not show such a trial as Pareto-optimal.

Witnesses are the completed trials' final designs and, for studies with exact (zero-error)
objectives and no constraints, the designs their inner loops passed through (the stored
trajectories of the :data:`TRAJECTORY_NEIGHBOURS` trials nearest in weights): every design the
simulation evaluated counts. (Trajectory points of a Monte Carlo study carry no stored error,
and of a constrained one no constraint values, so there they do not witness.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from paretoopt.normalization import ANCHOR_OFF_WEIGHT, NormalizationHistory
from paretoopt.scalarize import Scalarization, make_scalarization, smoothing_gap, unsmoothed
from paretoopt.storage import BaseStorage
from paretoopt.trials import EXTERNAL_SOURCES

#: A witness must beat a trial by this many standard errors of both (Monte Carlo noise).
WITNESS_SIGMAS = 2.0
#: ... and by this fraction of the trial's own loss: below it the gap is the inner loop's own
#: precision at the kink of the Chebyshev max (L-BFGS-B stalls there), not a wrong basin. On the
#: interior-optimum ZDT1 re-solves of 5e-4 - 8e-4 gaps cost 100+ calls each and gained nothing;
#: a local minimum on a dominated arc (ZDT3) loses by percents.
WITNESS_RTOL = 1e-3
#: Trajectories of this many trials nearest in weights (same choices) witness too.
TRAJECTORY_NEIGHBOURS = 8


@dataclass(frozen=True)
class KnownDesign:
    """A completed design that may witness against a trial: its batch, choices, continuous
    parameters and objective means and standard errors (natural units)."""

    number: int
    batch: int
    choices: dict[str, Any]
    params: dict[str, float]
    objectives: tuple[float, ...]
    stderr: tuple[float, ...]
    #: a trial's final design (not a point its inner loop passed through)
    final: bool = True
    #: the weights of the trial it comes from
    weights: tuple[float, ...] = ()


def best_witness(
    scalarization: Scalarization,
    objectives: Sequence[float],
    stderr: Sequence[float],
    known: Sequence[KnownDesign],
    signs: Sequence[float] | torch.Tensor,
) -> KnownDesign | None:
    """The known design that beats ``objectives`` by most on ``scalarization`` with an exact max
    (:func:`~paretoopt.scalarize.unsmoothed`; each side given the benefit of ``WITNESS_SIGMAS``
    standard errors), or ``None`` when none does. A witness must win by ``WITNESS_RTOL`` of the
    trial's value plus, for a smoothed max, the smoothing's largest gap ``smoothing * ln m``:
    an inner loop that trains on the smoothed max (Adam, the legacy L-BFGS-B) ends at its
    optimum, off the kink by up to that on the exact max, which is no local minimum (one of
    ZDT1's 30 legacy-mode grid points was flagged so and left off its front)."""
    if not known:
        return None
    gap = smoothing_gap(scalarization)
    scalarization = unsmoothed(scalarization)
    sg = torch.as_tensor(signs, dtype=torch.float64)
    own = torch.as_tensor(list(objectives), dtype=torch.float64)
    own_best = float(
        scalarization(own - WITNESS_SIGMAS * sg * torch.as_tensor(list(stderr), dtype=torch.float64))
    )
    f = torch.as_tensor([k.objectives for k in known], dtype=torch.float64)
    se = torch.as_tensor([k.stderr for k in known], dtype=torch.float64)
    with torch.no_grad():
        values = scalarization(f + WITNESS_SIGMAS * sg * se)
    margin = WITNESS_RTOL * max(abs(own_best), 1e-12) + gap
    i = int(torch.argmin(values))
    return known[i] if float(values[i]) < own_best - margin else None


def known_design(t: Any) -> KnownDesign:
    """A completed trial as a possible witness."""
    stderr = t.stderr if t.stderr else [0.0] * len(t.objectives)
    return KnownDesign(
        t.number,
        t.batch,
        dict(t.choices),
        dict(t.params),
        tuple(t.objectives),
        tuple(stderr),
        True,
        tuple(t.weights),
    )


def _ignored(w: np.ndarray) -> np.ndarray:
    """The objectives a weight vector ignores (weight at most ``ANCHOR_OFF_WEIGHT`` of its largest)."""
    return w <= ANCHOR_OFF_WEIGHT * float(np.max(w, initial=0.0))


def piles_up(
    params: dict[str, float], weights: Any, known: Sequence[KnownDesign], space: Any, tol: float = 1e-6
) -> KnownDesign | None:
    """A known final design of another trade-off (other weights) at the same point as ``params``
    (every inner parameter within ``tol`` of its range): several trade-offs ending on one design
    is how an inner loop stuck in one basin shows, when no known design beats it yet.

    Two trade-offs that both give some objective a zero weight (at most an anchor's
    ``ANCHOR_OFF_WEIGHT`` of their largest) are left out: both ignore that objective (but for
    the augmentation), so both legitimately end on the vertex of the front where the others are
    jointly best (DTLZ2: every ``w`` with ``w_1 = 0`` has its Chebyshev optimum at
    ``f = (1, 0, 0)``; a ``(1, 0)`` trial and the ``(1, 1e-3)`` anchor share the first
    objective's extreme); re-solving them cost two cold inner loops each and found nothing
    (issue #19: 120-296 calls for such trials against 3-54 for the others)."""
    w = np.asarray(weights, dtype=float)
    for k in known:
        kw = np.asarray(k.weights, dtype=float) if k.weights else None
        if not k.final or kw is None or kw.shape != w.shape or np.allclose(kw, w):
            continue
        if np.any(_ignored(kw) & _ignored(w)):  # both ignore one objective: a shared vertex
            continue
        if all(
            abs(k.params.get(p.name, np.inf) - params[p.name]) <= tol * (p.high - p.low) for p in space.inner
        ):
            return k
    return None


def trajectory_witnesses(
    storage: BaseStorage,
    trial: Any,
    completed: Sequence[Any],
    *,
    exclude: int | None = None,
    cache: dict[int, list[KnownDesign]] | None = None,
) -> list[KnownDesign]:
    """The trajectory points of the :data:`TRAJECTORY_NEIGHBOURS` trials of ``completed`` with
    ``trial``'s choices nearest to its weights (never trial ``exclude`` itself), as witnesses;
    ``[]`` unless they are all exact (zero standard errors)."""
    same = [
        t
        for t in completed
        if t.choices == trial.choices and t.number != exclude and t.source not in EXTERNAL_SOURCES
    ]
    if not same or any(any(e != 0 for e in (t.stderr or ())) for t in same):
        return []
    w = np.asarray(trial.weights, dtype=float)
    same.sort(key=lambda t: (float(np.linalg.norm(np.asarray(t.weights, dtype=float) - w)), t.number))
    out = []
    for t in same[:TRAJECTORY_NEIGHBOURS]:
        for step in storage.get_trajectory(t.id):
            if len(step.objectives) == len(t.objectives) and np.all(np.isfinite(step.objectives)):
                zeros = (0.0,) * len(step.objectives)
                out.append(
                    KnownDesign(
                        t.number, t.batch, dict(t.choices), dict(step.params), tuple(step.objectives), zeros
                    )
                )
    return out


def witnesses_for(
    storage: BaseStorage,
    trial: Any,
    completed: Sequence[Any],
    *,
    trajectories: bool,
    exclude: int | None = None,
    cache: dict[int, list[KnownDesign]] | None = None,
) -> list[KnownDesign]:
    """What ``trial`` is judged against: the final designs of ``completed`` (never ``exclude``)
    and, when ``trajectories``, the trajectory points of its nearest neighbours (read through
    ``cache``, trial id -> points, when judging many trials)."""
    known = [known_design(t) for t in completed if t.number != exclude]
    if trajectories:
        known += trajectory_witnesses(storage, trial, completed, exclude=exclude, cache=cache)
    return known


def beaten_trials(
    storage: BaseStorage,
    judged: Sequence[Any],
    completed: Sequence[Any],
    history: NormalizationHistory,
    kind: str,
    signs: Sequence[float] | torch.Tensor,
    *,
    trajectories: bool,
) -> dict[int, int]:
    """``{trial number: witness number}`` for every trial of ``judged`` that a witness from
    ``completed`` (:func:`witnesses_for`) beats on the judged trial's own scalarisation. Trials
    without weights of the study's kind (anchors, re-simulations, what-ifs) are not judged."""
    out: dict[int, int] = {}
    cache: dict[int, list[KnownDesign]] = {}
    for t in judged:
        if t.source in EXTERNAL_SOURCES or not np.all(np.isfinite(t.objectives)):
            continue
        mine = known_design(t)
        s = make_scalarization(kind, t.weights, history.for_batch(t.batch))
        others = witnesses_for(
            storage, t, completed, trajectories=trajectories, exclude=t.number, cache=cache
        )
        witness = best_witness(s, mine.objectives, mine.stderr, others, signs)
        if witness is not None:
            out[t.number] = witness.number
    return out
