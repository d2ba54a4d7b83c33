"""``optimize()``: ask the outer engine -> run inner loops -> store -> tell. The only module
that ties engines, inner loop and storage together.

Crash safety: proposals are written as WAITING trials before any inner loop starts; a trial is
RUNNING while its inner loop runs, and its result, trajectory and final state are written in one
transaction. After a crash (even ``kill -9``) the next run puts RUNNING trials of dead workers
back to WAITING and runs them again with the same proposal and seed, so an interrupted study
ends with the same trials as an uninterrupted one. At most the trial in flight is lost.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from paretoopt.exceptions import (
    DuplicateStudyError,
    ParetoOptError,
    SimulationError,
    StudyDefinitionError,
    StudyNotFoundError,
)
from paretoopt.inner import InnerResult, evaluate_design, optimize_inner
from paretoopt.outer import Engine, Proposal, TrialRecord, make_engine
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.scalarize import Normalization, Scalarization, WeightedSum, make_scalarization
from paretoopt.storage import (
    BaseStorage,
    FrozenTrial,
    TrialProposal,
    TrialResult,
    TrialState,
    get_storage,
)
from paretoopt.study import Study, spec_from_definition
from paretoopt.trials import (
    ANCHOR,
    EXTERNAL_SOURCES,
    HEARTBEAT_EVERY_S,
    RESIMULATED,
    STALE_AFTER_S,
    dead_local_workers,
    trial_seed,
    worker_id,
)

log = logging.getLogger("paretoopt")


def scalarization_for(
    trial: FrozenTrial | TrialProposal, normalization: Normalization, kind: str
) -> Scalarization:
    """The scalarisation a trial runs with: anchors minimise one objective (weighted sum with
    1e-3 on the others), every other trial uses the study's kind with its weights."""
    if trial.source == ANCHOR:
        return WeightedSum(trial.weights, Normalization.identity(normalization.signs))
    return make_scalarization(kind, trial.weights, normalization)


def execute_trial(
    definition: StudyDefinition,
    trial: FrozenTrial,
    normalization: Normalization,
    scalarization: str = "chebyshev",
    *,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    evaluate_only: bool = False,
) -> tuple[TrialState, TrialResult]:
    """Run one trial's inner loop and turn its outcome into what storage records.

    ``evaluate_only``: evaluate the design ``trial.init`` (+ ``trial.choices``) as it is, one
    simulator call, instead of optimising from it (the dashboard's "simulate this design").
    A simulation that raises, returns NaN/inf or gives a non-finite gradient makes a FAILED
    trial with the reason; nothing else is caught. A ``"resimulated"`` trial runs no inner loop:
    its design (``trial.init``) gets one final evaluation."""
    t0 = time.perf_counter()
    try:
        if evaluate_only or trial.source == RESIMULATED:
            res: InnerResult = evaluate_design(
                definition,
                trial.init or {},
                trial.choices,
                scalarization_for(trial, normalization, scalarization),
                settings=settings,
                seed=trial.seed,
                device=device,
            )
        else:
            res = optimize_inner(
                definition,
                trial.choices,
                scalarization_for(trial, normalization, scalarization),
                settings=settings,
                seed=trial.seed,
                init=trial.init,
                device=device,
            )
    except (SimulationError, ParetoOptError) as exc:
        return TrialState.FAILED, TrialResult(
            params=dict(trial.init or {}),
            error=f"{type(exc).__name__}: {exc}",
            wall_time_s=time.perf_counter() - t0,
        )
    except (RuntimeError, ValueError, ArithmeticError) as exc:  # torch / numpy errors in user code
        tb = traceback.format_exc(limit=5)
        return TrialState.FAILED, TrialResult(
            params=dict(trial.init or {}),
            error=f"{type(exc).__name__}: {exc}\n{tb}",
            wall_time_s=time.perf_counter() - t0,
        )
    names = definition.objective_names
    cnames = definition.constraint_names
    return TrialState.COMPLETE, TrialResult(
        params=res.params,
        objectives=[res.objectives[n] for n in names],
        stderr=[res.stderr[n] for n in names],
        constraints=[res.constraints[n] for n in cnames],
        constraint_stderr=[res.constraint_stderr[n] for n in cnames],
        n_calls=res.n_calls,
        n_backward=res.n_backward,
        n_steps=res.n_steps,
        feasible=res.feasible,
        converged=res.converged,
        loss=res.loss,
        wall_time_s=res.wall_time_s,
        trajectory=res.trajectory,
    )


