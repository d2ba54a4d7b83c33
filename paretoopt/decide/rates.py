"""Trade-off rates along the stored front, in the objectives' own units ("-0.31 % resolution per
+100 kEUR cost"): the local slope ``d gain / d cost`` at each front design, estimated only from
designs of the same discrete choices (a slope across two choices is not a derivative of
anything that can be built).

Two objectives: the three-point derivative on the design's neighbours sorted by ``cost``
(second order on an uneven spacing), one-sided at the ends of a choice's segment. More
objectives: the coefficient of ``cost`` in a least-squares plane of ``gain`` on the other
objectives over the design's ``2m`` nearest neighbours of its choice. Standard errors propagate
the designs' own Monte Carlo errors (both coordinates for two objectives; ``gain`` only for
the plane).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from paretoopt.decide.front import DecisionError, DecisionFront


@dataclass(frozen=True)
class TradeoffRates:
    """Rates ``d gain / d cost`` at every front design (row order of the front; NaN where a
    choice has too few designs), their standard errors, and the ``step`` of ``cost`` the text
    quotes them per (a round tenth of the front's range)."""

    gain: str
    cost: str
    numbers: np.ndarray
    rate: np.ndarray
    stderr: np.ndarray
    step: float
    gain_unit: str | None
    cost_unit: str | None

    def text(self, i: int) -> str:
        """Row ``i``'s rate in words, e.g. ``"-0.31 ± 0.02 % resolution per +100 kEUR cost"``."""
        if not math.isfinite(self.rate[i]):
            return f"no {self.gain} / {self.cost} rate: too few distinct designs of this choice"
        gu = f" {self.gain_unit}" if self.gain_unit else ""
        cu = f" {self.cost_unit}" if self.cost_unit else ""
        err = (
            f" ± {self.stderr[i] * self.step:.2g}"
            if math.isfinite(self.stderr[i]) and self.stderr[i] > 0
            else ""
        )
        return f"{self.rate[i] * self.step:+.3g}{err}{gu} {self.gain} per {self.step:+g}{cu} {self.cost}"

    def at(self, number: int) -> tuple[float, float]:
        """``(rate, stderr)`` at trial ``number``."""
        i = int(np.flatnonzero(self.numbers == number)[0])
        return float(self.rate[i]), float(self.stderr[i])


def three_point(
    xm: np.ndarray, x0: np.ndarray, xp: np.ndarray, ym: np.ndarray, y0: np.ndarray, yp: np.ndarray
) -> np.ndarray:
    """``dy/dx`` at ``x0`` from three points on an uneven grid (exact for a parabola)."""
    h1, h2 = x0 - xm, xp - x0
    return -h2 / (h1 * (h1 + h2)) * ym + (h2 - h1) / (h1 * h2) * y0 + h1 / (h2 * (h1 + h2)) * yp


def _propagated(fn: object, args: list[np.ndarray], errs: list[np.ndarray]) -> np.ndarray:
    """Standard error of ``fn(*args)`` by numerical linear propagation of ``errs``."""
    base = fn(*args)  # type: ignore[operator]
    var = np.zeros_like(base)
    for a, (x, e) in enumerate(zip(args, errs, strict=True)):
        if not np.any(e > 0):
            continue
        h = 1e-6 * np.maximum(np.abs(x), 1e-12)
        shifted = list(args)
        shifted[a] = x + h
        var += ((fn(*shifted) - base) / h * e) ** 2  # type: ignore[operator]
    return np.sqrt(var)


def round_step(span: float) -> float:
    """A round tenth of ``span`` (1, 2 or 5 times a power of ten)."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / 10
    p = 10 ** math.floor(math.log10(raw))
    return min((c * p for c in (1, 2, 5, 10)), key=lambda s: abs(math.log(s / raw)))


def tradeoff_rates(front: DecisionFront, gain: str, cost: str) -> TradeoffRates:
    """Rates ``d gain / d cost`` at each front design, within its discrete choice (see the
    module docstring). Raises UnknownObjectiveError for names that are not objectives."""
    front.require_nonempty()
    j, k = front.index(gain, objective_only=True), front.index(cost, objective_only=True)
    if j == k:
        raise DecisionError("a trade-off rate needs two different objectives")
    n, m = len(front), front.n_objectives
    rate, se = np.full(n, np.nan), np.full(n, np.nan)
    groups = np.array(front.groups)
    with np.errstate(divide="ignore", invalid="ignore"):  # equal costs in a choice: NaN, no rate
        for g in dict.fromkeys(front.groups):
            rows = np.flatnonzero(groups == g)
            if m == 2:
                _rates_on_curve(front, rows, j, k, rate, se)
            else:
                _rates_on_surface(front, rows, j, k, rate, se)
    span = float(np.ptp(front.values[:, k])) if n > 1 else abs(float(front.values[0, k]))
    return TradeoffRates(
        gain=gain,
        cost=cost,
        numbers=front.numbers.copy(),
        rate=rate,
        stderr=se,
        step=round_step(span),
        gain_unit=front.criteria[j].unit,
        cost_unit=front.criteria[k].unit,
    )


def _rates_on_curve(
    front: DecisionFront, rows: np.ndarray, j: int, k: int, rate: np.ndarray, se: np.ndarray
) -> None:
    if len(rows) < 2:
        return
    rows = rows[np.argsort(front.values[rows, k], kind="stable")]
    x, y = front.values[rows, k], front.values[rows, j]
    ex, ey = front.stderr[rows, k], front.stderr[rows, j]
    r, s = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    if len(rows) >= 3:
        a = [x[:-2], x[1:-1], x[2:], y[:-2], y[1:-1], y[2:]]
        e = [ex[:-2], ex[1:-1], ex[2:], ey[:-2], ey[1:-1], ey[2:]]
        r[1:-1] = three_point(*a)
        s[1:-1] = _propagated(three_point, a, e)

    def two(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
        return (y1 - y0) / (x1 - x0)

    for end, (p, q) in ((0, (0, 1)), (len(rows) - 1, (len(rows) - 2, len(rows) - 1))):
        a = [x[p : p + 1], x[q : q + 1], y[p : p + 1], y[q : q + 1]]
        e = [ex[p : p + 1], ex[q : q + 1], ey[p : p + 1], ey[q : q + 1]]
        r[end] = two(*a)[0]
        s[end] = _propagated(two, a, e)[0]
    bad = ~np.isfinite(r)
    r[bad], s[bad] = np.nan, np.nan
    rate[rows], se[rows] = r, s


def _rates_on_surface(
    front: DecisionFront, rows: np.ndarray, j: int, k: int, rate: np.ndarray, se: np.ndarray
) -> None:
    m = front.n_objectives
    others = [c for c in range(m) if c != j]
    if len(rows) < m + 1:
        return
    ideal, nadir = front.ideal_nadir()
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    x = front.oriented()[rows] / span
    col = others.index(k) + 1
    for a, i in enumerate(rows):
        near = np.argsort(((x - x[a]) ** 2).sum(axis=1), kind="stable")[: 2 * m]
        design = np.column_stack([np.ones(len(near)), front.values[rows[near]][:, others]])
        pinv = np.linalg.pinv(design)
        coef = pinv @ front.values[rows[near], j]
        rate[i] = coef[col]
        se[i] = float(np.sqrt(((pinv[col] * front.stderr[rows[near], j]) ** 2).sum()))
