"""Gradient-based multi-objective peers for ``front_quality.py``, written from their papers
(LibMOON's PyPI release cannot serve: see ../shared/MACHINE-NOTES.md).

All three use the study's own differentiable simulation on continuous studies (no discrete
choices), objectives normalised by the study's ideal/nadir, designs in the unit box of the
inner parameters (projected onto it after each step). One call is one forward simulation of
one design; its Jacobian (one backward pass per objective) is counted as ``m`` backward passes.

Each population member moves by Adam (learning rate 0.05 in the unit box, projected onto it),
the optimiser of the set-based mode, so that the peers differ from it in the direction only.

* **MGDA** (Désidéri, C. R. Math. 350 (2012) 313; Sener & Koltun, NeurIPS 2018): each member of
  a population of ``K`` scrambled-Sobol starts descends along the minimum-norm element of the
  convex hull of its objectives' gradients (two objectives: closed form; more: Frank-Wolfe).
  No spread control: a member converges to the Pareto point its start leads to.
* **EPO-style** (Mahapatra & Rajan, "Multi-task learning with user preferences: gradient descent
  with controlled ascent in Pareto optimization", ICML 2020): each member has a preference ray
  ``r`` (Das-Dennis); while the relative losses ``r * f`` are not balanced (KL divergence from
  uniform above ``eps``) the direction is the convex combination of gradients that most reduces
  the imbalance without raising the objectives that are already low; once balanced, the one that
  descends fastest without raising any objective (both linear programs over the simplex of
  combination weights, scipy's HiGHS). Our transcription of the paper's algorithm; not the
  authors' code.
* **PSL** (Lin, Yang, Zhang & Zhang, "Pareto set learning for expensive multi-objective
  optimization", NeurIPS 2022, arXiv:2210.08495, the gradient-based variant): a small network
  ``h(lambda) -> x`` (2 hidden layers of 64, sigmoid output into the box), trained by Adam on
  batches of 8 preferences from Dirichlet(1) with the Tchebycheff loss
  ``max_i lambda_i (f_i - z*_i)``; every design the network proposes during training is one call.
  At the end ``K`` even preferences are evaluated (counted).

Every design a peer evaluates is reported (``add``), so the front at a budget is the
non-dominated set of all its evaluations, as for the black-box peers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from paretoopt.problem import StudyDefinition, evaluate
from paretoopt.scalarize import Normalization

#: ``add(objectives, calls, backward)``: record one evaluated design in the benchmark's run.
Add = Callable[[Any, int, int], None]


class Spent(Exception):
    """The call budget is spent."""


class _Sim:
    """Counted calls of a continuous study's simulation at unit-box points."""

    def __init__(self, definition: StudyDefinition, norm: Normalization, add: Add, budget: int) -> None:
        self.d, self.norm, self.add, self.budget = definition, norm, add, budget
        self.calls = 0
        self.inner = definition.space.inner

    def params(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        return {p.name: p.from_unit(t[i]) for i, p in enumerate(self.inner)}

    def value_jac(self, t_np: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(natural objectives, normalised objectives z, Jacobian dz/dt ``m x d``) at ``t``."""
        if self.calls >= self.budget:
            raise Spent
        t = torch.tensor(np.clip(t_np, 0.0, 1.0), dtype=torch.float64, requires_grad=True)
        gen = torch.Generator()
        gen.manual_seed(0)
        ev = evaluate(self.d, self.params(t), {}, int(self.d.inner.n_samples or 1), gen)
        z = self.norm.transform(ev.objectives)
        rows = []
        for i in range(len(z)):
            (g,) = torch.autograd.grad(z[i], t, retain_graph=i < len(z) - 1, allow_unused=True)
            rows.append(np.zeros(len(t_np)) if g is None else g.numpy().astype(float))
        self.calls += 1
        f = ev.objectives.detach().numpy().astype(float)
        self.add(f, 1, len(z))
        return f, z.detach().numpy().astype(float), np.array(rows)


def min_norm_weights(g: np.ndarray, iters: int = 50) -> np.ndarray:
    """Convex weights ``w`` minimising ``|w^T g|`` over the simplex (rows of ``g``: gradients);
    closed form for two, Frank-Wolfe beyond (Sener & Koltun 2018, Algorithm 2)."""
    m = len(g)
    gram = g @ g.T
    if m == 2:
        denom = gram[0, 0] + gram[1, 1] - 2 * gram[0, 1]
        a = 0.5 if denom <= 1e-300 else float(np.clip((gram[1, 1] - gram[0, 1]) / denom, 0.0, 1.0))
        return np.array([a, 1.0 - a])
    w = np.full(m, 1.0 / m)
    for _ in range(iters):
        grad = gram @ w
        j = int(np.argmin(grad))
        e = np.zeros(m)
        e[j] = 1.0
        d = e - w
        denom = d @ gram @ d
        if denom <= 1e-300:
            break
        step = float(np.clip(-(w @ gram @ d) / denom, 0.0, 1.0))
        if step <= 1e-12:
            break
        w = w + step * d
    return w


class _Adam:
    """Adam (Kingma & Ba 2015) on each member's unit-box coordinates, projected onto the box:
    the same optimiser as the set-based mode, so the peers differ only in their direction rule."""

    def __init__(self, x: np.ndarray, lr: float) -> None:
        self.x, self.lr = x, lr
        self.m = np.zeros_like(x)
        self.v = np.zeros_like(x)
        self.n = np.zeros(len(x))

    def step(self, i: int, g: np.ndarray, b1: float = 0.9, b2: float = 0.999) -> None:
        self.n[i] += 1
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        mh = self.m[i] / (1 - b1 ** self.n[i])
        vh = self.v[i] / (1 - b2 ** self.n[i])
        self.x[i] = np.clip(self.x[i] - self.lr * mh / (np.sqrt(vh) + 1e-12), 0.0, 1.0)


def _starts(d: int, k: int, seed: int) -> np.ndarray:
    sobol = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
    return 0.02 + 0.96 * sobol.draw(k, dtype=torch.float64).numpy()


def run_mgda(
    definition: StudyDefinition,
    norm: Normalization,
    add: Add,
    budget: int,
    seed: int,
    k: int = 16,
    lr: float = 0.02,
) -> None:
    """MGDA on a population of ``k`` members, round-robin one step each, until the budget."""
    sim = _Sim(definition, norm, add, budget)
    opt = _Adam(_starts(len(sim.inner), k, seed), lr)
    try:
        while True:
            for i in range(k):
                _, _, jac = sim.value_jac(opt.x[i])
                opt.step(i, min_norm_weights(jac) @ jac)
    except Spent:
        return


def _epo_weights(z: np.ndarray, jac: np.ndarray, r: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """The combination weights of EPO's search direction (see the module docstring)."""
    from scipy.optimize import linprog

    m = len(z)
    lz = np.maximum(z, 1e-9)  # normalised objectives are >= 0 near the front
    rl = r * lz
    lhat = rl / rl.sum()
    mu = float(np.sum(lhat * np.log(np.maximum(m * lhat, 1e-300))))
    gram = jac @ jac.T
    if mu > eps:  # balance: reduce the non-uniformity, never raise an objective already low
        a = r * (np.log(np.maximum(m * lhat, 1e-300)) - mu)
        c = -(gram @ a)
        low = np.flatnonzero(a <= 0)
        top = int(np.argmax(rl))
        cons = [j for j in low] + [top]
    else:  # descend along the ray: fastest descent that raises no objective
        c = -(gram @ r)
        cons = list(range(m))
    a_ub = -gram[cons] if cons else None
    b_ub = np.zeros(len(cons)) if cons else None
    res = linprog(
        c, A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, m)), b_eq=[1.0], bounds=[(0, None)] * m, method="highs"
    )
    if not res.success:
        return min_norm_weights(jac)
    return np.asarray(res.x, dtype=float)


