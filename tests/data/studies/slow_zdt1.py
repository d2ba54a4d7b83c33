"""ZDT1 (10 variables) for the crash and shared-study tests, with the event hooks of
tests/studyhooks.py: ``$PARETOOPT_TEST_HANG_AT_CALL`` (hang mid-trial at a fixed call, to be
killed) and ``$PARETOOPT_TEST_RENDEZVOUS`` (processes wait for each other on their first call)."""

from paretoopt.analytic import zdt_study
from tests.studyhooks import hang_if_asked, rendezvous_if_asked

_base = zdt_study("zdt1", n_var=10)
_exact = _base.simulate


def simulate(params, choices, n_samples, generator):
    hang_if_asked()
    rendezvous_if_asked()
    return _exact(params, choices, n_samples, generator)


_base.simulate = simulate
_base.name = "slow_zdt1"
study = _base
