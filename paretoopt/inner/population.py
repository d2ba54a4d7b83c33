"""The set-based gradient mode: a population of designs with the same discrete choices, moved
together by the gradient of its joint hypervolume, so one step improves many front points.

Each step evaluates every member once (one simulator call and one backward pass each, counted),
maps the objectives to the study's normalisation (0 at the ideal, 1 at the nadir), takes the
hypervolume gradient of the population (:func:`paretoopt.inner.hvgrad.population_ascent`; the
reference point is the nadir + 10 %, the project's rule) and chains it through each member's
simulation to its parameters. The parameters move by projected Adam in the unit box of the
differentiable parameters (bounds can never be left) with a cosine-decayed step; constraint
violations add the inner loop's quadratic penalty. A Monte Carlo simulation is evaluated on
``n_samples`` events per step with a fresh sample each step (the same sample for every member of
a step: common random numbers); the members' final values come from the usual final evaluation
(``n_eval_samples``, evaluation mode). The loop stops when the population's hypervolume has
not grown by ``tol`` over ``patience`` steps, or after ``max_steps`` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import NonFiniteError
from paretoopt.inner.hvgrad import population_ascent
from paretoopt.inner.loop import evaluate_design
from paretoopt.inner.loss import penalty, set_mode, step_figures, step_seed
from paretoopt.inner.plan import make_plan
from paretoopt.inner.result import CONVERGED, MAX_STEPS, InnerResult, TrajectoryStep
from paretoopt.problem import Evaluation, InnerSettings, StudyDefinition, evaluate
from paretoopt.scalarize import Normalization, WeightedSum

#: Penalty below which a member counts as feasible in a step (1e3 x (1e-3 violation)^2 = 1e-3:
#: a violation within the constraints' default tolerance).
_FEASIBLE_PENALTY = 1e-3

#: How far (fraction of each range) warm starts and spread starts are kept from the box faces.
START_MARGIN = 0.02


@dataclass(frozen=True)
class PopulationSettings:
    """How one population run goes: ``max_steps`` steps (each costs one call per member),
    Adam's ``lr`` in the unit box (cosine-decayed to ``lr * lr_final_fraction``), the stop test
    (hypervolume growth below ``tol`` over ``patience`` steps) and the per-step Monte Carlo
    sample (``n_samples``; ``None``: the inner plan's). ``common_seed`` (``None``: the run's own
    seed) seeds the starts, the Monte Carlo samples and the final evaluations instead: a
    screening rung gives every combination the same starts and samples (common random numbers),
    so their scores differ by the combinations, not by the draws."""

    max_steps: int = 60
    lr: float = 0.1
    lr_final_fraction: float = 0.05
    tol: float = 1e-5
    patience: int = 20
    n_samples: int | None = None
    common_seed: int | None = None


@dataclass
class PopulationResult:
    """The members' final results (one :class:`InnerResult` each, calls shared out so that they
    sum to the run's total), the hypervolume (normalised objectives) after each step, the total
    calls and backward passes."""

    members: list[InnerResult]
    hv_history: list[float]
    n_calls: int
    n_backward: int
    stop_reason: str


def spread_unit_starts(d: int, n: int, seed: int) -> np.ndarray:
    """``n`` scrambled-Sobol points of the unit box ``[m, 1 - m]^d`` (``m`` = START_MARGIN)."""
    if d == 0:
        return np.zeros((n, 0))
    sobol = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed % 2**31)
    u = sobol.draw(n, dtype=torch.float64).numpy()
    return START_MARGIN + (1.0 - 2.0 * START_MARGIN) * u


def _unit(definition: StudyDefinition, values: Mapping[str, float]) -> np.ndarray:
    inner = definition.space.inner
    t = [float(p.to_unit(torch.tensor(float(values[p.name]), dtype=torch.float64))) for p in inner]
    return np.clip(np.array(t, dtype=float), START_MARGIN, 1.0 - START_MARGIN)


def evaluate_unit(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    t: torch.Tensor,
    n_samples: int,
    seed: int,
    *,
    dtype: torch.dtype,
    device: torch.device,
    exact: bool,
) -> tuple[torch.Tensor, Evaluation]:
    """One simulator call at unit-box coordinates ``t`` on the sample ``(seed, n_samples)``: the
    leaf the gradient is taken at (a detached copy of ``t``) and the evaluation."""
    leaf = t.detach().clone().to(dtype).requires_grad_(True)
    params = {p.name: p.from_unit(leaf[i]) for i, p in enumerate(definition.space.inner)}
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return leaf, evaluate(definition, params, choices, n_samples, gen, dtype=dtype, exact=exact)


def unit_values(definition: StudyDefinition, t: np.ndarray) -> dict[str, float]:
    """The differentiable parameters' values (their units) at unit-box coordinates ``t``."""
    return {
        p.name: p.from_unit_float(float(np.clip(t[i], 0.0, 1.0)))
        for i, p in enumerate(definition.space.inner)
    }


