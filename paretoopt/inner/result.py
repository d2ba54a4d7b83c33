"""What an inner loop returns: its final design and figures (InnerResult) and its trajectory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class TrajectoryStep:
    """One inner-loop step: the scalarised loss, the objective means (natural units) and the
    parameters (their units) at which the simulation was evaluated."""

    step: int
    loss: float
    objectives: list[float]
    params: dict[str, float]


@dataclass
class InnerResult:
    """The outcome of one inner loop.

    ``objectives`` / ``stderr``: final-evaluation means and standard errors per objective
    (natural units); ``constraints`` likewise. ``n_calls`` counts forward simulator calls
    (final evaluation included), ``n_backward`` the backward passes through it.
    """

    params: dict[str, float]
    choices: dict[str, Any]
    objectives: dict[str, float]
    stderr: dict[str, float]
    constraints: dict[str, float]
    constraint_stderr: dict[str, float]
    feasible: bool
    loss: float
    n_calls: int
    n_backward: int
    n_steps: int
    converged: bool
    optimizer: str
    wall_time_s: float
    trajectory: list[TrajectoryStep] = field(default_factory=list)
    extras: dict[str, float] = field(default_factory=dict)

    def objective_vector(self, names: list[str] | None = None) -> np.ndarray:
        """Objective means as an ``m`` array (in ``names`` order, default insertion order)."""
        keys = names if names is not None else list(self.objectives)
        return np.array([self.objectives[k] for k in keys], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: What an optimiser hands back to :func:`paretoopt.inner.loop.optimize_inner`: the final
#: parameters, the trajectory, the forward and backward simulator calls, and convergence.
OptimizerOutcome = tuple[dict[str, float], list[TrajectoryStep], int, int, bool]
