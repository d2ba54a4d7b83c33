"""The hypervolume of a set of points as a differentiable torch function, and the ascent
direction of a whole population (the set-based mode of :mod:`paretoopt.inner.population`).

Objectives are normalised and minimised (0 at the ideal, 1 at the nadir). The hypervolume is
computed exactly by slicing along the last objective (``O(n^{m-1} log n)``, fine for the 2-3
objectives and tens of points a population holds); its gradient with respect to the points is
the one the hypervolume-gradient methods use (Emmerich & Deutz 2014; Wang et al., "Hypervolume
indicator gradient ascent multi-objective optimization", EMO 2017). moocore computes the
indicators the study reports; this module only gives the population its direction.

Dominated points have no hypervolume gradient; as Deist et al. ("Multi-objective learning to
predict Pareto fronts using hypervolume maximization", arXiv:2102.04523) do, each
non-dominated layer is driven by the hypervolume of that layer alone, so a dominated member
moves towards the front instead of standing still.
"""

from __future__ import annotations

import numpy as np
import torch


def hypervolume_torch(z: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Exact hypervolume dominated by the rows of ``z`` (``n x m``, minimised) up to ``ref``,
    differentiable in ``z`` (points beyond ``ref`` in an objective are clipped onto it)."""
    if z.shape[0] == 0:
        return torch.zeros((), dtype=ref.dtype, device=ref.device)
    z = torch.minimum(z, ref)
    m = z.shape[1]
    if m == 1:
        return ref[0] - z[:, 0].min()
    if m == 2:
        order = torch.argsort(z[:, 0].detach())
        x, y = z[order, 0], z[order, 1]
        best_y = torch.cummin(y, dim=0).values
        widths = torch.cat([x[1:], ref[:1]]) - x
        return torch.sum(widths * (ref[1] - best_y))
    order = torch.argsort(z[:, -1].detach())
    zs = z[order]
    heights = torch.cat([zs[1:, -1], ref[-1:]]) - zs[:, -1]
    total = torch.zeros((), dtype=z.dtype, device=z.device)
    for i in range(zs.shape[0]):
        if float(heights[i].detach()) <= 0.0:
            continue
        total = total + heights[i] * hypervolume_torch(zs[: i + 1, :-1], ref[:-1])
    return total


def nondominated_layers(z: np.ndarray) -> list[np.ndarray]:
    """Indices of the successive non-dominated layers of ``z`` (``n x m``, minimised); equal
    points share a layer."""
    z = np.asarray(z, dtype=float)
    left = np.arange(len(z))
    layers = []
    while len(left):
        sub = z[left]
        le = np.all(sub[:, None, :] <= sub[None, :, :], axis=2)
        lt = np.any(sub[:, None, :] < sub[None, :, :], axis=2)
        dominated = np.any(le & lt, axis=0)
        layers.append(left[~dominated])
        left = left[dominated]
    return layers


def population_ascent(
    z: torch.Tensor,
    ref: torch.Tensor,
    feasible: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> tuple[torch.Tensor, float]:
    """``(dL/dz, hv)``: the gradient of the population loss ``L`` (minus the hypervolume of each
    non-dominated layer, plus how far points lie beyond ``ref``) with respect to the normalised
    objectives ``z`` (``n x m``), and the hypervolume of the first layer. With ``feasible``
    (a boolean per point), only the feasible points are layered: an infeasible point never hides
    a feasible one, and gets no hypervolume gradient (the constraint penalty alone moves it, the
    constraint-domination rule of NSGA-II in gradient form). ``fixed`` (``k x m``, normalised):
    points already found (the study's front) that take part in the layers but do not move, so
    the population is driven to what it adds to that front (its gaps), not to a front of its own.
    """
    n = len(z)
    zd = z.detach().clone().requires_grad_(True)
    extra = torch.zeros((0, z.shape[1]), dtype=zd.dtype)
    if fixed is not None and len(fixed):
        f = np.asarray(fixed, dtype=float)
        f = f[nondominated_layers(f)[0]]
        extra = torch.as_tensor(f, dtype=zd.dtype)
    zall = torch.cat([zd, extra])
    ok = np.ones(n, dtype=bool) if feasible is None else np.asarray(feasible, dtype=bool)
    ok_all = np.concatenate([ok, np.ones(len(extra), dtype=bool)])
    where = np.flatnonzero(ok_all)
    layers = [where[i] for i in nondominated_layers(zall.detach().cpu().numpy()[where])] if len(where) else []
    loss = torch.zeros((), dtype=zd.dtype)
    first = 0.0
    for k, idx in enumerate(layers):
        if k > 0 and not np.any(idx < n):
            continue  # no member in this layer: nothing to move
        hv = hypervolume_torch(zall[torch.as_tensor(idx)], ref)
        if k == 0:
            first = float(hv.detach())
        loss = loss - hv
    loss = loss + torch.relu(zd[torch.as_tensor(np.flatnonzero(ok))] - ref).sum()
    (grad,) = torch.autograd.grad(loss, zd)
    return grad, first
