"""Writing decisions to the study's decision log (schema 0004), so a design review can replay how
a design was chosen: which question was asked (method, inputs), what it answered (design, ties,
neighbours, errors), which step it followed, who asked and when."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from paretoopt.decide.front import Decision
from paretoopt.decide.navigate import Navigation

if TYPE_CHECKING:
    from paretoopt.storage import StoredDecision
    from paretoopt.study import Study


def default_author() -> str:
    """The login name of whoever runs this process (``"unknown"`` when it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def log_decision(
    study: Study, decision: Decision, *, parent: int | None = None, author: str | None = None
) -> StoredDecision:
    """Append ``decision`` to ``study``'s decision log after step ``parent``; returns the step."""
    outputs = decision.to_json()
    inputs = outputs.pop("inputs")
    outputs["score"] = decision.score
    outputs["score_stderr"] = decision.score_stderr
    return study.storage.add_decision(
        study.record.id,
        method=decision.method,
        inputs=inputs,
        outputs=outputs,
        parent=parent,
        author=author or default_author(),
    )


def log_navigation(
    study: Study, navigation: Navigation, *, parent: int | None = None, author: str | None = None
) -> list[StoredDecision]:
    """Append every step of an E-NAUTILUS ``navigation`` (method ``navigate-step``: the point,
    the reachable ranges and designs, the target) each after the one before, then its decision;
    returns the steps written."""
    written = []
    author = author or default_author()
    for step in navigation.steps[1:]:
        d = study.storage.add_decision(
            study.record.id,
            method="navigate-step",
            inputs={"step": step.step, "iterations_left": step.iterations_left},
            outputs=step.to_json(),
            parent=parent,
            author=author,
        )
        written.append(d)
        parent = d.step
    written.append(log_decision(study, navigation.decision, parent=parent, author=author))
    return written
