"""Scalarisations: turn an objective vector into the one number the inner loop minimises.

All scalarisations act on objective vectors in their *natural* units and directions, shape
``(..., m)``, and return ``(...)``. A :class:`Normalization` first maps every objective to
"minimise, 0 at the ideal, 1 at the nadir", so that weights mean the same for a resolution in
percent and a cost in kEUR.

* :class:`AugmentedChebyshev` (the default) reaches every Pareto-optimal point, including
  those on concave parts of the front (Steuer & Choo 1983; augmentation as in Miettinen,
  *Nonlinear Multiobjective Optimization*, 1999, sec. 3.4, which removes weakly optimal points).
* :class:`WeightedSum` is cheap and smooth but can only reach the convex hull of the front:
  on a concave front (ZDT2) every weight ends at an extreme.
* :class:`BudgetConstraint` is the epsilon-constraint method: minimise one objective with
  the others held under bounds ("best resolution for at most B kEUR"), via a quadratic penalty.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import torch

from paretoopt.exceptions import ParetoOptError


class ScalarizationError(ParetoOptError, ValueError):
    """Bad weights, bounds or normalisation for a scalarisation."""


def _vec(values: Sequence[float] | torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values, dtype=float), dtype=torch.float64).reshape(-1)
    if not torch.all(torch.isfinite(t)):
        raise ScalarizationError(f"{name} must be finite, got {t.tolist()}")
    return t


class Normalization:
    """Map objectives to ``(sign * f - sign * ideal) / (sign * (nadir - ideal))``.

    ``ideal`` and ``nadir`` are ``m``-vectors in natural units (for a maximised objective the
    ideal is the larger value); ``signs`` is +1 (minimise) / -1 (maximise) per objective.
    After the transform every objective is minimised, 0 at the ideal and 1 at the nadir.
    """

    def __init__(
        self,
        ideal: Sequence[float] | torch.Tensor,
        nadir: Sequence[float] | torch.Tensor,
        signs: Sequence[float] | torch.Tensor,
    ) -> None:
        self.ideal = _vec(ideal, "ideal")
        self.nadir = _vec(nadir, "nadir")
        self.signs = _vec(signs, "signs")
        m = self.signs.shape[0]
        if self.ideal.shape[0] != m or self.nadir.shape[0] != m:
            raise ScalarizationError(
                f"ideal ({self.ideal.shape[0]}), nadir ({self.nadir.shape[0]}) and signs ({m}) "
                "must have one entry per objective"
            )
        span = self.signs * (self.nadir - self.ideal)
        if torch.any(span <= 0):
            bad = [i for i in range(m) if span[i] <= 0]
            raise ScalarizationError(
                f"nadir must be worse than ideal for every objective; objectives {bad} have "
                f"ideal={self.ideal[bad].tolist()} nadir={self.nadir[bad].tolist()}"
            )
        self.span = span

    @property
    def n_objectives(self) -> int:
        return int(self.signs.shape[0])

    @classmethod
    def identity(cls, signs: Sequence[float] | torch.Tensor) -> Normalization:
        """No scaling, only direction: ideal 0, nadir +-1."""
        s = _vec(signs, "signs")
        return cls(torch.zeros_like(s), s.clone(), s)

    @classmethod
    def from_points(
        cls, points: np.ndarray | torch.Tensor, signs: Sequence[float] | torch.Tensor
    ) -> Normalization:
        """Ideal = best value of each objective over ``points`` (``n x m``, natural units),
        nadir = worst; the payoff-table estimate when ``points`` are the anchor optima."""
        s = _vec(signs, "signs")
        p = torch.as_tensor(np.asarray(points, dtype=float), dtype=torch.float64)
        if p.dim() != 2 or p.shape[1] != s.shape[0]:
            raise ScalarizationError(f"points must be n x {s.shape[0]}, got shape {tuple(p.shape)}")
        oriented = p * s
        ideal = oriented.min(dim=0).values * s
        nadir = oriented.max(dim=0).values * s
        # guard against a degenerate objective (all anchors equal): give it a unit span
        flat = (nadir - ideal).abs() < 1e-12
        nadir = torch.where(flat, ideal + s * torch.clamp(ideal.abs(), min=1.0), nadir)
        return cls(ideal, nadir, s)

    def transform(self, f: torch.Tensor) -> torch.Tensor:
        """``(..., m)`` natural values -> normalised, minimised values."""
        s, i, sp = (t.to(device=f.device, dtype=f.dtype) for t in (self.signs, self.ideal, self.span))
        return (s * f - s * i) / sp

    def to_dict(self) -> dict[str, list[float]]:
        return {"ideal": self.ideal.tolist(), "nadir": self.nadir.tolist(), "signs": self.signs.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        return cls(d["ideal"], d["nadir"], d["signs"])

    def __repr__(self) -> str:
        return f"Normalization(ideal={self.ideal.tolist()}, nadir={self.nadir.tolist()})"


@overload
def normalize_weights(weights: torch.Tensor, m: int | None = None) -> torch.Tensor: ...


@overload
def normalize_weights(weights: np.ndarray | Sequence[float], m: int | None = None) -> np.ndarray: ...


def normalize_weights(
    weights: torch.Tensor | np.ndarray | Sequence[float], m: int | None = None
) -> torch.Tensor | np.ndarray:
    """The one rule for scalarisation weights: check them and scale them to sum 1.

    Weights must be finite, non-negative and not all zero, and (when ``m`` is given) one per
    objective. A torch tensor is checked and scaled in torch (float64, flattened), anything
    else as a 1-D float64 numpy array, so each caller keeps the floating-point sum it always
    had (numpy and torch sum five or more numbers in different orders).

    Raises:
        ScalarizationError: the weights break the rule; the message quotes them.
    """
    w: torch.Tensor | np.ndarray
    if isinstance(weights, torch.Tensor):
        w = _vec(weights, "weights")
    else:
        w = np.asarray(weights, dtype=float)
        if w.ndim != 1:
            raise ScalarizationError(f"weights must be a vector, got shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ScalarizationError(f"weights must be finite, got {w.tolist()}")
    values = w.tolist()
    if m is not None and len(values) != m:
        raise ScalarizationError(f"expected {m} weights (one per objective), got {len(values)}")
    if any(v < 0 for v in values):
        raise ScalarizationError(f"weights must be non-negative, got {values}")
    total = float(w.sum())
    if total <= 0:
        raise ScalarizationError(f"weights must not all be zero, got {values}")
    return w / total


def _weight_tensor(weights: Sequence[float] | torch.Tensor, m: int) -> torch.Tensor:
    """Weights as a float64 tensor, checked and scaled to sum 1 (:func:`normalize_weights`)."""
    return normalize_weights(_vec(weights, "weights"), m)


class Scalarization(ABC):
    """A callable ``(..., m)`` natural objective tensor -> ``(...)`` value to minimise."""

    kind: str = ""

    def __init__(self, normalization: Normalization) -> None:
        self.normalization = normalization

    @abstractmethod
    def __call__(self, f: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description: the kind, its weights or bounds and options, the normalisation."""

    def _checked(self, f: torch.Tensor) -> torch.Tensor:
        m = self.normalization.n_objectives
        if f.shape[-1] != m:
            raise ScalarizationError(
                f"{type(self).__name__} expects objective tensors of shape (..., {m}), got {tuple(f.shape)}"
            )
        return self.normalization.transform(f)


