"""Which method an inner loop runs and with which numbers: ``InnerSettings`` resolved for one
study and one set of discrete choices.

* ``optimizer=`` set and no ``mode``: the legacy method, unset numbers from
  :data:`paretoopt.problem.LEGACY_DEFAULTS` (what every study written before ``mode`` ran).
* ``mode="auto"``: the probe of :mod:`paretoopt.inner.probe` picks ``exact`` (deterministic),
  ``lbfgs`` (Monte Carlo, smooth fixed-sample loss) or ``adam`` (Monte Carlo, rough).
* ``mode="exact" | "lbfgs" | "adam"``: that method, no probe.
* a simulation without gradients (``simulate.black_box``, an ``ExternalSimulator``) with
  ``mode="auto"``, or ``mode="surrogate"``: the local surrogate of :mod:`paretoopt.inner.local`.

Numbers a study sets are kept; unset ones take :data:`EXACT_DEFAULTS` or :data:`MC_DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from paretoopt.inner.probe import probe_events, probe_simulation
from paretoopt.problem import LEGACY_DEFAULTS, InnerSettings, StudyDefinition

#: The exact mode: one sample (two when the simulation cannot run on one), 200 calls at most,
#: a projected gradient of 1e-6 (normalised loss per unit of the box) as convergence.
EXACT_DEFAULTS: dict[str, Any] = {
    "max_steps": 200,
    "lr": 0.05,
    "n_samples": 1,
    "n_eval_samples": 1,
    "patience": 20,
    "tol": 1e-6,
}
#: The Monte Carlo modes: a first sample of 250 grown up to the final evaluation's 10,000,
#: 300 calls at most, Adam's learning rate 0.05 in the logistic coordinates and windows of 20.
MC_DEFAULTS: dict[str, Any] = {
    "max_steps": 300,
    "lr": 0.05,
    "n_samples": 250,
    "n_eval_samples": 10000,
    "patience": 20,
    "tol": 1e-6,
}

#: The surrogate mode (simulations without gradients, :mod:`paretoopt.inner.local`): 1,000
#: events per simulation and 10,000 for the final evaluation (as the Monte Carlo modes), 200
#: simulations at most, and a trust region of ``tol`` (unit box; 10x for noisy outputs) as
#: convergence.
SURROGATE_DEFAULTS: dict[str, Any] = {
    "max_steps": 200,
    "lr": 0.05,
    "n_samples": 1000,
    "n_eval_samples": 10000,
    "patience": 20,
    "tol": 1e-3,
}


@dataclass(frozen=True)
class Plan:
    """How one inner loop runs: ``method`` (``"exact"``, ``"lbfgs"``, ``"adam"``, ``"surrogate"``, or
    ``"legacy-adam"`` / ``"legacy-lbfgs"``), the settings with every number set, whether
    evaluations take one sample as exact, whether the sample grows, the auto probe's calls and
    account (empty without a probe)."""

    method: str
    settings: InnerSettings
    exact: bool
    grow: bool
    probe_calls: int = 0
    detail: str = ""
    #: events the probe simulated (0 when memoised)
    probe_events: int = 0

    @property
    def optimizer(self) -> str:
        """The method's name as :class:`~paretoopt.inner.InnerResult` records it."""
        return self.method.removeprefix("legacy-")


def make_plan(
    definition: StudyDefinition,
    choices: Mapping[str, Any],
    settings: InnerSettings,
    device: torch.device,
    *,
    smoothness: bool = True,
) -> Plan:
    """Resolve ``settings`` for ``definition`` with ``choices`` (see the module docstring);
    ``smoothness=False``: the caller runs Adam on fresh samples whatever the probe says (a
    population), so a Monte Carlo simulation skips the smoothness test and plans ``adam``."""
    if settings.legacy and not getattr(definition.simulate, "black_box", False):
        return Plan(f"legacy-{settings.optimizer}", settings.with_defaults(LEGACY_DEFAULTS), False, False)
    mode = settings.mode
    if mode == "surrogate" or (getattr(definition.simulate, "black_box", False) and mode == "auto"):
        resolved = settings.replace(optimizer=None).with_defaults(SURROGATE_DEFAULTS)
        return Plan("surrogate", resolved, False, False, 0, "no gradients: local surrogate")
    calls, detail, single, events = 0, "", True, 0
    if mode == "auto":
        probe = probe_simulation(definition, choices, settings, device, smoothness=smoothness)
        calls, detail, single, events = probe.n_calls, probe.detail, probe.single_sample, probe_events(probe)
        mode = "exact" if probe.deterministic else "lbfgs" if probe.smooth else "adam"
    if mode == "exact":
        n = 1 if single else 2
        resolved = settings.with_defaults({**EXACT_DEFAULTS, "n_samples": n, "n_eval_samples": n})
        return Plan("exact", resolved, True, False, calls, detail, events)
    resolved = settings.with_defaults(MC_DEFAULTS)
    return Plan(mode, resolved, False, settings.n_samples is None, calls, detail, events)
