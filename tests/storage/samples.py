"""Sample study specs, proposals and results that the storage tests write and read back."""

from __future__ import annotations

from paretoopt.inner import TrajectoryStep
from paretoopt.storage import StudySpec, TrialProposal, TrialResult


def spec(name: str = "s") -> StudySpec:
    return StudySpec(
        name=name,
        definition_name="def",
        definition_hash="0" * 64,
        space=[
            {
                "type": "real",
                "name": "x",
                "low": 0.0,
                "high": 1.0,
                "unit": "mm",
                "log": False,
                "differentiable": True,
            }
        ],
        objectives=[
            {"name": "f", "direction": "minimize", "unit": "%", "description": ""},
            {"name": "cost", "direction": "minimize", "unit": "kEUR", "description": ""},
        ],
        constraints=[],
        engine="grid",
        engine_options={"real_levels": 3},
        seed=7,
    )


def proposals(n: int, seed0: int = 0) -> list[TrialProposal]:
    return [TrialProposal((0.5, 0.5), {"m": "Pb"}, seed0 + i) for i in range(n)]


def result(values=(1.0, 2.0), stderr=(0.1, 0.2), steps=3) -> TrialResult:
    return TrialResult(
        params={"x": 0.25},
        objectives=values,
        stderr=stderr,
        n_calls=steps + 1,
        n_backward=steps,
        n_steps=steps,
        loss=0.5,
        wall_time_s=0.01,
        trajectory=[TrajectoryStep(i, 1.0 / (i + 1), [1.0, 2.0 + i], {"x": 0.1 * i}) for i in range(steps)],
    )


def save_surrogate(storage, sid, blob=b"blob", numbers=(0, 1)):
    return storage.save_surrogate(
        sid, kind="exact_gp", trial_numbers=list(numbers), n_points=7, blob=blob, digest="hmac-sha256:00"
    )