class WeightedSum(Scalarization):
    """``sum_i w_i f~_i`` on normalised objectives. Smooth; reaches only convex parts of a front."""

    kind = "weighted_sum"

    def __init__(self, weights: Sequence[float] | torch.Tensor, normalization: Normalization) -> None:
        super().__init__(normalization)
        self.weights = _weight_tensor(weights, normalization.n_objectives)

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        z = self._checked(f)
        return (z * self.weights.to(device=z.device, dtype=z.dtype)).sum(-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "weights": self.weights.tolist(),
            "normalization": self.normalization.to_dict(),
        }


class AugmentedChebyshev(Scalarization):
    """``max_i w_i (f~_i - z*_i) + rho * sum_i f~_i`` with the utopia point ``z*`` slightly
    beyond the ideal (``-utopia_offset`` in normalised units). Every Pareto-optimal point is the
    minimum for some weight, concave parts included. The augmentation ``rho * sum_i f~_i`` is
    unweighted (Miettinen 1999, eq. 3.4.5), so even a weight of exactly 0 gives a Pareto-optimal,
    not merely weakly optimal, point; botorch's ``get_chebyshev_scalarization`` weights it.
    ``smoothing`` > 0 replaces the max by ``smoothing * logsumexp(terms / smoothing)`` (within
    ``smoothing * ln m`` of it): quasi-Newton methods stall on the max's kink, which is exactly
    where the optimum lies. ``rho`` is small (1e-3, Miettinen's range 1e-6..1e-3): with 0.05 the
    term ``rho * sum_i f~_i`` pulls the optimum of a concave front (DTLZ2's sphere) to a vertex."""

    kind = "chebyshev"

    def __init__(
        self,
        weights: Sequence[float] | torch.Tensor,
        normalization: Normalization,
        rho: float = 1e-3,
        utopia_offset: float = 0.01,
        smoothing: float = 1e-3,
    ) -> None:
        super().__init__(normalization)
        if rho < 0:
            raise ScalarizationError(f"rho must be >= 0, got {rho}")
        if smoothing < 0:
            raise ScalarizationError(f"smoothing must be >= 0, got {smoothing}")
        self.smoothing = float(smoothing)
        self.weights = _weight_tensor(weights, normalization.n_objectives)
        self.rho = float(rho)
        self.utopia_offset = float(utopia_offset)

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        z = self._checked(f)
        w = self.weights.to(device=z.device, dtype=z.dtype)
        terms = w * (z + self.utopia_offset)
        if self.smoothing > 0:  # log-sum-exp: a smooth max within smoothing * ln(m) of the max
            peak = self.smoothing * torch.logsumexp(terms / self.smoothing, dim=-1)
        else:
            peak = terms.max(-1).values
        return peak + self.rho * z.sum(-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "weights": self.weights.tolist(),
            "rho": self.rho,
            "utopia_offset": self.utopia_offset,
            "smoothing": self.smoothing,
            "normalization": self.normalization.to_dict(),
        }