def to_record(t: FrozenTrial) -> TrialRecord:
    """A stored trial as an engine sees it."""
    return TrialRecord(
        number=t.number,
        state=t.state.value,
        weights=tuple(t.weights),
        choices=dict(t.choices),
        objectives=tuple(t.objectives)
        if t.objectives is not None and t.state is TrialState.COMPLETE
        else None,
        stderr=tuple(t.stderr) if t.stderr is not None and t.state is TrialState.COMPLETE else None,
        params=dict(t.params),
        n_calls=t.n_calls,
        feasible=t.feasible,
    )


def nearest_warm_start(
    weights: Sequence[float], choices: Mapping[str, Any], done: Sequence[FrozenTrial]
) -> dict[str, float] | None:
    """Parameters of the completed trial with the same choices whose weights are nearest
    (Euclidean) to ``weights``; ``None`` when there is none."""
    best, best_d = None, math.inf
    w = np.asarray(weights, dtype=float)
    for t in done:
        if t.state is not TrialState.COMPLETE or t.choices != dict(choices) or not t.params:
            continue
        d = float(np.linalg.norm(np.asarray(t.weights, dtype=float) - w))
        if d < best_d:
            best, best_d = t, d
    return dict(best.params) if best is not None else None


@dataclass
class RunProgress:
    """What the progress callback receives after each finished trial."""

    finished: int
    target: int
    failed: int
    hypervolume: float
    last: FrozenTrial | None


