"""SQLStorage itself on every SQL mode (the ``storage_url`` fixture): a study-name race replayed
through SQLAlchemy, schema revisions on open (created at head, a newer one refused, a
revision-0001 database upgraded) and the ``surrogate_models`` table."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from paretoopt.exceptions import DuplicateStudyError, SchemaVersionError
from paretoopt.storage import SQLStorage, head_revision, upgrade_schema
from paretoopt.storage.schema import current_revision
from tests.storage.samples import proposals, result, save_surrogate, spec


def test_a_study_created_by_another_process_meanwhile_is_a_duplicate(storage, storage_url):
    """Two processes creating one study: both check the name, one inserts first. The other's
    insert must say DuplicateStudyError (which load_if_exists callers turn into a load), not a
    generic integrity error. The race is replayed by creating the study from a second storage
    just before the first one's insert is flushed."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    other = SQLStorage(storage_url)
    try:

        def create_meanwhile(session, flush_context, instances):
            other.create_study(spec("raced"))

        event.listen(Session, "before_flush", create_meanwhile, once=True)
        try:
            with pytest.raises(DuplicateStudyError, match="'raced' already exists"):
                storage.create_study(spec("raced"))
        finally:
            if event.contains(Session, "before_flush", create_meanwhile):
                event.remove(Session, "before_flush", create_meanwhile)
        assert [s.name for s in storage.list_studies()] == ["raced"]
    finally:
        other.close()


def test_new_database_is_created_at_head_and_reopened(storage_url):
    st = SQLStorage(storage_url)
    assert current_revision(st.engine) == head_revision()
    st.create_study(spec())
    st.close()
    again = SQLStorage(storage_url)
    assert again.get_study("s").seed == 7
    again.close()


def test_unknown_newer_schema_is_refused(storage_url):
    st = SQLStorage(storage_url)
    with st.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    st.close()
    with pytest.raises(SchemaVersionError, match="newer than this paretoopt"):
        SQLStorage(storage_url)


def test_surrogate_versions_replace_older_rows_and_follow_the_study(storage, storage_url):
    sid = storage.create_study(spec("a")).id
    other = storage.create_study(spec("b")).id
    save_surrogate(storage, sid, b"\x00first")
    save_surrogate(storage, sid, b"\x00\xffsecond", numbers=(0, 1, 2))
    save_surrogate(storage, other, b"other")
    with storage.engine.connect() as conn:  # the older version is gone, the other study's kept
        rows = conn.exec_driver_sql("SELECT study_id, version FROM surrogate_models ORDER BY study_id").all()
    assert [tuple(r) for r in rows] == [(sid, 2), (other, 1)]
    storage.delete_study("a")
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM surrogate_models").scalar() == 1


def _write_as_revision(engine, revision: str) -> int:
    """One finished trial written into a database at ``revision``, through the tables as that
    revision has them (reflected): only the columns it knows are filled, as the paretoopt of
    that revision wrote them. Returns the study id."""
    from datetime import datetime

    from sqlalchemy import MetaData

    from paretoopt.storage.convert import (
        result_columns,
        study_columns,
        trajectory_rows,
        value_rows,
        waiting_trial_columns,
    )

    upgrade_schema(engine, revision)
    meta = MetaData()
    meta.reflect(engine)

    def known(table: str, row: dict) -> dict:
        return {k: v for k, v in row.items() if k in meta.tables[table].c}

    now = datetime(2026, 11, 24)
    res = result()
    with engine.begin() as conn:
        study = {**study_columns(spec()), "next_number": 1, "created_at": now, "updated_at": now}
        sid = conn.execute(
            meta.tables["studies"].insert().values(known("studies", study))
        ).inserted_primary_key[0]
        trial = {
            **waiting_trial_columns(proposals(1)[0]),
            **result_columns(res),
            "study_id": sid,
            "number": 0,
            "batch": 0,
            "state": "COMPLETE",
            "created_at": now,
            "finished_at": now,
        }
        tid = conn.execute(
            meta.tables["trials"].insert().values(known("trials", trial))
        ).inserted_primary_key[0]
        conn.execute(meta.tables["trial_values"].insert(), value_rows(tid, res))
        conn.execute(meta.tables["trajectory_steps"].insert(), trajectory_rows(tid, res))
    return sid


def test_a_0001_database_is_upgraded_with_its_trials_intact(storage_url):
    engine = create_engine(storage_url)
    sid = _write_as_revision(engine, "0001")
    assert "surrogate_models" not in inspect(engine).get_table_names()
    assert "stop_reason" not in {c["name"] for c in inspect(engine).get_columns("trials")}
    engine.dispose()

    st = SQLStorage(storage_url)
    assert current_revision(st.engine) == head_revision()
    assert {"surrogate_models", "decision_log", "archive_refinements", "trial_artefacts"} <= set(
        inspect(st.engine).get_table_names()
    )
    (back,) = st.get_trials(sid)
    assert back.objectives == (1.0, 2.0) and len(st.get_trajectory(back.id)) == 3
    assert back.stop_reason is None and back.converged is False
    assert save_surrogate(st, sid).version == 1 and st.get_surrogate(sid).blob == b"blob"
    st.close()
