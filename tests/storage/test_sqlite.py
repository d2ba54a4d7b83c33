"""What only SQLite has: file paths in URLs, WAL mode, and a foreign file's tables."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from paretoopt.exceptions import SchemaVersionError, StorageError
from paretoopt.storage import SQLStorage


def test_bad_urls_raise_storage_error(tmp_path):
    with pytest.raises(StorageError, match="bad storage URL"):
        SQLStorage("notadb://x")
    with pytest.raises(StorageError, match="does not exist"):
        SQLStorage(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_sqlite_runs_in_wal_mode(tmp_path):
    st = SQLStorage(f"sqlite:///{tmp_path / 'w.db'}")
    with st.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    st.close()


def test_foreign_tables_without_version_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE studies (id INTEGER PRIMARY KEY)"))
    eng.dispose()
    with pytest.raises(SchemaVersionError, match="not a paretoopt database"):
        SQLStorage(url)
