"""The design space: continuous, integer and categorical parameters with bounds and units.

Differentiable reals are *inner* parameters: the gradient inner loop moves them through an
unconstrained reparametrisation (a logistic map onto the box, in log space for ``log=True``),
so the bounds can never be left. Integers, choices and reals marked ``differentiable=False``
are *outer* parameters: the outer engines propose them (encoded as numeric vectors by
:mod:`paretoopt.encoding`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import SpaceError

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Logistic reparametrisation saturates here; keeps ``logit`` finite for values on a bound.
_EPS = 1e-12


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpaceError(f"parameter name {name!r} must be a Python identifier (letters, digits, underscore)")


@dataclass(frozen=True)
class Real:
    """A continuous parameter in ``[low, high]`` (unit in ``unit``, e.g. ``"mm"``).

    ``log=True`` searches in log space (needs ``low > 0``). ``differentiable=False`` moves
    the parameter to the outer loop (for quantities the simulation cannot take gradients in).
    """

    name: str
    low: float
    high: float
    unit: str | None = None
    log: bool = False
    differentiable: bool = True

    def __post_init__(self) -> None:
        _check_name(self.name)
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SpaceError(f"Real {self.name!r}: {bound}={value!r} must be a finite number")
        if self.low >= self.high:
            raise SpaceError(f"Real {self.name!r}: low={self.low} must be smaller than high={self.high}")
        if self.log and self.low <= 0:
            raise SpaceError(f"Real {self.name!r}: log=True needs low > 0, got low={self.low}")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    # ----- reparametrisation (bounded <-> unconstrained), differentiable in torch -----
    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Values in ``[low, high]`` to unit coordinates in ``[0, 1]`` (log-space for ``log``)."""
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (torch.log(x) - lo) / (hi - lo)
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, t: torch.Tensor) -> torch.Tensor:
        """Unit coordinates in ``[0, 1]`` to values in ``[low, high]`` (inverse of :meth:`to_unit`)."""
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return torch.exp(lo + t * (hi - lo))
        return self.low + t * (self.high - self.low)

    def from_unit_float(self, t: float) -> float:
        """A unit coordinate in ``[0, 1]`` to a value in ``[low, high]`` (log-space for ``log``),
        in float64 and clipped, so that the ends map exactly onto the bounds."""
        value = float(self.from_unit(torch.tensor(float(t), dtype=torch.float64)))
        return min(max(value, self.low), self.high)

    def to_unconstrained(self, x: torch.Tensor) -> torch.Tensor:
        """Map values in ``[low, high]`` to the real line (inverse of :meth:`from_unconstrained`)."""
        t = self.to_unit(x).clamp(_EPS, 1.0 - _EPS)
        return torch.log(t) - torch.log1p(-t)

    def from_unconstrained(self, u: torch.Tensor) -> torch.Tensor:
        """Map the real line onto ``[low, high]`` by a logistic (log-space if ``log``)."""
        return self.from_unit(torch.sigmoid(u))

    def interior(self, value: float, margin: float) -> float:
        """``value`` moved at least ``margin`` (fraction of the range, log-space for ``log``)
        inside the bounds: a gradient start off the faces of the box."""
        t = float(self.to_unit(torch.tensor(float(value), dtype=torch.float64)))
        return self.from_unit_float(min(max(t, margin), 1.0 - margin))

    def midpoint(self) -> float:
        """The centre of the range (geometric centre for ``log``): the default interior start."""
        return math.sqrt(self.low * self.high) if self.log else 0.5 * (self.low + self.high)

    def contains(self, value: float) -> bool:
        return self.low <= float(value) <= self.high


