"""The generative local surrogate of the ``surrogate`` inner mode (``ExternalSimulator(
surrogate_model="generative")``): a conditional model of the simulator's per-event outputs
around the current design, whose samples give every figure and its gradient, as L-GSO
(Shirobokov et al. 2020, arXiv:2002.04632) descends through a local generative surrogate.

The model is a **conditional location-scale flow with an empirical base**: per-event columns
``e`` at the scaled design ``s`` are ``e = mu(s) + exp(log_sigma(s)) * q``, where ``mu`` and
``log_sigma`` are quadratics per column (:mod:`paretoopt.inner.quadratic`, fitted by weighted
least squares to each simulation's per-column mean and log standard deviation, weights from
their standard errors ``std / sqrt(n)`` and ``1 / sqrt(2 (n - 1))``), and ``q`` are the
simulations' standardised residual rows, pooled (at most ``BASE_EVENTS``, re-standardised):
the shape of the distribution and the correlations between columns come from the data, its
location and width move with the design. Samples are reparameterised (fixed ``q``), so a figure
of the distribution (a mean, a resolution ``std / mean``, a quantile) has an autograd gradient.

Why not L-GSO's GAN: in a trust region of a few dozen simulations a location-scale model is
fitted in closed form (no training loop, the same bits on every run, which a resumed run
needs) and cannot mode-collapse; its omission is a shape that changes with the design inside
the region (a skew or a tail that grows), which a conditional flow or GAN would learn given
many more simulations. Outputs that are not per-event columns (exact numbers, set-level
figures) keep the quadratic of :mod:`paretoopt.inner.quadratic`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from paretoopt.inner.quadratic import LocalModel, fit_local_model

#: The most residual rows kept as the base distribution.
BASE_EVENTS = 4096


@dataclass(frozen=True)
class GenerativeModel:
    """Per-event ``columns`` around ``centre`` (radius ``radius``) as a location-scale flow
    (``location`` predicts the columns' means then log standard deviations; ``base`` is the
    ``M x K`` standardised residuals), the other outputs by the quadratic ``rest``. ``names``
    are the outputs in order (objectives then constraints); ``derived`` computes those that
    are figures of the event distribution."""

    centre: np.ndarray
    radius: float
    n_points: int
    columns: tuple[str, ...]
    location: LocalModel
    base: torch.Tensor
    rest: LocalModel
    names: tuple[str, ...]
    derived: Mapping[str, object] = field(default_factory=dict)

    def sample(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """``M`` events per column at the unit-box point ``t`` (``d``), differentiable in ``t``."""
        k = len(self.columns)
        ls = self.location.predict(t)
        events = ls[:k] + torch.exp(ls[k:]) * self.base
        return {c: events[:, i] for i, c in enumerate(self.columns)}

    def predict(self, t: torch.Tensor) -> torch.Tensor:
        """The outputs at ``t`` (``d`` or ``n x d``): derived figures of the sampled events, the
        sample mean of a per-event output, the quadratic for the rest."""
        if t.dim() == 2:
            return torch.stack([self.predict(ti) for ti in t])
        events = self.sample(t)
        rest = self.rest.predict(t)
        out = []
        for i, name in enumerate(self.names):
            if name in self.derived:
                out.append(torch.as_tensor(self.derived[name](events)).reshape(()))  # type: ignore[operator]
            elif name in events:
                out.append(events[name].mean())
            else:
                out.append(rest[i])
        return torch.stack(out)


def common_columns(events: Sequence[Mapping[str, np.ndarray] | None]) -> tuple[str, ...]:
    """The per-event columns every simulation has (empty when one has none)."""
    if not events or any(e is None for e in events):
        return ()
    names = set.intersection(*(set(e) for e in events if e is not None))
    return tuple(sorted(names))


def fit_generative_model(
    t: np.ndarray,
    y: np.ndarray,
    stderr: np.ndarray,
    events: Sequence[Mapping[str, np.ndarray]],
    columns: Sequence[str],
    centre: np.ndarray,
    radius: float,
    names: Sequence[str],
    derived: Mapping[str, object],
) -> GenerativeModel:
    """Fit the model (see the module docstring) to simulations at ``t`` (``n x d`` unit box)
    with outputs ``y`` / ``stderr`` (``n x k``) and per-event ``columns`` of ``events``."""
    stats, errs, rows = [], [], []
    for ev in events:
        block = np.column_stack([np.asarray(ev[c], dtype=float) for c in columns])
        n = block.shape[0]
        mean = block.mean(axis=0)
        std = np.maximum(block.std(axis=0, ddof=1), 1e-300)
        stats.append(np.concatenate([mean, np.log(std)]))
        errs.append(np.concatenate([std / math.sqrt(n), np.full(len(columns), 1.0 / math.sqrt(2 * (n - 1)))]))
        rows.append((block - mean) / std)
    location = fit_local_model(t, np.array(stats), np.array(errs), centre, radius)
    q = np.vstack(rows)
    if len(q) > BASE_EVENTS:  # a fixed subsample: the same data give the same model
        q = q[np.random.default_rng(len(q)).choice(len(q), BASE_EVENTS, replace=False)]
    q = (q - q.mean(axis=0)) / np.maximum(q.std(axis=0, ddof=1), 1e-300)
    return GenerativeModel(
        np.asarray(centre, dtype=float),
        float(radius),
        len(t),
        tuple(columns),
        location,
        torch.as_tensor(q, dtype=torch.float64),
        fit_local_model(t, y, stderr, centre, radius),
        tuple(names),
        dict(derived),
    )
