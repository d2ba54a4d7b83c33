"""The one rule that fixes a study's normalisation: the definition's ideal/nadir, else anchors.

An anchor minimises one objective, lexicographically (:func:`optimize_anchor`): that objective
alone, then weight 1 on it and 1e-3 on the others from there, each objective divided by its
magnitude at the stage's first design (:class:`AnchorScalarization`, so the anchor is the same
whatever unit an objective is written in). The anchors' optima give
the payoff-table estimate of ideal and nadir; an ``ideal`` or ``nadir`` the definition states
wins over the estimate. The runner stores anchors as trials (batch -1) and
:func:`paretoopt.resolve_normalization` runs them in memory; both use the functions below, so
they agree trial for trial.

As the front grows the estimate is redone from every completed feasible trial (ideal: the best
value of each objective; nadir: the worst value on the non-dominated set) before a batch is
asked, and kept when it moved by more than :data:`RENORMALIZE_SHIFT` of a range
(:class:`NormalizationHistory`): a batch's trials use the estimate of their batch, stored with
the study, so a resumed run scalarises exactly as the uninterrupted one did. Stored objective
values never change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from paretoopt import pareto
from paretoopt.external.records import Origin
from paretoopt.inner import WARM_START_MARGIN, InnerResult, optimize_inner
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import Normalization, Scalarization, normalize_weights
from paretoopt.trials import trial_seed

#: A re-estimated ideal or nadir replaces the current one when it moved by more than this
#: fraction of the current range in some objective (few epochs: each one changes which design a
#: weight stands for, which the outer engine's model has to absorb).
RENORMALIZE_SHIFT = 0.1

#: Most discrete combinations the anchors run on (each: one anchor per objective).
ANCHOR_COMBINATIONS = 8

#: Weight of the other objectives in an anchor's weighted sum (keeps it off weakly dominated points).
ANCHOR_OFF_WEIGHT = 1e-3


#: Most simulator calls (steps) of an anchor's second, polishing stage (see :func:`optimize_anchor`).
ANCHOR_POLISH_STEPS = 10

#: How much of the anchored objective (relative) the polishing stage may give up (the off-weights
#: are 1e-3 of it at its optimum; twice that, for the optimiser's tolerance).
ANCHOR_POLISH_SLACK = 2e-3


def anchor_weights(m: int) -> list[tuple[float, ...]]:
    """The weights of the ``m`` anchors: anchor ``k`` puts 1 on objective ``k``, 1e-3 elsewhere."""
    out = []
    for k in range(m):
        w = [ANCHOR_OFF_WEIGHT] * m
        w[k] = 1.0
        out.append(tuple(w))
    return out


def anchor_combinations(space: Any, limit: int, seed: int = 0) -> list[dict[str, Any]]:
    """The discrete combinations the anchors run on: the middle of the space first
    (:meth:`DesignSpace.default_outer`), then up to ``limit - 1`` others (all of them when they
    fit, else a seeded sample), so that a choice that moves an objective by orders of magnitude
    (a sensor 1,000 times dearer, ten times sharper) has its extremes in the normalisation."""
    first = space.default_outer()
    others = [c for c in space.discrete_combinations() if c != first]
    if len(others) > limit - 1:
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xA1C0])
        keep = sorted(rng.choice(len(others), size=max(limit - 1, 0), replace=False).tolist())
        others = [others[i] for i in keep]
    return [first, *others]


def anchor_limit(n_objectives: int, n_trials: int) -> int:
    """How many combinations the anchors of a study of ``n_trials`` cover: at most
    :data:`ANCHOR_COMBINATIONS`, and at most a quarter of the trials go to anchors."""
    return max(1, min(ANCHOR_COMBINATIONS, n_trials // (4 * n_objectives)))


def anchor_seed(study_seed: int, k: int) -> int:
    """The inner-loop seed of anchor ``k`` (trial number ``-1 - k`` of the study's seed stream)."""
    return trial_seed(study_seed, -1 - k)


class AnchorScalarization(Scalarization):
    """An anchor's loss: ``sum_j w_j s_j f_j / |f_j(x0)|`` with ``s_j`` the direction sign and
    ``x0`` the first design it scores (its magnitudes are taken once, without gradient).

    Dividing by the start's magnitudes makes the loss free of units: an objective written in
    EUR instead of kEUR is 1,000 times larger at every design, and so is its divisor. (A raw
    weighted sum is not: 1e-3 x a cost of 3,000 kEUR outweighs 1 x a resolution of 0.4 %, and
    both anchors then minimise the cost.) An objective that is exactly 0 at the start keeps
    divisor 1 (in its own unit); give the study an ``ideal`` / ``nadir`` if that matters.
    """

    kind = "anchor"

    def __init__(
        self, weights: Sequence[float] | torch.Tensor, signs: Sequence[float] | torch.Tensor
    ) -> None:
        super().__init__(Normalization.identity(signs))
        m = self.normalization.n_objectives
        self.weights = normalize_weights(torch.as_tensor(weights, dtype=torch.float64), m)
        self.magnitudes: torch.Tensor | None = None

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        z = self._checked(f)  # direction-signed, unscaled
        if self.magnitudes is None:
            start = f.detach().reshape(-1, f.shape[-1])[0].abs().to(torch.float64).cpu()
            self.magnitudes = torch.where(start > 0, start, torch.ones_like(start))
        scale = self.magnitudes.to(device=z.device, dtype=z.dtype)
        w = self.weights.to(device=z.device, dtype=z.dtype)
        return (z / scale * w).sum(-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "weights": self.weights.tolist(),
            "magnitudes": None if self.magnitudes is None else self.magnitudes.tolist(),
            "normalization": self.normalization.to_dict(),
        }


def anchor_scalarization(
    weights: Sequence[float] | torch.Tensor, signs: Sequence[float] | torch.Tensor
) -> AnchorScalarization:
    """An anchor's loss (a fresh one per inner loop: it keeps its start's magnitudes)."""
    return AnchorScalarization(weights, signs)


def optimize_anchor(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    weights: Sequence[float],
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    init: Mapping[str, float] | None = None,
    device: str | torch.device = "cpu",
    origin: Origin | None = None,
) -> InnerResult:
    """An anchor's inner loop, lexicographic in two stages: the anchored objective alone
    (``weights`` with every other weight set to 0), then ``weights`` from that optimum, whose
    magnitudes (:class:`AnchorScalarization`) are taken there.

    One stage with the off-weights from the start fails on a study whose other objectives span
    decades: a dose 10^4 times its starting value outweighs the anchored mass even at weight
    1e-3, and the "lowest mass" anchor stops at 10.8 t where 4.5 t is reachable. Taken at the
    first stage's optimum, where the other objectives are at their worst, the off-terms can move
    the anchored objective by about 1e-3 of itself at most: enough to step off a weakly dominated
    plateau, never enough to trade the anchor away. The second stage is a polish: at most
    :data:`ANCHOR_POLISH_STEPS` steps, and dropped when it gave up more than
    :data:`ANCHOR_POLISH_SLACK` of the anchored objective (plus 2 standard errors). Both stages'
    calls are counted, and the trajectory holds both (steps numbered on)."""
    w = [float(v) for v in weights]
    k = int(np.argmax(w))
    pure = [1.0 if j == k else 0.0 for j in range(len(w))]

    def stage(
        stage_weights: Sequence[float], stage_settings: InnerSettings | None, start: Any, margin: float
    ) -> InnerResult:
        scal = anchor_scalarization(stage_weights, definition.signs)
        return optimize_inner(
            definition,
            choices,
            scal,
            settings=stage_settings,
            seed=seed,
            init=start,
            device=device,
            origin=origin,
            start_margin=margin,
        )

    first = stage(pure, settings, init, WARM_START_MARGIN)
    base = settings if settings is not None else definition.inner
    polish = replace(base, max_steps=min(base.max_steps or ANCHOR_POLISH_STEPS, ANCHOR_POLISH_STEPS))
    second = stage(w, polish, first.params, 0.0)  # from exactly the first stage's optimum
    offset = len(first.trajectory)
    trajectory = [*first.trajectory, *(replace(s, step=s.step + offset) for s in second.trajectory)]
    name = definition.objective_names[k]
    sign = float(definition.signs[k])
    slack = ANCHOR_POLISH_SLACK * abs(first.objectives[name]) + 2.0 * (
        first.stderr.get(name, 0.0) + second.stderr.get(name, 0.0)
    )
    # the polish may only step off a weakly dominated plateau: a stage that gave up more of the
    # anchored objective than the off-weights allow (an optimiser's first steps moved it away)
    # is dropped, its calls still counted
    kept = second if sign * (second.objectives[name] - first.objectives[name]) <= slack else first
    return replace(
        kept,
        n_calls=first.n_calls + second.n_calls,
        n_backward=first.n_backward + second.n_backward,
        n_steps=first.n_steps + second.n_steps,
        n_events=first.n_events + second.n_events,
        wall_time_s=first.wall_time_s + second.wall_time_s,
        n_reused=first.n_reused + second.n_reused,
        trajectory=trajectory,
    )


def given_normalization(definition: StudyDefinition) -> Normalization | None:
    """The definition's own normalisation when it states both ``ideal`` and ``nadir``."""
    if definition.ideal is not None and definition.nadir is not None:
        return Normalization(definition.ideal, definition.nadir, definition.signs)
    return None


def normalization_from_anchors(definition: StudyDefinition, points: np.ndarray | None) -> Normalization:
    """Ideal and nadir from the anchors' objective vectors (``n x m``, natural units; ``None`` or
    empty when every anchor failed: identity), with the definition's ``ideal``/``nadir`` winning."""
    signs = definition.signs
    if points is None or len(points) == 0:
        norm = Normalization.identity(signs)
    else:
        norm = Normalization.from_points(np.asarray(points, dtype=float), signs)
        if len(points) > len(signs):  # anchors on several combinations: nadir over their front
            norm = front_normalization(definition, np.asarray(points, dtype=float), norm)
    if definition.ideal is not None:
        norm = Normalization(definition.ideal, norm.nadir, signs)
    if definition.nadir is not None:
        norm = Normalization(norm.ideal, definition.nadir, signs)
    return norm


def resolve_normalization(
    definition: StudyDefinition,
    choices: Mapping[str, Any] | None = None,
    *,
    settings: InnerSettings | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    combinations: int = 1,
) -> tuple[Normalization, list[InnerResult]]:
    """The normalisation a study of seed ``seed`` gets: the definition's own ``ideal`` / ``nadir``
    when given, else estimated from anchor runs on ``choices`` (default: the middle of the space,
    :meth:`DesignSpace.default_outer`, or ``combinations`` of :func:`anchor_combinations`, as
    the runner runs a study of ``4 * m * combinations`` trials), with the runner's anchor
    weights and seeds. Returns the anchor results too, so a caller can keep their calls."""
    given = given_normalization(definition)
    if given is not None:
        return given, []
    combos = (
        [dict(choices)] if choices is not None else anchor_combinations(definition.space, combinations, seed)
    )
    weights = anchor_weights(len(definition.objectives))
    anchors = [
        optimize_anchor(
            definition,
            combo,
            w,
            settings=settings,
            seed=anchor_seed(seed, i * len(weights) + k),
            device=device,
        )
        for i, combo in enumerate(combos)
        for k, w in enumerate(weights)
    ]
    points = np.array([a.objective_vector(definition.objective_names) for a in anchors])
    return normalization_from_anchors(definition, points), anchors


def front_normalization(
    definition: StudyDefinition, points: np.ndarray, current: Normalization
) -> Normalization:
    """Ideal and nadir re-estimated from ``points`` (``n x m`` objective vectors of completed
    feasible trials, natural units): the best value of each objective, and the worst on the
    points' non-dominated set. An objective whose estimated range collapses keeps ``current``'s;
    the definition's own ``ideal`` / ``nadir`` win."""
    signs = definition.signs
    directions = ["minimize" if s > 0 else "maximize" for s in signs]
    p = np.asarray(points, dtype=float).reshape(-1, len(signs))
    p = p[np.all(np.isfinite(p), axis=1)]
    if len(p) == 0:
        return current
    front = p[pareto.non_dominated(p, directions)]
    sg = np.asarray(signs, dtype=float)
    ideal = (p * sg).min(axis=0) * sg
    nadir = (front * sg).max(axis=0) * sg
    flat = (nadir - ideal) * sg <= 1e-12 * np.maximum(np.abs(ideal), np.abs(nadir))
    ideal = np.where(flat, current.ideal.numpy(), ideal)
    nadir = np.where(flat, current.nadir.numpy(), nadir)
    if definition.ideal is not None:
        ideal = np.asarray(definition.ideal, dtype=float)
    if definition.nadir is not None:
        nadir = np.asarray(definition.nadir, dtype=float)
    if np.any((nadir - ideal) * sg <= 0):  # the definition's bound and the data disagree
        return current
    return Normalization(torch.as_tensor(ideal), torch.as_tensor(nadir), signs)


class NormalizationHistory:
    """A study's normalisations by batch: the one a trial of batch ``b`` uses is the last one
    set at or before ``b``. Stored as the study's ``normalization`` (its latest ideal/nadir at
    the top, every epoch under ``"epochs"``), so older readers see the latest."""

    def __init__(self, epochs: Sequence[tuple[int, Normalization]]) -> None:
        if not epochs:
            raise ValueError("a normalisation history needs at least one normalisation")
        self.epochs = sorted(epochs, key=lambda e: e[0])

    @property
    def latest(self) -> Normalization:
        return self.epochs[-1][1]

    def for_batch(self, batch: int) -> Normalization:
        """The normalisation the trials of ``batch`` use."""
        chosen = self.epochs[0][1]
        for start, norm in self.epochs:
            if start <= batch:
                chosen = norm
        return chosen

    def update(self, definition: StudyDefinition, batch: int, points: np.ndarray) -> bool:
        """Re-estimate from ``points`` before ``batch`` is asked; keep it (and return True) when
        it moved by more than :data:`RENORMALIZE_SHIFT` of the latest range."""
        if given_normalization(definition) is not None:
            return False
        latest = self.latest
        new = front_normalization(definition, points, latest)
        span = latest.span.abs()
        moved = torch.maximum((new.ideal - latest.ideal).abs(), (new.nadir - latest.nadir).abs()) / span
        if not bool((moved > RENORMALIZE_SHIFT).any()) or batch <= self.epochs[-1][0]:
            return False
        self.epochs.append((batch, new))
        return True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.latest.to_dict())
        out["epochs"] = [
            {"batch": b, "ideal": n.ideal.tolist(), "nadir": n.nadir.tolist()} for b, n in self.epochs
        ]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NormalizationHistory:
        """A stored normalisation; one without epochs (older studies) holds for every batch."""
        signs = d["signs"]
        epochs = d.get("epochs") or [{"batch": 0, "ideal": d["ideal"], "nadir": d["nadir"]}]
        return cls([(int(e["batch"]), Normalization(e["ideal"], e["nadir"], signs)) for e in epochs])
