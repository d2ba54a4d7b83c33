"""ZDT1 (10 variables) with a small sleep per call, so a SIGKILL lands mid-trial."""

import time

from paretoopt.analytic import zdt_study

_base = zdt_study("zdt1", n_var=10)
_exact = _base.simulate


def simulate(params, choices, n_samples, generator):
    time.sleep(0.004)
    return _exact(params, choices, n_samples, generator)


_base.simulate = simulate
_base.name = "slow_zdt1"
study = _base
