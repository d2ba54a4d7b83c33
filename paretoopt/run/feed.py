"""The one place that tells an outer engine the study's finished trials (resume and run alike)."""

from __future__ import annotations

from collections.abc import Sequence

from paretoopt.outer import Engine, TrialRecord
from paretoopt.storage import FrozenTrial, TrialState
from paretoopt.trials import EXTERNAL_SOURCES


def to_record(t: FrozenTrial) -> TrialRecord:
    """A stored trial as an engine sees it."""
    complete = t.state is TrialState.COMPLETE
    return TrialRecord(
        number=t.number,
        state=t.state.value,
        weights=tuple(t.weights),
        choices=dict(t.choices),
        objectives=tuple(t.objectives) if t.objectives is not None and complete else None,
        stderr=tuple(t.stderr) if t.stderr is not None and complete else None,
        params=dict(t.params),
        n_calls=t.n_calls,
        feasible=t.feasible,
        source=t.source,
    )


class EngineFeed:
    """Keeps ``engine`` told of finished trials, each exactly once, in batch order.

    A resumed run and a running one go through the same :meth:`sync`: trials the engine did not
    propose (anchors, re-simulations, what-ifs) first, then its own trials batch by batch. An
    engine whose state depends on the sequence of calls (``needs_replay``, pymoo's generations)
    has each stored batch it never asked for replayed as ``ask(len(batch))`` before its tell; any
    other engine has the proposals stored so far counted as asked.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._asked_batches: set[int] = set()

    @property
    def needs_replay(self) -> bool:
        return bool(getattr(self.engine, "needs_replay", False))

    def asked(self, batch: int) -> None:
        """Record that this process asked the engine for ``batch`` (no replay needed)."""
        self._asked_batches.add(batch)

    def sync(self, trials: Sequence[FrozenTrial]) -> None:
        """Tell the engine every finished trial of ``trials`` it was not told yet."""
        told = {r.number for r in self.engine.archive}
        external = [
            to_record(t)
            for t in sorted(trials, key=lambda x: x.number)
            if t.source in EXTERNAL_SOURCES and t.state.is_finished and t.number not in told
        ]
        if external:
            self.engine.tell(external)
        mine = [t for t in trials if t.source not in EXTERNAL_SOURCES]
        for b in sorted({t.batch for t in mine}):
            batch = sorted((t for t in mine if t.batch == b), key=lambda x: x.number)
            if self.needs_replay and b not in self._asked_batches:
                self.engine.ask(len(batch))
                self._asked_batches.add(b)
            new = [to_record(t) for t in batch if t.state.is_finished and t.number not in told]
            if new:
                self.engine.tell(new)
        if not self.needs_replay:
            self.engine.n_asked = max(self.engine.n_asked, len(mine))
            self.engine.stored = [
                (tuple(t.weights), dict(t.choices)) for t in sorted(mine, key=lambda x: x.number)
            ]