def unsmoothed(scalarization: Scalarization) -> Scalarization:
    """``scalarization`` with an exact max: what designs are compared by on a trade-off. The
    log-sum-exp max is up to ``smoothing * ln m`` higher on the kink, which is where a
    Chebyshev optimum lies, so the smoothed value ranks a design beside the optimum above the
    optimum itself (the inner loop's guard re-solved such optima at 35-90 calls each)."""
    if isinstance(scalarization, AugmentedChebyshev) and scalarization.smoothing > 0:
        return AugmentedChebyshev(
            scalarization.weights,
            scalarization.normalization,
            rho=scalarization.rho,
            utopia_offset=scalarization.utopia_offset,
            smoothing=0.0,
        )
    return scalarization


def smoothing_gap(scalarization: Scalarization) -> float:
    """How far above the exact max a smoothed Chebyshev max can lie (at a kink of all ``m``
    terms): ``smoothing * ln m``; 0 for an exact max or any other scalarisation."""
    if isinstance(scalarization, AugmentedChebyshev):
        return scalarization.smoothing * math.log(scalarization.weights.numel())
    return 0.0


class BudgetConstraint(Scalarization):
    """Epsilon-constraint: minimise objective ``objective`` while every other objective ``j``
    with a bound stays at or better than ``bounds[j]`` (natural units; ``None`` = free).
    A quadratic penalty ``penalty * max(0, f~_j - b~_j)^2`` in normalised units enforces the
    bounds; the residual violation at the optimum is about ``slope / (2 * penalty)``."""

    kind = "budget"

    def __init__(
        self,
        objective: int,
        bounds: Sequence[float | None],
        normalization: Normalization,
        penalty: float = 1e3,
    ) -> None:
        super().__init__(normalization)
        m = normalization.n_objectives
        if not 0 <= int(objective) < m:
            raise ScalarizationError(f"objective index {objective} is outside 0..{m - 1}")
        if len(bounds) != m:
            raise ScalarizationError(f"expected {m} bounds (None where free), got {len(bounds)}")
        if not any(b is not None for j, b in enumerate(bounds) if j != objective):
            raise ScalarizationError("a budget scalarisation needs a bound on another objective")
        if penalty <= 0:
            raise ScalarizationError(f"penalty must be > 0, got {penalty}")
        self.objective = int(objective)
        self.bounds = [None if b is None else float(b) for b in bounds]
        self.penalty = float(penalty)
        mask = [b is not None and j != self.objective for j, b in enumerate(self.bounds)]
        self._mask = torch.tensor(mask, dtype=torch.bool)
        raw = torch.tensor([0.0 if b is None else b for b in self.bounds], dtype=torch.float64)
        self._bounds_norm = normalization.transform(raw)
        # weights are reported for storage / engines: all on the minimised objective
        w = torch.zeros(m, dtype=torch.float64)
        w[self.objective] = 1.0
        self.weights = w

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        z = self._checked(f)
        b = self._bounds_norm.to(device=z.device, dtype=z.dtype)
        mask = self._mask.to(z.device)
        excess = torch.where(mask, torch.relu(z - b), torch.zeros_like(z))
        return z[..., self.objective] + self.penalty * (excess**2).sum(-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "objective": self.objective,
            "bounds": self.bounds,
            "penalty": self.penalty,
            "normalization": self.normalization.to_dict(),
        }


SCALARIZATIONS = {"chebyshev": AugmentedChebyshev, "weighted_sum": WeightedSum}


def make_scalarization(
    kind: str, weights: Sequence[float] | torch.Tensor, normalization: Normalization, **options: Any
) -> Scalarization:
    """Build a weight-based scalarisation by name (``"chebyshev"`` or ``"weighted_sum"``)."""
    if kind not in SCALARIZATIONS:
        raise ScalarizationError(f"unknown scalarisation {kind!r}; choose from {sorted(SCALARIZATIONS)}")
    return SCALARIZATIONS[kind](weights, normalization, **options)
