"""The ``setgrad`` engine: populations moved by their joint hypervolume gradient, one per
discrete combination, with successive halving over the combinations.

Each ask returns one *population*: ``population`` proposals with the same discrete choices and
spread Das-Dennis weights, run together by the runner as one job
(:func:`paretoopt.inner.population.optimize_population`; the weights only pair each member with
a trial and its warm start). With more than one combination and ``screen`` on, the combinations
are screened first: rungs of small populations (``screen_population`` members) for few steps
(``screen_steps``, times ``eta`` per rung) on every surviving combination, the best
``max(min_keep, ceil(n / eta))`` by exclusive hypervolume contribution promoted
(:mod:`paretoopt.outer.halving`); the survivors then get full populations, round after round,
each warm-started from the last. Every call of every rung is a stored trial's call.

With more than ``screen_all`` combinations, rung 0 screens only some of them, chosen by a model
(:mod:`paretoopt.outer.screening`): a space-filling start, then the combination a Gaussian
process over the combinations' encoding predicts closest to the front, until no unscreened one
plausibly reaches it or ``screen_max`` are screened; its populations are smaller and shorter
(``rung0_population`` members, ``rung0_steps`` steps). The later rungs are as above.

With ``model="psl"`` the full runs are Pareto-set learning instead (arXiv:2210.08495;
:mod:`paretoopt.inner.psl`): each round of a surviving combination trains that combination's
network (rays to designs) for ``model_steps`` steps of ``model_batch`` sampled rays, continuing
from the network its previous round stored, and reports its designs at ``population`` weights:
the Chebyshev weights of even rays (:func:`~paretoopt.inner.psl.ray_to_weight`), a Das-Dennis
lattice in the first round, a scrambled-Sobol spread in later rounds, so that the rounds'
fronts fill in each other's gaps. The screening rungs stay population runs (cheap, comparable
across combinations).

The schedule is a function of the trials told (their ``source`` names the rung: ``setgrad-r0``,
``setgrad-r1``, ..., ``setgrad`` for full runs), so a resumed study continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from paretoopt import pareto
from paretoopt.inner.population import PopulationSettings
from paretoopt.inner.psl import ParetoSetSettings, ray_to_weight
from paretoopt.outer.base import Engine, Proposal, TrialRecord, nested_simplex_weights, simplex_lattice
from paretoopt.outer.halving import combo_key, contributions, promote, rung_steps
from paretoopt.outer.screening import (
    INFEASIBLE_SCORE,
    choose_next,
    encode_combinations,
    front_scores,
    initial_count,
    initial_design,
    screen_cap,
)

#: ``source`` of the trials of full population runs; screening rungs add ``-r<rung>``.
SETGRAD = "setgrad"


#: the engine's full-run modes
MODELS = ("population", "psl")


def default_front(m: int) -> int:
    """Designs a Pareto-set round reports: 40 for two objectives, 91 for three (Das-Dennis,
    12 partitions), ``30 m`` beyond; one call each."""
    return {1: 4, 2: 40, 3: 91}.get(m, 30 * m)


def simplex_spread(m: int, n: int, seed: int) -> np.ndarray:
    """``n`` weights on the ``m``-simplex from a scrambled Sobol sequence (sorted uniform
    spacings, so uniform on the simplex)."""
    if m == 1:
        return np.ones((n, 1))
    sobol = torch.quasirandom.SobolEngine(m - 1, scramble=True, seed=int(seed) % 2**31)
    u = np.sort(sobol.draw(n, dtype=torch.float64).numpy(), axis=1)
    edges = np.concatenate([np.zeros((n, 1)), u, np.ones((n, 1))], axis=1)
    return np.diff(edges, axis=1)


def default_population(m: int) -> int:
    """Members of a full population: 16 for two objectives, 28 for three (a Das-Dennis lattice
    with 6 partitions), ``10 m`` beyond."""
    return {1: 4, 2: 16, 3: 28}.get(m, 10 * m)


class SetGradEngine(Engine):
    """Set-based gradient engine (see the module docstring).

    Options: ``population`` members per full run (default :func:`default_population`),
    ``steps`` per full run (each costs one call per member), ``lr`` (Adam, unit box),
    ``screen`` (``None``: on when there are several combinations), ``screen_population``,
    ``screen_steps``, ``eta``, ``min_keep`` (successive halving), ``real_levels`` (levels of
    non-differentiable reals); model-guided screening with more than ``screen_all`` (16)
    combinations: ``screen_max`` (``None``: :func:`~paretoopt.outer.screening.screen_cap`),
    ``rung0_population`` (2), ``rung0_steps`` (1), ``beta`` (the lower bound's width, 2 sd).
    ``model``: ``"population"`` (hypervolume-gradient populations) or ``"psl"`` (a Pareto-set
    network per combination; ``population`` is then the designs each round reports, default
    :func:`default_front`; ``model_steps`` (50) training steps of ``model_batch`` (8) weights
    per round, Adam's ``model_lr`` (1e-2), ``model_hidden`` (64) units per hidden layer,
    ``model_ray`` the weight of the ray-alignment term (``None``: 1 without constraints, 0 with), see
    :class:`~paretoopt.inner.psl.ParetoSetSettings`).
    """

    name = "setgrad"
    #: the runner runs each asked batch as one population job
    joint: ClassVar[bool] = True

    def __init__(
        self,
        *,
        seed: int = 0,
        population: int | None = None,
        steps: int = 30,
        lr: float = 0.1,
        screen: bool | None = None,
        screen_population: int = 4,
        screen_steps: int = 5,
        eta: int = 3,
        min_keep: int = 2,
        real_levels: int = 3,
        screen_all: int = 16,
        screen_max: int | None = None,
        rung0_population: int = 2,
        rung0_steps: int = 1,
        beta: float = 2.0,
        model: str = "population",
        model_steps: int = 50,
        model_batch: int = 8,
        model_lr: float = 1e-2,
        model_hidden: int = 64,
        model_ray: float | None = None,
    ) -> None:
        super().__init__(seed=seed)
        self.population = population
        self.steps = int(steps)
        self.lr = float(lr)
        self.screen = screen
        self.screen_population = int(screen_population)
        self.screen_steps = int(screen_steps)
        self.eta = int(eta)
        self.min_keep = int(min_keep)
        self.real_levels = int(real_levels)
        self.screen_all = int(screen_all)
        self.screen_max = None if screen_max is None else int(screen_max)
        self.rung0_population = int(rung0_population)
        self.rung0_steps = int(rung0_steps)
        self.beta = float(beta)
        if model not in MODELS:
            raise TypeError(f"setgrad's model must be one of {MODELS}, got {model!r}")
        self.model = model
        self.model_steps = int(model_steps)
        self.model_batch = int(model_batch)
        self.model_lr = float(model_lr)
        self.model_hidden = int(model_hidden)
        self.model_ray = None if model_ray is None else float(model_ray)
        if self.model_steps < 1 or self.model_batch < 1 or self.model_hidden < 1:
            raise TypeError("setgrad needs model_steps, model_batch and model_hidden >= 1")
        if self.rung0_population < 1 or self.rung0_steps < 1:
            raise TypeError("setgrad needs rung0_population >= 1 and rung0_steps >= 1")
        if self.eta < 2 or self.steps < 1 or self.screen_steps < 1 or self.screen_population < 1:
            raise TypeError("setgrad needs eta >= 2, steps >= 1, screen_steps >= 1, screen_population >= 1")

    def _setup(self) -> None:
        assert self.definition is not None
        self._combos = self.definition.space.discrete_combinations(self.real_levels)
        self._keys = [combo_key(c) for c in self._combos]
        sizes = default_front if self.model == "psl" else default_population
        self._size = int(self.population or sizes(self.n_objectives))
        self._screening = bool(self.screen if self.screen is not None else len(self._combos) > 1)
        steps = rung_steps(self.screen_steps, self.steps, self.eta) if self._screening else []
        #: (members, steps) of each screening rung
        self._rungs: list[tuple[int, int]] = [(self.screen_population, s) for s in steps]
        n = len(self._combos)
        self._guided = self._screening and n > self.screen_all
        self._choice_cache: dict[tuple[int, ...], str | None] = {}
        if self._guided:
            self._rungs.insert(0, (self.rung0_population, self.rung0_steps))
            self._X, self._cat = encode_combinations(self.definition, self._combos)
            self._n_initial = initial_count(self.definition, n)
            self._cap = min(n, self.screen_max or screen_cap(n, self._n_initial))
            self._initial = initial_design(self._X, self._cat, self._n_initial, self.seed)

    @property
    def batch_size(self) -> int:
        """Proposals per ask: one full population."""
        if self.population:
            return int(self.population)
        sizes = default_front if self.model == "psl" else default_population
        return sizes(self.n_objectives) if self.definition is not None else 16

    def population_settings(self) -> dict[str, tuple[int, PopulationSettings | ParetoSetSettings]]:
        """Per trial ``source``: the population size and run settings of that rung (the full
        runs' are a Pareto-set round's with ``model="psl"``)."""
        full: PopulationSettings | ParetoSetSettings = PopulationSettings(max_steps=self.steps, lr=self.lr)
        if self.model == "psl":
            full = ParetoSetSettings(
                steps=self.model_steps,
                batch=self.model_batch,
                lr=self.model_lr,
                hidden=self.model_hidden,
                ray_penalty=self._ray_weight(),
            )
        out: dict[str, tuple[int, PopulationSettings | ParetoSetSettings]] = {SETGRAD: (self._size, full)}
        for r, (size, s) in enumerate(self._rungs):
            # common random numbers: every combination of a rung starts from the same designs
            common = self.seed * 1000 + r
            out[f"{SETGRAD}-r{r}"] = (size, PopulationSettings(max_steps=s, lr=self.lr, common_seed=common))
        return out

    def _ray_weight(self) -> float:
        """``model_ray``, else 1 without constraints and 0 with: where a constraint cuts the
        front, a ray can miss the feasible front and its alignment term would pull designs off
        it (an unconstrained front that rays miss, e.g. a disconnected one, has the same
        problem: set ``model_ray=0`` there)."""
        if self.model_ray is not None:
            return self.model_ray
        assert self.definition is not None
        return 0.0 if self.definition.constraints else 1.0

    # ----- schedule -----
    def _mine(self, source: str) -> list[TrialRecord]:
        return [t for t in self.archive if t.source == source]

    def survivors(self) -> list[dict[str, Any]] | None:
        """The combinations that reached (or will reach) full runs; ``None`` while screening."""
        alive, pending = self._schedule()
        if pending is not None:
            return None
        by_key = dict(zip(self._keys, self._combos, strict=True))
        return [by_key[k] for k in alive]

    def screened(self) -> list[dict[str, Any]]:
        """The combinations rung 0 has screened so far, in the order they were screened."""
        by_key = dict(zip(self._keys, self._combos, strict=True))
        keys = dict.fromkeys(combo_key(t.choices) for t in self._mine(f"{SETGRAD}-r0"))
        return [by_key[k] for k in keys if k in by_key]

    def _schedule(self) -> tuple[list[str], tuple[str, str, int] | None]:
        """(combinations alive after the rungs finished so far, the next screening population as
        (combination, source, size), or ``None`` once screening is over)."""
        alive = list(self._keys)
        for r, (size, _) in enumerate(self._rungs):
            source = f"{SETGRAD}-r{r}"
            done = self._mine(source)
            seen = {combo_key(t.choices) for t in done}
            if r == 0 and self._guided:
                nxt = self._guided_next(done)
                if nxt is not None:
                    return alive, (nxt, source, size)
                alive = [k for k in alive if k in seen]
            else:
                todo = [k for k in alive if k not in seen]
                if todo:
                    return alive, (todo[0], source, size)
            alive = self._promote(alive, done)
        return alive, None

    def _bounds(self, pts: np.ndarray, front_only: bool) -> tuple[np.ndarray, np.ndarray]:
        """The study's ideal / nadir, else those of ``pts`` (of their non-dominated ones when
        ``front_only``), natural units."""
        assert self.definition is not None
        if self.definition.ideal is not None and self.definition.nadir is not None:
            return np.asarray(self.definition.ideal, dtype=float), np.asarray(
                self.definition.nadir, dtype=float
            )
        signs = np.asarray(self.definition.signs, dtype=float)
        oriented = pts * signs
        if front_only:
            oriented = oriented[pareto.non_dominated(oriented, ["minimize"] * oriented.shape[1])]
        return oriented.min(axis=0) * signs, oriented.max(axis=0) * signs

    def _guided_next(self, done: list[TrialRecord]) -> str | None:
        """The next combination model-guided rung 0 screens; ``None`` once it is over."""
        assert self.definition is not None
        index = {k: i for i, k in enumerate(self._keys)}
        screened = [k for k in dict.fromkeys(combo_key(t.choices) for t in done) if k in index]
        rows = [index[k] for k in screened]
        if len(rows) < self._n_initial:
            return next(self._keys[i] for i in self._initial if i not in set(rows))
        if len(rows) >= self._cap:
            return None
        cache = tuple(sorted(t.number for t in done))
        if cache not in self._choice_cache:
            scores = dict.fromkeys(screened, INFEASIBLE_SCORE)
            ok = [
                t for t in done if t.objectives is not None and t.feasible and combo_key(t.choices) in index
            ]
            if ok:
                pts = np.array([t.objectives for t in ok], dtype=float)
                ideal, nadir = self._bounds(pts, front_only=True)
                keys = [combo_key(t.choices) for t in ok]
                signs = np.asarray(self.definition.signs, dtype=float)
                scores.update(front_scores(pts, keys, signs, ideal, nadir))
            pick = choose_next(
                self._X,
                self._cat,
                rows,
                [scores[k] for k in screened],
                beta=self.beta,
                seed=self.seed + len(rows),
            )
            self._choice_cache[cache] = None if pick is None else self._keys[pick]
        return self._choice_cache[cache]

    def _promote(self, alive: list[str], done: list[TrialRecord]) -> list[str]:
        assert self.definition is not None
        ok = [t for t in done if t.objectives is not None and t.feasible and combo_key(t.choices) in alive]
        if not ok:
            return alive[: max(self.min_keep, 1)]
        pts = np.array([t.objectives for t in ok], dtype=float)
        ideal, nadir = self._bounds(pts, front_only=False)
        signs = np.asarray(self.definition.signs, dtype=float)
        scores = contributions(pts, [combo_key(t.choices) for t in ok], signs, ideal, nadir)
        return promote(alive, scores, self.eta, self.min_keep)

    def _next(self) -> tuple[dict[str, Any], str, int, int]:
        """(combination, source, population size, the combination's round) of the next
        population."""
        by_key = dict(zip(self._keys, self._combos, strict=True))
        alive, pending = self._schedule()
        if pending is not None:
            key, source, size = pending
            return by_key[key], source, size, 0
        rounds = {k: 0 for k in alive}
        for t in self._mine(SETGRAD):
            k = combo_key(t.choices)
            if k in rounds:
                rounds[k] += 1
        key = min(alive, key=lambda k: (rounds[k], alive.index(k)))
        return by_key[key], SETGRAD, self._size, rounds[key] // max(self._size, 1)

    def _rays(self, size: int, seed: int, lattice: bool) -> np.ndarray:
        """``size`` rays on the simplex: the largest Das-Dennis lattice that fits (when
        ``lattice``) completed by a scrambled-Sobol spread."""
        m = self.n_objectives
        rows = np.zeros((0, m))
        if lattice and m > 1:
            p = 1
            while len(simplex_lattice(m, p + 1)) <= size:
                p += 1
            rows = simplex_lattice(m, p) if len(simplex_lattice(m, p)) <= size else rows
        rest = size - len(rows)
        return np.vstack([rows, simplex_spread(m, rest, seed)]) if rest > 0 else rows[:size]

    def _ask(self, n: int) -> list[Proposal]:
        combo, source, size, done_rounds = self._next()
        weights = nested_simplex_weights(self.n_objectives, size)[:size]
        if self.model == "psl" and source == SETGRAD:  # even rays: an even front (ray_to_weight)
            key_seed = self.seed * 7919 + self._keys.index(combo_key(combo)) * 104729 + done_rounds
            weights = ray_to_weight(self._rays(size, key_seed, lattice=done_rounds == 0))
        size = min(size, n)
        return [Proposal(weights=tuple(weights[k]), choices=dict(combo), source=source) for k in range(size)]

    def options(self) -> dict[str, Any]:
        """The constructor options (stored with the study)."""
        return {
            k: getattr(self, k)
            for k in (
                "seed",
                "population",
                "steps",
                "lr",
                "screen",
                "screen_population",
                "screen_steps",
                "eta",
                "min_keep",
                "real_levels",
                "screen_all",
                "screen_max",
                "rung0_population",
                "rung0_steps",
                "beta",
                "model",
                "model_steps",
                "model_batch",
                "model_lr",
                "model_hidden",
                "model_ray",
            )
        }


def population_plan(
    engine: Engine | None,
) -> Mapping[str, tuple[int, PopulationSettings | ParetoSetSettings]]:
    """The population settings per trial source of a joint engine (empty for any other)."""
    if isinstance(engine, SetGradEngine) and engine.definition is not None:
        return engine.population_settings()
    return {}
