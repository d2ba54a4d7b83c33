"""One storage contract suite, run against every backend (Optuna's pattern): the one parametrised
fixture ``storage_supplier`` gives each test a fresh database of every mode in
:data:`paretoopt.testing.storages.STORAGE_MODES` (SQLite on a temp file always; PostgreSQL when
a server can be started, one per session). ``storage`` and ``storage_url`` derive from it."""

from __future__ import annotations

import pytest

from paretoopt.testing.storages import STORAGE_MODES, StorageModeUnavailable, StorageSupplier
from tests.components import missing

MODE_MARKS = {"postgresql": pytest.mark.postgres}


@pytest.fixture(params=[pytest.param(mode, marks=MODE_MARKS.get(mode, ())) for mode in STORAGE_MODES])
def storage_supplier(request):
    """A fresh database of one mode (a mode this machine cannot provide: tests/components.py)."""
    supplier = StorageSupplier(request.param)
    try:
        supplier.url
    except StorageModeUnavailable as exc:
        missing(request.param, str(exc))  # postgresql: fails under CI, skips loudly elsewhere
    yield supplier
    supplier.close()


@pytest.fixture
def storage(storage_supplier):
    """A storage on the fresh database."""
    return storage_supplier.open()


@pytest.fixture
def sql_storage_supplier(storage_supplier):
    """The supplier, for tests of SQLStorage itself (URLs, engine, schema revisions)."""
    if not storage_supplier.is_sql:
        pytest.skip(f"{storage_supplier.mode} is not a SQLAlchemy backend")
    return storage_supplier


@pytest.fixture
def storage_url(sql_storage_supplier):
    """The URL of the fresh, still empty SQL database."""
    return sql_storage_supplier.url
