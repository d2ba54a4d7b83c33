"""Stored surrogate models: the ``surrogate_models`` table (schema revision 0002) on every
backend, and the upgrade of a database written at revision 0001."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from paretoopt.storage import SQLStorage, TrialState, head_revision, upgrade_schema
from paretoopt.storage.sql import current_revision
from tests.storage.test_storage import proposals, result, spec


def _save(storage, sid, blob=b"blob", numbers=(0, 1)):
    return storage.save_surrogate(
        sid, kind="exact_gp", trial_numbers=list(numbers), n_points=7, blob=blob, digest="hmac-sha256:00"
    )


def test_versions_replace_older_models_and_follow_the_study(storage):
    sid = storage.create_study(spec("a")).id
    other = storage.create_study(spec("b")).id
    assert storage.get_surrogate(sid) is None
    first = _save(storage, sid, b"\x00first")
    assert first.version == 1 and first.trial_numbers == [0, 1]
    second = _save(storage, sid, b"\x00\xffsecond", numbers=(0, 1, 2))
    _save(storage, other, b"other")
    got = storage.get_surrogate(sid)
    assert got.version == 2 and got.blob == b"\x00\xffsecond" and got.trial_numbers == [0, 1, 2]
    assert got.kind == "exact_gp" and got.n_points == 7 and got.digest == second.digest
    with storage.engine.connect() as conn:  # the older version is gone, the other study's kept
        rows = conn.exec_driver_sql("SELECT study_id, version FROM surrogate_models ORDER BY study_id").all()
    assert [tuple(r) for r in rows] == [(sid, 2), (other, 1)]
    storage.delete_study("a")
    assert storage.get_surrogate(other).blob == b"other"
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM surrogate_models").scalar() == 1


def test_a_0001_database_is_upgraded_with_its_trials_intact(storage_url):
    engine = create_engine(storage_url)
    upgrade_schema(engine, "0001")
    assert "surrogate_models" not in inspect(engine).get_table_names()
    engine.dispose()
    old = SQLStorage(storage_url, migrate=False)  # what paretoopt at revision 0001 wrote
    sid = old.create_study(spec()).id
    (t,) = old.enqueue_trials(sid, proposals(1), batch=0)
    old.start_trial(t.id, "w")
    old.finish_trial(t.id, TrialState.COMPLETE, result())
    old.close()

    st = SQLStorage(storage_url)
    assert head_revision() == "0002" and current_revision(st.engine) == "0002"
    assert "surrogate_models" in inspect(st.engine).get_table_names()
    (back,) = st.get_trials(sid)
    assert back.objectives == (1.0, 2.0) and len(st.get_trajectory(back.id)) == 3
    assert _save(st, sid).version == 1 and st.get_surrogate(sid).blob == b"blob"
    st.close()


def test_a_backend_without_models_says_so():
    from paretoopt.storage import BaseStorage

    class Minimal(BaseStorage):
        url = "mem://"

    for name in BaseStorage.__abstractmethods__:
        setattr(Minimal, name, lambda *a, **k: None)
    Minimal.__abstractmethods__ = frozenset()
    with pytest.raises(NotImplementedError, match="does not store surrogate models"):
        Minimal().get_surrogate(1)
