"""The mixed encoding the model-based and evolutionary engines search: scalarisation weights
plus every outer parameter, as one numeric vector.

Weights live on the ``m``-simplex. Engines search ``m - 1`` unit-interval coordinates instead,
mapped onto the simplex by stick-breaking with Beta(1, m - i) inverse CDFs: a uniform point of
the cube lands on a uniform point of the simplex, the map is a bijection (no redundant
direction for a GP to learn, unlike ``m`` reals normalised by their sum), and for two
objectives the coordinate is simply the first weight.

Outer parameters follow the weights: non-differentiable reals scaled to ``[0, 1]`` (in log
space for ``log=True``), integers scaled to ``[0, 1]`` on their grid of values, choices as
their option index ``0 .. k-1`` (categorical: a model must not read an order into them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from paretoopt.space import Choice, DesignSpace, Integer, Real


def weights_from_unit(u: np.ndarray | Sequence[float], m: int) -> np.ndarray:
    """Map ``(..., m-1)`` coordinates in ``[0, 1]`` to ``(..., m)`` weights on the simplex."""
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    if u.shape[-1] != m - 1:
        raise ValueError(f"expected {m - 1} weight coordinates for {m} objectives, got {u.shape[-1]}")
    out = np.zeros((*u.shape[:-1], m))
    remaining = np.ones(u.shape[:-1])
    for i in range(m - 1):
        b = 1.0 - (1.0 - u[..., i]) ** (1.0 / (m - 1 - i))  # Beta(1, m-1-i) inverse CDF
        out[..., i] = remaining * b
        remaining = remaining - out[..., i]
    out[..., m - 1] = np.clip(remaining, 0.0, None)
    return out


def unit_from_weights(w: np.ndarray | Sequence[float]) -> np.ndarray:
    """Inverse of :func:`weights_from_unit`: ``(..., m)`` simplex weights to ``(..., m-1)``."""
    w = np.clip(np.asarray(w, dtype=float), 0.0, None)
    w = w / np.clip(w.sum(axis=-1, keepdims=True), 1e-300, None)
    m = w.shape[-1]
    out = np.zeros((*w.shape[:-1], m - 1))
    remaining = np.ones(w.shape[:-1])
    for i in range(m - 1):
        b = np.where(remaining > 1e-15, w[..., i] / np.clip(remaining, 1e-300, None), 0.0)
        b = np.clip(b, 0.0, 1.0)
        out[..., i] = 1.0 - (1.0 - b) ** (m - 1 - i)
        remaining = remaining - w[..., i]
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class Dim:
    """One coordinate of the encoding: ``kind`` is ``"weight"``, ``"real"``, ``"integer"`` or
    ``"choice"``; ``values`` lists the allowed encoded values of discrete dimensions."""

    name: str
    kind: str
    low: float
    high: float
    values: tuple[float, ...] = ()

    @property
    def discrete(self) -> bool:
        return self.kind in ("integer", "choice")


class MixedEncoding:
    """``(weights, outer values) <-> x``: ``m - 1`` weight coordinates, then one coordinate per
    outer parameter (see the module docstring). ``bounds()`` gives ``2 x d`` bounds of ``x``."""

    def __init__(self, space: DesignSpace, n_objectives: int) -> None:
        self.space = space
        self.m = int(n_objectives)
        dims: list[Dim] = [Dim(f"w{i + 1}", "weight", 0.0, 1.0) for i in range(self.m - 1)]
        for p in space.outer:
            if isinstance(p, Choice):
                k = len(p.options)
                dims.append(Dim(p.name, "choice", 0.0, float(k - 1), tuple(float(i) for i in range(k))))
            elif isinstance(p, Integer):
                n = p.high - p.low
                dims.append(Dim(p.name, "integer", 0.0, 1.0, tuple((v - p.low) / n for v in p.values)))
            else:
                dims.append(Dim(p.name, "real", 0.0, 1.0))
        self.dims: tuple[Dim, ...] = tuple(dims)

    @property
    def d(self) -> int:
        return len(self.dims)

    def bounds(self) -> np.ndarray:
        """``2 x d`` lower and upper bounds of the encoded vector."""
        return np.array([[dim.low for dim in self.dims], [dim.high for dim in self.dims]], dtype=float)

    def indices(self, *kinds: str) -> list[int]:
        return [i for i, dim in enumerate(self.dims) if dim.kind in kinds]

    def n_discrete_combinations(self, kinds: tuple[str, ...] = ("integer", "choice")) -> int:
        """How many assignments the dimensions of ``kinds`` (discrete ones) have together."""
        return math.prod(len(self.dims[i].values) for i in self.indices(*kinds))

    def discrete_combinations(self, kinds: tuple[str, ...] = ("integer", "choice")) -> list[dict[int, float]]:
        """Every assignment of the discrete dimensions of ``kinds``, as ``{dim index: value}``."""
        idx = self.indices(*kinds)
        combos: list[dict[int, float]] = [{}]
        for i in idx:
            combos = [{**c, i: v} for c in combos for v in self.dims[i].values]
        return combos

    def encode(self, weights: Sequence[float], choices: Mapping[str, Any]) -> np.ndarray:
        """Weights (``m``, any positive scale) and outer values to the encoded vector."""
        w = np.asarray(weights, dtype=float)
        x = list(unit_from_weights(w)) if self.m > 1 else []
        vals = self.space.validate_outer(choices)
        for p in self.space.outer:
            v = vals[p.name]
            if isinstance(p, Choice):
                x.append(float(p.index(v)))
            elif isinstance(p, Integer):
                x.append((int(v) - p.low) / (p.high - p.low))
            else:
                assert isinstance(p, Real)
                x.append(float(p._to_unit(_scalar(v))))
        return np.asarray(x, dtype=float)

    def decode(self, x: Sequence[float] | np.ndarray) -> tuple[tuple[float, ...], dict[str, Any]]:
        """An encoded vector (possibly continuous) to valid ``(weights, choices)``: discrete
        coordinates are rounded to the nearest allowed value, everything clipped to bounds."""
        x = np.asarray(x, dtype=float).reshape(-1)
        if x.shape[0] != self.d:
            raise ValueError(f"expected an encoded vector of length {self.d}, got {x.shape[0]}")
        x = np.where(np.isfinite(x), x, 0.5 * (self.bounds()[0] + self.bounds()[1]))
        w = weights_from_unit(x[: self.m - 1], self.m) if self.m > 1 else np.ones(1)
        choices: dict[str, Any] = {}
        for j, p in enumerate(self.space.outer):
            v = float(
                np.clip(x[self.m - 1 + j], self.dims[self.m - 1 + j].low, self.dims[self.m - 1 + j].high)
            )
            if isinstance(p, Choice):
                choices[p.name] = p.options[round(v)]
            elif isinstance(p, Integer):
                choices[p.name] = int(p.low + round(v * (p.high - p.low)))
            else:
                assert isinstance(p, Real)
                choices[p.name] = p.from_unit_float(v)
        return tuple(float(t) for t in w), choices

    def round_discrete(self, x: np.ndarray) -> np.ndarray:
        """Snap the discrete coordinates of ``(..., d)`` to their nearest allowed values."""
        x = np.array(x, dtype=float, copy=True)
        for i, dim in enumerate(self.dims):
            if dim.discrete:
                vals = np.asarray(dim.values)
                x[..., i] = vals[np.abs(x[..., i][..., None] - vals).argmin(axis=-1)]
        return x


def _scalar(v: float) -> Any:
    import torch

    return torch.tensor(float(v), dtype=torch.float64)
