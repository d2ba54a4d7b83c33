"""Event hooks for the test studies (tests/data/studies/*.py), switched on by environment
variables, so that tests synchronise on files instead of clocks.

* ``hang_if_asked()``: with ``$PARETOOPT_TEST_HANG_AT_CALL=N``, the N-th simulation call of the
  process writes the file ``$PARETOOPT_TEST_HANG_MARKER`` (its pid) and blocks until the test
  kills the process: a kill lands mid-trial, at the same call on every machine.
* ``rendezvous_if_asked()``: with ``$PARETOOPT_TEST_RENDEZVOUS=DIR:N``, the first simulation call
  of each process writes ``DIR/<pid>`` and waits until N processes have: N processes provably
  hold a trial at the same time (two runs sharing one study both did work).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_CALLS = [0]
_MET = [False]
#: Fail-safe only (a broken test must not hang forever); the tests never rely on it.
FAILSAFE_S = 600.0


def hang_if_asked() -> None:
    hang_at = os.environ.get("PARETOOPT_TEST_HANG_AT_CALL")
    if not hang_at:
        return
    _CALLS[0] += 1
    if _CALLS[0] == int(hang_at):
        Path(os.environ["PARETOOPT_TEST_HANG_MARKER"]).write_text(str(os.getpid()))
        deadline = time.monotonic() + FAILSAFE_S
        while time.monotonic() < deadline:  # the test SIGKILLs this process once it sees the marker
            time.sleep(0.5)
        raise RuntimeError("hang_if_asked: nobody killed this process")


def rendezvous_if_asked() -> None:
    spec = os.environ.get("PARETOOPT_TEST_RENDEZVOUS")
    if not spec or _MET[0]:
        return
    folder, n = spec.rsplit(":", 1)
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + FAILSAFE_S
    while len(list(Path(folder).iterdir())) < int(n):
        if time.monotonic() > deadline:
            raise RuntimeError(f"rendezvous: fewer than {n} processes arrived")
        time.sleep(0.05)
    _MET[0] = True
