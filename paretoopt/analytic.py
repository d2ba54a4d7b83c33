"""Analytic multi-objective test problems in torch, with their known Pareto fronts.

ZDT1-3 (Zitzler, Deb & Thiele 2000, Evol. Comput. 8(2):173), DTLZ2 (Deb, Thiele, Laumanns &
Zitzler 2002/2005), a ZDT1 variant whose optimum is interior (``x_i = 0.3`` instead of on the
face ``x_i = 0``, so clipping to bounds does not find it for free), and a mixed-variable
problem whose categorical choice owns known parts of the front. ``studies/*.py`` wrap these
as study definitions; the benchmarks use the same code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from paretoopt.problem import InnerSettings, Objective, StudyDefinition
from paretoopt.space import Choice, DesignSpace, Integer, Real

#: Analytic problems are deterministic and say so: the default (exact) solver, without the auto
#: probe that would find it out; a user-written deterministic study gets the same after 2 calls.
ANALYTIC_INNER = InnerSettings(mode="exact")

#: What the analytic studies shipped until 2026-12-07 (the legacy L-BFGS-B loop on a fixed step
#: budget), for the tests and benchmarks that exercise or compare with that method.
LEGACY_ANALYTIC_INNER = InnerSettings(optimizer="lbfgs", max_steps=200, n_samples=1, n_eval_samples=1)

#: Where the interior variants put the optimum of g (x_i = 0.3).
INTERIOR_OPTIMUM = 0.3


def _stack_x(params: Mapping[str, torch.Tensor], n: int) -> torch.Tensor:
    return torch.stack([params[f"x{i}"] for i in range(1, n + 1)])


def zdt_g(x_tail: torch.Tensor, optimum: float = 0.0) -> torch.Tensor:
    """ZDT's distance function ``g``: 1 on the Pareto set. With ``optimum=0`` the original
    ``1 + 9 mean(x_i)``; otherwise a smooth bowl ``1 + 9 mean((x_i - a)^2) / max_dist^2``."""
    if optimum == 0.0:
        return 1.0 + 9.0 * x_tail.mean()
    scale = max(optimum, 1.0 - optimum) ** 2
    return 1.0 + 9.0 * ((x_tail - optimum) ** 2).mean() / scale


def safe_sqrt(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``sqrt(x)`` continued linearly below ``eps`` (slope ``1 / (2 sqrt(eps))``).

    ZDT1/3 and the mixed study reach ``f1 = 0``, where the true slope of ``sqrt`` is infinite:
    a gradient method stepping onto that bound would get ``inf``. Clamping instead would make the
    slope 0 there and turn the bound into a spurious stationary point; the linear continuation
    keeps the steep slope that pushes the optimiser back inside. Differs from ``sqrt`` only below
    ``eps``."""
    root_eps = eps**0.5
    linear = root_eps + (x - eps) / (2.0 * root_eps)
    return torch.where(x >= eps, torch.sqrt(x.clamp_min(eps)), linear)