class _Heartbeat:
    """Touches the RUNNING trial every ``HEARTBEAT_EVERY_S`` from a background thread."""

    def __init__(self, storage: BaseStorage, trial_id: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(storage, trial_id), daemon=True)

    def _run(self, storage: BaseStorage, trial_id: int) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            try:
                storage.heartbeat(trial_id)
            except ParetoOptError:  # a missed heartbeat is not fatal
                log.debug("heartbeat failed for trial %s", trial_id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class _StopFlag:
    """First Ctrl-C: finish the trial in flight, then stop. Second Ctrl-C: abort now."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after the trial in flight (Ctrl-C again to abort it)")

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _check_compatible(definition: StudyDefinition, study: Study) -> None:
    stored = [(o.name, o.direction) for o in study.objectives]
    given = [(o.name, o.direction) for o in definition.objectives]
    if stored != given:
        raise StudyDefinitionError(
            f"study {study.name!r} was created with objectives {stored}, the definition has {given}; "
            "use another --study-name"
        )
    if [p.name for p in study.space] != definition.space.names:
        raise StudyDefinitionError(
            f"study {study.name!r} was created with parameters {[p.name for p in study.space]}, the "
            f"definition has {definition.space.names}; use another --study-name"
        )
    if study.record.definition_hash != definition.source_hash:
        warnings.warn(
            f"the definition of study {study.name!r} changed since it was created "
            "(its hash differs); continuing with the new one",
            UserWarning,
            stacklevel=3,
        )


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
    executor: Any = None,
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
        executor: run trials in parallel (:class:`paretoopt.parallel.DaskExecutor`); ``None``
            runs them one after the other in this process.

    Returns:
        The :class:`Study`.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    st = get_storage(storage)
    name = study_name or definition.name
    if isinstance(engine, Engine):
        eng = engine.copy()
        engine_name = eng.name
    else:
        eng = make_engine(engine, seed=seed, **dict(engine_options or {}))
        engine_name = engine
    if scalarization not in ("chebyshev", "weighted_sum"):
        raise ValueError(f"scalarization must be 'chebyshev' or 'weighted_sum', got {scalarization!r}")
    settings = settings if settings is not None else definition.inner

    try:
        record = st.get_study(name)
        if not load_if_exists:
            raise DuplicateStudyError(
                f"a study named {name!r} already exists in {st.url} (load_if_exists=False)"
            )
        study = Study(st, record)
        _check_compatible(definition, study)
    except StudyNotFoundError:
        spec = spec_from_definition(
            definition,
            name=name,
            engine=engine_name,
            engine_options=eng.options(),
            scalarization=scalarization,
            seed=seed,
            settings=asdict(settings),
        )
        try:
            record = st.create_study(spec)
        except DuplicateStudyError:  # another process created it meanwhile
            record = st.get_study(name)
        study = Study(st, record)
    scal_kind = record.scalarization

    run = _Run(definition, study, eng, n_trials, scal_kind, settings, device, warm_start, progress, executor)
    run.batch_size = int(batch_size or getattr(eng, "batch_size", 1) or 1)
    run.execute()
    return study


class _Run:
    """One call of :func:`optimize` (state of the loop)."""

    def __init__(
        self,
        definition: StudyDefinition,
        study: Study,
        engine: Engine,
        n_trials: int,
        scalarization: str,
        settings: InnerSettings,
        device: str,
        warm_start: bool,
        progress: bool | Callable[[RunProgress], None],
        executor: Any,
    ) -> None:
        self.definition = definition
        self.study = study
        self.storage = study.storage
        self.sid = study.record.id
        self.engine = engine
        self.n_trials = n_trials
        self.scalarization = scalarization
        self.settings = settings
        self.device = device
        self.warm_start = warm_start
        self.progress = progress
        self.executor = executor
        self.batch_size = 1
        self.worker = worker_id()
        self._bar: Any = None
        self.normalization: Normalization | None = None
        #: ``source`` of the trials this run asks for (default: the engine's name)
        self.trial_source: str | None = None

    # ----- helpers -----
    def _trials(self) -> list[FrozenTrial]:
        return self.storage.get_trials(self.sid)

    def _finished_count(self, trials: Sequence[FrozenTrial]) -> int:
        return sum(1 for t in trials if t.state.is_finished)

    def _requeue(self) -> None:
        trials = self._trials()
        dead = dead_local_workers(trials)
        requeued = self.storage.requeue_stale_trials(
            self.sid, stale_after_s=STALE_AFTER_S, local_dead_workers=dead
        )
        if requeued:
            log.warning("re-queued %d interrupted trial(s): %s", len(requeued), requeued)

    def _next_batch(self, trials: Sequence[FrozenTrial]) -> int:
        return max((t.batch for t in trials), default=-1) + 1

    def _hypervolume(self, trials: Sequence[FrozenTrial]) -> float:
        from paretoopt import pareto

        done = [
            t
            for t in trials
            if t.state is TrialState.COMPLETE
            and t.feasible
            and t.objectives
            and all(np.isfinite(t.objectives))
        ]
        if not done or self.normalization is None:
            return 0.0
        f = self.normalization.transform(
            torch.tensor([t.objectives for t in done], dtype=torch.float64)
        ).numpy()
        return pareto.hypervolume(f, ["minimize"] * f.shape[1], [1.1] * f.shape[1])

    def _report(self, trials: Sequence[FrozenTrial], last: FrozenTrial | None) -> None:
        finished = self._finished_count(trials)
        failed = sum(1 for t in trials if t.state is TrialState.FAILED)
        info = RunProgress(finished, self.n_trials, failed, self._hypervolume(trials), last)
        if callable(self.progress):
            self.progress(info)
        elif self._bar is not None:
            self._bar.n = min(finished, self.n_trials)
            self._bar.set_postfix(failed=failed, hv=f"{info.hypervolume:.4f}", refresh=False)
            self._bar.refresh()

    # ----- the loop -----
    def execute(self) -> None:
        self._requeue()
        trials = self._trials()
        if self.progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.n_trials, desc=self.study.name, unit="trial", initial=self._finished_count(trials)
            )
        try:
            with _StopFlag() as stop:
                self.stop = stop
                self._ensure_normalization()
                if stop.requested:
                    return
                self._replay_engine()
                while not stop.requested:
                    trials = self._trials()
                    waiting = [t for t in trials if t.state is TrialState.WAITING]
                    if not waiting:
                        remaining = self.n_trials - len(trials)
                        if remaining <= 0:
                            break
                        waiting = self._ask(trials, min(self.batch_size, remaining))
                        if not waiting:
                            log.warning("engine %s has no more proposals", self.engine.name)
                            break
                    self._run_trials(waiting)
        finally:
            if self._bar is not None:
                self._bar.close()

    def _ensure_normalization(self) -> None:
        rec = self.storage.get_study(self.study.name)
        signs = self.definition.signs
        if rec.normalization:
            self.normalization = Normalization.from_dict(rec.normalization)
            return
        d = self.definition
        if d.ideal is not None and d.nadir is not None:
            self.normalization = Normalization(d.ideal, d.nadir, signs)
            self.storage.set_normalization(self.sid, self.normalization.to_dict())
            return
        # anchors: one inner loop per objective with (nearly) all weight on it, stored as trials
        trials = self._trials()
        anchors = [t for t in trials if t.source == ANCHOR]
        m = len(d.objectives)
        if not anchors:
            choices = d.space.default_outer()
            props = []
            for k in range(m):
                w = [1e-3] * m
                w[k] = 1.0
                props.append(
                    TrialProposal(
                        tuple(w), choices, trial_seed(self.study.record.seed, -1 - k), source=ANCHOR
                    )
                )
            anchors = self.storage.enqueue_trials(self.sid, props, batch=-1)
        pending = [t for t in anchors if not t.state.is_finished]
        self.normalization = Normalization.identity(signs)  # anchors use their own scalarisation
        if pending:
            self._run_trials(pending, tell=False)
        if self.stop.requested:
            return
        done = [t for t in self._trials() if t.source == ANCHOR and t.state is TrialState.COMPLETE]
        if done:
            pts = np.array([t.objectives for t in done], dtype=float)
            norm = Normalization.from_points(pts, signs)
        else:
            log.warning("every anchor trial failed; normalising by identity")
            norm = Normalization.identity(signs)
        if d.ideal is not None:
            norm = Normalization(d.ideal, norm.nadir, signs)
        if d.nadir is not None:
            norm = Normalization(norm.ideal, d.nadir, signs)
        self.normalization = norm
        self.storage.set_normalization(self.sid, norm.to_dict())

    def _engine_trials(self, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        return [t for t in trials if t.source not in EXTERNAL_SOURCES]

    def _replay_engine(self) -> None:
        """Rebuild engine state from stored trials (see :class:`paretoopt.outer.Engine`)."""
        self.engine.setup(self.definition, budget=self.n_trials)
        trials = self._trials()
        mine = self._engine_trials(trials)
        anchors_done = [to_record(t) for t in trials if t.source in EXTERNAL_SOURCES and t.state.is_finished]
        if anchors_done:
            self.engine.tell(anchors_done)
        if getattr(self.engine, "needs_replay", False):
            for b in sorted({t.batch for t in mine}):
                batch = [t for t in mine if t.batch == b]
                self.engine.ask(len(batch))
                finished = [to_record(t) for t in batch if t.state.is_finished]
                if finished:
                    self.engine.tell(finished)
        else:
            finished = [to_record(t) for t in mine if t.state.is_finished]
            if finished:
                self.engine.tell(finished)
            self.engine.skip(len(mine))

    def _sync_engine(self, trials: Sequence[FrozenTrial]) -> None:
        """Tell the engine about trials other processes finished since (stateless engines)."""
        if getattr(self.engine, "needs_replay", False):
            return
        told = {r.number for r in self.engine.archive}
        mine = self._engine_trials(trials)
        new = [to_record(t) for t in mine if t.state.is_finished and t.number not in told]
        if new:
            self.engine.tell(new)
        self.engine.n_asked = max(self.engine.n_asked, len(mine))

    def _ask(self, trials: Sequence[FrozenTrial], n: int) -> list[FrozenTrial]:
        self._sync_engine(trials)
        proposals: list[Proposal] = self.engine.ask(n)
        done = [t for t in trials if t.state is TrialState.COMPLETE]
        start = max((t.number for t in trials), default=-1) + 1
        props = []
        for i, p in enumerate(proposals):
            init = nearest_warm_start(p.weights, p.choices, done) if self.warm_start else None
            props.append(
                TrialProposal(
                    p.weights,
                    p.choices,
                    trial_seed(self.study.record.seed, start + i),
                    self.trial_source or self.engine.name,
                    init,
                )
            )
        return self.storage.enqueue_trials(
            self.sid, props, batch=self._next_batch(trials), max_total=self.n_trials
        )

    def _refill(self, n: int) -> list[FrozenTrial]:
        """Up to ``n`` new trials for workers that fell idle (parallel runs of engines whose
        state is a function of the trials told, i.e. not pymoo's generations): the engine is
        told every trial finished so far first, and proposals still running are pending."""
        if self.stop.requested:
            return []
        trials = self._trials()
        remaining = self.n_trials - len(trials)
        if remaining <= 0:
            return []
        return self._ask(trials, min(n, remaining))

    def _run_trials(self, trials: Sequence[FrozenTrial], tell: bool = True) -> None:
        assert self.normalization is not None
        finished: list[FrozenTrial] = []
        if self.executor is not None:
            async_ok = tell and self.engine is not None and not getattr(self.engine, "needs_replay", False)
            refill = self._refill if async_ok else None
            finished = self.executor.run(self, list(trials), refill)
        else:
            for t in trials:
                if self.stop.requested:
                    break
                running = self.storage.start_trial(t.id, self.worker)
                if running is None:  # another process took it
                    continue
                with _Heartbeat(self.storage, t.id):
                    state, result = execute_trial(
                        self.definition,
                        running,
                        self.normalization,
                        self.scalarization,
                        settings=self.settings,
                        device=self.device,
                    )
                done = self.storage.finish_trial(t.id, state, result)
                if state is TrialState.FAILED:
                    log.warning("trial %d failed: %s", done.number, (result.error or "").splitlines()[0])
                finished.append(done)
                self._report(self._trials(), done)
        if tell and finished:
            told = {r.number for r in self.engine.archive}  # refills told some already
            by_batch: dict[int, list[FrozenTrial]] = {}
            for t in sorted(finished, key=lambda x: x.number):
                if t.source not in EXTERNAL_SOURCES and t.number not in told:
                    by_batch.setdefault(t.batch, []).append(t)
            for b in sorted(by_batch):
                self.engine.tell([to_record(t) for t in by_batch[b]])


def run_waiting_trials(
    definition: StudyDefinition,
    study: Study,
    *,
    sources: Sequence[str] = (RESIMULATED,),
    settings: InnerSettings | None = None,
    device: str = "cpu",
    progress: bool | Callable[[RunProgress], None] = False,
    executor: Any = None,
) -> list[FrozenTrial]:
    """Run the WAITING trials of ``study`` whose source is one of ``sources`` (after putting
    back those of dead workers), without asking or telling an engine: trials enqueued by
    :func:`paretoopt.surrogate.optimize_on_surrogate`. Same crash safety as :func:`optimize`:
    an interrupted call is finished by calling it again. Returns the trials finished here."""
    rec = study.storage.get_study(study.name)
    if not rec.normalization:
        raise StudyDefinitionError(f"study {study.name!r} has no normalisation yet; run it first")
    settings = settings if settings is not None else definition.inner
    run = _Run(definition, study, None, 0, rec.scalarization, settings, device, False, progress, executor)  # type: ignore[arg-type]
    run.normalization = Normalization.from_dict(rec.normalization)
    run._requeue()
    waiting = [t for t in run._trials() if t.state is TrialState.WAITING and t.source in tuple(sources)]
    if not waiting:
        return []
    run.n_trials = run._finished_count(run._trials()) + len(waiting)
    if progress is True:
        from tqdm.auto import tqdm

        run._bar = tqdm(
            total=run.n_trials, desc=study.name, unit="trial", initial=run.n_trials - len(waiting)
        )
    before = {t.number for t in run._trials() if t.state.is_finished}
    try:
        with _StopFlag() as stop:
            run.stop = stop
            run._run_trials(waiting, tell=False)
    finally:
        if run._bar is not None:
            run._bar.close()
    return [t for t in run._trials() if t.state.is_finished and t.number not in before]
