"""The ``surrogate`` inner mode, for simulations that give no gradients (an
:class:`~paretoopt.ExternalSimulator`, chosen automatically for one): a trust-region method on
a local surrogate (Conn, Scheinberg & Vicente 2009, "Introduction to derivative-free
optimization", ch. 10; the local-surrogate idea of L-GSO, arXiv:2002.04632).

Around the current design ``c`` (unit box), inside a box of half-width ``r``:

1. keep enough simulations in the region (earlier ones inside ``2 r`` are reused; new ones are
   scrambled-Sobol points of the region, run as one batch: ``max_parallel`` threads at a time,
   or on the Dask cluster when the trial runs on a Dask worker, :mod:`paretoopt.inner.dispatch`);
2. fit :class:`~paretoopt.inner.quadratic.LocalModel` (a quadratic per output) and minimise
   the scalarised, penalised loss of the model in the region (autograd gradient, L-BFGS-B from
   the best of 64 random points, the centre and the best simulation);
3. simulate the step; ``rho`` = achieved / predicted decrease (achieved from the simulations
   for exact outputs, from the refitted model when they carry Monte Carlo noise); accept when
   ``rho > 0.1``, halve ``r`` when ``rho < 0.25``, double it (up to 0.5) when ``rho > 0.75``
   and the step reached the region's edge;
4. stop when the region has shrunk below ``tol`` (exact) or ``10 tol`` (noisy), or the model's
   predicted decrease is below 1e-9 of the loss (exact outputs); with Monte Carlo noise, a
   predicted decrease below the model's own error at the centre doubles the region's sample
   (at most ``MAX_LEVEL`` times, Smith et al. 2018's larger batch in place of a smaller step)
   and stops after the last doubling.
Every simulation is one call of the trial's budget (``max_steps``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import minimize

from paretoopt.external.events import load_events
from paretoopt.external.records import Origin
from paretoopt.inner.dispatch import evaluate_batch
from paretoopt.inner.generative import GenerativeModel, common_columns, fit_generative_model
from paretoopt.inner.loss import penalty, step_seed
from paretoopt.inner.quadratic import LocalModel, fit_local_model, n_features
from paretoopt.inner.result import CONVERGED, MAX_STEPS
from paretoopt.inner.sample import Run
from paretoopt.problem import Evaluation

#: Initial half-width of the trust region (unit box).
RADIUS0 = 0.1
RADIUS_MAX = 0.5
#: Simulations kept for a fit: exact outputs need the model's coefficients plus one, noisy ones
#: twice that (a regression that averages the noise, not an interpolation of it).
OVERSAMPLE_NOISY = 2
#: Noisy outputs: the region's sample is doubled at most this many times.
MAX_LEVEL = 2
#: Reused simulations lie within this many radii of the centre.
REUSE = 2.0


@dataclass
class Sample:
    """The simulations of one inner loop: points (unit box), outputs, their standard errors and
    (generative surrogate) their per-event columns."""

    t: list[np.ndarray]
    y: list[np.ndarray]
    se: list[np.ndarray]
    #: per-event columns of each simulation (the generative surrogate's data; else ``None``)
    events: list[dict[str, np.ndarray] | None] = field(default_factory=list)

    def near(self, centre: np.ndarray, radius: float) -> np.ndarray:
        if not self.t:
            return np.zeros(0, dtype=int)
        dist = np.max(np.abs(np.array(self.t) - centre), axis=1)
        return np.flatnonzero(dist <= REUSE * radius + 1e-12)

    @property
    def noisy(self) -> bool:
        return any(bool(np.any(s > 0)) for s in self.se)


def model_loss(run: Run, y: torch.Tensor) -> torch.Tensor:
    """The scalarised, penalised loss of outputs ``y`` (objectives then constraints)."""
    m = len(run.definition.objectives)
    zeros = torch.zeros_like(y)
    ev = Evaluation(y[:m], zeros[:m], y[m:], zeros[m:])
    return run.scalarization(y[:m]) + penalty(run.definition, ev, run.settings.constraint_penalty)


#: A local surrogate: quadratics per output, or the generative model of per-event columns.
Surrogate = LocalModel | GenerativeModel


def surrogate_gradient(run: Run, model: Surrogate, t: np.ndarray) -> tuple[float, np.ndarray]:
    """The model's loss and its gradient (unit box) at ``t``."""
    tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    loss = model_loss(run, model.predict(tt))
    (g,) = torch.autograd.grad(loss, tt)
    return float(loss.detach()), g.numpy().astype(float)


