"""A dashboard stopped while a surrogate fit runs exits cleanly once the fit ends (no abort)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from dashboard.whatif import SurrogateCache

# The process exits while the fit is inside torch. With the fit in a daemon thread this aborted
# ("terminate called without an active exception", exit status 134) on every try here.
SCRIPT = textwrap.dedent(
    """
    import threading, torch
    from dashboard.whatif import SurrogateCache

    started = threading.Event()

    def factory(study):
        started.set()
        torch.manual_seed(0)
        a = torch.randn(300, 300)
        for _ in range(400):
            a = torch.tanh(a @ a.T / 300)
        print("fit finished", flush=True)
        return object()

    cache = SurrogateCache(factory)
    cache.request("calo", None, 10)
    started.wait()
    print("running:", cache.running(), flush=True)
    """
)


def test_exit_during_a_surrogate_fit_waits_for_it_instead_of_aborting():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert "terminate called" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["running: ['calo']", "fit finished"]


def test_running_names_the_studies_being_fitted_until_their_fit_ends():
    release = threading.Event()

    def factory(study: object) -> object:
        release.wait(timeout=60)
        return object()

    cache = SurrogateCache(factory)
    fut = cache.request("tracker", None, 5)  # type: ignore[arg-type]  # the factory ignores it
    assert cache.running() == ["tracker"]
    release.set()
    fut.result(timeout=60)
    cache._threads["tracker"].join(timeout=60)
    assert cache.running() == []
