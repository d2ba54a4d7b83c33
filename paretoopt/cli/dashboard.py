"""``paretoopt dashboard``: serve the web dashboard over a study database (loopback by default)."""

from __future__ import annotations

from typing import Annotated

import typer

from paretoopt.cli.common import StorageOpt, fail, storage_url
from paretoopt.exceptions import ParetoOptError


def dashboard_cmd(
    storage: StorageOpt = None,
    host: Annotated[
        str,
        typer.Option(help="Interface to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: a free port, printed once bound).")] = 8050,
    allow_simulate: Annotated[
        bool,
        typer.Option(
            "--allow-simulate",
            help="Allow 'simulate this design' (runs the study's code, adds trials); read-only without it.",
        ),
    ] = False,
    poll: Annotated[
        float, typer.Option(help="Seconds between checks for new trials on an open study page.")
    ] = 5.0,
    prefetch: Annotated[
        bool, typer.Option(help="Read the newest studies and draw their fronts in the background at start.")
    ] = True,
) -> None:
    """Browse the studies of a database in a web dashboard (fronts, trials, what-ifs, exports)."""
    try:
        from dashboard import create_app, serve
        from dashboard.app import LOOPBACK_NAMES
    except ImportError as exc:
        raise fail(f"the dashboard package is not installed: {exc}") from None
    if not 0 <= port < 65536:
        raise fail(f"--port must be in 0..65535, got {port}")
    public = host in ("0.0.0.0", "::", "")  # noqa: S104 - only when the user asks for it
    allowed = None if public else (*LOOPBACK_NAMES, host)
    try:
        dash_app = create_app(
            storage_url(storage),
            allow_simulate=allow_simulate,
            poll_interval_s=poll,
            allowed_hosts=allowed,
            prefetch=prefetch,
        )
    except (ParetoOptError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    mode = "simulations allowed" if allow_simulate else "read-only"
    shown = "127.0.0.1" if public else host

    def listening(bound: int) -> None:  # printed once the socket accepts connections
        typer.echo(
            f"paretoopt dashboard on http://{shown}:{bound}/ ({mode}, storage {storage_url(storage)}); "
            "Ctrl-C stops it"
        )
        if public:
            typer.echo(
                "warning: listening on every interface; anyone who can reach this port can read the studies",
                err=True,
            )

    try:
        serve(dash_app, host, port, on_listening=listening)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc}") from None
