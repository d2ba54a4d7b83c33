"""What-if questions: the surrogate's prediction for a design the user dials in.

A *predictor* is any object with ``predict(designs: pandas.DataFrame) -> (mean, std)``: one row
per design, one column per parameter and choice named as in the design space (unit headers
accepted, extra columns ignored); ``mean`` and ``std`` are ``n x m`` numpy arrays in natural units
and objective order. ``Study.surrogate()`` returns one (:mod:`paretoopt.surrogate`); tests and
other models plug in through ``create_app(..., surrogate_factory=...)``. The dashboard never
stores a model (it reads the database only): it loads the stored one when current and
otherwise fits one in memory.

Surrogates are fitted off the request path: :class:`SurrogateCache` starts the fit in a thread
when a study page opens, keeps the model per study, and refits only when the study has grown by
:data:`REFIT_GROWTH` (20 %) since, so a live study does not refit on every poll. A prediction is
one ``predict`` call on a one-row frame: milliseconds, which is what keeps a what-if update
under 100 ms.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np
import pandas as pd

from paretoopt.space import Choice, DesignSpace, Integer, Real
from paretoopt.study import Study

log = logging.getLogger("paretoopt.dashboard")

#: Refit a study's surrogate when its completed trials grew by this fraction since the fit.
REFIT_GROWTH = 0.2


class Predictor(Protocol):
    def predict(self, designs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]: ...


SurrogateFactory = Callable[[Study], Predictor]


def default_surrogate_factory(study: Study) -> Predictor:
    """The study's surrogate (:class:`paretoopt.surrogate.Surrogate`) without writing anything:
    the stored model when it was fitted on the study's current trials (checked like every
    stored model: a tampered one is refused with :class:`UntrustedModelError`, never replaced),
    otherwise a new fit kept in memory (``paretoopt surrogate fit STUDY`` stores one)."""
    from paretoopt.surrogate import eligible_trials, fit_surrogate, load_surrogate

    stored = study.storage.get_surrogate(study.record.id)
    if stored is not None and stored.trial_numbers == sorted(t.number for t in eligible_trials(study)):
        surrogate = load_surrogate(study)
        if surrogate is not None:
            return surrogate
    return fit_surrogate(study)


# ----- controls <-> design values -----
def control_value(p: Real | Integer | Choice, value: Any) -> Any:
    """The what-if control's value for a parameter value (log reals: log10; choices: option
    index)."""
    if isinstance(p, Choice):
        try:
            return p.index(value)
        except Exception:
            return 0
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        value = p.midpoint() if isinstance(p, Real) else p.low
    if isinstance(p, Real) and p.log:
        return math.log10(float(value))
    return int(value) if isinstance(p, Integer) else float(value)


def design_value(p: Real | Integer | Choice, control: Any) -> Any:
    """The parameter value a control shows, clamped into the space (never evaluated as code:
    numbers are parsed as floats, choices are indices into the stored options)."""
    if isinstance(p, Choice):
        try:
            i = int(control)
        except (TypeError, ValueError):
            i = 0
        return p.options[min(max(i, 0), len(p.options) - 1)]
    try:
        v = float(control)
    except (TypeError, ValueError):
        v = float("nan")
    if not math.isfinite(v):
        v = control_value(p, None)
    if isinstance(p, Real):
        if p.log:
            v = 10.0**v
        return min(max(v, p.low), p.high)
    return int(min(max(round(v), p.low), p.high))


def design_from_controls(space: DesignSpace, controls: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value from the controls by name (missing ones at the centre / first
    option)."""
    return {p.name: design_value(p, controls.get(p.name, control_value(p, None))) for p in space}


def design_of_trial(
    space: DesignSpace, params: Mapping[str, Any], choices: Mapping[str, Any]
) -> dict[str, Any]:
    """A trial's design: its parameters and choices by name."""
    out: dict[str, Any] = {}
    for p in space:
        v = params.get(p.name, choices.get(p.name))
        out[p.name] = design_value(p, control_value(p, v))
    return out


def predict(predictor: Predictor, design: Mapping[str, Any], m: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (``m``-vectors, natural units) of one design."""
    frame = pd.DataFrame([dict(design)])
    mean, std = predictor.predict(frame)
    mean = np.asarray(mean, dtype=float).reshape(-1, m)[0]
    std = np.asarray(std, dtype=float).reshape(-1, m)[0]
    return mean, std


class SurrogateCache:
    """One surrogate per study, fitted in a background thread and reused until the study grew
    by :data:`REFIT_GROWTH`; while a refit runs, the previous model keeps answering."""

    def __init__(self, factory: SurrogateFactory) -> None:
        self.factory = factory
        self._lock = threading.Lock()
        self._current: dict[str, tuple[int, Future[Predictor]]] = {}
        self._pending: dict[str, tuple[int, Future[Predictor]]] = {}
        self._threads: dict[str, threading.Thread] = {}

    def running(self) -> list[str]:
        """Names of the studies whose surrogate fit is still running."""
        with self._lock:
            return sorted(name for name, t in self._threads.items() if t.is_alive())

    def _start(self, name: str, study: Study, n_complete: int) -> tuple[int, Future[Predictor]]:
        fut: Future[Predictor] = Future()

        def fit() -> None:
            try:
                fut.set_result(self.factory(study))
            except Exception as exc:
                log.warning("surrogate of %s: %s", name, exc)
                fut.set_exception(exc)

        # Not a daemon: a daemon thread inside torch when the interpreter exits aborts the whole
        # process ("terminate called without an active exception"); the exit waits for the fit.
        thread = threading.Thread(target=fit, name=f"surrogate-{name}", daemon=False)
        self._threads[name] = thread
        thread.start()
        return n_complete, fut

    @staticmethod
    def _failed(fut: Future[Predictor]) -> bool:
        return fut.done() and fut.exception() is not None

    def ready(self, name: str) -> Predictor | None:
        """The study's current model if one is fitted, else ``None`` (starts nothing)."""
        with self._lock:
            current = self._current.get(name)
        if current is None or not current[1].done() or self._failed(current[1]):
            return None
        return current[1].result()

    def request(self, name: str, study: Study, n_complete: int) -> Future[Predictor]:
        """The study's surrogate as a future: the current model, a first fit, or (after a
        failure) a new try; starts a refit in the background when the study has grown."""
        with self._lock:
            pending = self._pending.get(name)
            if pending is not None and pending[1].done():
                del self._pending[name]
                if not self._failed(pending[1]):
                    self._current[name] = pending
            current = self._current.get(name)
            if current is None or self._failed(current[1]):
                current = self._start(name, study, n_complete)
                self._current[name] = current
                return current[1]
            fitted_on = current[0]
            grown = n_complete >= max(fitted_on + 5, math.ceil(fitted_on * (1.0 + REFIT_GROWTH)))
            if grown and current[1].done() and name not in self._pending:
                self._pending[name] = self._start(name, study, n_complete)
            return current[1]
