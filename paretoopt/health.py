"""The health lines of a study's finished trials: how their inner loops stopped, what they cost
(simulator calls, backward passes, simulated events) and what to change when they did not
converge; printed by ``paretoopt run`` and ``paretoopt show``."""

from __future__ import annotations

from collections.abc import Sequence

from paretoopt.storage import FrozenTrial

#: How the summary names each stop reason, and what to change when it shows up.
STOP_PHRASES = {
    "max_steps": ("hit max_steps", "raise InnerSettings(max_steps=...)"),
    "no_progress": (
        "stopped without progress",
        "try another InnerSettings(mode=...), e.g. 'adam' for a rough loss",
    ),
    "nan": ("met NaN/inf", "the simulation returns NaN/inf or a non-finite gradient somewhere in the box"),
    "constraint_infeasible": (
        "ended on an infeasible design",
        "raise InnerSettings(constraint_penalty=...) or the constraint's scale",
    ),
}
#: Where the convergence columns and the remedies are explained.
CONVERGENCE_DOCS = "docs/design.md, 'Inner loop decisions'"


def _numbers(ts: Sequence[FrozenTrial], most: int = 5) -> str:
    nums = [str(t.number) for t in ts[:most]]
    more = f", +{len(ts) - most} more" if len(ts) > most else ""
    word = "trial" if len(ts) == 1 else "trials"
    return f"{word} {', '.join(nums)}{more}"


def convergence_summary(trials: Sequence[FrozenTrial]) -> str:
    """One line on how the inner loops of the finished ``trials`` stopped: the count for each
    reason other than ``converged`` with its trial numbers, then the converged count and the
    trials without a record (re-simulations, trials stored before the record existed)."""
    done = [t for t in trials if t.state.is_finished]
    if not done:
        return "no finished trials"
    recorded = [t for t in done if t.stop_reason is not None]
    n_conv = sum(t.stop_reason == "converged" for t in recorded)
    parts: list[str] = []
    for reason, (phrase, _) in STOP_PHRASES.items():
        hit = [t for t in recorded if t.stop_reason == reason]
        if hit:
            head = f"{len(hit)} of {len(done)} inner loops" if not parts else str(len(hit))
            parts.append(f"{head} {phrase} ({_numbers(hit)})")
    if parts:
        text = "; ".join([*parts, f"{n_conv} converged"])
    else:
        text = f"{n_conv} of {len(done)} inner loops converged"
    missing = len(done) - len(recorded)
    if missing:
        text += f"; {missing} without a record (no inner loop, or stored before it was kept)"
    return text


def calls_summary(trials: Sequence[FrozenTrial]) -> str:
    """One line on what the finished ``trials`` cost: forward calls and backward passes through
    the simulator, and simulated events (each call's sample size, summed), e.g.
    ``"1,234 simulator calls (+ 1,100 backward passes), 2,468,000 simulated events"``; the
    events are a lower bound, said so, when some trials predate their count (schema 0005)."""
    done = [t for t in trials if t.state.is_finished]
    calls, backward = sum(t.n_calls for t in done), sum(t.n_backward for t in done)
    events = sum(t.n_events or 0 for t in done)
    unknown = sum(t.n_events is None for t in done)
    text = f"{calls:,} simulator calls (+ {backward:,} backward passes), {events:,} simulated events"
    if unknown:
        text += f" (at least: {unknown} trial(s) stored before events were counted)"
    return text


def convergence_advice(trials: Sequence[FrozenTrial]) -> str | None:
    """What to change for the stop reasons among ``trials`` (``None`` when every recorded inner
    loop converged), with the docs section that explains it. A ``setgrad`` population's members
    stop on the engine's step count, not on ``InnerSettings``, and are told so."""
    done = [t for t in trials if t.state.is_finished]
    population = [t for t in done if t.source.startswith("setgrad") and t.stop_reason == "max_steps"]
    reasons = {t.stop_reason for t in done if t not in population}
    tips = [tip for reason, (_, tip) in STOP_PHRASES.items() if reason in reasons]
    if population:
        tips.append(
            "for setgrad members, raise the engine's steps option: "
            "build_engine('setgrad', options={'steps': ...})"
        )
    if not tips:
        return None
    return "what to change: " + "; ".join(tips) + f" (see {CONVERGENCE_DOCS})"
