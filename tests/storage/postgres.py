"""PostgreSQL for tests outside the storage suite (see :mod:`paretoopt.testing.storages`)."""

from __future__ import annotations

import pytest

from paretoopt.testing.storages import StorageModeUnavailable, StorageSupplier


def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server (skips when no server can be had)."""
    supplier = StorageSupplier("postgresql")
    try:
        url = supplier.url
    except StorageModeUnavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    request.addfinalizer(supplier.close)
    return url
