"""The health lines' advice: the remedy named for each stop reason fits who stopped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from paretoopt.health import convergence_advice
from paretoopt.storage import TrialState


def _trial(number: int, reason: str | None, source: str = "engine") -> Any:
    """What the advice reads of a stored trial (its state, stop reason and source)."""
    return SimpleNamespace(number=number, state=TrialState.COMPLETE, stop_reason=reason, source=source)


def test_inner_loops_that_hit_max_steps_are_told_to_raise_inner_settings():
    advice = convergence_advice([_trial(0, "max_steps"), _trial(1, "converged")])
    assert advice is not None and "InnerSettings(max_steps=...)" in advice and "setgrad" not in advice


def test_setgrad_members_are_told_about_the_engines_steps_not_inner_settings():
    advice = convergence_advice([_trial(0, "max_steps", "setgrad"), _trial(1, "max_steps", "setgrad-r0")])
    assert advice is not None and "'steps'" in advice and "InnerSettings(max_steps" not in advice


def test_nothing_to_change_when_every_loop_converged():
    assert convergence_advice([_trial(0, "converged"), _trial(1, None)]) is None
