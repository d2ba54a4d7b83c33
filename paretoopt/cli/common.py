"""What every ``paretoopt`` command shares: exit codes, the storage option, errors, logging."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from paretoopt.storage import BaseStorage, default_storage_url, open_existing_storage

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="PARETOOPT_STORAGE",
        help="SQLAlchemy URL of the study database [default: sqlite:///paretoopt.db, or $PARETOOPT_STORAGE].",
        show_default=False,
    ),
]

#: Libraries whose INFO chatter (Dask's scheduler and nanny start-up and shutdown) stays off the console.
QUIET_LIBRARIES = ("distributed", "dask", "bokeh", "tornado", "alembic")


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def storage_url(storage: str | None) -> str:
    """The URL a command works on: ``--storage``, else ``$PARETOOPT_STORAGE`` or the default."""
    return storage or default_storage_url()


def open_existing(storage: str | None) -> BaseStorage:
    """Open a storage for reading without creating anything: a missing SQLite file is an error
    (:func:`paretoopt.storage.open_existing_storage`)."""
    return open_existing_storage(storage_url(storage))


def log_file_for(url: str) -> Path | None:
    """``<database>.log`` beside a SQLite study file (where INFO logs of a run go); ``None`` for
    a server database or an in-memory one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).with_suffix(".log")


def setup_logging(verbose: bool, log_file: Path | None = None) -> None:
    """Console: WARNING (INFO with ``--verbose``); ``log_file``: INFO and up, appended. Dask's and
    the other libraries' INFO lines never reach the console unless ``--verbose``."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [console]
    if log_file is not None and log_file.parent.is_dir():
        to_file = logging.FileHandler(log_file, encoding="utf-8", delay=True)
        to_file.setLevel(logging.INFO)
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(to_file)
    level = "info" if verbose else "warning"
    # Dask configures its loggers when ``distributed`` is first imported (here and in every
    # worker process, which inherits the environment): tell it the level before that happens.
    os.environ["DASK_LOGGING__DISTRIBUTED"] = level
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(level.upper())
