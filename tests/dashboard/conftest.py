"""Fixtures of the dashboard tests: a seeded study database, the app served on 127.0.0.1 in a
thread, and a headless Chromium (Debian's /usr/bin/chromium driven by playwright)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components import missing

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> str:
    """A SQLite database with zdt1 (grid, 20 trials), mixed_zdt (random, 16 trials) and the
    three-objective dtlz2 (random, 8 trials)."""
    from paretoopt import optimize
    from paretoopt.problem import load_study_definition

    path = tmp_path_factory.mktemp("dashboard") / "studies.db"
    url = f"sqlite:///{path}"
    optimize(load_study_definition(ROOT / "studies" / "zdt1.py"), storage=url, n_trials=20, engine="grid")
    optimize(
        load_study_definition(ROOT / "studies" / "mixed_zdt.py"), storage=url, n_trials=16, engine="random"
    )
    optimize(load_study_definition(ROOT / "studies" / "dtlz2.py"), storage=url, n_trials=8, engine="random")
    return url


class Server:
    """A Dash app served by werkzeug on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.app = app
        self.httpd = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def server(seeded_db, tmp_path_factory) -> Iterator[Server]:
    """The dashboard with ``--allow-simulate`` and the default (real) surrogates."""
    from dashboard import create_app

    app = create_app(
        seeded_db,
        allow_simulate=True,
        warm_surrogates=False,  # only the what-if test fits one (zdt1), nothing left running at exit
        poll_interval_s=1.0,
        background_cache_dir=str(tmp_path_factory.mktemp("bg")),
    )
    s = Server(app)
    yield s
    s.close()


@pytest.fixture(scope="session")
def chromium_context(tmp_path_factory):
    if not CHROMIUM.exists():
        missing("chromium", f"no {CHROMIUM}")  # fails under CI, skips loudly elsewhere
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
            accept_downloads=True,
        )
        ctx.set_default_timeout(20_000)
        yield ctx
        ctx.close()


class Console:
    """Browser console errors and uncaught page errors of one page."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


@pytest.fixture
def tab(chromium_context):
    """A fresh tab; the test fails if the browser logged an error while it ran."""
    pg = chromium_context.new_page()
    console = Console(pg)
    pg.console = console  # type: ignore[attr-defined]
    yield pg
    pg.close()
    assert console.errors == [], f"browser console errors: {console.errors}"
