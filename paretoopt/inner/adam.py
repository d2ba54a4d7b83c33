"""The legacy Adam inner optimiser (``InnerSettings(optimizer="adam")``): a fresh Monte Carlo
sample every step, kept exactly as studies written before ``InnerSettings.mode`` ran it.

Adam runs in the unconstrained reparametrisation of the differentiable parameters (bounds can
never be left), with a cosine learning-rate decay, and stops on a plateau of the smoothed loss
(stop reason ``"converged"``) or at ``max_steps``; it returns the step with the best smoothed
loss. The ``"adam"`` mode with a convergence test is :mod:`paretoopt.inner.sgd`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from paretoopt.exceptions import NonFiniteError
from paretoopt.inner.loss import (
    check_first_gradient,
    objective_list,
    penalty,
    required,
    set_mode,
    step_figures,
    step_seed,
)
from paretoopt.inner.result import CONVERGED, MAX_STEPS, OptimizerOutcome, TrajectoryStep
from paretoopt.problem import InnerSettings, StudyDefinition, evaluate
from paretoopt.scalarize import Scalarization


def run_adam(
    definition: StudyDefinition,
    choices: dict[str, Any],
    scalarization: Scalarization,
    settings: InnerSettings,
    seed: int,
    start: dict[str, float],
    dev: torch.device,
) -> OptimizerOutcome:
    """Minimise the penalised scalarised loss from ``start`` with Adam (see the module docstring);
    ``settings`` has every number set (:data:`paretoopt.problem.LEGACY_DEFAULTS`)."""
    space = definition.space
    dtype = settings.torch_dtype
    if not space.inner:
        return OptimizerOutcome({}, [], 0, 0, CONVERGED)
    max_steps, lr = required(settings.max_steps, "max_steps"), required(settings.lr, "lr")
    n_samples, tol = required(settings.n_samples, "n_samples"), required(settings.tol, "tol")
    patience = required(settings.patience, "patience")
    u = space.to_unconstrained(start, dtype=dtype, device=dev).clone().requires_grad_(True)
    # beta2 = 0.99 (not 0.999): one large gradient (a constraint penalty overshoot) then decays
    # from Adam's second-moment estimate in ~100 steps instead of ~1000, so steps do not freeze
    opt = torch.optim.Adam([u], lr=lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max_steps, eta_min=lr * settings.lr_final_fraction
    )
    gen = torch.Generator(device=dev)
    traj: list[TrajectoryStep] = []
    ema: float | None = None
    best = best_any = math.inf
    best_u = u.detach().clone()
    since_best = 0
    n_calls = n_backward = 0
    converged = False
    set_mode(definition, training=True)
    for step in range(max_steps):
        gen.manual_seed(step_seed(seed, step))
        params = space.from_unconstrained(u)
        ev = evaluate(definition, params, choices, n_samples, gen, dtype=dtype)
        n_calls += 1
        loss = scalarization(ev.objectives) + penalty(definition, ev, settings.constraint_penalty)
        if step == 0:
            check_first_gradient(definition, params, loss)
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:
            loss.backward()
            n_backward += 1
        if u.grad is None:
            u.grad = torch.zeros_like(u)
        if not torch.all(torch.isfinite(u.grad)):
            bad = [n for n, g in zip(space.inner_names, u.grad.tolist(), strict=True) if not math.isfinite(g)]
            raise NonFiniteError(f"non-finite gradient for parameters {bad} at step {step}")
        value = float(loss.detach())
        evaluated_u = u.detach().clone()
        if step % settings.record_every == 0:
            traj.append(
                TrajectoryStep(
                    step=step,
                    loss=value,
                    objectives=objective_list(ev),
                    params={k: float(v.detach()) for k, v in params.items()},
                    **step_figures(ev, n_samples),
                )
            )
        opt.step()
        sched.step()
        ema = value if ema is None else 0.8 * ema + 0.2 * value
        if ema < best_any:
            best_any, best_u = ema, evaluated_u
        if ema < best - tol * max(1.0, abs(best) if math.isfinite(best) else 1.0):
            best, since_best = ema, 0  # a significant improvement restarts the patience
        else:
            since_best += 1
            if since_best >= patience:
                converged = True
                break
    # return the step with the best smoothed loss, not the last one: after a detour (a penalty
    # overshoot, a noisy stretch) the patience may run out before the loss has recovered
    with torch.no_grad():
        final = {k: float(v) for k, v in space.from_unconstrained(best_u).items()}
    # the logistic map can round onto a bound in floating point; keep values inside
    final = {p.name: min(max(final[p.name], p.low), p.high) for p in space.inner}
    return OptimizerOutcome(
        final, traj, n_calls, n_backward, CONVERGED if converged else MAX_STEPS, n_calls * n_samples
    )