def optimize_population(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    normalization: Normalization,
    n_points: int,
    *,
    settings: PopulationSettings | None = None,
    inner: InnerSettings | None = None,
    inits: Sequence[Mapping[str, float] | None] = (),
    fixed: np.ndarray | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> PopulationResult:
    """Move ``n_points`` designs with ``choices`` together by their joint hypervolume gradient.

    Args:
        definition: the study; its simulation must be differentiable in the inner parameters.
        choices: a value for every outer parameter.
        normalization: maps objectives to the unit box the hypervolume is measured in.
        n_points: the population size.
        settings: the population run's numbers (default :class:`PopulationSettings`).
        inner: inner settings for the auto probe, the final evaluation sample and the
            constraint penalty (default ``definition.inner``).
        inits: warm starts, one per member (``None`` or missing: a spread Sobol start).
        fixed: objective vectors (natural units, ``k x m``) already on the study's front: the
            population maximises the hypervolume it adds to them (see
            :func:`~paretoopt.inner.hvgrad.population_ascent`).
        seed: seeds the starts and every Monte Carlo sample.
        device: where the simulation runs.

    Raises:
        NonFiniteError: a member's objectives or gradient are not finite.
        SimulationError: the simulation failed.
    """
    t0 = time.perf_counter()
    cfg = settings if settings is not None else PopulationSettings()
    seed = seed if cfg.common_seed is None else int(cfg.common_seed)
    space = definition.space
    choices = space.validate_outer(choices)
    dev = torch.device(device)
    # Adam on fresh samples whatever the probe says: no smoothness test (two calls saved)
    plan = make_plan(
        definition, choices, inner if inner is not None else definition.inner, dev, smoothness=False
    )
    n_samples = int(cfg.n_samples or plan.settings.n_samples or 1)
    d = len(space.inner)
    starts = spread_unit_starts(d, n_points, seed)
    seen: list[np.ndarray] = []
    for k, init in enumerate(list(inits)[:n_points]):
        if init is None:
            continue
        t_k = _unit(definition, space.validate_inner(init))
        # one member per warm start: members on one design would share one hypervolume
        # gradient (ties give it to one of them) and the others would never move
        if not any(np.allclose(t_k, u, rtol=0.0, atol=1e-9) for u in seen):
            starts[k] = t_k
            seen.append(t_k)
    t = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([t], lr=cfg.lr)
    m = len(definition.objectives)
    ref = torch.full((m,), 1.1, dtype=torch.float64)
    fixed_z = None
    if fixed is not None and len(fixed):
        fz = normalization.transform(torch.as_tensor(np.asarray(fixed, dtype=float), dtype=torch.float64))
        fixed_z = fz.numpy()[np.all(np.isfinite(fz.numpy()), axis=1)]
    calls = backward = events = 0
    hv_history: list[float] = []
    trajectories: list[list[TrajectoryStep]] = [[] for _ in range(n_points)]
    stop = MAX_STEPS
    dtype = plan.settings.torch_dtype
    try:
        set_mode(definition, training=True)
        for step in range(cfg.max_steps):
            gen_seed = step_seed(seed, step)
            zs, pens, grads_z, raw = [], [], [], []
            graphs, evs = [], []
            for k in range(n_points):
                tk, ev = evaluate_unit(
                    definition, choices, t[k], n_samples, gen_seed, dtype=dtype, device=dev, exact=plan.exact
                )
                calls += 1
                events += n_samples
                evs.append(ev)
                z = normalization.transform(ev.objectives)
                pen = penalty(definition, ev, plan.settings.constraint_penalty)
                zs.append(z)
                pens.append(pen)
                graphs.append(tk)
                raw.append(ev.objectives.detach().cpu().numpy().astype(float))
            zmat = torch.stack([z.detach() for z in zs]).to(torch.float64)
            if not bool(torch.all(torch.isfinite(zmat))):
                raise NonFiniteError(f"non-finite objectives in the population at step {step}")
            feasible = np.array([float(pn.detach()) <= _FEASIBLE_PENALTY for pn in pens])
            gz, hv = population_ascent(zmat, ref, feasible, fixed_z)
            hv_history.append(hv)
            grads_z.append(gz)
            gt = torch.zeros_like(t)
            for k in range(n_points):
                total = torch.dot(gz[k].to(zs[k].dtype), zs[k]) + pens[k]
                if total.requires_grad:
                    (g,) = torch.autograd.grad(total, graphs[k], allow_unused=True)
                    backward += 1
                    if g is not None:
                        gt[k] = g.detach().to(torch.float64)
                trajectories[k].append(
                    TrajectoryStep(
                        step=step,
                        loss=-hv,
                        objectives=[float(v) for v in raw[k]],
                        params=unit_values(definition, t[k].detach().numpy()),
                        # errors, constraints and sample size: the archive's (issue 19)
                        **step_figures(evs[k], n_samples, plan.exact),
                    )
                )
            # each member's step direction on one scale (Adam then adapts per coordinate): a
            # penalty's large gradient must not freeze the hypervolume's small ones afterwards
            gt = gt / (gt.norm(dim=1, keepdim=True) / math.sqrt(max(d, 1)) + 1e-300)
            if not bool(torch.all(torch.isfinite(gt))):
                raise NonFiniteError(f"non-finite gradient in the population at step {step}")
            frac = cfg.lr_final_fraction + (1.0 - cfg.lr_final_fraction) * 0.5 * (
                1.0 + math.cos(math.pi * step / max(cfg.max_steps - 1, 1))
            )
            for group in opt.param_groups:
                group["lr"] = cfg.lr * frac
            t.grad = gt
            opt.step()
            with torch.no_grad():
                t.clamp_(0.0, 1.0)
            if len(hv_history) > cfg.patience:
                gain = hv_history[-1] - max(hv_history[: -cfg.patience])
                settled = gain < cfg.tol * max(abs(hv_history[-1]), 1e-12) and bool(feasible.all())
                if settled and step + 1 >= 2 * cfg.patience:
                    stop = CONVERGED
                    break
    finally:
        set_mode(definition, training=False)
    finals = t.detach().numpy()
    scal = WeightedSum([1.0 / m] * m, normalization)
    members = []
    per_member = split_evenly(calls + plan.probe_calls, n_points)
    back_share = split_evenly(backward, n_points)
    event_share = split_evenly(events + plan.probe_events, n_points)
    for k in range(n_points):
        res = evaluate_design(
            definition,
            unit_values(definition, finals[k]),
            choices,
            scal,
            settings=inner,
            seed=seed + k,
            device=dev,
        )
        members.append(
            InnerResult(
                params=res.params,
                choices=res.choices,
                objectives=res.objectives,
                stderr=res.stderr,
                constraints=res.constraints,
                constraint_stderr=res.constraint_stderr,
                feasible=res.feasible,
                loss=res.loss,
                n_calls=per_member[k] + 1,
                n_backward=back_share[k],
                n_steps=len(hv_history),
                converged=stop == CONVERGED and res.feasible,
                optimizer="setgrad",
                wall_time_s=(time.perf_counter() - t0) / n_points,
                trajectory=trajectories[k],
                extras=res.extras,
                stop_reason=stop if res.feasible else "constraint_infeasible",
                n_events=event_share[k] + res.n_samples,
                n_samples=res.n_samples,
            )
        )
    total_calls = calls + plan.probe_calls + n_points
    return PopulationResult(members, hv_history, total_calls, backward, stop)


def split_evenly(total: int, n: int) -> list[int]:
    """``total`` split into ``n`` integers that differ by at most one and sum to ``total``."""
    base, extra = divmod(int(total), max(n, 1))
    return [base + (1 if k < extra else 0) for k in range(n)]
