"""A stored study, read through the Storage API: trials as a table, the Pareto front, the
hypervolume history. Nothing here executes the study's code: space, objectives and constraints
are rebuilt from their stored JSON, so the CLI and the dashboard can read any database safely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from paretoopt import archive_views, pareto
from paretoopt.archive import ArchivePoint, archive_front, build_archive
from paretoopt.health import convergence_summary
from paretoopt.normalization import NormalizationHistory
from paretoopt.optimality import beaten_trials
from paretoopt.problem import Constraint, Objective, StudyDefinition
from paretoopt.report.columns import constraint_column, objective_column, param_column, stderr_column
from paretoopt.scalarize import Normalization
from paretoopt.space import DesignSpace, space_from_list, space_to_list
from paretoopt.storage import BaseStorage, FrozenTrial, StudyRecord, StudySpec, TrialState, get_storage
from paretoopt.trials import completed_feasible

if TYPE_CHECKING:
    import pandas as pd


def objective_to_dict(o: Objective) -> dict[str, Any]:
    return asdict(o)


def constraint_to_dict(c: Constraint) -> dict[str, Any]:
    return asdict(c)


def spec_from_definition(
    definition: StudyDefinition,
    *,
    name: str,
    engine: str,
    engine_options: dict[str, Any],
    scalarization: str,
    seed: int,
    settings: dict[str, Any],
) -> StudySpec:
    """What a new study stores about ``definition``."""
    return StudySpec(
        name=name,
        definition_name=definition.name,
        definition_hash=definition.source_hash,
        space=space_to_list(definition.space),
        objectives=[objective_to_dict(o) for o in definition.objectives],
        constraints=[constraint_to_dict(c) for c in definition.constraints],
        engine=engine,
        engine_options=engine_options,
        scalarization=scalarization,
        seed=seed,
        settings=settings,
        definition_source=definition.source,
        definition_path=definition.path,
        description=definition.description,
    )


class Study:
    """A study in a storage. Get one with :func:`load_study` or :func:`paretoopt.optimize`."""

    def __init__(self, storage: BaseStorage, record: StudyRecord) -> None:
        self.storage = storage
        self.record = record
        self.objectives = [Objective(**o) for o in record.objectives]
        self.constraints = [Constraint(**c) for c in record.constraints]
        self.space: DesignSpace = space_from_list(record.space)

    def __repr__(self) -> str:
        return f"Study({self.name!r}, storage={self.storage.url!r})"

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def normalization(self) -> Normalization | None:
        rec = self.storage.get_study(self.name)
        return Normalization.from_dict(rec.normalization) if rec.normalization else None

    # ----- trials -----
    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial, in number order (read fresh from the storage)."""
        return self.storage.get_trials(self.record.id)

    def get_trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return self.storage.get_trials(self.record.id, states)

    @property
    def completed_trials(self) -> list[FrozenTrial]:
        return [t for t in self.get_trials([TrialState.COMPLETE]) if _finite(t)]

    @property
    def n_calls(self) -> int:
        """Forward simulator calls spent by all finished trials."""
        return sum(t.n_calls for t in self.trials)

    @property
    def n_backward(self) -> int:
        """Backward passes through the simulator spent by all finished trials."""
        return sum(t.n_backward for t in self.trials)

    @property
    def n_events(self) -> int | None:
        """Simulated events (each forward call's sample size, summed) of all finished trials;
        ``None`` when a finished trial was stored before events were counted (schema 0005)."""
        done = [t for t in self.trials if t.state.is_finished]
        return None if any(t.n_events is None for t in done) else sum(t.n_events or 0 for t in done)

    def trajectory(self, number: int) -> pd.DataFrame:
        """The inner-loop trajectory of trial ``number``: step, loss, objectives, parameters."""
        import pandas as pd

        trial = next((t for t in self.trials if t.number == number), None)
        if trial is None:
            raise KeyError(f"study {self.name!r} has no trial {number}")
        rows = []
        for s in self.storage.get_trajectory(trial.id):
            row: dict[str, Any] = {"step": s.step, "loss": s.loss}
            for o, v in zip(self.objectives, s.objectives, strict=False):
                row[objective_column(o)] = v
            for p in self.space.inner:
                if p.name in s.params:
                    row[param_column(p)] = s.params[p.name]
            rows.append(row)
        return pd.DataFrame(rows)

    # ----- tables -----
    def _row(self, t: FrozenTrial) -> dict[str, Any]:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.value,
            "source": t.source,
            "weights": ",".join(f"{w:.6g}" for w in t.weights),
        }
        for p in self.space:
            value = t.params.get(p.name, t.choices.get(p.name))
            row[param_column(p)] = value
        for i, o in enumerate(self.objectives):
            row[objective_column(o)] = t.objectives[i] if t.objectives else np.nan
            row[stderr_column(o)] = t.stderr[i] if t.stderr else np.nan
        for i, c in enumerate(self.constraints):
            row[constraint_column(c)] = t.constraints[i] if t.constraints else np.nan
            row[stderr_column(c)] = t.constraint_stderr[i] if t.constraint_stderr else np.nan
        row.update(
            feasible=t.feasible,
            converged=t.converged,
            stop_reason=t.stop_reason,
            n_calls=t.n_calls,
            n_backward=t.n_backward,
            n_events=t.n_events,
            n_samples=t.n_samples,
            n_steps=t.n_steps,
            wall_time_s=t.wall_time_s,
            seed=t.seed,
            error=t.error,
        )
        return row

    def trials_dataframe(self, states: Sequence[TrialState] | None = None) -> pd.DataFrame:
        """All trials as a pandas table: one column per parameter and objective (units in the
        headers, see :mod:`paretoopt.report.columns`), standard errors, ``feasible``, whether the
        inner loop converged and why it stopped (``converged``, ``stop_reason``; ``None`` when no
        inner loop ran or the trial predates the record), accounting and errors."""
        import pandas as pd

        trials = self.get_trials(states)
        columns = list(self._row(_empty_trial()).keys())
        return pd.DataFrame([self._row(t) for t in trials], columns=columns)

    # ----- the archive (paretoopt.archive) -----
    def archive_points(self) -> list[ArchivePoint]:
        """Every design the study evaluated: trials' final evaluations, trajectory steps and
        their re-evaluations (:mod:`paretoopt.archive`), one point per design."""
        sid = self.record.id
        return build_archive(
            self.trials,
            self.storage.get_study_trajectories(sid),
            self.storage.get_refinements(sid),
            self.constraints,
        )

    def archive(self) -> pd.DataFrame:
        """The archive as a table: a trial row's columns (``source``: ``"trial"``,
        ``"trajectory"`` or ``"refined"``) plus ``trial_source``, ``step``, ``n_samples`` (the
        events each estimate rests on) and ``review_grade``."""
        return self._archive_table(self.archive_points())

    def archive_front_points(self) -> list[ArchivePoint]:
        """The non-dominated feasible archive points, less the trials beaten on their own
        trade-off (:meth:`locally_optimal_trials`)."""
        points = self.archive_points()
        return archive_front(points, self.directions, list(self.locally_optimal_trials()))

    def _archive_table(self, points: Sequence[ArchivePoint]) -> pd.DataFrame:
        columns = list(self._row(_empty_trial()).keys())
        return archive_views.archive_dataframe(
            points, self.trials, self._row, columns, self.space, self.objectives, self.constraints
        )

    def _front_trials(self) -> tuple[list[FrozenTrial], np.ndarray]:
        done = completed_feasible(self.trials)
        if not done:
            return [], np.zeros((0, len(self.objectives)))
        beaten = self._beaten(done)
        done = [t for t in done if t.number not in beaten]
        f = np.array([t.objectives for t in done], dtype=float).reshape(-1, len(self.objectives))
        mask = pareto.non_dominated(f, self.directions)
        return [t for t, keep in zip(done, mask, strict=True) if keep], f[mask]

    def _beaten(self, done: Sequence[FrozenTrial]) -> dict[int, int]:
        """Trials of ``done`` that another of them beats on their own trade-off (local optima),
        with the witness; only the non-dominated ones can matter for the front."""
        rec = self.storage.get_study(self.name)
        if not rec.normalization or not done:
            return {}
        f = np.array([t.objectives for t in done], dtype=float)
        # a set-based (setgrad) member claims no trade-off of its own: dominance alone judges it
        candidates = [
            t
            for t, keep in zip(done, pareto.non_dominated(f, self.directions), strict=True)
            if keep and not t.source.startswith("setgrad")
        ]
        history = NormalizationHistory.from_dict(rec.normalization)
        signs = [1.0 if d == "minimize" else -1.0 for d in self.directions]
        return beaten_trials(
            self.storage,
            candidates,
            done,
            history,
            rec.scalarization,
            signs,
            trajectories=not self.constraints,
        )

    def locally_optimal_trials(self) -> dict[int, int]:
        """``{trial number: witness}``: completed feasible trials that would be on the front but
        are not the optimum of their own trade-off, since the witness trial beats them on their
        scalarisation (:mod:`paretoopt.optimality`). They are left out of :attr:`best_trials`."""
        return self._beaten(completed_feasible(self.trials))

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The non-dominated completed feasible trials (the Pareto set), by trial number, less
        those another trial beats on their own trade-off (:meth:`locally_optimal_trials`)."""
        return self._front_trials()[0]

    def pareto_front(self, include_archive: bool = False) -> pd.DataFrame:
        """The Pareto front as a table (same columns as :meth:`trials_dataframe`, plus ``knee``),
        sorted by the first objective. ``include_archive``: built from every evaluated design
        (:meth:`archive`'s columns; trajectory points have ``review_grade`` False until
        ``paretoopt refine`` re-evaluates them)."""
        import pandas as pd

        if include_archive:
            points = self.archive_front_points()
            df = self._archive_table(points)
            f = np.array([p.objectives for p in points], dtype=float).reshape(-1, len(self.objectives))
        else:
            trials, f = self._front_trials()
            df = pd.DataFrame([self._row(t) for t in trials], columns=list(self._row(_empty_trial()).keys()))
        knee = np.zeros(len(df), dtype=bool)
        if len(df) >= 3:
            knee[pareto.knee_point(f, self.directions)] = True
        df["knee"] = knee
        first = objective_column(self.objectives[0])
        ascending = self.objectives[0].direction == "minimize"
        keys = [first, "number", "step"] if include_archive else [first, "number"]
        return df.sort_values(keys, ascending=[ascending, *[True] * (len(keys) - 1)]).reset_index(drop=True)

    def reference_point(self) -> np.ndarray | None:
        """Hypervolume reference: the stored nadir pushed 10 % of the ideal-nadir range outward,
        or (no normalisation) the completed trials' nadir + 10 %."""
        norm = self.normalization
        if norm is not None:
            return (norm.nadir + 0.1 * (norm.nadir - norm.ideal)).numpy()
        done = self.completed_trials
        if not done:
            return None
        return pareto.reference_point(np.array([t.objectives for t in done]), self.directions)

    def hypervolume_history(
        self, by: str = "trials", ref_point: Sequence[float] | None = None, include_archive: bool = False
    ) -> pd.DataFrame:
        """Hypervolume of the front after each finished trial (in trial-number order), with the
        cumulative forward ``calls``, ``backward`` passes and simulated ``events`` (calls x
        sample size; NaN once a trial predates their count). ``by``: ``"trials"``, ``"calls"``
        or ``"events"``. ``include_archive``: each trial adds its feasible trajectory points
        (refined where refined) besides its final evaluation."""
        ref = np.asarray(ref_point, dtype=float) if ref_point is not None else self.reference_point()
        if include_archive:
            by_trial: dict[int, list[tuple[float, ...]]] = {}
            for p in self.archive_points():
                if p.feasible is True and p.finite:
                    by_trial.setdefault(p.trial_id, []).append(p.objectives)
            return archive_views.hypervolume_history(
                self.trials, lambda t: by_trial.get(t.id, []), self.directions, ref, by
            )

        def own(t: FrozenTrial) -> list[tuple[float, ...]]:
            return [t.objectives] if t.feasible and _finite(t) else []  # type: ignore[list-item]

        return archive_views.hypervolume_history(self.trials, own, self.directions, ref, by)

    # ----- surrogate -----
    def surrogate(self, refit: str = "auto", *, seed: int = 0, kind: str = "auto") -> Any:
        """The study's surrogate (:class:`paretoopt.surrogate.Surrogate`): objectives (and
        constraints) of any design with uncertainty, ``predict(designs) -> (mean, std)``.

        ``refit="auto"`` loads the stored model, or fits and stores a new one when none is
        stored or the study has gained (or lost) completed trials since; ``"always"`` refits;
        ``"never"`` only loads. ``seed`` seeds the validation split and the fit, ``kind`` picks
        the model (``"auto"``, ``"exact_gp"``, ``"deep_ensemble"``). Fitting takes seconds;
        keep the object for repeated predictions.

        Raises:
            SurrogateError: too few completed trials to fit (or ``"never"`` with none stored).
            UntrustedModelError: the stored model was altered or is not a paretoopt surrogate.
        """
        from paretoopt.surrogate.store import get_surrogate

        return get_surrogate(self, refit, seed=seed, kind=kind)  # type: ignore[arg-type]

    def export_data(self, include_archive: bool = False) -> Any:
        """Everything an export needs (:class:`paretoopt.report.table.ExportData`); with
        ``include_archive`` the front is built from the archive (:meth:`pareto_front`)."""
        from paretoopt.report.table import ExportData
        from paretoopt.version import __version__

        rec = self.storage.get_study(self.name)
        return ExportData(
            study_name=self.name,
            objectives=self.objectives,
            constraints=self.constraints,
            space=self.space,
            front=self.pareto_front(include_archive=include_archive),
            trials=self.trials_dataframe(),
            metadata={
                "study": self.name,
                "definition": rec.definition_name,
                "engine": rec.engine,
                "engine options": rec.engine_options,
                "scalarization": rec.scalarization,
                "seed": rec.seed,
                "trials": len(self.trials),
                "simulator calls": self.n_calls,
                "backward passes": self.n_backward,
                "simulated events": self.n_events,
                "inner loops": convergence_summary(self.trials),
                "created": rec.created_at.isoformat(timespec="seconds") if rec.created_at else None,
                "storage": self.storage.url,
                "paretoopt version": __version__,
            },
            definition_source=rec.definition_source,
            definition_hash=rec.definition_hash,
            decisions=self.decisions(),
        )

    def decisions(self) -> list[Any]:
        """The study's decision log (:class:`paretoopt.storage.StoredDecision`, issue #22), in
        step order; empty when the backend keeps none."""
        try:
            return self.storage.get_decisions(self.record.id)
        except NotImplementedError:
            return []

    def convergence_summary(self) -> str:
        """One line on the finished trials' inner loops, e.g. ``"3 of 40 inner loops hit
        max_steps (trials 4, 9, 17); 37 converged"`` (see :func:`convergence_summary`)."""
        return convergence_summary(self.trials)

    def export(self, fmt: str, path: str, include_archive: bool = False) -> Any:
        """Write the Pareto table for a design review (csv, md, latex, xlsx, html); with
        ``include_archive`` from the archive's front, its trajectory points marked."""
        from paretoopt.report.export import export_front

        return export_front(self.export_data(include_archive), fmt, path)


def _finite(t: FrozenTrial) -> bool:
    return t.objectives is not None and all(np.isfinite(t.objectives))


def _empty_trial() -> FrozenTrial:
    return FrozenTrial(
        id=0,
        number=0,
        batch=0,
        state=TrialState.WAITING,
        source="",
        weights=(),
        choices={},
        params={},
        init=None,
        seed=0,
        objectives=None,
        stderr=None,
        constraints=None,
        constraint_stderr=None,
        n_calls=0,
        n_backward=0,
        n_steps=0,
        feasible=True,
        converged=False,
        loss=None,
        wall_time_s=None,
        error=None,
        worker=None,
        retries=0,
        created_at=None,
        started_at=None,
        heartbeat_at=None,
        finished_at=None,
    )


def load_study(*, study_name: str, storage: str | BaseStorage | None = None) -> Study:
    """Open a stored study by name. Raises StudyNotFoundError (listing the known names)."""
    st = get_storage(storage)
    return Study(st, st.get_study(study_name))
