"""Before a run: build the engine and open (or create) its study, checked against the definition."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from paretoopt.exceptions import DuplicateStudyError, StudyDefinitionError, StudyNotFoundError
from paretoopt.outer import Engine, make_engine
from paretoopt.problem import InnerSettings, StudyDefinition
from paretoopt.storage import BaseStorage
from paretoopt.study import Study, spec_from_definition

SCALARIZATIONS = ("chebyshev", "weighted_sum")


def build_engine(engine: str | Engine, *, seed: int = 0, options: Mapping[str, Any] | None = None) -> Engine:
    """A fresh engine: a copy of ``engine`` (never mutated), or the named one built with
    ``options`` (an unknown option raises :class:`paretoopt.exceptions.EngineError`)."""
    if isinstance(engine, Engine):
        return engine.copy()
    return make_engine(engine, seed=seed, **dict(options or {}))


def check_compatible(definition: StudyDefinition, study: Study) -> None:
    """Raise when ``definition`` cannot continue ``study`` (other objectives or parameters);
    warn when only its source changed."""
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
            stacklevel=4,
        )


def open_or_create_study(
    storage: BaseStorage,
    definition: StudyDefinition,
    *,
    name: str,
    engine: Engine,
    scalarization: str = "chebyshev",
    seed: int = 0,
    settings: InnerSettings | None = None,
    load_if_exists: bool = True,
    attrs: Mapping[str, Any] | None = None,
) -> Study:
    """The study ``name`` in ``storage``: loaded (and checked against ``definition``) when it
    exists and ``load_if_exists``, else created with the engine's options, the scalarisation,
    seed, inner settings and ``attrs``. A study created by another process in between is loaded."""
    if scalarization not in SCALARIZATIONS:
        raise ValueError(f"scalarization must be 'chebyshev' or 'weighted_sum', got {scalarization!r}")
    try:
        record = storage.get_study(name)
    except StudyNotFoundError:
        spec = spec_from_definition(
            definition,
            name=name,
            engine=engine.name,
            engine_options=engine.options(),
            scalarization=scalarization,
            seed=seed,
            settings=asdict(settings if settings is not None else definition.inner),
        )
        if attrs:
            spec = replace(spec, attrs=dict(attrs))
        try:
            return Study(storage, storage.create_study(spec))
        except DuplicateStudyError:  # another process created it meanwhile
            record = storage.get_study(name)
    else:
        if not load_if_exists:
            raise DuplicateStudyError(
                f"a study named {name!r} already exists in {storage.url} (load_if_exists=False)"
            )
    study = Study(storage, record)
    check_compatible(definition, study)
    return study
