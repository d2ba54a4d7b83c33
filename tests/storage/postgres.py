"""PostgreSQL for tests outside the storage suite (see :mod:`paretoopt.testing.storages`)."""

from __future__ import annotations

import pytest

from paretoopt.testing.storages import StorageModeUnavailable, StorageSupplier
from tests.components import missing


def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server (no server: fails under CI, skips loudly
    elsewhere; tests/components.py)."""
    supplier = StorageSupplier("postgresql")
    try:
        url = supplier.url
    except StorageModeUnavailable as exc:
        missing("postgresql", str(exc))
    request.addfinalizer(supplier.close)
    return url