def run_epo(
    definition: StudyDefinition,
    norm: Normalization,
    add: Add,
    budget: int,
    seed: int,
    k: int = 16,
    lr: float = 0.02,
) -> None:
    """EPO-style search on ``k`` preference rays, round-robin one step each, until the budget."""
    from pymoo.util.ref_dirs import get_reference_directions

    sim = _Sim(definition, norm, add, budget)
    m = len(definition.objectives)
    p = 1
    while len(get_reference_directions("das-dennis", m, n_partitions=p)) < k:
        p += 1
    rays = np.asarray(get_reference_directions("das-dennis", m, n_partitions=p), dtype=float)[:k]
    # EPO's preference r is inverse to the target loss ratios: r_i f_i equal on the ray
    prefs = 1.0 / np.maximum(rays, 0.02)
    prefs /= prefs.sum(axis=1, keepdims=True)
    opt = _Adam(_starts(len(sim.inner), len(rays), seed), lr)
    try:
        while True:
            for i in range(len(rays)):
                _, z, jac = sim.value_jac(opt.x[i])
                opt.step(i, _epo_weights(z, jac, prefs[i]) @ jac)
    except Spent:
        return


def run_psl(
    definition: StudyDefinition,
    norm: Normalization,
    add: Add,
    budget: int,
    seed: int,
    k: int = 16,
    batch: int = 8,
    lr: float = 1e-3,
) -> None:
    """Pareto set learning: train ``h(lambda) -> x`` until ``budget - k`` calls, then evaluate
    ``k`` even preferences."""
    from pymoo.util.ref_dirs import get_reference_directions

    torch.manual_seed(seed)
    sim = _Sim(definition, norm, add, budget)
    m, d = len(definition.objectives), len(sim.inner)
    net = torch.nn.Sequential(
        torch.nn.Linear(m, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, d),
    ).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    z_star = np.full(m, -0.1)  # a utopia point 0.1 below the normalised ideal
    train_budget = budget - k
    while sim.calls + batch <= train_budget:
        lam = torch.tensor(rng.dirichlet(np.ones(m), size=batch), dtype=torch.float64)
        xs = torch.sigmoid(net(lam))
        grads = torch.zeros_like(xs)
        for b in range(batch):
            _, z, jac = sim.value_jac(xs[b].detach().numpy())
            weighted = lam[b].numpy() * (z - z_star)
            i = int(np.argmax(weighted))
            grads[b] = torch.tensor(lam[b, i].item() * jac[i], dtype=torch.float64)  # d Tcheby / dx
        opt.zero_grad()
        (xs * grads).sum().div(batch).backward()
        opt.step()
    p = 1
    while len(get_reference_directions("das-dennis", m, n_partitions=p)) < k:
        p += 1
    even = np.asarray(get_reference_directions("das-dennis", m, n_partitions=p), dtype=float)[:k]
    with torch.no_grad():
        finals = torch.sigmoid(net(torch.tensor(even, dtype=torch.float64))).numpy()
    try:
        for x in finals:
            sim.value_jac(x)
    except Spent:
        return
