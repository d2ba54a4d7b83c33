"""Outer-engine tests."""

#: Small, fast botorch settings shared by the engine tests (the contracts do not depend on them).
FAST_BOTORCH = {
    "initial_trials": 4,
    "num_restarts": 1,
    "raw_samples": 16,
    "mc_samples": 16,
    "fit_maxiter": 20,
    "fused_kernel": False,
}
