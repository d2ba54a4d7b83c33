"""Designs as numeric vectors: the one encoding the outer engines search and surrogates fit on.

Weights live on the ``m``-simplex. Engines search ``m - 1`` unit-interval coordinates instead,
mapped onto the simplex by stick-breaking with Beta(1, m - i) inverse CDFs: a uniform point of
the cube lands on a uniform point of the simplex, the map is a bijection (no redundant
direction for a GP to learn, unlike ``m`` reals normalised by their sum), and for two
objectives the coordinate is simply the first weight.

Parameters follow the weights, each by one rule (:class:`Dim`): reals and integers scaled to
``[0, 1]`` on their bounds (in log space for ``log=True`` reals, and for counts when the
encoding asks for it), choices as their option index ``0 .. k-1`` (categorical: a model must
not read an order into them; :meth:`MixedEncoding.one_hot` expands them).

Two layouts of the same rule: the engines' (:class:`MixedEncoding` of ``space.outer``, in
space order, after the weights) and the surrogates' (:meth:`MixedEncoding.for_designs`: every
parameter, no weights, choices last, counts in log space). Lives outside :mod:`paretoopt.outer`
so that the surrogates use it without loading the engines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import SpaceError
from paretoopt.space import Choice, DesignSpace, Integer, Parameter, Real

#: Integers with low >= 1 and high >= this * low are counts: in log space where an encoding
#: asks for ``log_counts`` (a number of layers: cost, depth and sampling scale with it
#: multiplicatively; on the calorimeter this halved the surrogate's held-out cost RMSE).
COUNT_LOG_RATIO = 4


def weights_from_unit(u: np.ndarray | Sequence[float], m: int) -> np.ndarray:
    """Map ``(..., m-1)`` coordinates in ``[0, 1]`` to ``(..., m)`` weights on the simplex."""
    unit = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    if unit.shape[-1] != m - 1:
        raise ValueError(f"expected {m - 1} weight coordinates for {m} objectives, got {unit.shape[-1]}")
    out = np.zeros((*unit.shape[:-1], m))
    remaining = np.ones(unit.shape[:-1])
    for i in range(m - 1):
        b = 1.0 - (1.0 - unit[..., i]) ** (1.0 / (m - 1 - i))  # Beta(1, m-1-i) inverse CDF
        out[..., i] = remaining * b
        remaining = remaining - out[..., i]
    out[..., m - 1] = np.clip(remaining, 0.0, None)
    return out


def unit_from_weights(w: np.ndarray | Sequence[float]) -> np.ndarray:
    """Inverse of :func:`weights_from_unit`: ``(..., m)`` simplex weights to ``(..., m-1)``."""
    wa = np.clip(np.asarray(w, dtype=float), 0.0, None)
    wa = wa / np.clip(wa.sum(axis=-1, keepdims=True), 1e-300, None)
    m = wa.shape[-1]
    out = np.zeros((*wa.shape[:-1], m - 1))
    remaining = np.ones(wa.shape[:-1])
    for i in range(m - 1):
        b = np.where(remaining > 1e-15, wa[..., i] / np.clip(remaining, 1e-300, None), 0.0)
        b = np.clip(b, 0.0, 1.0)
        out[..., i] = 1.0 - (1.0 - b) ** (m - 1 - i)
        remaining = remaining - wa[..., i]
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class Dim:
    """One coordinate of the encoding: ``kind`` is ``"weight"``, ``"real"``, ``"integer"`` or
    ``"choice"``; ``low``/``high`` bound the coordinate; ``values`` lists the allowed encoded
    values of discrete dimensions. A real or integer coordinate is ``(v - origin) / span`` of
    the parameter's value ``v``, or of ``log(v)`` when ``log``."""

    name: str
    kind: str
    low: float
    high: float
    values: tuple[float, ...] = ()
    log: bool = False
    origin: float = 0.0
    span: float = 1.0

    @property
    def discrete(self) -> bool:
        return self.kind in ("integer", "choice")

    def to_unit(self, v: Any) -> Any:
        """A real's or integer's value(s) (a float, numpy array or torch tensor, the latter
        differentiably) to the coordinate."""
        if self.log:
            v = torch.log(v) if isinstance(v, torch.Tensor) else np.log(v)
        return (v - self.origin) / self.span


