"""A two-objective study whose simulation returns NaN for one discrete choice and raises for
another: those trials must be FAILED with the reason, the others complete."""

from paretoopt import Choice, DesignSpace, InnerSettings, Objective, Real, StudyDefinition


def simulate(params, choices, n_samples, generator):
    x = params["x"]
    if choices["mode"] == "nan":
        return {"f": x * float("nan"), "g": (1 - x) ** 2}
    if choices["mode"] == "raise":
        raise RuntimeError("detector geometry overlaps")
    return {"f": x**2, "g": (1 - x) ** 2}


study = StudyDefinition(
    "flaky",
    DesignSpace(Real("x", 0.0, 1.0, unit="m"), Choice("mode", ("ok", "nan", "raise"))),
    [Objective("f", unit="GeV"), Objective("g")],
    simulate,
    inner=InnerSettings(optimizer="lbfgs", max_steps=50, n_samples=1, n_eval_samples=1),
    ideal=[0.0, 0.0],
    nadir=[1.0, 1.0],
)
