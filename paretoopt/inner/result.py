"""What an inner loop returns: its final design and figures (InnerResult), its trajectory, and
why it stopped (the stop reasons)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: The convergence test passed (on a feasible design).
CONVERGED = "converged"
#: The call budget (``max_steps``) ran out first.
MAX_STEPS = "max_steps"
#: The method could make no further progress without passing its test.
NO_PROGRESS = "no_progress"
#: The simulation returned NaN/inf or a non-finite gradient.
NAN = "nan"
#: The loop ended on a design that violates a constraint.
CONSTRAINT_INFEASIBLE = "constraint_infeasible"
#: Every stop reason (stored as ``trials.stop_reason``; the same tuple as
#: :data:`paretoopt.storage.STOP_REASONS`).
STOP_REASONS = (CONVERGED, MAX_STEPS, NO_PROGRESS, NAN, CONSTRAINT_INFEASIBLE)


@dataclass
class TrajectoryStep:
    """One inner-loop step: the scalarised loss, the objective means (natural units) and the
    parameters (their units) at which the simulation was evaluated; with the step's standard
    errors, constraint values and the sample size it was estimated on (``None`` where a step
    was recorded without them), so every evaluated design can join the archive
    (:mod:`paretoopt.archive`)."""

    step: int
    loss: float
    objectives: list[float]
    params: dict[str, float]
    stderr: list[float] | None = None
    constraints: list[float] | None = None
    constraint_stderr: list[float] | None = None
    #: events simulated for this step's estimate (1 for an exact evaluation)
    n_samples: int | None = None
    #: whether the step's estimate came from an exact (deterministic) evaluation
    exact: bool = False


@dataclass
class InnerResult:
    """The outcome of one inner loop.

    ``objectives`` / ``stderr``: final-evaluation means and standard errors per objective
    (natural units); ``constraints`` likewise. ``n_calls`` counts forward simulator calls
    (final evaluation and the auto mode's probe included), ``n_backward`` the backward passes
    through it. ``optimizer`` names the method that ran (``"exact"``, ``"lbfgs"``, ``"adam"``;
    ``"adam"``/``"lbfgs"`` also for the legacy methods of ``InnerSettings.optimizer``);
    ``stop_reason`` says why it stopped (:data:`STOP_REASONS`; ``None`` for a bare
    evaluation), and ``converged`` is ``stop_reason == "converged"``.
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
    stop_reason: str | None = None
    #: simulated events: the sample size of every forward call, summed (probe and final
    #: evaluation included)
    n_events: int = 0
    #: events of the final evaluation (its sample size; 1 for an exact one)
    n_samples: int = 0
    #: earlier evaluations on record (other trials') the ``surrogate`` mode's fits used; they
    #: cost no call and are in neither ``n_calls`` nor ``n_events``
    n_reused: int = 0

    def objective_vector(self, names: list[str] | None = None) -> np.ndarray:
        """Objective means as an ``m`` array (in ``names`` order, default insertion order)."""
        keys = names if names is not None else list(self.objectives)
        return np.array([self.objectives[k] for k in keys], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OptimizerOutcome:
    """What an optimiser hands back to :func:`paretoopt.inner.loop.optimize_inner`: the final
    parameters, the trajectory, the forward and backward simulator calls, and why it stopped."""

    params: dict[str, float]
    trajectory: list[TrajectoryStep]
    n_calls: int
    n_backward: int
    stop_reason: str
    #: events simulated by the optimiser's calls (sum of their sample sizes)
    n_events: int = 0
    #: earlier evaluations reused at no call (the ``surrogate`` mode)
    n_reused: int = 0
