"""Pareto-set learning: one small network per discrete combination maps scalarisation weights to
designs, trained by the study's own differentiable simulation (Lin, Yang, Zhang & Zhang,
"Pareto set learning for expensive multi-objective optimization", NeurIPS 2022,
arXiv:2210.08495, the gradient-based variant; Navon et al., "Learning the Pareto front with
hypernetworks", ICLR 2021).

The network ``h(w) -> t`` (``m`` weights on the simplex in, 2 hidden layers, a sigmoid into the
unit box of the differentiable parameters: bounds can never be left) is trained by Adam on
batches of rays drawn from Dirichlet(1): each ray's design is simulated once (one call,
one backward pass through the simulation and the network, counted; a Monte Carlo study on the
inner plan's ``n_samples`` events, a fresh sample per step shared by the batch: common random
numbers) and scored by the augmented Chebyshev scalarisation of that weight on the runner's
normalisation plus the inner loop's quadratic constraint penalty. After training, the network's
designs at the requested weights get the usual final evaluation (``n_eval_samples``, evaluation
mode): those are the front the run reports. A run can start from a stored network (the last
round of the same combination), so rounds continue one training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import NonFiniteError
from paretoopt.inner.loop import evaluate_design
from paretoopt.inner.loss import penalty, set_mode, step_figures, step_seed
from paretoopt.inner.plan import make_plan
from paretoopt.inner.population import evaluate_unit, split_evenly, unit_values
from paretoopt.inner.result import MAX_STEPS, InnerResult, TrajectoryStep
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import AugmentedChebyshev, Normalization


@dataclass(frozen=True)
class ParetoSetSettings:
    """How one training round goes: ``steps`` Adam steps of the network (learning rate ``lr``),
    each on ``batch`` rays from Dirichlet(``alpha``) (one call each), ``hidden`` units per
    hidden layer, the per-step Monte Carlo sample ``n_samples`` (``None``: the inner plan's).
    ``ray_penalty`` weighs a ray-alignment term added to each design's loss,
    ``ray_penalty * (1 - cos(z - z*, r + delta))`` (normalised objectives ``z``, utopia ``z*``;
    as COSMOS, Ruchte & Grabocka, ICDM 2021): it is 0 where the Chebyshev optimum lies (on the
    ray, when the ray meets the front) and gives the network a smooth pull along the front,
    where the Chebyshev max moves one objective at a time (on DTLZ2 it halves the distance of
    the designs to their weights' optima after 150 steps). 0 trains on the scalarisation alone."""

    steps: int = 50
    batch: int = 8
    lr: float = 1e-2
    hidden: int = 64
    alpha: float = 1.0
    n_samples: int | None = None
    ray_penalty: float = 1.0


#: ``delta`` of :func:`ray_to_weight`: a ray's zero components give weights of ``1 / delta``.
RAY_DELTA = 0.01


def ray_to_weight(rays: np.ndarray, delta: float = RAY_DELTA) -> np.ndarray:
    """Chebyshev weights whose optimum lies on each ray (rows on the simplex) from the utopia
    point: ``w ~ 1 / (r + delta)``, normalised. The Chebyshev optimum of ``w`` has
    ``w_i (z_i - z*_i)`` equal, so ``z - z* ~ 1 / w``: even rays give an even spread over the
    front, where even weights crowd the points towards the front's edges."""
    r = np.atleast_2d(np.asarray(rays, dtype=float))
    a = 1.0 / (np.clip(r, 0.0, None) + delta)
    return a / a.sum(axis=1, keepdims=True)


def weight_to_ray(weights: np.ndarray, delta: float = RAY_DELTA) -> np.ndarray:
    """The inverse of :func:`ray_to_weight` (rays clipped at 0 and renormalised for weights that
    no ray gives, e.g. a weight of 0)."""
    w = np.clip(np.atleast_2d(np.asarray(weights, dtype=float)), 1e-12, None)
    a = 1.0 / w
    m = w.shape[1]
    r = a * (1.0 + m * delta) / a.sum(axis=1, keepdims=True) - delta
    r = np.clip(r, 0.0, None)
    return r / r.sum(axis=1, keepdims=True)


#: How far (unit-box fraction) the output sigmoid reaches beyond each face before it is clamped
#: onto the box: a Pareto set on a bound (ZDT's ``x_2..n = 0``) is reached exactly, where a
#: plain sigmoid only approaches it.
OVERSHOOT = 0.02


class ParetoSetModel(torch.nn.Module):
    """``h(r)``: rays (``... x m``, on the simplex; :func:`weight_to_ray` of the Chebyshev
    weights) to unit-box designs (``... x d``)."""

    def __init__(self, m: int, d: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(m, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, d),
        )

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """The unit-box designs of rays ``r``."""
        return torch.clamp((1.0 + 2 * OVERSHOOT) * torch.sigmoid(self.net(r)) - OVERSHOOT, 0.0, 1.0)


@dataclass
class ParetoSetResult:
    """The designs at the requested weights (one :class:`InnerResult` each, calls shared out so
    that they sum to the run's total), the mean training loss per step, the network's trained
    tensors (``state``), the total calls, backward passes and events."""

    members: list[InnerResult]
    loss_history: list[float]
    state: dict[str, torch.Tensor]
    n_calls: int
    n_backward: int
    n_events: int


def make_model(m: int, d: int, settings: ParetoSetSettings, seed: int) -> ParetoSetModel:
    """A freshly initialised network (float64), its initial weights seeded by ``seed``."""
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed) % 2**63)
        return ParetoSetModel(m, d, settings.hidden).double()
    finally:
        torch.random.set_rng_state(gen_state)


