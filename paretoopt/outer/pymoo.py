"""The evolutionary engine: NSGA-II (NSGA-III for three or more objectives) from pymoo, driven
through pymoo's ask/tell interface over the mixed encoding of :mod:`paretoopt.encoding`.

An individual is (weight coordinates, outer parameters) as pymoo ``Real`` / ``Integer`` /
``Choice`` variables (choices as option indices, never as numpy strings); its fitness is the
objective vector the inner loop reached for it, every objective turned to minimisation.
Mixed-variable sampling, mating and duplicate elimination come from ``pymoo.core.mixed``; NSGA-II
selects parents by binary tournament on rank and crowding and keeps ``RankAndCrowding``
survivors; NSGA-III keeps its reference-direction survival.

Generations and trials: pymoo proposes a whole generation at a time; the engine hands its
members out in order and tells pymoo a generation's worth of finished trials at once, built
from what the trials actually ran (so trials from anywhere -- another engine, a resumed study
-- are fitness like any other). Told trials are cut into blocks of the generation sizes in the
order they are told; proposal ``i`` fills slot ``i`` of that stream. When a runner asks ahead
of the told trials (all members of the current generation handed out, results pending), the
engine makes extra offspring by mating the current population with a generator seeded by
``(seed, proposal index)``, leaving pymoo's own random stream untouched. Hence the engine is a
deterministic function of its seed, the trials told and the proposals handed out, as
:class:`~paretoopt.outer.base.Engine` requires for resuming. A generation's end may cut a batch
short: ``ask(n)`` can return fewer than ``n``.

Failed trials (no objectives) and infeasible ones enter pymoo as constraint violations (CV 1
and 0.5), so feasible designs always rank ahead of them and a failure never crashes the run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from paretoopt.encoding import MixedEncoding, unit_from_weights, weights_from_unit
from paretoopt.exceptions import EngineError
from paretoopt.outer.base import Engine, Proposal, TrialRecord
from paretoopt.space import Choice, Integer

#: Constraint violation given to pymoo for a failed trial and for an infeasible one.
_CV_FAILED = 1.0
_CV_INFEASIBLE = 0.5


def _weight_key(i: int) -> str:
    # not a Python identifier, so it can never collide with a parameter name
    return f"weight[{i + 1}]"


class PymooEngine(Engine):
    """NSGA-II / NSGA-III over (weights, outer parameters).

    Options: ``population`` (individuals per generation, default 20; NSGA-III raises it to
    the number of its reference directions when smaller) and ``seed``.
    """

    name = "nsga2"

    def __init__(self, *, seed: int = 0, population: int = 20) -> None:
        super().__init__(seed=seed)
        if int(population) < 2:
            raise EngineError(f"population must be at least 2, got {population}")
        self.population = int(population)

    @property
    def batch_size(self) -> int:
        """The natural batch for a runner: one generation (NSGA-III may make it larger)."""
        return self.population

    # ----- setup -----
    def _setup(self) -> None:
        from pymoo.core.problem import Problem
        from pymoo.core.termination import NoTermination
        from pymoo.core.variable import Choice as PChoice
        from pymoo.core.variable import Integer as PInteger
        from pymoo.core.variable import Real as PReal

        assert self.definition is not None
        m = self.n_objectives
        self._enc = MixedEncoding(self.definition.space, m)
        variables: dict[str, Any] = {_weight_key(i): PReal(bounds=(0.0, 1.0)) for i in range(m - 1)}
        for p in self.definition.space.outer:
            if isinstance(p, Choice):
                variables[p.name] = PChoice(options=list(range(len(p.options))))
            elif isinstance(p, Integer):
                variables[p.name] = PInteger(bounds=(p.low, p.high))
            else:  # non-differentiable real, in its unit coordinate (log space when log=True)
                variables[p.name] = PReal(bounds=(0.0, 1.0))
        self._problem = Problem(vars=variables, n_obj=m, n_ieq_constr=1)
        self._algorithm = self._make_algorithm(m)
        self._algorithm.setup(self._problem, termination=NoTermination(), seed=self.seed, verbose=False)
        self._n_told = 0
        self._block: list[TrialRecord] = []
        self._block_start = 0  # told trials in closed blocks
        self._generation_index = 0
        self._generation = self._next_generation()

    def _make_algorithm(self, m: int) -> Any:
        from pymoo.core.mixed import (
            MixedVariableDuplicateElimination,
            MixedVariableMating,
            MixedVariableSampling,
        )
        from pymoo.operators.selection.tournament import TournamentSelection

        if m >= 3:
            from pymoo.algorithms.moo.nsga3 import NSGA3, comp_by_cv_then_random

            ref_dirs = _reference_directions(m, self.population)
            return NSGA3(
                ref_dirs=ref_dirs,
                pop_size=max(self.population, len(ref_dirs)),
                sampling=MixedVariableSampling(),
                mating=MixedVariableMating(
                    selection=TournamentSelection(func_comp=comp_by_cv_then_random),
                    eliminate_duplicates=MixedVariableDuplicateElimination(),
                ),
                eliminate_duplicates=MixedVariableDuplicateElimination(),
            )
        from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

        return NSGA2(
            pop_size=self.population,
            sampling=MixedVariableSampling(),
            mating=MixedVariableMating(
                selection=TournamentSelection(func_comp=binary_tournament),
                eliminate_duplicates=MixedVariableDuplicateElimination(),
            ),
            eliminate_duplicates=MixedVariableDuplicateElimination(),
            survival=RankAndCrowding(),
        )

    def _next_generation(self) -> list[dict[str, Any]]:
        """pymoo's next generation as X dicts; random members if mating found nothing new."""
        pop = self._algorithm.ask()
        self._generation_index += 1
        if pop is None or len(pop) == 0:
            self._algorithm.termination.force_termination = False
            rng = np.random.default_rng([self.seed, self._generation_index, 2])
            return self._sample(self._algorithm.pop_size, rng)
        return [dict(x) for x in pop.get("X")]

    def _sample(self, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        from pymoo.core.mixed import MixedVariableSampling

        pop = MixedVariableSampling().do(self._problem, n, random_state=rng)
        return [dict(x) for x in pop.get("X")]

    # ----- ask / tell -----
    def _ask(self, n: int) -> list[Proposal]:
        position = max(self.n_asked, self._n_told) - self._block_start
        size = len(self._generation)
        if position < size:
            members = self._generation[max(position, 0) : min(size, max(position, 0) + n)]
        else:
            members = self._extras(n, max(self.n_asked, self._n_told))
        return [self._proposal(x) for x in members]

    def _extras(self, n: int, index: int) -> list[dict[str, Any]]:
        """``n`` offspring beyond the current generation (results still pending)."""
        rng = np.random.default_rng([self.seed, index, 1])
        algo = self._algorithm
        if not algo.is_initialized or algo.pop is None or len(algo.pop) < 2:
            return self._sample(n, rng)
        off = algo.mating.do(self._problem, algo.pop, n, algorithm=algo, random_state=rng)
        members = [dict(x) for x in off.get("X")] if off is not None else []
        return members if members else self._sample(n, rng)

    def _tell(self, trials: list[TrialRecord]) -> None:
        for t in trials:
            self._block.append(t)
            self._n_told += 1
            if len(self._block) >= len(self._generation):
                self._algorithm.tell(infills=self._population(self._block))
                self._block_start += len(self._block)
                self._block = []
                self._generation = self._next_generation()

    # ----- conversions -----
    def _proposal(self, x: dict[str, Any]) -> Proposal:
        m = self.n_objectives
        u = np.array([float(x[_weight_key(i)]) for i in range(m - 1)])
        weights = weights_from_unit(u, m) if m > 1 else np.ones(1)
        vec = list(u)
        for p in self.definition.space.outer:  # type: ignore[union-attr]
            v = x[p.name]
            if isinstance(p, Integer):
                vec.append((float(v) - p.low) / (p.high - p.low))
            else:
                vec.append(float(v))
        _, choices = self._enc.decode(np.asarray(vec))
        return Proposal(weights=tuple(float(w) for w in weights), choices=choices)

    def _individual(self, t: TrialRecord) -> dict[str, Any]:
        m = self.n_objectives
        x: dict[str, Any] = {}
        u = unit_from_weights(np.asarray(t.weights, dtype=float)) if m > 1 else np.zeros(0)
        for i in range(m - 1):
            x[_weight_key(i)] = float(u[i])
        enc = self._enc.encode(np.asarray(t.weights, dtype=float), t.choices)
        for j, p in enumerate(self.definition.space.outer):  # type: ignore[union-attr]
            v = enc[m - 1 + j]
            if isinstance(p, Choice):
                x[p.name] = int(v)
            elif isinstance(p, Integer):
                x[p.name] = round(p.low + v * (p.high - p.low))
            else:
                x[p.name] = float(v)
        return x

    def _population(self, trials: list[TrialRecord]) -> Any:
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.population import Population
        from pymoo.problems.static import StaticProblem

        assert self.definition is not None
        signs = np.array([o.sign for o in self.definition.objectives])
        m = self.n_objectives
        X, F, G = [], [], []
        for t in trials:
            X.append(self._individual(t))
            ok = t.state == "COMPLETE" and t.objectives is not None and np.all(np.isfinite(t.objectives))
            if ok:
                F.append(signs * np.asarray(t.objectives, dtype=float))
                G.append([0.0 if t.feasible else _CV_INFEASIBLE])
            else:
                F.append(np.zeros(m))
                G.append([_CV_FAILED])
        pop = Population.new(X=X)
        Evaluator().eval(StaticProblem(self._problem, F=np.asarray(F), G=np.asarray(G)), pop)
        return pop


def _reference_directions(m: int, population: int) -> np.ndarray:
    """The finest Das-Dennis lattice with at most ``population`` directions (at least 1 partition)."""
    from math import comb

    from pymoo.util.ref_dirs import get_reference_directions

    p = 1
    while comb(p + 1 + m - 1, m - 1) <= population:
        p += 1
    return np.asarray(get_reference_directions("das-dennis", m, n_partitions=p), dtype=float)
