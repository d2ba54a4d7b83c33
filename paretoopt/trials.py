"""Trial bookkeeping shared by every path that runs trials: sources, seeds and worker ids.

One place for these rules so that the runner, the surrogate workflows and the dashboard's
"simulate this design" give a trial the same seed and the same owner.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paretoopt.storage import FrozenTrial, TrialState

#: A RUNNING trial whose heartbeat is older than this is taken as dead (other hosts), in s.
STALE_AFTER_S = 600.0
#: How often a RUNNING trial's heartbeat is written, in s.
HEARTBEAT_EVERY_S = 30.0
#: Trials that minimise one objective each to fix the normalisation (batch -1).
ANCHOR = "anchor"
#: Trials traced on a surrogate (in the ``<study>.surrogate`` study, see paretoopt.surrogate).
SURROGATE = "surrogate"
#: A surrogate-optimal design evaluated once with the real simulation (no inner loop).
RESIMULATED = "resimulated"
#: Trials added from the dashboard's what-if panel ("simulate this design").
WHATIF = "whatif"
#: A design halfway between two neighbouring front trials, evaluated once (no inner loop; the
#: runner's ``fill``, see paretoopt.run.fill).
INTERPOLATED = "interpolated"
#: Trials the engine did not propose: told to it, never asked for or replayed.
EXTERNAL_SOURCES = (ANCHOR, RESIMULATED, WHATIF, INTERPOLATED)


def worker_id() -> str:
    """``host:pid`` of this process: the owner recorded on RUNNING trials."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a permission error means it does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_local_workers(trials: Sequence[FrozenTrial]) -> list[str]:
    """Owners of RUNNING trials that ran on this host in a process that no longer exists."""
    host = socket.gethostname()
    dead = []
    for t in trials:
        if t.state is TrialState.RUNNING and t.worker:
            h, _, pid = t.worker.rpartition(":")
            if h == host and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                dead.append(t.worker)
    return dead


def design_key(choices: Mapping[str, Any], params: Mapping[str, float]) -> str:
    """A design (discrete choices and parameter values) as a canonical string, to find the same
    design among trials (re-simulations, fills)."""
    return json.dumps([choices, params], sort_keys=True)


def trial_seed(study_seed: int, number: int) -> int:
    """The inner-loop seed of trial ``number``: a fixed function of the study seed."""
    return int(
        np.random.SeedSequence([int(study_seed) & 0xFFFFFFFF, int(number) & 0xFFFFFFFF]).generate_state(1)[0]
        >> 1
    )


def completed_feasible(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The completed, feasible trials with finite objectives (what fronts are made of)."""
    return [
        t
        for t in trials
        if t.state is TrialState.COMPLETE and t.feasible and t.objectives and all(np.isfinite(t.objectives))
    ]