def train_pareto_set(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    normalization: Normalization,
    weights: np.ndarray,
    *,
    settings: ParetoSetSettings | None = None,
    inner: InnerSettings | None = None,
    init_state: Mapping[str, torch.Tensor] | None = None,
    seed: int = 0,
    eval_seeds: Sequence[int] | None = None,
    device: str | torch.device = "cpu",
) -> ParetoSetResult:
    """Train the combination's Pareto-set network for one round, then evaluate its designs at
    ``weights`` (``n x m``).

    Args:
        definition: the study; its simulation must be differentiable in the inner parameters.
        choices: a value for every outer parameter.
        normalization: maps objectives to the unit box the Chebyshev scalarisation works in.
        weights: the weights whose designs are reported, one row each.
        settings: the round's numbers (default :class:`ParetoSetSettings`).
        inner: inner settings for the auto probe, the sample sizes and the constraint penalty
            (default ``definition.inner``).
        init_state: a stored network's tensors to continue from (``None``: a fresh network).
        seed: seeds the network's start, the sampled weights and every Monte Carlo sample.
        eval_seeds: the final evaluation's seed per weight (default ``seed + k``).
        device: where the simulation runs (the network stays on the CPU, float64).

    Raises:
        NonFiniteError: the objectives or the network's gradient are not finite.
        SimulationError: the simulation failed.
    """
    t0 = time.perf_counter()
    cfg = settings if settings is not None else ParetoSetSettings()
    space = definition.space
    choices = space.validate_outer(choices)
    dev = torch.device(device)
    # Adam on fresh samples whatever the probe says: no smoothness test (two calls saved)
    plan = make_plan(
        definition, choices, inner if inner is not None else definition.inner, dev, smoothness=False
    )
    n_samples = int(cfg.n_samples or plan.settings.n_samples or 1)
    dtype = plan.settings.torch_dtype
    w_eval = np.asarray(weights, dtype=float)
    n, m = w_eval.shape
    d = len(space.inner)
    model = make_model(m, d, cfg, seed)
    if init_state is not None:
        model.load_state_dict({k: v.to(torch.float64) for k, v in init_state.items()})
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x951])
    calls = backward = events = 0
    history: list[float] = []
    trajectories: list[list[TrajectoryStep]] = [[] for _ in range(n)]
    try:
        set_mode(definition, training=True)
        for step in range(cfg.steps):
            rays = rng.dirichlet(np.full(m, cfg.alpha), size=cfg.batch)
            lam = ray_to_weight(rays)
            ts = model(torch.as_tensor(rays, dtype=torch.float64))
            gen_seed = step_seed(seed, step)
            grads = torch.zeros_like(ts)
            total = 0.0
            for b in range(cfg.batch):
                leaf, ev = evaluate_unit(
                    definition, choices, ts[b], n_samples, gen_seed, dtype=dtype, device=dev, exact=plan.exact
                )
                calls += 1
                events += n_samples
                if not bool(torch.all(torch.isfinite(ev.objectives.detach()))):
                    raise NonFiniteError(f"non-finite objectives in Pareto-set training at step {step}")
                loss = _design_loss(definition, ev, normalization, lam[b], rays[b], cfg, plan.settings)
                if loss.requires_grad:
                    (g,) = torch.autograd.grad(loss, leaf, allow_unused=True)
                    backward += 1
                    if g is not None:
                        # each design's direction on one scale (as the population mode): a
                        # penalty's large gradient must not drown the other rays' small ones
                        g = g.detach().to(torch.float64)
                        grads[b] = g / (g.norm() / math.sqrt(max(d, 1)) + 1e-300)
                total += float(loss.detach())
                # the archive: each training design goes to the trial of the nearest weight
                k = int(np.argmin(np.sum((w_eval - lam[b]) ** 2, axis=1)))
                trajectories[k].append(
                    TrajectoryStep(
                        step=len(trajectories[k]),
                        loss=float(loss.detach()),
                        objectives=[float(v) for v in ev.objectives.detach().cpu()],
                        params=unit_values(definition, ts[b].detach().numpy()),
                        **step_figures(ev, n_samples, plan.exact),
                    )
                )
            if not bool(torch.all(torch.isfinite(grads))):
                raise NonFiniteError(f"non-finite gradient in Pareto-set training at step {step}")
            opt.zero_grad()
            (ts * grads).sum().div(cfg.batch).backward()
            opt.step()
            mean = torch.tensor(total / cfg.batch)
            history.append(float(mean.detach()))
    finally:
        set_mode(definition, training=False)
    with torch.no_grad():
        finals = model(torch.as_tensor(weight_to_ray(w_eval), dtype=torch.float64)).numpy()
    shares = split_evenly(calls + plan.probe_calls, n)
    back_share = split_evenly(backward, n)
    event_share = split_evenly(events + plan.probe_events, n)
    members = []
    final_calls = final_events = 0
    for k in range(n):
        res = evaluate_design(
            definition,
            unit_values(definition, finals[k]),
            choices,
            AugmentedChebyshev(w_eval[k], normalization),
            settings=inner,
            seed=int(eval_seeds[k]) if eval_seeds is not None else seed + k,
            device=dev,
        )
        final_calls += res.n_calls
        final_events += int(res.n_events or 0)
        feasible = res.feasible
        members.append(
            replace(
                res,
                n_calls=shares[k] + res.n_calls,
                n_backward=back_share[k],
                n_steps=len(history),
                converged=False,
                optimizer="psl",
                wall_time_s=(time.perf_counter() - t0) / n,
                trajectory=trajectories[k],
                stop_reason=MAX_STEPS if feasible else "constraint_infeasible",
                n_events=event_share[k] + int(res.n_events or 0),
            )
        )
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return ParetoSetResult(
        members,
        history,
        state,
        calls + plan.probe_calls + final_calls,
        backward,
        events + plan.probe_events + final_events,
    )


def _design_loss(
    definition: StudyDefinition,
    ev: Any,
    normalization: Normalization,
    weight: np.ndarray,
    ray: np.ndarray,
    cfg: ParetoSetSettings,
    inner: InnerSettings,
) -> torch.Tensor:
    """One training design's loss: the augmented Chebyshev scalarisation of its weight, the
    inner loop's constraint penalty and the ray-alignment term (float64 scalar)."""
    scal = AugmentedChebyshev(torch.as_tensor(weight, dtype=torch.float64), normalization)
    loss = scal(ev.objectives).to(torch.float64) + penalty(definition, ev, inner.constraint_penalty).to(
        torch.float64
    )
    if cfg.ray_penalty > 0:
        shifted = normalization.transform(ev.objectives).to(torch.float64) + scal.utopia_offset
        target = torch.as_tensor(ray + RAY_DELTA, dtype=torch.float64)
        cos = torch.dot(shifted, target) / (shifted.norm() * target.norm() + 1e-12)
        loss = loss + cfg.ray_penalty * (1.0 - cos)
    return loss
