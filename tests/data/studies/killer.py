"""ZDT1 (6 variables) whose simulation SIGKILLs its own process the first time it runs anywhere
(marker file named by $PARETOOPT_TEST_KILL_MARKER): a Dask worker dies mid-trial."""

import os
import signal

from paretoopt.analytic import zdt_study

_base = zdt_study("zdt1", n_var=6)
_exact = _base.simulate


def simulate(params, choices, n_samples, generator):
    marker = os.environ.get("PARETOOPT_TEST_KILL_MARKER")
    if marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return _exact(params, choices, n_samples, generator)


_base.simulate = simulate
_base.name = "killer"
study = _base