class LocalSurrogate:
    """One ``surrogate``-mode inner loop (see the module docstring) over ``run``."""

    def __init__(
        self,
        run: Run,
        seed: int,
        n_samples: int,
        tol: float,
        parallel: int = 1,
        origin: Origin | None = None,
    ) -> None:
        self.run, self.seed, self.n, self.tol, self.origin = run, seed, n_samples, tol, origin
        self.parallel = max(1, int(parallel))
        self.data = Sample([], [], [])
        #: noisy outputs: the region's sample is doubled each time a step drowns in the noise
        self.level = 0
        self.d = len(run.definition.space.inner)
        self._sobol = torch.quasirandom.SobolEngine(self.d, scramble=True, seed=seed % 2**31)
        #: indices in ``data`` of earlier trials' evaluations (the pool), and those a fit used
        self.pool: set[int] = set()
        self.reused: set[int] = set()
        sim = run.definition.simulate
        self.generative = getattr(sim, "surrogate_model", "quadratic") == "generative"
        self.derived = dict(getattr(sim, "derived", None) or {})
        self._load_pool()

    def _load_pool(self) -> None:
        """Earlier evaluations on record (``simulate.recorded``, an ExternalSimulator's cache)
        with this loop's choices and sample size, inside the box, run for the trials of earlier
        batches of the study (:mod:`paretoopt.external.records`); none without an origin."""
        recorded = getattr(self.run.definition.simulate, "recorded", None)
        if not callable(recorded) or self.origin is None:
            return
        run = self.run
        names = [*run.definition.objective_names, *run.definition.constraint_names]
        inner = {p.name for p in run.definition.space.inner}
        for rec in recorded(run.choices, self.n, self.origin):
            if set(rec.params) != inner:
                continue
            t = run.unit(rec.params)
            if not np.all((t >= -1e-9) & (t <= 1 + 1e-9)):
                continue
            self.pool.add(len(self.data.t))
            self.data.t.append(np.clip(t, 0.0, 1.0))
            self.data.y.append(np.array([rec.figures[n][0] for n in names], dtype=float))
            self.data.se.append(np.array([rec.figures[n][1] for n in names], dtype=float))
            self.data.events.append(load_events(rec.directory) if self.generative else None)

    def simulate(self, points: list[np.ndarray]) -> None:
        """Simulate ``points`` (a batch, ``parallel`` at a time), each on its own seed."""
        run = self.run
        points = points[: max(run.budget_left, 0)]
        seeds = [step_seed(self.seed, run.calls + 1 + i) for i in range(len(points))]
        run.calls += len(points)

        evs = evaluate_batch(
            run.definition,
            [run.values(t) for t in points],
            run.choices,
            self.n,
            seeds,
            origin=self.origin,
            parallel=self.parallel,
        )
        events_of = getattr(run.definition.simulate, "events_of", None)
        for t, ev, s in zip(points, evs, seeds, strict=True):
            self.data.events.append(
                events_of(run.values(t), run.choices, s, self.n)
                if self.generative and callable(events_of)
                else None
            )
            y = torch.cat([ev.objectives, ev.constraints]).detach()
            self.data.t.append(np.asarray(t, dtype=float))
            self.data.y.append(y.numpy().astype(float))
            self.data.se.append(torch.cat([ev.objective_stderr, ev.constraint_stderr]).numpy().astype(float))
            run.last_t = np.asarray(t, dtype=float)
            run.events += self.n
            run.record(float(model_loss(run, y)), ev, np.asarray(t, dtype=float), self.n)

    def needed(self) -> int:
        p = n_features(self.d) + 1
        return OVERSAMPLE_NOISY * p * 2**self.level if self.data.noisy else p

    def fill(self, c: np.ndarray, r: float) -> bool:
        """Top the region up to :meth:`needed` simulations; False when the budget is spent."""
        missing = self.needed() - len(self.data.near(c, r))
        if missing > 0:
            if self.run.budget_left < 1:
                return False
            lo, hi = np.clip(c - r, 0, 1), np.clip(c + r, 0, 1)
            u = self._sobol.draw(missing, dtype=torch.float64).numpy()
            self.simulate([lo + (hi - lo) * ui for ui in u])
        return True

    def fit(self, c: np.ndarray, r: float) -> Surrogate:
        idx = self.data.near(c, r)
        if len(idx) < n_features(self.d):  # budget-starved: the nearest simulations
            dist = np.max(np.abs(np.array(self.data.t) - c), axis=1)
            idx = np.argsort(dist)[: max(n_features(self.d), 1)]
        self.reused.update(int(i) for i in idx if int(i) in self.pool)
        t = np.array(self.data.t)[idx]
        y, se = np.array(self.data.y)[idx], np.array(self.data.se)[idx]
        if self.generative:
            events = [self.data.events[int(i)] for i in idx]
            columns = common_columns(events)
            if columns:
                names = [*self.run.definition.objective_names, *self.run.definition.constraint_names]
                chosen = [e for e in events if e is not None]
                return fit_generative_model(t, y, se, chosen, columns, c, r, names, self.derived)
        return fit_local_model(t, y, se, c, r)

    def step(self, model: Surrogate, c: np.ndarray, r: float) -> np.ndarray:
        """The model's minimiser in the region ``[c - r, c + r]`` cut to the unit box."""
        lo, hi = np.clip(c - r, 0, 1), np.clip(c + r, 0, 1)
        rng = np.random.default_rng(self.run.calls)
        cands = [lo + (hi - lo) * rng.random((64, self.d)), c[None, :]]
        with torch.no_grad():
            pts = torch.tensor(np.vstack(cands))
            losses = [float(model_loss(self.run, model.predict(p))) for p in pts]
        x0 = np.vstack(cands)[int(np.argmin(losses))]

        def f(x: np.ndarray) -> tuple[float, np.ndarray]:
            return surrogate_gradient(self.run, model, x)

        res = minimize(f, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)))
        return np.clip(res.x, lo, hi)

    def noise(self, c: np.ndarray) -> float:
        """The loss's Monte Carlo standard error for one simulation near ``c`` (linearised)."""
        if not self.data.noisy:
            return 0.0
        idx = self.data.near(c, RADIUS0)
        se = np.mean(np.array(self.data.se)[idx if len(idx) else slice(None)], axis=0)
        y = torch.tensor(np.mean(np.array(self.data.y), axis=0), requires_grad=True)
        (g,) = torch.autograd.grad(model_loss(self.run, y), y)
        return float(np.sqrt(np.sum((g.numpy() * se) ** 2)))

    def optimise(self, start: np.ndarray) -> tuple[np.ndarray, str]:
        """Run from ``start``: the final centre and why the loop stopped."""
        c, r = np.asarray(start, dtype=float), RADIUS0
        self.simulate([c])
        while True:
            if not self.fill(c, r):
                return c, MAX_STEPS
            noisy = self.data.noisy
            r_min = self.tol * (10.0 if noisy else 1.0)
            model = self.fit(c, r)
            cand = self.step(model, c, r)
            with torch.no_grad():
                m_c = float(model_loss(self.run, model.predict(torch.tensor(c))))
                m_x = float(model_loss(self.run, model.predict(torch.tensor(cand))))
            pred = m_c - m_x
            if noisy:  # the model's own error at the centre: one simulation's over sqrt(n / p)
                floor = self.noise(c) * math.sqrt(n_features(self.d) / model.n_points)
            else:
                floor = 1e-9 * max(abs(m_c), 1e-12)
            size = float(np.max(np.abs(cand - c), initial=0.0))
            if pred <= floor or size < r_min:
                if not noisy or size < r_min or self.level >= MAX_LEVEL:
                    return c, CONVERGED
                self.level += 1  # the step drowns in the noise: a larger sample resolves it
                continue
            if self.run.budget_left < 1:
                return c, MAX_STEPS
            self.simulate([cand])
            if noisy:
                after = self.fit(c, r)
                with torch.no_grad():
                    ared = float(model_loss(self.run, after.predict(torch.tensor(c)))) - float(
                        model_loss(self.run, after.predict(torch.tensor(cand)))
                    )
            else:
                ared = self._actual(c) - self._actual(cand)
            rho = ared / pred if pred > 0 else -math.inf
            if rho > 0.1:
                c = cand
            if rho < 0.25:
                r *= 0.5
            elif rho > 0.75 and size >= 0.9 * r:
                r = min(2.0 * r, RADIUS_MAX)
            if r < r_min:
                return c, CONVERGED

    def _actual(self, t: np.ndarray) -> float:
        """The simulated loss at ``t`` (exact outputs: the last simulation there)."""
        for ti, yi in zip(reversed(self.data.t), reversed(self.data.y), strict=True):
            if np.array_equal(ti, t):
                with torch.no_grad():
                    return float(model_loss(self.run, torch.tensor(yi)))
        raise KeyError("no simulation at this point")


def run_local(
    run: Run,
    start: np.ndarray,
    seed: int,
    *,
    n_samples: int,
    tol: float,
    parallel: int = 1,
    origin: Origin | None = None,
) -> tuple[np.ndarray, str, int]:
    """The ``surrogate`` mode from ``start`` (unit box): the final design, the stop reason and
    how many earlier evaluations (other trials', on record) its fits reused at no call."""
    loop = LocalSurrogate(run, seed, n_samples, tol, parallel, origin)
    t, reason = loop.optimise(start)
    return t, reason, len(loop.reused)
