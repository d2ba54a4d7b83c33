"""ZDT1 (6 variables) whose simulation SIGKILLs its own process at the N-th call when
$PARETOOPT_TEST_KILL_AT_CALL is set: how tests/data/resume/make_fixture.py wrote a study
database interrupted mid-trial. Without the variable it is plain ZDT1."""

import os
import signal

from paretoopt.analytic import LEGACY_ANALYTIC_INNER, zdt_study

_base = zdt_study("zdt1", n_var=6)
# the settings the fixture's database was written with: the study must not change under it
_base.inner = LEGACY_ANALYTIC_INNER
_exact = _base.simulate
_calls = [0]


def simulate(params, choices, n_samples, generator):
    kill_at = os.environ.get("PARETOOPT_TEST_KILL_AT_CALL")
    _calls[0] += 1
    if kill_at and _calls[0] >= int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
    return _exact(params, choices, n_samples, generator)


_base.simulate = simulate
_base.name = "resume_zdt1"
study = _base