@dataclass(frozen=True)
class Integer:
    """An integer parameter in ``[low, high]`` inclusive (e.g. a number of layers)."""

    name: str
    low: int
    high: int
    unit: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not float(value).is_integer():
                raise SpaceError(f"Integer {self.name!r}: {bound}={value!r} must be an integer")
            object.__setattr__(self, bound, int(value))
        if self.low >= self.high:
            raise SpaceError(f"Integer {self.name!r}: low={self.low} must be smaller than high={self.high}")

    @property
    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def contains(self, value: Any) -> bool:
        try:
            return float(value).is_integer() and self.low <= int(value) <= self.high
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class Choice:
    """A categorical parameter (material, technology). Stored as an index into ``options``."""

    name: str
    options: tuple[Any, ...] = field(default_factory=tuple)
    unit: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        options = tuple(self.options)
        if not options:
            raise SpaceError(f"Choice {self.name!r}: options must not be empty")
        if len(set(map(repr, options))) != len(options):
            raise SpaceError(f"Choice {self.name!r}: options contain duplicates: {options!r}")
        for option in options:
            if not isinstance(option, (str, int, float, bool)):
                raise SpaceError(f"Choice {self.name!r}: option {option!r} must be a str, int, float or bool")
        object.__setattr__(self, "options", options)

    @property
    def values(self) -> list[Any]:
        return list(self.options)

    def index(self, value: Any) -> int:
        for i, option in enumerate(self.options):
            if option == value and type(option) is type(value):
                return i
        for i, option in enumerate(self.options):  # tolerate 1 vs 1.0, numpy scalars
            if option == value:
                return i
        raise SpaceError(f"Choice {self.name!r}: {value!r} is not one of the options {list(self.options)!r}")

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except SpaceError:
            return False
        return True


Parameter = Real | Integer | Choice