def zdt_objectives(x: torch.Tensor, kind: str, optimum: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f1, f2)`` of ZDT1 / ZDT2 / ZDT3 for a decision vector ``x`` (shape ``(n,)``)."""
    f1 = x[0]
    g = zdt_g(x[1:], optimum)
    r = f1 / g
    if kind == "zdt1":
        h = 1.0 - safe_sqrt(r)
    elif kind == "zdt2":
        h = 1.0 - r**2
    elif kind == "zdt3":
        h = 1.0 - safe_sqrt(r) - r * torch.sin(10.0 * math.pi * f1)
    else:
        raise ValueError(f"unknown ZDT problem {kind!r}")
    return f1, g * h


#: The f1 intervals of ZDT3's disconnected Pareto front (Deb, *Multi-Objective Optimization
#: using Evolutionary Algorithms*, Wiley 2001, sec. 8.3; as in pymoo's ZDT3).
ZDT3_FRONT_F1 = (
    (0.0, 0.0830015349),
    (0.1822287280, 0.2577623634),
    (0.4093136748, 0.4538821041),
    (0.6183967944, 0.6525117038),
    (0.8233317983, 0.8518328654),
)


def zdt_front(kind: str, n: int = 1000) -> np.ndarray:
    """``n x 2`` points of the true ZDT1/2/3 Pareto front (ZDT3's five pieces filtered)."""
    f1 = np.linspace(0.0, 1.0, n)
    if kind == "zdt1":
        return np.column_stack([f1, 1.0 - np.sqrt(f1)])
    if kind == "zdt2":
        return np.column_stack([f1, 1.0 - f1**2])
    if kind == "zdt3":
        pieces = [np.linspace(lo, hi, max(n // len(ZDT3_FRONT_F1), 2)) for lo, hi in ZDT3_FRONT_F1]
        x = np.concatenate(pieces)
        return np.column_stack([x, 1.0 - np.sqrt(x) - x * np.sin(10.0 * np.pi * x)])
    raise ValueError(f"unknown ZDT problem {kind!r}")


def zdt_study(kind: str, n_var: int = 30, *, interior: bool = False) -> StudyDefinition:
    """A ZDT study with ``n_var`` decision variables; ``interior=True`` moves g's optimum to
    ``x_i = 0.3`` (same front, Pareto set no longer on a face of the box)."""
    optimum = INTERIOR_OPTIMUM if interior else 0.0
    space = DesignSpace(*[Real(f"x{i}", 0.0, 1.0) for i in range(1, n_var + 1)])

    def simulate(
        params: dict[str, torch.Tensor], choices: dict[str, Any], n_samples: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        f1, f2 = zdt_objectives(_stack_x(params, n_var), kind, optimum)
        return {"f1": f1, "f2": f2}

    name = kind + ("_interior" if interior else "")
    # ideal and nadir of the true front: ZDT3's f2 reaches -0.773 and its f1 ends at 0.852, so
    # (0, 0)-(1, 1) would put its fourth segment where no Chebyshev weight can reach it
    front = zdt_front(kind, 20000)
    return StudyDefinition(
        name,
        space,
        [Objective("f1"), Objective("f2")],
        simulate,
        inner=ANALYTIC_INNER,
        description=f"{kind.upper()} with {n_var} variables"
        + (" and g minimised at x_i = 0.3" if interior else ""),
        ideal=[float(v) for v in front.min(axis=0)],
        nadir=[float(v) for v in front.max(axis=0)],
        true_front=lambda n: zdt_front(kind, n),
    )


def dtlz2_objectives(x: torch.Tensor, n_obj: int) -> torch.Tensor:
    """DTLZ2 objectives (``n_obj``-vector) for ``x`` in ``[0, 1]^n``; front: unit sphere."""
    k_tail = x[n_obj - 1 :]
    g = ((k_tail - 0.5) ** 2).sum()
    angles = x[: n_obj - 1] * (math.pi / 2.0)
    fs = []
    for i in range(n_obj):
        f = 1.0 + g
        for j in range(n_obj - 1 - i):
            f = f * torch.cos(angles[j])
        if i > 0:
            f = f * torch.sin(angles[n_obj - 1 - i])
        fs.append(f)
    return torch.stack(fs)


def dtlz2_front(n: int = 1000, n_obj: int = 3) -> np.ndarray:
    """Points on the DTLZ2 front (the positive unit-sphere orthant), evenly spread."""
    from pymoo.util.ref_dirs import get_reference_directions

    partitions = 1
    while math.comb(partitions + n_obj - 1, n_obj - 1) < n:
        partitions += 1
    ref = np.asarray(get_reference_directions("das-dennis", n_obj, n_partitions=partitions), dtype=float)
    return ref / np.linalg.norm(ref, axis=1, keepdims=True)


def dtlz2_study(n_obj: int = 3, n_var: int | None = None) -> StudyDefinition:
    """DTLZ2 with ``n_obj`` objectives and ``n_var`` variables (default ``n_obj + 9``)."""
    n_var = n_var if n_var is not None else n_obj + 9
    space = DesignSpace(*[Real(f"x{i}", 0.0, 1.0) for i in range(1, n_var + 1)])
    names = [f"f{i}" for i in range(1, n_obj + 1)]

    def simulate(
        params: dict[str, torch.Tensor], choices: dict[str, Any], n_samples: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        f = dtlz2_objectives(_stack_x(params, n_var), n_obj)
        return {name: f[i] for i, name in enumerate(names)}

    return StudyDefinition(
        "dtlz2" if n_obj == 3 else f"dtlz2_{n_obj}obj",
        space,
        [Objective(n) for n in names],
        simulate,
        inner=ANALYTIC_INNER,
        description=f"DTLZ2 with {n_obj} objectives and {n_var} variables",
        ideal=[0.0] * n_obj,
        nadir=[1.0] * n_obj,
        true_front=lambda n: dtlz2_front(n, n_obj),
    )


#: Crossing point of the mixed study's two families: f1 = f2 = (3 - sqrt 5) / 2.
MIXED_CROSSING = (3.0 - math.sqrt(5.0)) / 2.0


def mixed_objectives(x: torch.Tensor, family: str, level: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The mixed study: family ``"A"`` is ZDT1 (front ``f2 = 1 - sqrt f1``), family ``"B"`` the
    same with objectives swapped (front ``f2 = (1 - f1)^2``); ``level`` adds ``0.25 * level``
    to g, so level 0 dominates. A owns the front for ``f1 < 0.382``, B for ``f1 > 0.382``."""
    g = zdt_g(x[1:], INTERIOR_OPTIMUM) + 0.25 * level
    u = g * (1.0 - safe_sqrt(x[0] / g))
    if family == "A":
        return x[0], u
    if family == "B":
        return u, x[0]
    raise ValueError(f"unknown family {family!r}")


def mixed_front(n: int = 1000) -> np.ndarray:
    """The union front of the mixed study (level 0): A's curve left of the crossing, B's right."""
    f1 = np.linspace(0.0, 1.0, n)
    f2 = np.where(f1 <= MIXED_CROSSING, 1.0 - np.sqrt(f1), (1.0 - f1) ** 2)
    return np.column_stack([f1, f2])


def mixed_owner(f1: float) -> str:
    """Which family owns the front at first objective ``f1``."""
    return "A" if f1 <= MIXED_CROSSING else "B"


def mixed_study(n_var: int = 10) -> StudyDefinition:
    """Mixed-variable ZDT: a choice of family (A/B) and an integer level (0-3)."""
    space = DesignSpace(
        *[Real(f"x{i}", 0.0, 1.0) for i in range(1, n_var + 1)],
        Choice("family", ("A", "B")),
        Integer("level", 0, 3),
    )

    def simulate(
        params: dict[str, torch.Tensor], choices: dict[str, Any], n_samples: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        f1, f2 = mixed_objectives(_stack_x(params, n_var), choices["family"], int(choices["level"]))
        return {"f1": f1, "f2": f2}

    return StudyDefinition(
        "mixed_zdt",
        space,
        [Objective("f1"), Objective("f2")],
        simulate,
        inner=ANALYTIC_INNER,
        description="Two ZDT1 families (A, B = A with objectives swapped) and a dominated level",
        ideal=[0.0, 0.0],
        nadir=[1.0, 1.0],
        true_front=mixed_front,
    )


def distance_to_front(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point (``n x m``) to the nearest of ``front`` (``k x m``)."""
    p = np.asarray(points, dtype=float)
    f = np.asarray(front, dtype=float)
    d2 = ((p[:, None, :] - f[None, :, :]) ** 2).sum(-1)
    return np.sqrt(d2.min(axis=1))


ANALYTIC_STUDIES: dict[str, Callable[[], StudyDefinition]] = {
    "zdt1": lambda: zdt_study("zdt1"),
    "zdt2": lambda: zdt_study("zdt2"),
    "zdt3": lambda: zdt_study("zdt3"),
    "zdt1_interior": lambda: zdt_study("zdt1", interior=True),
    "dtlz2": lambda: dtlz2_study(3),
    "mixed_zdt": mixed_study,
}