def parameter_dim(p: Parameter, *, log_counts: bool = False) -> Dim:
    """The coordinate of parameter ``p``: the rule of the module docstring."""
    if isinstance(p, Choice):
        k = len(p.options)
        return Dim(p.name, "choice", 0.0, float(k - 1), tuple(float(i) for i in range(k)))
    use_log = (isinstance(p, Real) and p.log) or (
        log_counts and isinstance(p, Integer) and p.low >= 1 and p.high >= COUNT_LOG_RATIO * p.low
    )
    lo, hi = (math.log(p.low), math.log(p.high)) if use_log else (float(p.low), float(p.high))
    if isinstance(p, Integer):
        if use_log:
            values = tuple(float((np.log(float(v)) - lo) / (hi - lo)) for v in p.values)
        else:
            values = tuple((v - p.low) / (p.high - p.low) for v in p.values)
        return Dim(p.name, "integer", 0.0, 1.0, values, use_log, lo, hi - lo)
    return Dim(p.name, "real", 0.0, 1.0, (), use_log, lo, hi - lo)


class MixedEncoding:
    """``(weights, outer values) <-> x``: ``m - 1`` weight coordinates, then one coordinate per
    parameter of ``parameters`` (default: the space's outer ones, in space order; see the module
    docstring). ``bounds()`` gives ``2 x d`` bounds of ``x``. Encodings without weights
    (``n_objectives=1``, :meth:`for_designs`) also encode whole designs: :meth:`encode_columns`,
    :meth:`encode_values`, :meth:`encode_torch`."""

    def __init__(
        self,
        space: DesignSpace,
        n_objectives: int,
        *,
        parameters: Sequence[Parameter] | None = None,
        log_counts: bool = False,
    ) -> None:
        self.space = space
        self.m = int(n_objectives)
        self.parameters: tuple[Parameter, ...] = tuple(space.outer if parameters is None else parameters)
        dims: list[Dim] = [Dim(f"w{i + 1}", "weight", 0.0, 1.0) for i in range(self.m - 1)]
        dims += [parameter_dim(p, log_counts=log_counts) for p in self.parameters]
        self.dims: tuple[Dim, ...] = tuple(dims)
        self._outer_only = all(p in space.outer for p in self.parameters)
        self._option_index = {
            p.name: {repr(o): i for i, o in enumerate(p.options)}
            for p in self.parameters
            if isinstance(p, Choice)
        }

    @classmethod
    def for_designs(cls, space: DesignSpace) -> MixedEncoding:
        """Every parameter of a design, no weights (the surrogates' inputs): every non-choice
        parameter in space order, then every choice; counts in log space."""
        params = [p for p in space if not isinstance(p, Choice)] + [p for p in space if isinstance(p, Choice)]
        return cls(space, 1, parameters=params, log_counts=True)

    @property
    def d(self) -> int:
        return len(self.dims)

    @property
    def n_weights(self) -> int:
        return max(self.m - 1, 0)

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

    # ----- the engines' view: weights and outer values -----
    def _parameter_dims(self) -> list[tuple[Parameter, Dim]]:
        if not self._outer_only:
            raise ValueError("encode/decode take outer values; encode a whole design with encode_values")
        return list(zip(self.parameters, self.dims[self.n_weights :], strict=True))

    def encode(self, weights: Sequence[float] | np.ndarray, choices: Mapping[str, Any]) -> np.ndarray:
        """Weights (``m``, any positive scale) and outer values to the encoded vector."""
        w = np.asarray(weights, dtype=float)
        x = list(unit_from_weights(w)) if self.m > 1 else []
        vals = self.space.validate_outer(choices)
        for p, dim in self._parameter_dims():
            v = vals[p.name]
            if isinstance(p, Choice):
                x.append(float(p.index(v)))
            elif isinstance(p, Integer):
                x.append(float(dim.to_unit(float(int(v)))))
            else:
                x.append(float(dim.to_unit(torch.tensor(float(v), dtype=torch.float64))))
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
        for j, (p, dim) in enumerate(self._parameter_dims()):
            v = float(np.clip(x[self.n_weights + j], dim.low, dim.high))
            if isinstance(p, Choice):
                choices[p.name] = p.options[round(v)]
            elif isinstance(p, Integer) and dim.log:
                choices[p.name] = min(max(round(math.exp(dim.origin + v * dim.span)), p.low), p.high)
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

    # ----- whole designs (encodings without weights) -----
    def _design_dims(self) -> list[tuple[Parameter, Dim]]:
        if self.n_weights:
            raise ValueError("this encoding has weight coordinates; encode (weights, choices) with encode")
        return list(zip(self.parameters, self.dims, strict=True))

    def _option_indices(self, p: Choice, values: Sequence[Any]) -> np.ndarray:
        lookup = self._option_index[p.name]
        out = np.empty(len(values), dtype=float)
        for i, v in enumerate(values):
            if isinstance(v, np.generic):
                v = v.item()
            idx = lookup.get(repr(v))
            if idx is None:
                try:
                    idx = p.index(v)
                except SpaceError:
                    raise SpaceError(
                        f"design column {p.name!r}: {v!r} is not one of the options {list(p.options)!r}"
                    ) from None
            out[i] = idx
        return out

    def encode_columns(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """``n x d`` coordinates from one sequence of values per parameter name.

        Raises:
            SpaceError: a value is not finite, not positive on a log scale, or not an option.
        """
        n = len(next(iter(columns.values()))) if columns else 0
        x = np.empty((n, self.d), dtype=float)
        for j, (p, dim) in enumerate(self._design_dims()):
            if isinstance(p, Choice):
                x[:, j] = self._option_indices(p, list(columns[p.name]))
                continue
            v = np.asarray(columns[p.name], dtype=float)
            if not np.all(np.isfinite(v)):
                raise SpaceError(f"design column {p.name!r} has non-finite values")
            if dim.log and np.any(v <= 0):
                raise SpaceError(f"design column {p.name!r} is a log-scaled parameter and needs values > 0")
            x[:, j] = dim.to_unit(v)
        return x

    def encode_values(self, values: Mapping[str, Any]) -> np.ndarray:
        """One ``d``-vector from a design's values by parameter name (parameters and choices)."""
        return self.encode_columns({p.name: [values[p.name]] for p in self.parameters})[0]

    def encode_torch(self, values: Mapping[str, Any], dtype: torch.dtype) -> torch.Tensor:
        """A ``1 x d`` tensor of one design, differentiable in the values that are tensors."""
        cols: list[torch.Tensor] = []
        for p, dim in self._design_dims():
            v = values[p.name]
            if isinstance(p, Choice):
                cols.append(torch.tensor(float(self._option_indices(p, [v])[0]), dtype=dtype))
                continue
            t = v.to(dtype) if isinstance(v, torch.Tensor) else torch.tensor(float(v), dtype=dtype)
            cols.append(dim.to_unit(t.reshape(())))
        return torch.stack(cols).unsqueeze(0)

    @property
    def n_one_hot(self) -> int:
        """Columns of :meth:`one_hot`."""
        return sum(len(dim.values) if dim.kind == "choice" else 1 for dim in self.dims)

    def one_hot(self, x: torch.Tensor) -> torch.Tensor:
        """``n x d`` encoded inputs -> ``n x n_one_hot``: the other coordinates in order, then
        every choice one-hot (option indices rounded and clamped)."""
        cat = self.indices("choice")
        rest = [i for i in range(self.d) if i not in cat]
        parts = [x[:, : len(rest)] if rest == list(range(len(rest))) else x[:, rest]]
        for i in cat:
            k = len(self.dims[i].values)
            idx = x[:, i].round().long().clamp(0, k - 1)
            parts.append(torch.nn.functional.one_hot(idx, k).to(x.dtype))
        return torch.cat(parts, dim=1)
