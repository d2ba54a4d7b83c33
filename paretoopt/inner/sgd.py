"""The ``adam`` mode: Adam on a fresh Monte Carlo sample every step, stopped by a statistical
convergence test, with the step halved and the sample doubled when progress stalls.

Adam runs in the logistic reparametrisation of the unit box (bounds can never be left), at a
constant learning rate. Every ``patience`` steps (a window) it compares the window with the
one before:

* **converged** when every coordinate is stationary within the noise: the window's mean
  gradient (unit box) is within two of its standard errors of zero, or the coordinate sits
  at a bound that its mean gradient pushes against and going the rest of the way to it would
  gain less than the loss's standard error;
* **stalled** when the mean loss fell by less than two standard errors of the difference: the
  learning rate is halved and (unless ``n_samples`` is set) the sample doubled, up to
  ``n_eval_samples`` (stochastic approximation's shrinking step with a growing sample, e.g.
  Smith et al. 2018, "Don't decay the learning rate, increase the batch size", ICLR);
* ``max_steps`` calls cap it.

The design returned is the average of the last window's iterates (Polyak-Ruppert averaging),
which cancels most of the noise of single steps.
"""

from __future__ import annotations

import numpy as np
import torch

from paretoopt.inner.loss import step_seed
from paretoopt.inner.result import CONVERGED, MAX_STEPS
from paretoopt.inner.sample import BudgetSpent, Run

#: Keeps the logit finite for a start on a bound.
_EDGE = 1e-9


def stationary(t: np.ndarray, grads: np.ndarray, noise: float) -> bool:
    """True when every coordinate is stationary within the noise (see the module docstring):
    ``t`` the window's mean point, ``grads`` its gradients (steps x d), ``noise`` the loss's
    standard error."""
    mean = grads.mean(axis=0)
    se = grads.std(axis=0, ddof=1) / np.sqrt(len(grads))
    zero = np.abs(mean) <= 2.0 * se
    to_low = (mean > 0) & (mean * t <= noise)
    to_high = (mean < 0) & (-mean * (1.0 - t) <= noise)
    return bool(np.all(zero | to_low | to_high))


def run_sgd(
    run: Run,
    start: np.ndarray,
    seed: int,
    *,
    lr: float,
    n_samples: int,
    n_max: int,
    grow: bool,
    window: int,
) -> tuple[np.ndarray, str]:
    """The ``adam`` mode from ``start`` (unit box): the final point and the stop reason."""
    dtype = run.settings.torch_dtype
    t0 = torch.tensor(np.clip(start, _EDGE, 1.0 - _EDGE), dtype=dtype, device=run.device)
    u = torch.logit(t0).clone().requires_grad_(True)
    opt = torch.optim.Adam([u], lr=lr, betas=(0.9, 0.99))
    points: list[np.ndarray] = []
    grads: list[np.ndarray] = []
    losses: list[float] = []
    noises: list[float] = []
    n = n_samples
    prev: np.ndarray | None = None
    reason = MAX_STEPS
    step = 0
    while True:
        t = torch.sigmoid(u.detach()).cpu().numpy().astype(float)
        try:
            p = run.loss(t, step_seed(seed, step), n)
        except BudgetSpent:
            break
        step += 1
        points.append(p.t)
        grads.append(p.grad)
        losses.append(p.value)
        noises.append(p.stderr)
        # d loss / d u = d loss / d t * t (1 - t) for t = sigmoid(u)
        u.grad = torch.as_tensor(p.grad * p.t * (1.0 - p.t), dtype=dtype, device=run.device)
        opt.step()
        if step % window:
            continue
        cur = np.array(losses[-window:])
        if prev is not None:
            if stationary(
                np.mean(points[-window:], axis=0), np.array(grads[-window:]), float(np.mean(noises[-window:]))
            ):
                reason = CONVERGED
                break
            drop = prev.mean() - cur.mean()
            spread = np.sqrt(prev.var(ddof=1) / len(prev) + cur.var(ddof=1) / len(cur))
            if drop <= 2.0 * spread:  # stalled: shrink the step, grow the sample
                for group in opt.param_groups:
                    group["lr"] *= 0.5
                if grow:
                    n = min(2 * n, n_max)
        prev = cur
    if not points:
        return np.clip(start, 0.0, 1.0), reason
    return np.mean(points[-window:], axis=0), reason
