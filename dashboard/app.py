"""``create_app``: the paretoopt dashboard as a Dash app over one study database.

    from dashboard import create_app
    app = create_app("sqlite:///paretoopt.db")
    app.run(host="127.0.0.1", port=8050)

or ``paretoopt dashboard --storage sqlite:///paretoopt.db``. The styles live in the top-level
``assets/`` folder of the repository, found from this file in a checkout (the editable install the
project uses); Dash serves that folder, and without it the pages are served unstyled.

Security: the app reads the database only (a :class:`~dashboard.data.SnapshotStorage` refuses
writes) unless ``allow_simulate=True``; with it, "simulate this design" adds trials and runs the
study's code, re-loaded from its file only when the file's hash matches the stored one (the
source text in the database is never executed). Requests whose ``Host`` header is not one of
``allowed_hosts`` get 403 (DNS-rebinding protection for a server on 127.0.0.1); pages may not be
framed by other sites; Dash's debug mode (tracebacks in the browser) is off.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import dash
import flask

from dashboard import callbacks, figures, layout
from dashboard.context import DashboardContext
from dashboard.data import StudyCache
from dashboard.whatif import SurrogateCache, SurrogateFactory, default_surrogate_factory
from paretoopt.storage import open_existing_storage

#: The repository's top-level ``assets/`` (styles, the README's picture), beside this package.
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8050
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
log = logging.getLogger("paretoopt.dashboard")


def _background_manager(cache_dir: str | None) -> Any:
    try:
        import diskcache
        import multiprocess  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "--allow-simulate runs simulations as Dash background callbacks, which need "
            "`pip install 'dash[diskcache]'` (diskcache, multiprocess)"
        ) from exc
    import diskcache

    folder = cache_dir or tempfile.mkdtemp(prefix="paretoopt-dashboard-")
    return dash.DiskcacheManager(diskcache.Cache(folder))


def assets_folder() -> Path:
    """The folder Dash serves as ``/assets``: :data:`ASSETS`. When it is missing (paretoopt
    installed without its repository), a warning says so and the pages are served unstyled."""
    if not ASSETS.is_dir():
        log.warning("no assets folder at %s: the dashboard is served without its styles", ASSETS)
    return ASSETS


def create_app(
    storage_url: str,
    *,
    allow_simulate: bool = False,
    surrogate_factory: SurrogateFactory | None = None,
    poll_interval_s: float = 5.0,
    allowed_hosts: Iterable[str] | None = LOOPBACK_NAMES,
    background_cache_dir: str | None = None,
    prefetch: bool = True,
    warm_surrogates: bool = True,
) -> dash.Dash:
    """The dashboard over the study database at ``storage_url`` (a SQLAlchemy URL).

    Args:
        storage_url: an existing database; nothing is created or migrated. A bad URL or a
            missing SQLite file raises :class:`~paretoopt.exceptions.StorageError` here.
        allow_simulate: show "simulate this design", which runs the real simulation and stores
            the result as a trial (``source="whatif"``). Off by default: the app only reads.
        surrogate_factory: ``factory(study) -> predictor`` with ``predictor.predict(designs) ->
            (mean, std)`` (see :mod:`dashboard.whatif`); default ``study.surrogate()``.
        poll_interval_s: how often an open study page checks the database for new trials.
        allowed_hosts: host names the server answers to (``Host`` header, port ignored);
            ``None`` answers to any (for a server bound to a public interface on purpose).
        background_cache_dir: where background simulations keep their state (default a new
            temporary folder); only used with ``allow_simulate``.
        prefetch: read the most recently updated studies and draw their fronts in a background
            thread at start, so a first visit does not wait for the database.
        warm_surrogates: start fitting (or loading) a study's surrogate when its page opens, so
            the first what-if finds it ready; otherwise the first what-if starts it.
    """
    storage = open_existing_storage(storage_url, migrate=False)
    manager = _background_manager(background_cache_dir) if allow_simulate else None
    context = DashboardContext(
        storage=storage,
        cache=StudyCache(storage),
        surrogates=SurrogateCache(surrogate_factory or default_surrogate_factory),
        allow_simulate=allow_simulate,
        poll_ms=max(500, int(1000 * poll_interval_s)),
        background_manager=manager,
        warm_surrogates=warm_surrogates,
    )
    app = dash.Dash(
        __name__,
        assets_folder=str(assets_folder()),
        title="paretoopt",
        update_title=None,  # type: ignore[arg-type]  # None keeps the title while updating (Dash docs); its hint says str
        suppress_callback_exceptions=True,
        serve_locally=True,
        background_callback_manager=manager,
    )
    app.layout = layout.shell()
    callbacks.register(app, context)
    app.server.config["PARETOOPT_CONTEXT"] = context
    _harden(app.server, allowed_hosts)
    if prefetch:
        context.cache.prefetch(lambda snap: (figures.front(snap), snap.hypervolume()))
    return app


def _harden(server: flask.Flask, allowed_hosts: Iterable[str] | None) -> None:
    hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    @server.before_request
    def _check_host() -> Any:
        if hosts is None:
            return None
        host = (flask.request.host or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in hosts and host not in hosts:
            return flask.Response(f"host {host!r} is not served here", status=403, mimetype="text/plain")
        return None

    @server.after_request
    def _headers(response: flask.Response) -> flask.Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response


def serve(
    app: dash.Dash,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Serve ``app`` (threaded, debug off) until interrupted. The socket is bound first, then
    ``on_listening(port)`` is called with the port actually bound (``port=0``: a free port the
    system picks), so a caller reports the address only once it accepts connections."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app.server, threaded=True)
    try:
        if on_listening is not None:
            on_listening(server.server_port)
        server.serve_forever()
    finally:
        server.server_close()
        context = app.server.config.get("PARETOOPT_CONTEXT")
        fitting = context.surrogates.running() if context is not None else []
        if fitting:  # the process exits once they end (see SurrogateCache._start)
            print(
                f"stopping: waiting for the surrogate fit of {', '.join(fitting)} to finish",
                file=sys.stderr,
            )
