"""``open_existing_storage``: opening a study database that must exist (the CLI's reads, the
dashboard): the default URL, no file created for a missing SQLite database, and the schema check
on every SQL mode."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from paretoopt.exceptions import SchemaVersionError, StorageError
from paretoopt.storage import SQLStorage, get_storage, head_revision, open_existing_storage, upgrade_schema
from paretoopt.storage.schema import current_revision
from tests.storage.samples import spec


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path):
    missing = tmp_path / "missing.db"
    for migrate in (True, False):
        with pytest.raises(StorageError, match=r"no database at .*missing\.db .*; run a study first"):
            open_existing_storage(f"sqlite:///{missing}", migrate=migrate)
        assert not missing.exists()
    with pytest.raises(StorageError, match="bad storage URL"):
        open_existing_storage("not a url")


def test_no_url_means_the_default_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARETOOPT_STORAGE", raising=False)
    with pytest.raises(
        StorageError, match=r"no database at paretoopt\.db \(storage sqlite:///paretoopt\.db\)"
    ):
        open_existing_storage(None)
    assert not (tmp_path / "paretoopt.db").exists()
    get_storage().create_study(spec())  # the default database, created by a run
    assert open_existing_storage().get_study("s").seed == 7
    other = tmp_path / "other.db"
    monkeypatch.setenv("PARETOOPT_STORAGE", f"sqlite:///{other}")
    with pytest.raises(StorageError, match=r"no database at .*other\.db"):
        open_existing_storage("")
    assert not other.exists()


def test_an_existing_database_opens_with_its_studies(storage_url):
    SQLStorage(storage_url).create_study(spec())
    for migrate in (True, False):
        st = open_existing_storage(storage_url, migrate=migrate)
        assert st.url == storage_url and st.get_study("s").seed == 7
        st.close()


def test_an_older_database_is_upgraded_or_refused_without_migrate(storage_url):
    engine = create_engine(storage_url)
    upgrade_schema(engine, "0001")
    with pytest.raises(SchemaVersionError, match=r"revision '0001', this paretoopt reads .*paretoopt list"):
        open_existing_storage(storage_url, migrate=False)
    assert current_revision(engine) == "0001"  # nothing migrated
    st = open_existing_storage(storage_url)
    assert current_revision(engine) == head_revision()
    st.close()
    engine.dispose()


def test_a_newer_database_is_refused(storage_url):
    st = SQLStorage(storage_url)
    with st.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    st.close()
    with pytest.raises(SchemaVersionError, match="newer than this paretoopt"):
        open_existing_storage(storage_url)
    with pytest.raises(SchemaVersionError, match="revision '9999', this paretoopt reads"):
        open_existing_storage(storage_url, migrate=False)


def test_an_empty_database_gets_the_schema_or_is_refused_without_migrate(storage_url):
    engine = create_engine(storage_url)
    with engine.begin() as conn:  # an existing database (or SQLite file) without tables
        conn.execute(text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaVersionError, match="revision None") as info:
        open_existing_storage(storage_url, migrate=False)
    assert "upgrade" not in str(info.value)
    assert current_revision(engine) is None
    st = open_existing_storage(storage_url)
    assert current_revision(engine) == head_revision() and st.list_studies() == []
    st.close()
    engine.dispose()
