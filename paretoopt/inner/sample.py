"""One inner loop's shared state for the ``exact``, ``lbfgs`` and ``adam`` modes: the call budget,
the trajectory, and the penalised loss at a point of the unit box on a given sample.

Every optimiser of those modes works in the unit box ``t`` of the differentiable parameters
(``t = 0`` / ``1`` at a parameter's bounds, log-scaled parameters in log), where the convergence
tests are stated (:mod:`paretoopt.inner.trust`, :mod:`paretoopt.inner.sgd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import NonFiniteError
from paretoopt.inner.loss import check_first_gradient, loss_stderr, penalty, slacks, step_figures
from paretoopt.inner.result import TrajectoryStep
from paretoopt.problem import Evaluation, InnerSettings, StudyDefinition, evaluate
from paretoopt.scalarize import Scalarization


class BudgetSpent(Exception):
    """The loop's ``max_steps`` simulator calls are spent (raised before a call over the cap)."""


@dataclass(frozen=True)
class Point:
    """The loss at ``t`` (unit box) on one sample: its value, its gradient in ``t`` and its Monte
    Carlo standard error (0 for an exact evaluation). With ``parts`` (the epigraph solver of a
    Chebyshev scalarisation): the normalised objectives ``z``, their Jacobian ``jz`` (m x d),
    the constraint penalty ``pen`` and its gradient ``gpen``. With ``parts`` on a constrained
    study: the scaled slacks ``g`` of every constraint bound (>= 0 where it holds,
    :func:`~paretoopt.inner.loss.slacks`) and their Jacobian ``jg`` (k x d)."""

    t: np.ndarray
    value: float
    grad: np.ndarray
    stderr: float
    z: np.ndarray | None = None
    jz: np.ndarray | None = None
    pen: float = 0.0
    gpen: np.ndarray | None = None
    g: np.ndarray | None = None
    jg: np.ndarray | None = None


def projected_gradient(t: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The projected gradient step ``clip(t - g, 0, 1) - t`` in the unit box: zero exactly at a
    stationary point, bound optima (gradient pointing out of the box) included."""
    return np.clip(t - grad, 0.0, 1.0) - t


@dataclass
class Run:
    """The state one inner loop shares between its stages: what to evaluate, the budget of
    ``max_steps`` calls, the trajectory (every ``record_every``-th call) and the counters."""

    definition: StudyDefinition
    choices: dict[str, Any]
    scalarization: Scalarization
    settings: InnerSettings
    device: torch.device
    exact: bool = False
    calls: int = 0
    backward: int = 0
    #: simulated events (the sample sizes of the calls, summed)
    events: int = 0
    trajectory: list[TrajectoryStep] = field(default_factory=list)
    #: the last point evaluated with a finite loss and gradient
    last_t: np.ndarray | None = None

    @property
    def budget_left(self) -> int:
        return int(self.settings.max_steps or 0) - self.calls

    def to_params(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """The differentiable parameters (their units) at unit-box coordinates ``t``."""
        return {p.name: p.from_unit(t[i]) for i, p in enumerate(self.definition.space.inner)}

    def unit(self, values: dict[str, float]) -> np.ndarray:
        """Unit-box coordinates of parameter values."""
        return np.array(
            [
                float(p.to_unit(torch.tensor(values[p.name], dtype=torch.float64)))
                for p in self.definition.space.inner
            ]
        )

    def values(self, t: np.ndarray) -> dict[str, float]:
        """Parameter values (their units, inside their bounds) at unit-box coordinates ``t``."""
        out = {}
        for i, p in enumerate(self.definition.space.inner):
            v = float(p.from_unit(torch.tensor(float(np.clip(t[i], 0.0, 1.0)), dtype=torch.float64)))
            out[p.name] = min(max(v, p.low), p.high)
        return out

    def loss(self, t_np: np.ndarray, seed: int, n_samples: int, parts: bool = False) -> Point:
        """One simulator call at ``t_np`` on the sample ``(seed, n_samples)``, with the gradient
        (and with ``parts`` the normalised objectives, the penalty, the constraint slacks and
        their Jacobians).

        Raises:
            BudgetSpent: the budget is spent (nothing is evaluated).
            NonFiniteError: the simulation or its gradient is not finite.
        """
        if self.budget_left < 1:
            raise BudgetSpent
        settings = self.settings
        dtype = settings.torch_dtype
        t_np = np.clip(np.asarray(t_np, dtype=float), 0.0, 1.0)
        t = torch.tensor(t_np, dtype=dtype, device=self.device, requires_grad=True)
        params = self.to_params(t)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        ev = evaluate(self.definition, params, self.choices, n_samples, gen, dtype=dtype, exact=self.exact)
        pen = penalty(self.definition, ev, settings.constraint_penalty)
        loss = self.scalarization(ev.objectives) + pen
        if self.calls == 0:
            check_first_gradient(self.definition, params, loss)
        self.calls += 1
        self.events += int(n_samples)
        extra: dict[str, Any] = {}
        if parts:
            z = self.scalarization.normalization.transform(ev.objectives)
            rows = [self._grad(z[i], t) for i in range(len(z))]
            extra = {
                "z": z.detach().cpu().numpy().astype(float),
                "jz": np.array(rows).reshape(len(rows), len(t_np)),
                "pen": float(pen.detach()),
                "gpen": self._grad(pen, t),
            }
            if self.definition.constraints:
                g = slacks(self.definition, ev)
                jg = [self._grad(g[i], t) for i in range(len(g))]
                extra["g"] = g.detach().cpu().numpy().astype(float)
                extra["jg"] = np.array(jg).reshape(len(jg), len(t_np))
        if loss.requires_grad:
            loss.backward()
            self.backward += 1
        grad = t.grad.detach().cpu().numpy().astype(float) if t.grad is not None else np.zeros(len(t_np))
        value = float(loss.detach())
        jac_ok = all(bool(np.all(np.isfinite(v))) for v in extra.values())
        if not math.isfinite(value) or not np.all(np.isfinite(grad)) or not jac_ok:
            bad = [
                n
                for n, g in zip(self.definition.space.inner_names, grad, strict=True)
                if not math.isfinite(g)
            ]
            raise NonFiniteError(f"non-finite loss or gradient (parameters {bad}) at {self.values(t_np)}")
        self.last_t = t_np
        if (self.calls - 1) % settings.record_every == 0:
            self.record(value, ev, t_np, n_samples)
        se = loss_stderr(self.definition, self.scalarization, ev, settings.constraint_penalty)
        return Point(t_np, value, grad, se, **extra)

    def _grad(self, y: torch.Tensor, t: torch.Tensor) -> np.ndarray:
        """``dy/dt`` (zeros where ``y`` does not depend on ``t``), keeping the graph."""
        if not y.requires_grad:
            return np.zeros(t.shape[0])
        (g,) = torch.autograd.grad(y, t, retain_graph=True, allow_unused=True)
        self.backward += 1
        return np.zeros(t.shape[0]) if g is None else g.detach().cpu().numpy().astype(float)

    def record(self, value: float, ev: Evaluation, t_np: np.ndarray, n_samples: int) -> None:
        """Append a trajectory step (with its errors, constraints and sample size)."""
        self.trajectory.append(
            TrajectoryStep(
                step=len(self.trajectory),
                loss=value,
                objectives=[float(v) for v in ev.objectives.detach().cpu()],
                params=self.values(t_np),
                **step_figures(ev, n_samples, self.exact),
            )
        )
