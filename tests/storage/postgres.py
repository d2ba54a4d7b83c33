"""PostgreSQL for the storage suite (see :mod:`paretoopt.testing.postgres`)."""

from __future__ import annotations

import pytest

from paretoopt.testing.postgres import PostgresUnavailable, drop_database, fresh_database, stop_server


def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server (skips when no server can be had)."""
    try:
        url, name = fresh_database()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    request.addfinalizer(lambda: drop_database(name))
    return url


def _stop_server() -> None:
    stop_server()
