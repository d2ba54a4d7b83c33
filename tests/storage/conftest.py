"""One storage contract suite, run against every backend (Optuna's pattern): SQLite on a temp
file always; PostgreSQL when a server can be started (see tests/storage/postgres.py)."""

from __future__ import annotations

import pytest

from paretoopt.storage import SQLStorage

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}"
        return
    from tests.storage.postgres import postgres_url

    yield postgres_url(request)


@pytest.fixture
def storage(storage_url):
    st = SQLStorage(storage_url)
    yield st
    st.close()
