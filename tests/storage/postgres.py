"""A real PostgreSQL server for the storage suite: Debian's binaries, initdb into a temporary
directory, started as the unprivileged ``postgres`` user on 127.0.0.1 and a free port.
``PARETOOPT_TEST_POSTGRES_URL`` points the suite at an existing server instead."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

_SERVER: dict[str, object] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> str:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise RuntimeError("PostgreSQL binaries not installed (apt-get install postgresql)")
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix="paretoopt-pg-")
    data = os.path.join(root, "data")
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run(
        [*as_user, f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-t", "60",
         "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200", "start"],
        check=True, capture_output=True,
    )
    _SERVER.update(bindir=bindir, data=data, root=root, as_user=as_user, port=port)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def _stop_server() -> None:
    if _SERVER:
        subprocess.run([*_SERVER["as_user"], f"{_SERVER['bindir']}/pg_ctl", "-D", _SERVER["data"], "-m",  # type: ignore[misc]
                        "immediate", "stop"], capture_output=True)
        shutil.rmtree(str(_SERVER["root"]), ignore_errors=True)
        _SERVER.clear()


def server_url() -> str:
    """URL of the (session-wide) server's maintenance database, starting it on first use."""
    if "url" not in _SERVER:
        env = os.environ.get("PARETOOPT_TEST_POSTGRES_URL")
        _SERVER["url"] = env or _start_server()
    return str(_SERVER["url"])


def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test server (skips when no server can be had)."""
    pytest.importorskip("psycopg")
    try:
        base = server_url()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    for _ in range(50):
        try:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            time.sleep(0.2)
    request.addfinalizer(lambda: _drop(plain, name))
    return base.rsplit("/", 1)[0] + f"/{name}"


def _drop(plain: str, name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass


def pytest_sessionfinish_hook() -> None:
    _stop_server()
