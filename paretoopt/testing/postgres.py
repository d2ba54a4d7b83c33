"""A real, throwaway PostgreSQL server for tests and benchmarks: Debian's binaries, ``initdb``
into a temporary directory, started on 127.0.0.1 and a free port (as the unprivileged
``postgres`` user when run as root: the server refuses root). ``PARETOOPT_TEST_POSTGRES_URL``
points at an existing server instead."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

_SERVER: dict[str, object] = {}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server() -> str:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise PostgresUnavailable("PostgreSQL binaries not installed (apt-get install postgresql)")
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix="paretoopt-pg-")
    data = os.path.join(root, "data")
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run(
            [*as_user, f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_user,
                f"{bindir}/pg_ctl",
                "-D",
                data,
                "-l",
                os.path.join(root, "log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"could not start PostgreSQL: {exc}") from exc
    _SERVER.update(bindir=bindir, data=data, root=root, as_user=as_user, port=port)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def stop_server() -> None:
    """Stop the server this process started (no-op otherwise)."""
    if "data" in _SERVER:
        subprocess.run(
            [
                *_SERVER["as_user"],
                f"{_SERVER['bindir']}/pg_ctl",
                "-D",
                str(_SERVER["data"]),  # type: ignore[misc]
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(str(_SERVER["root"]), ignore_errors=True)
    _SERVER.clear()


def server_url() -> str:
    """URL of the process-wide server's maintenance database, starting it on first use."""
    if "url" not in _SERVER:
        _SERVER["url"] = os.environ.get("PARETOOPT_TEST_POSTGRES_URL") or _start_server()
    return str(_SERVER["url"])


def fresh_database() -> tuple[str, str]:
    """Create an empty database on the server; returns (SQLAlchemy URL, database name)."""
    try:
        import psycopg
    except ImportError as exc:
        raise PostgresUnavailable("psycopg is not installed (pip install 'psycopg[binary]')") from exc
    base = server_url()
    name = "t_" + uuid.uuid4().hex[:12]
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    for attempt in range(50):
        try:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.2)
    return base.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(name: str) -> None:
    """Drop a database made by :func:`fresh_database` (errors ignored: it is throwaway)."""
    import psycopg

    plain = server_url().replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass
