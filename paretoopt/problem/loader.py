"""Loading a study file (``studies/*.py``) from disk into a :class:`StudyDefinition`."""

from __future__ import annotations

from pathlib import Path

from paretoopt.exceptions import StudyDefinitionError
from paretoopt.problem.definition import StudyDefinition, definition_from_source


def load_study_definition(path: str | Path) -> StudyDefinition:
    """Load a study file (e.g. ``studies/zdt1.py``) that defines a variable ``study``.

    Raises :class:`StudyDefinitionError` when the file is missing, fails to execute, defines
    no ``study``, or ``study`` is not a :class:`StudyDefinition`.
    """
    p = Path(path)
    if not p.is_file():
        raise StudyDefinitionError(f"study file not found: {p}")
    try:
        source = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyDefinitionError(f"cannot read study file {p}: {exc}") from exc
    return definition_from_source(source, str(p.resolve()))
