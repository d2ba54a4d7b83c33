"""The public ``Runner`` and ``optimize()``: ask the engine -> run inner loops -> store -> tell.

Crash safety: proposals are written as WAITING trials before any inner loop starts; a trial is
RUNNING while its inner loop runs, and its result, trajectory and final state are written in one
transaction. After a crash (even ``kill -9``) the next run puts RUNNING trials of dead workers
back to WAITING and runs them again with the same proposal and seed, so an interrupted study
ends with the same trials as an uninterrupted one. At most the trial in flight is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from paretoopt import pareto
from paretoopt.exceptions import StudyDefinitionError
from paretoopt.normalization import (
    NormalizationHistory,
    anchor_combinations,
    anchor_limit,
    anchor_seed,
    anchor_weights,
    given_normalization,
    normalization_from_anchors,
)
from paretoopt.optimality import KnownDesign, witnesses_for
from paretoopt.outer import Engine, Proposal
from paretoopt.outer.setgrad import population_plan
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.run.control import RunProgress, StopFlag
from paretoopt.run.execute import TrialJob
from paretoopt.run.executors import Executor, SerialExecutor
from paretoopt.run.feed import EngineFeed
from paretoopt.run.fill import fill_proposals
from paretoopt.run.population import run_populations
from paretoopt.run.prepare import build_engine, open_or_create_study
from paretoopt.run.warm_start import anchor_donors, nearest_warm_start
from paretoopt.scalarize import Normalization
from paretoopt.storage import BaseStorage, FrozenTrial, TrialProposal, TrialState, get_storage
from paretoopt.study import Study
from paretoopt.trials import (
    ANCHOR,
    RESIMULATED,
    STALE_AFTER_S,
    completed_feasible,
    dead_local_workers,
    trial_seed,
    worker_id,
)

log = logging.getLogger("paretoopt")


class Runner:
    """Runs the trials of one study in this process or on an executor's workers.

    :meth:`optimize` fixes the normalisation (anchors), brings the engine up to date with the
    stored trials and asks it for batches until the study holds ``n_trials`` trials;
    :meth:`run_waiting` only runs WAITING trials of given sources (no engine). Every trial goes
    through :mod:`paretoopt.run.lifecycle` (claim, heartbeat, execute, finish), and the engine
    learns results only through :class:`~paretoopt.run.feed.EngineFeed`.

    Args:
        definition: the study definition.
        study: the study to work on (see :func:`~paretoopt.run.prepare.open_or_create_study`).
        engine: the outer engine (set up here); ``None`` for :meth:`run_waiting`.
        n_trials: the number of trials the study should reach.
        settings: inner-loop settings (default ``definition.inner``).
        device: where simulations run.
        warm_start: start each inner loop from the nearest completed trial with the same choices.
        progress: ``True`` for a tqdm bar, or a callback receiving :class:`RunProgress`.
        executor: how trials run (default :class:`~paretoopt.run.executors.SerialExecutor`).
        batch_size: proposals asked at a time (default: the engine's ``batch_size`` or 1).
        trial_source: ``source`` of the trials asked for (default: the engine's name).
        fill: the most a study spends on fills, as a share of its calls (0: none; see
            :mod:`paretoopt.run.fill`); engines that run joint populations are not filled.
    """

    def __init__(
        self,
        definition: StudyDefinition,
        study: Study,
        *,
        engine: Engine | None = None,
        n_trials: int = 0,
        settings: InnerSettings | None = None,
        device: str = "cpu",
        warm_start: bool = True,
        progress: bool | Callable[[RunProgress], None] = False,
        executor: Executor | None = None,
        batch_size: int | None = None,
        trial_source: str | None = None,
        fill: float = 0.0,
    ) -> None:
        self.definition = definition
        self.study = study
        self.storage: BaseStorage = study.storage
        self.sid = study.record.id
        self.engine = engine
        self.n_trials = int(n_trials)
        self.settings = settings if settings is not None else definition.inner
        self.device = device
        self.warm_start = warm_start
        self.progress = progress
        self.executor: Executor = executor if executor is not None else SerialExecutor()
        self.batch_size = int(batch_size or getattr(engine, "batch_size", 1) or 1)
        self.trial_source = trial_source
        if not 0.0 <= float(fill) < 1.0:
            raise ValueError(f"fill is a share of the calls in [0, 1), got {fill}")
        self.fill = float(fill)
        self.worker = worker_id()
        self.stop = StopFlag()
        #: the study's normalisations by batch (None until fixed)
        self.history: NormalizationHistory | None = None
        self._feed = EngineFeed(engine) if engine is not None else None
        self._bar: Any = None

    # ----- public entry points -----
    def optimize(self) -> Study:
        """Run until the study holds ``n_trials`` trials (resuming whatever is stored)."""
        if self._feed is None:
            raise ValueError("Runner.optimize needs an engine")
        self._requeue()
        trials = self._trials()
        with self._progress_bar(self._finished_count(trials)), self.stop:
            self._ensure_normalization()
            if self.stop.requested:
                return self.study
            self._feed.engine.setup(self.definition, budget=self.n_trials)
            self._feed.sync(self._trials())
            while not self.stop.requested:
                trials = self._trials()
                waiting = [t for t in trials if t.state is TrialState.WAITING]
                if not waiting:
                    remaining = self.n_trials - len(trials)
                    if remaining <= 0:
                        break
                    # a joint engine (setgrad) sizes its own batches: one population per ask
                    joint = getattr(self._feed.engine, "joint", False)
                    waiting = [] if joint else self._fill(trials, remaining)
                    if not waiting:
                        waiting = self._ask(trials, remaining if joint else min(self.batch_size, remaining))
                    if not waiting:
                        log.warning("engine %s has no more proposals", self._feed.engine.name)
                        break
                self._run_trials(waiting, tell=True)
        return Study(self.storage, self.storage.get_study(self.study.name))  # its record as stored now

    def run_waiting(self, sources: Sequence[str] = (RESIMULATED,)) -> list[FrozenTrial]:
        """Run the WAITING trials whose source is one of ``sources`` (after putting back those of
        dead workers) with the study's stored normalisation; returns the trials finished here."""
        rec = self.storage.get_study(self.study.name)
        if not rec.normalization:
            raise StudyDefinitionError(f"study {self.study.name!r} has no normalisation yet; run it first")
        self.history = NormalizationHistory.from_dict(rec.normalization)
        self._requeue()
        waiting = [t for t in self._trials() if t.state is TrialState.WAITING and t.source in tuple(sources)]
        if not waiting:
            return []
        self.n_trials = self._finished_count(self._trials()) + len(waiting)
        with self._progress_bar(self.n_trials - len(waiting)), self.stop:
            return self._run_trials(waiting, tell=False)

    @property
    def normalization(self) -> Normalization | None:
        """The latest normalisation (what the next batch and the progress hypervolume use)."""
        return self.history.latest if self.history is not None else None

    # ----- helpers -----
    def _trials(self) -> list[FrozenTrial]:
        return self.storage.get_trials(self.sid)

    @staticmethod
    def _finished_count(trials: Sequence[FrozenTrial]) -> int:
        return sum(1 for t in trials if t.state.is_finished)

    def _requeue(self) -> None:
        dead = dead_local_workers(self._trials())
        requeued = self.storage.requeue_stale_trials(
            self.sid, stale_after_s=STALE_AFTER_S, local_dead_workers=dead
        )
        if requeued:
            log.warning("re-queued %d interrupted trial(s): %s", len(requeued), requeued)

    def _progress_bar(self, initial: int) -> _Bar:
        return _Bar(self, initial)

    def _hypervolume(self, trials: Sequence[FrozenTrial]) -> float:
        """Hypervolume of the feasible completed trials in normalised objectives (0 = ideal,
        1 = nadir), with :func:`paretoopt.pareto.reference_point` of that unit box."""
        done = [t.objectives for t in completed_feasible(trials)]
        if not done or self.normalization is None:
            return 0.0
        f = self.normalization.transform(torch.tensor(done, dtype=torch.float64)).numpy()
        m = f.shape[1]
        directions = ["minimize"] * m
        ref = pareto.reference_point(f, directions, ideal=np.zeros(m), nadir=np.ones(m))
        return pareto.hypervolume(f, directions, ref)

    def _report(self, last: FrozenTrial | None) -> None:
        if not callable(self.progress) and self._bar is None:  # nobody is watching
            return
        trials = self._trials()
        finished = self._finished_count(trials)
        failed = sum(1 for t in trials if t.state is TrialState.FAILED)
        info = RunProgress(finished, self.n_trials, failed, self._hypervolume(trials), last)
        if callable(self.progress):
            self.progress(info)
        elif self._bar is not None:
            self._bar.n = min(finished, self.n_trials)
            self._bar.set_postfix(failed=failed, hv=f"{info.hypervolume:.4f}", refresh=False)
            self._bar.refresh()

    def _ensure_normalization(self) -> None:
        """Load the stored normalisation, else fix it (see :mod:`paretoopt.normalization`),
        running the anchors as trials of batch -1 (resumed like any other trial)."""
        rec = self.storage.get_study(self.study.name)
        if rec.normalization:
            self.history = NormalizationHistory.from_dict(rec.normalization)
            return
        given = given_normalization(self.definition)
        if given is not None:
            self._set_history(NormalizationHistory([(0, given)]))
            return
        anchors = [t for t in self._trials() if t.source == ANCHOR]
        if not anchors:
            m = len(self.definition.objectives)
            seed = self.study.record.seed
            combos = anchor_combinations(self.definition.space, anchor_limit(m, self.n_trials), seed)
            weights = anchor_weights(m)
            props = [
                TrialProposal(w, combo, anchor_seed(seed, i * m + k), source=ANCHOR)
                for i, combo in enumerate(combos)
                for k, w in enumerate(weights)
            ]
            anchors = self.storage.enqueue_trials(self.sid, props, batch=-1)
        pending = [t for t in anchors if not t.state.is_finished]
        # anchors scalarise on their own (AnchorScalarization); this one only stands in
        self.history = NormalizationHistory([(0, Normalization.identity(self.definition.signs))])
        if pending:
            self._run_trials(pending, tell=False)
        if self.stop.requested:
            return
        done = [t for t in self._trials() if t.source == ANCHOR and t.state is TrialState.COMPLETE]
        if not done:
            log.warning("every anchor trial failed; normalising by identity")
        points = np.array([t.objectives for t in done], dtype=float) if done else None
        self._set_history(NormalizationHistory([(0, normalization_from_anchors(self.definition, points))]))

    def _set_history(self, history: NormalizationHistory) -> None:
        self.history = history
        self.storage.set_normalization(self.sid, history.to_dict())

    def _renormalize(self, trials: Sequence[FrozenTrial], batch: int) -> None:
        """Re-estimate the normalisation from the completed feasible trials before ``batch`` is
        asked (see :class:`~paretoopt.normalization.NormalizationHistory`)."""
        assert self.history is not None
        points = np.array([t.objectives for t in completed_feasible(trials)], dtype=float)
        if len(points) and self.history.update(self.definition, batch, points):
            log.info("normalisation re-estimated from %d trials before batch %d", len(points), batch)
            self.storage.set_normalization(self.sid, self.history.to_dict())

    def _ask(self, trials: Sequence[FrozenTrial], n: int) -> list[FrozenTrial]:
        assert self._feed is not None
        if not self._feed.needs_replay:  # a generation-based engine learns at its batches' ends only
            self._feed.sync(trials)
        proposals: list[Proposal] = self._feed.engine.ask(n)
        done = [t for t in trials if t.state is TrialState.COMPLETE]
        start = max((t.number for t in trials), default=-1) + 1
        batch = max((t.batch for t in trials), default=-1) + 1
        self._renormalize(trials, batch)
        # a population of a combination nothing has run on starts from the anchors' extremes
        joint = getattr(self._feed.engine, "joint", False)
        donors = anchor_donors(done, pareto.directions_of(self.definition)) if joint else None
        props = [
            TrialProposal(
                p.weights,
                p.choices,
                trial_seed(self.study.record.seed, start + i),
                p.source or self.trial_source or self._feed.engine.name,
                nearest_warm_start(p.weights, p.choices, done, donors=donors) if self.warm_start else None,
            )
            for i, p in enumerate(proposals)
        ]
        self._feed.asked(batch)
        return self.storage.enqueue_trials(self.sid, props, batch=batch, max_total=self.n_trials)

    def _fill(self, trials: Sequence[FrozenTrial], n: int) -> list[FrozenTrial]:
        """Up to ``min(batch_size, n)`` fills (:mod:`paretoopt.run.fill`) enqueued as one batch,
        when the study spends less than its ``fill`` share of calls on them."""
        if self.fill <= 0 or self.history is None:
            return []
        props = fill_proposals(
            self.definition,
            trials,
            self.history.latest,
            self.fill,
            self.study.record.seed,
            min(self.batch_size, n),
        )
        if not props:
            return []
        batch = max((t.batch for t in trials), default=-1) + 1
        return self.storage.enqueue_trials(self.sid, props, batch=batch, max_total=self.n_trials)

    def _refill(self, n: int) -> list[FrozenTrial]:
        """Up to ``n`` new trials for workers that fell idle (parallel runs of engines whose
        state is a function of the trials told, i.e. not pymoo's generations): the engine is
        told every trial finished so far first, and proposals still running are pending. Fills
        that are due come first, as in the serial loop."""
        if self.stop.requested:
            return []
        trials = self._trials()
        remaining = self.n_trials - len(trials)
        if remaining <= 0:
            return []
        return self._fill(trials, min(n, remaining)) or self._ask(trials, min(n, remaining))

    def _run_trials(self, trials: Sequence[FrozenTrial], *, tell: bool) -> list[FrozenTrial]:
        assert self.history is not None
        done = completed_feasible(self._trials())
        exact_unconstrained = not self.definition.constraints
        cache: dict[int, list[KnownDesign]] = {}
        known = {
            t.number: tuple(
                k
                for k in witnesses_for(self.storage, t, done, trajectories=exact_unconstrained, cache=cache)
                if k.batch < t.batch and k.choices == t.choices
            )
            for t in trials
        }
        job = TrialJob(
            self.definition,
            self.history,
            self.study.record.scalarization,
            self.settings,
            self.device,
            study_name=self.study.name,
            known=known,
        )
        plan = population_plan(self._feed.engine if self._feed is not None else None)
        if plan and any(t.source in plan for t in trials):  # a joint engine: one job per population
            others = [t for t in trials if t.source not in plan]  # anchors
            finished = self.executor.run(
                self.storage, job, others, worker=self.worker, on_finished=self._report
            )
            mine = [t for t in trials if t.source in plan]
            finished += run_populations(self.storage, mine, job, plan, self.worker, self._report, self.stop)
            if tell and finished and self._feed is not None:
                self._feed.sync(finished)
            return finished
        async_ok = tell and self._feed is not None and not self._feed.needs_replay
        finished = self.executor.run(
            self.storage,
            job,
            list(trials),
            worker=self.worker,
            on_finished=self._report,
            refill=self._refill if async_ok else None,
            should_stop=lambda: self.stop.requested,
        )
        if tell and finished and self._feed is not None:
            self._feed.sync(finished)
        return finished


class _Bar:
    """A tqdm bar for ``progress=True`` over one call of the runner (closed on exit)."""

    def __init__(self, runner: Runner, initial: int) -> None:
        self.runner, self.initial = runner, initial

    def __enter__(self) -> _Bar:
        if self.runner.progress is True:
            from tqdm.auto import tqdm

            self.runner._bar = tqdm(
                total=self.runner.n_trials, desc=self.runner.study.name, unit="trial", initial=self.initial
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner._bar is not None:
            self.runner._bar.close()
            self.runner._bar = None


def optimize(
    definition: StudyDefinition,
    *,
    storage: str | BaseStorage | None = None,
    study_name: str | None = None,
    engine: str | Engine = "grid",
    engine_options: Mapping[str, Any] | None = None,
    n_trials: int = 20,
    seed: int = 0,
    load_if_exists: bool = True,
    scalarization: str = "chebyshev",
    batch_size: int | None = None,
    warm_start: bool = True,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    progress: bool | Callable[[RunProgress], None] = False,
    executor: Executor | None = None,
    fill: float = 0.0,
) -> Study:
    """Trace the Pareto front of ``definition`` until the study holds ``n_trials`` finished trials.

    Args:
        definition: the study definition (e.g. from :func:`load_study_definition`).
        storage: SQLAlchemy URL or storage object (default ``$PARETOOPT_STORAGE`` or
            ``sqlite:///paretoopt.db``).
        study_name: default ``definition.name``.
        engine: ``"grid"``, ``"random"``, ``"botorch"``, ``"nsga2"`` or an :class:`Engine`
            (copied, never mutated).
        engine_options: keyword options of the engine (unknown ones raise).
        n_trials: the total number of finished trials the study should reach; re-running
            resumes (anchor trials of the normalisation count too).
        seed: seeds the engine and every trial's inner loop.
        load_if_exists: continue an existing study of that name (else raise).
        scalarization: ``"chebyshev"`` (default) or ``"weighted_sum"``.
        batch_size: proposals asked at a time (default: the engine's ``batch_size`` or 1).
        warm_start: start each inner loop from the nearest completed trial (in weights) with
            the same discrete choices.
        settings: inner-loop settings (default ``definition.inner``).
        device: where simulations run (``"cpu"``, ``"cuda"``).
        progress: ``True`` for a tqdm bar, or a callback receiving :class:`RunProgress`.
        executor: run trials in parallel (:class:`paretoopt.run.DaskExecutor`); ``None``
            runs them one after the other in this process.
        fill: at most this share of the calls goes to designs halfway between neighbouring
            front trials, one call each, while they land on the front
            (:mod:`paretoopt.run.fill`; 0, the default: none). Never with ``setgrad``. Fills
            are trials: they count towards ``n_trials``.

    Returns:
        The :class:`Study`.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    st = get_storage(storage)
    eng = build_engine(engine, seed=seed, options=engine_options)
    settings = settings if settings is not None else definition.inner
    study = open_or_create_study(
        st,
        definition,
        name=study_name or definition.name,
        engine=eng,
        scalarization=scalarization,
        seed=seed,
        settings=settings,
        load_if_exists=load_if_exists,
    )
    runner = Runner(
        definition,
        study,
        engine=eng,
        n_trials=n_trials,
        settings=settings,
        device=device,
        warm_start=warm_start,
        progress=progress,
        executor=executor,
        batch_size=batch_size,
        fill=fill,
    )
    return runner.optimize()


def run_waiting_trials(
    definition: StudyDefinition,
    study: Study,
    *,
    sources: Sequence[str] = (RESIMULATED,),
    settings: InnerSettings | None = None,
    device: str = "cpu",
    progress: bool | Callable[[RunProgress], None] = False,
    executor: Executor | None = None,
) -> list[FrozenTrial]:
    """Run the WAITING trials of ``study`` whose source is one of ``sources``, without asking or
    telling an engine (trials enqueued by :func:`paretoopt.optimize_on_surrogate`). Same crash
    safety as :func:`optimize`: an interrupted call is finished by calling it again."""
    runner = Runner(definition, study, settings=settings, device=device, progress=progress, executor=executor)
    return runner.run_waiting(sources)
