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

The schedule is a function of the trials told (their ``source`` names the rung: ``setgrad-r0``,
``setgrad-r1``, ..., ``setgrad`` for full runs), so a resumed study continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from paretoopt.inner.population import PopulationSettings
from paretoopt.outer.base import Engine, Proposal, TrialRecord, nested_simplex_weights
from paretoopt.outer.halving import combo_key, contributions, promote, rung_steps

#: ``source`` of the trials of full population runs; screening rungs add ``-r<rung>``.
SETGRAD = "setgrad"


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
    non-differentiable reals).
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
        if self.eta < 2 or self.steps < 1 or self.screen_steps < 1 or self.screen_population < 1:
            raise TypeError("setgrad needs eta >= 2, steps >= 1, screen_steps >= 1, screen_population >= 1")

    def _setup(self) -> None:
        assert self.definition is not None
        self._combos = self.definition.space.discrete_combinations(self.real_levels)
        self._keys = [combo_key(c) for c in self._combos]
        self._size = int(self.population or default_population(self.n_objectives))
        self._screening = bool(self.screen if self.screen is not None else len(self._combos) > 1)
        self._rungs = rung_steps(self.screen_steps, self.steps, self.eta) if self._screening else []

    @property
    def batch_size(self) -> int:
        """Proposals per ask: one full population."""
        if self.population:
            return int(self.population)
        return default_population(self.n_objectives) if self.definition is not None else 16

    def population_settings(self) -> dict[str, tuple[int, PopulationSettings]]:
        """Per trial ``source``: the population size and run settings of that rung."""
        out = {SETGRAD: (self._size, PopulationSettings(max_steps=self.steps, lr=self.lr))}
        for r, s in enumerate(self._rungs):
            out[f"{SETGRAD}-r{r}"] = (self.screen_population, PopulationSettings(max_steps=s, lr=self.lr))
        return out

    # ----- schedule -----
    def _mine(self, source: str) -> list[TrialRecord]:
        return [t for t in self.archive if t.source == source]

    def survivors(self) -> list[dict[str, Any]] | None:
        """The combinations that reached (or will reach) full runs; ``None`` while screening."""
        alive = list(self._keys)
        for r in range(len(self._rungs)):
            done = self._mine(f"{SETGRAD}-r{r}")
            if {combo_key(t.choices) for t in done} < set(alive) or not done:
                return None
            alive = self._promote(alive, done)
        by_key = dict(zip(self._keys, self._combos, strict=True))
        return [by_key[k] for k in alive]

    def _promote(self, alive: list[str], done: list[TrialRecord]) -> list[str]:
        assert self.definition is not None
        ok = [t for t in done if t.objectives is not None and t.feasible and combo_key(t.choices) in alive]
        if not ok:
            return alive[: max(self.min_keep, 1)]
        pts = np.array([t.objectives for t in ok], dtype=float)
        signs = np.asarray(self.definition.signs, dtype=float)
        if self.definition.ideal is not None and self.definition.nadir is not None:
            ideal, nadir = np.asarray(self.definition.ideal), np.asarray(self.definition.nadir)
        else:
            oriented = pts * signs
            ideal = oriented.min(axis=0) * signs
            nadir = oriented.max(axis=0) * signs
        scores = contributions(pts, [combo_key(t.choices) for t in ok], signs, ideal, nadir)
        return promote(alive, scores, self.eta, self.min_keep)

    def _next(self) -> tuple[dict[str, Any], str, int]:
        """(combination, source, population size) of the next population."""
        alive = list(self._keys)
        by_key = dict(zip(self._keys, self._combos, strict=True))
        for r in range(len(self._rungs)):
            source = f"{SETGRAD}-r{r}"
            done = self._mine(source)
            seen = {combo_key(t.choices) for t in done}
            todo = [k for k in alive if k not in seen]
            if todo:
                return by_key[todo[0]], source, self.screen_population
            alive = self._promote(alive, done)
        rounds = {k: 0 for k in alive}
        for t in self._mine(SETGRAD):
            k = combo_key(t.choices)
            if k in rounds:
                rounds[k] += 1
        key = min(alive, key=lambda k: (rounds[k], alive.index(k)))
        return by_key[key], SETGRAD, self._size

    def _ask(self, n: int) -> list[Proposal]:
        combo, source, size = self._next()
        weights = nested_simplex_weights(self.n_objectives, size)[:size]
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
            )
        }


def population_plan(engine: Engine | None) -> Mapping[str, tuple[int, PopulationSettings]]:
    """The population settings per trial source of a joint engine (empty for any other)."""
    if isinstance(engine, SetGradEngine) and engine.definition is not None:
        return engine.population_settings()
    return {}