class DesignSpace:
    """An ordered collection of parameters with unique names.

    ``inner`` holds the differentiable reals (the gradient loop's variables); ``outer`` the
    integers, choices and non-differentiable reals (the outer engines' variables).
    """

    def __init__(self, *params: Parameter) -> None:
        if len(params) == 1 and isinstance(params[0], (list, tuple)):
            params = tuple(params[0])
        if not params:
            raise SpaceError("a DesignSpace needs at least one parameter")
        seen: set[str] = set()
        for p in params:
            if not isinstance(p, (Real, Integer, Choice)):
                raise SpaceError(f"{p!r} is not a Real, Integer or Choice")
            if p.name in seen:
                raise SpaceError(f"duplicate parameter name {p.name!r} in the design space")
            seen.add(p.name)
        self.params: tuple[Parameter, ...] = tuple(params)
        self.inner: tuple[Real, ...] = tuple(p for p in params if isinstance(p, Real) and p.differentiable)
        self.outer: tuple[Parameter, ...] = tuple(
            p for p in params if not (isinstance(p, Real) and p.differentiable)
        )

    # ----- container protocol -----
    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.params:
            if p.name == name:
                return p
        raise SpaceError(f"no parameter {name!r}; the space has {self.names}")

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.params)

    def __repr__(self) -> str:
        return f"DesignSpace({', '.join(map(repr, self.params))})"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def inner_names(self) -> list[str]:
        return [p.name for p in self.inner]

    @property
    def outer_names(self) -> list[str]:
        return [p.name for p in self.outer]

    # ----- inner (differentiable) parameters -----
    def default_inner(self) -> dict[str, float]:
        """The interior starting point: the centre of every inner range."""
        return {p.name: p.midpoint() for p in self.inner}

    def validate_inner(self, values: Mapping[str, float]) -> dict[str, float]:
        """Check a full set of inner values lies in bounds; return them as floats."""
        unknown = set(values) - set(self.inner_names)
        if unknown:
            raise SpaceError(f"unknown inner parameters {sorted(unknown)}; known {self.inner_names}")
        out: dict[str, float] = {}
        for p in self.inner:
            if p.name not in values:
                raise SpaceError(f"missing a value for inner parameter {p.name!r}")
            v = float(values[p.name])
            if not (math.isfinite(v) and p.contains(v)):
                raise SpaceError(f"{p.name}={v} is outside [{p.low}, {p.high}]")
            out[p.name] = v
        return out

    def to_unconstrained(
        self,
        values: Mapping[str, float],
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> torch.Tensor:
        """Inner values (units of each parameter) to one unconstrained ``d``-vector."""
        vals = self.validate_inner(values)
        x = torch.tensor([vals[p.name] for p in self.inner], dtype=dtype, device=device)
        return torch.stack([p.to_unconstrained(x[i]) for i, p in enumerate(self.inner)])

    def from_unconstrained(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        """An unconstrained ``d``-vector to a dict of bounded 0-d tensors (differentiable)."""
        if u.shape != (len(self.inner),):
            raise SpaceError(
                f"expected an unconstrained vector of shape ({len(self.inner)},), got {tuple(u.shape)}"
            )
        return {p.name: p.from_unconstrained(u[i]) for i, p in enumerate(self.inner)}

    # ----- outer parameters: validation, enumeration, sampling -----
    def validate_outer(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check outer values (choices as option values, not indices); return canonical ones."""
        unknown = set(values) - set(self.outer_names)
        if unknown:
            raise SpaceError(f"unknown outer parameters {sorted(unknown)}; known {self.outer_names}")
        out: dict[str, Any] = {}
        for p in self.outer:
            if p.name not in values:
                raise SpaceError(f"missing a value for outer parameter {p.name!r}")
            v = values[p.name]
            if isinstance(p, Choice):
                out[p.name] = p.options[p.index(v)]
            elif isinstance(p, Integer):
                if not p.contains(v):
                    raise SpaceError(f"{p.name}={v!r} is not an integer in [{p.low}, {p.high}]")
                out[p.name] = int(v)
            else:
                if not p.contains(v):
                    raise SpaceError(f"{p.name}={v!r} is outside [{p.low}, {p.high}]")
                out[p.name] = float(v)
        return out

    def discrete_combinations(self, real_levels: int = 3) -> list[dict[str, Any]]:
        """Every combination of outer values (integers, choices; non-differentiable reals on
        ``real_levels`` evenly spaced levels). One empty dict when there are no outer params."""
        axes: list[list[Any]] = []
        for p in self.outer:
            if isinstance(p, (Integer, Choice)):
                axes.append(p.values)
            else:
                t = np.linspace(0.0, 1.0, max(real_levels, 1)) if real_levels > 1 else [0.5]
                axes.append([p.from_unit_float(float(ti)) for ti in t])
        return [dict(zip(self.outer_names, combo, strict=True)) for combo in itertools.product(*axes)]

    def n_discrete_combinations(self, real_levels: int = 3) -> int:
        n = 1
        for p in self.outer:
            n *= len(p.values) if isinstance(p, (Integer, Choice)) else max(real_levels, 1)
        return n

    def default_outer(self) -> dict[str, Any]:
        """A representative outer design: the middle integer, the first option of each choice,
        the centre of each non-differentiable real. Used for anchor runs (the first
        combination, e.g. the fewest layers, is often a degenerate corner of the space)."""
        out: dict[str, Any] = {}
        for p in self.outer:
            if isinstance(p, Choice):
                out[p.name] = p.options[0]
            elif isinstance(p, Integer):
                out[p.name] = (p.low + p.high) // 2
            else:
                out[p.name] = p.midpoint()
        return out

    def sample_outer(self, rng: np.random.Generator) -> dict[str, Any]:
        """One uniformly random set of outer values (log-uniform for log reals)."""
        out: dict[str, Any] = {}
        for p in self.outer:
            if isinstance(p, Choice):
                out[p.name] = p.options[int(rng.integers(len(p.options)))]
            elif isinstance(p, Integer):
                out[p.name] = int(rng.integers(p.low, p.high + 1))
            else:
                out[p.name] = p.from_unit_float(float(rng.random()))
        return out


def param_to_dict(p: Parameter) -> dict[str, Any]:
    """JSON-friendly description of a parameter (stored with a study; no code needed to read)."""
    if isinstance(p, Real):
        return {
            "type": "real",
            "name": p.name,
            "low": p.low,
            "high": p.high,
            "unit": p.unit,
            "log": p.log,
            "differentiable": p.differentiable,
        }
    if isinstance(p, Integer):
        return {"type": "integer", "name": p.name, "low": p.low, "high": p.high, "unit": p.unit}
    return {"type": "choice", "name": p.name, "options": list(p.options), "unit": p.unit}


def param_from_dict(d: dict[str, Any]) -> Parameter:
    """Inverse of :func:`param_to_dict`."""
    kind = d.get("type")
    if kind == "real":
        return Real(
            d["name"],
            d["low"],
            d["high"],
            unit=d.get("unit"),
            log=d.get("log", False),
            differentiable=d.get("differentiable", True),
        )
    if kind == "integer":
        return Integer(d["name"], d["low"], d["high"], unit=d.get("unit"))
    if kind == "choice":
        return Choice(d["name"], tuple(d["options"]), unit=d.get("unit"))
    raise SpaceError(f"unknown parameter type {kind!r} in {d!r}")


def space_to_list(space: DesignSpace) -> list[dict[str, Any]]:
    return [param_to_dict(p) for p in space]


def space_from_list(items: list[dict[str, Any]]) -> DesignSpace:
    return DesignSpace(*[param_from_dict(d) for d in items])
