"""Stationarity tests of the fixed-sample solves (:mod:`paretoopt.inner.trust`) and the trap
checks (:mod:`paretoopt.inner.stages`): the projected gradient once the active constraints'
pull is taken off (a KKT test), and for an augmented Chebyshev loss the subgradient of its max
that comes closest to stationarity (at a kink, the combination of its active terms that the
optimum's multipliers give)."""

from __future__ import annotations

import numpy as np
import scipy.optimize

from paretoopt.inner.sample import Point, Run, projected_gradient
from paretoopt.scalarize import AugmentedChebyshev


def kkt_stationarity(p: Point, grad: np.ndarray) -> float:
    """The projected-gradient test of a smooth loss with gradient ``grad`` at ``p`` once the best
    nonnegative combination of the active constraints' slack gradients is taken off: zero at a
    KKT point (bound and constraint optima included)."""
    return float(np.max(np.abs(projected_gradient(p.t, grad - _constraint_pull(p, grad))), initial=0.0))


def _constraint_pull(p: Point, grad: np.ndarray) -> np.ndarray:
    """``sum_j mu_j grad g_j`` over the active slacks (``g_j <= 1e-6``), ``mu >= 0`` fitting ``grad``."""
    if p.g is None or p.jg is None:
        return np.zeros_like(grad)
    active = np.flatnonzero(p.g <= 1e-6)
    if not len(active):
        return np.zeros_like(grad)
    jt = p.jg[active].T  # d x k
    mu, _ = scipy.optimize.nnls(jt, grad)
    return jt @ mu


def largest_term_subgradient(run: Run, p: Point) -> np.ndarray:
    """The gradient of the Chebyshev loss's largest term plus the augmentation and penalty at
    ``p`` (one subgradient of the max)."""
    sc = run.scalarization
    assert isinstance(sc, AugmentedChebyshev) and p.z is not None and p.jz is not None and p.gpen is not None
    w = sc.weights.numpy().astype(float)
    a = int(np.argmax(w * (p.z + sc.utopia_offset)))
    return w[a] * p.jz[a] + sc.rho * p.jz.sum(axis=0) + p.gpen


def chebyshev_stationarity(run: Run, p: Point) -> float:
    """The projected-gradient test of an augmented Chebyshev loss at ``p``: the smallest
    ``max_i |clip(t - g, 0, 1) - t|_i`` over the convex combinations ``g`` of the gradients of
    the active terms of the max (those within 1e-8 of it), plus the augmentation and penalty
    gradients, less the active constraints' pull (:func:`kkt_stationarity`): zero at a
    stationary point of the nonsmooth loss, bound and constraint optima included."""
    g, held = _closest_subgradient(run, p)
    return 0.0 if held else kkt_stationarity(p, g)


def chebyshev_subgradient(run: Run, p: Point) -> np.ndarray:
    """The subgradient of an augmented Chebyshev loss at ``p`` that comes closest to
    stationarity (see :func:`chebyshev_stationarity`): at a kink of the max, the combination of
    its active terms that the optimum's multipliers give, where the smoothed max's gradient
    weighs them by its softmax instead (on the shield's kink it pointed into the box along
    coordinates the optimum holds at their bounds)."""
    return _closest_subgradient(run, p)[0]


def _closest_subgradient(run: Run, p: Point) -> tuple[np.ndarray, bool]:
    """:func:`chebyshev_subgradient`, and whether every coordinate sits on a bound that every
    combination of the active terms pushes it against (stationary whatever the weights; the
    subgradient is then their mean)."""
    sc = run.scalarization
    assert isinstance(sc, AugmentedChebyshev) and p.z is not None and p.jz is not None and p.gpen is not None
    w = sc.weights.numpy().astype(float)
    terms = w * (p.z + sc.utopia_offset)
    active = np.flatnonzero(terms >= terms.max() - 1e-8 * max(1.0, abs(float(terms.max()))))
    cols = (w[active, None] * p.jz[active]).T  # d x k
    rest = sc.rho * p.jz.sum(axis=0) + p.gpen
    at_low, at_high = p.t <= 1e-12, p.t >= 1.0 - 1e-12
    combos = cols + rest[:, None]
    # a bound coordinate that every combination pushes outward holds whatever the weights
    held = (at_low & np.all(combos >= 0, axis=1)) | (at_high & np.all(combos <= 0, axis=1))
    keep = ~held
    if not keep.any():
        return combos.mean(axis=1), True
    # weights on the simplex minimising |combination| on the other coordinates (NNLS with a
    # heavily weighted row for sum = 1)
    big = 1e3 * max(1.0, float(np.max(np.abs(combos[keep]), initial=0.0)))
    a = np.vstack([combos[keep], big * np.ones(len(active))])
    b = np.append(np.zeros(int(keep.sum())), big)
    lam, _ = scipy.optimize.nnls(a, b)
    return np.asarray(combos @ (lam / max(lam.sum(), 1e-300))), False
