"""Navigation from the nadir towards the front: E-NAUTILUS (Ruiz, Sindhya, Miettinen, Ruiz and
Luque, "E-NAUTILUS: A decision support system for complex multiobjective optimization problems
based on the NAUTILUS method", EJOR 246 (2015) 218-231) on the stored front.

Each step moves the current point a fraction ``1/iterations_left`` of the way towards one of a
few front designs and shows, for every objective, the range still reachable from there: the
designs that dominate the new point (lower bound: their best value; upper bound: the point).
The targets are stored designs, so the last step lands on a design that exists and no step
interpolates across discrete choices. Ranges shrink at every step and always contain the
design the navigation ends on (the reachable sets nest and each holds its target).

**Changed from the paper**: the representatives of a step are chosen by average-linkage
clustering (as DESDEO 2.8 does) in the front's ideal-nadir box (deterministic, unit-free), not
k-means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from paretoopt.decide.choose import achievement, oriented_aspiration
from paretoopt.decide.front import Decision, DecisionError, DecisionFront


@dataclass(frozen=True)
class NavigationStep:
    """One point of a navigation (natural units): ``point`` is where the step stands, ``lower``
    and ``upper`` the still-reachable range of every objective (best to worst), ``reachable`` the
    front designs still reachable, ``target`` the design it moved towards (``None`` at the
    start), ``progress`` how far from the nadir to the target (0-100 %)."""

    step: int
    iterations_left: int
    point: dict[str, float]
    lower: dict[str, float]
    upper: dict[str, float]
    reachable: tuple[int, ...]
    target: int | None
    progress: float

    def to_json(self) -> dict[str, object]:
        return {
            "step": self.step,
            "iterations_left": self.iterations_left,
            "point": self.point,
            "lower": self.lower,
            "upper": self.upper,
            "reachable": list(self.reachable),
            "target": self.target,
            "progress": self.progress,
        }


@dataclass(frozen=True)
class Navigation:
    """A finished navigation: every step taken, the options offered at each, and the decision."""

    steps: tuple[NavigationStep, ...]
    options: tuple[tuple[NavigationStep, ...], ...]
    decision: Decision


def _step(
    front: DecisionFront,
    k: int,
    left: int,
    g: np.ndarray,
    rows: np.ndarray,
    target: int | None,
    progress: float,
) -> NavigationStep:
    """A step record from the oriented point ``g`` and reachable rows."""
    m = front.n_objectives
    sign = front.signs[:m]
    go = front.oriented()[rows]
    best, worst = go.min(axis=0) * sign, g * sign
    names = front.objective_names
    lower = {n: float(min(b, w)) for n, b, w in zip(names, best, worst, strict=True)}
    upper = {n: float(max(b, w)) for n, b, w in zip(names, best, worst, strict=True)}
    return NavigationStep(
        step=k,
        iterations_left=left,
        point={n: float(v) for n, v in zip(names, worst, strict=True)},
        lower=lower,
        upper=upper,
        reachable=tuple(int(x) for x in front.numbers[rows]),
        target=None if target is None else int(front.numbers[target]),
        progress=float(progress),
    )


def start(front: DecisionFront, iterations: int = 5) -> tuple[NavigationStep, np.ndarray]:
    """The first step (the front's nadir, every design reachable) and its oriented point."""
    front.require_nonempty()
    if iterations < 1:
        raise DecisionError(f"a navigation needs at least 1 iteration, got {iterations}")
    _, nadir = front.ideal_nadir()
    return _step(front, 0, iterations, nadir, np.arange(len(front)), None, 0.0), nadir


def representatives(front: DecisionFront, rows: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` rows of ``rows`` spread over the reachable designs: average-linkage clusters
    (Morse 1980, as DESDEO's E-NAUTILUS) of the designs in the front's ideal-nadir box, and in
    each the design nearest the cluster's centroid. Deterministic; unit-free."""
    from scipy.cluster.hierarchy import fcluster, linkage

    ideal, nadir = front.ideal_nadir()
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    x = (front.oriented()[rows] - ideal) / span
    if len(rows) <= n:
        return rows[np.lexsort((front.numbers[rows], x.sum(axis=1)))]
    labels = fcluster(linkage(x, method="average"), n, criterion="maxclust")
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = x[members].mean(axis=0)
        chosen.append(int(members[np.argmin(((x[members] - centre) ** 2).sum(axis=1))]))
    return rows[np.array(chosen)]


def options(
    front: DecisionFront, step: NavigationStep, g: np.ndarray, n_points: int = 3
) -> list[tuple[NavigationStep, np.ndarray]]:
    """The next steps offered from ``step`` (oriented point ``g``): one towards each
    representative of the reachable designs, with its reachable range."""
    if step.iterations_left < 1:
        raise DecisionError("the navigation has ended: no iterations left")
    numbers = list(front.numbers)
    rows = np.array([numbers.index(r) for r in step.reachable], dtype=int)
    left = step.iterations_left
    go = front.oriented()
    _, nadir = front.ideal_nadir()
    out = []
    for r in representatives(front, rows, n_points):
        new = go[r] if left == 1 else ((left - 1) / left) * g + go[r] / left
        keep = rows[np.all(go[rows] <= new + 1e-12 * (1 + np.abs(new)), axis=1)]
        total = np.linalg.norm(nadir - go[r])
        progress = 100.0 if total == 0 else float(100.0 * np.linalg.norm(nadir - new) / total)
        out.append((_step(front, step.step + 1, left - 1, new, keep, int(r), progress), new))
    return out


def navigate(
    front: DecisionFront,
    iterations: int = 5,
    n_points: int = 3,
    *,
    choose: Callable[[list[NavigationStep]], int] | Sequence[int] | None = None,
    reference: Mapping[str, float] | None = None,
    k_sigma: float = 1.0,
) -> Navigation:
    """Run an E-NAUTILUS navigation of ``iterations`` steps with ``n_points`` options each.

    At each step ``choose`` picks an option: a callable given the options, a sequence of option
    indices, or (default) the option whose target is nearest the ``reference`` aspiration by the
    achievement function (the centre of the front's ideal-nadir box when no reference is
    given). The decision is the design the last step lands on; its ties are the designs within
    ``k_sigma`` combined standard errors of it in every objective, its neighbours the other
    options of the last step."""
    first, g = start(front, iterations)
    if reference is not None:
        z = oriented_aspiration(front, reference)
    else:
        ideal, nadir = front.ideal_nadir()
        z = (ideal + nadir) / 2
    score, _ = achievement(front, z)
    steps, offered = [first], []
    current = first
    for k in range(iterations):
        opts = options(front, current, g, n_points)
        offered.append(tuple(o for o, _ in opts))
        if callable(choose):
            pick = int(choose([o for o, _ in opts]))
        elif choose is not None:
            pick = int(choose[k])
        else:
            rows = [front.row(o.target) for o, _ in opts if o.target is not None]
            pick = int(np.argmin(score[rows]))
        current, g = opts[pick]
        steps.append(current)
    assert current.target is not None
    final = front.row(current.target)
    m = front.n_objectives
    diff = np.abs(front.values[:, :m] - front.values[final, :m])
    tol = k_sigma * np.sqrt(front.stderr[:, :m] ** 2 + front.stderr[final, :m] ** 2)
    tie_rows = [i for i in np.flatnonzero(np.all(diff <= tol, axis=1)) if i != final]
    last = offered[-1]
    decision = Decision(
        method="navigate",
        design=front.design(final),
        ties=tuple(int(front.numbers[i]) for i in tie_rows),
        neighbours=tuple(o.target for o in last if o.target is not None and o.target != current.target),
        inputs={"iterations": iterations, "n_points": n_points, "reference": dict(reference or {})},
    )
    return Navigation(steps=tuple(steps), options=tuple(offered), decision=decision)
