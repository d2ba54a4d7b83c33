"""RE37, the rocket injector design (Tanabe & Ishibuchi, "An easy-to-use real-world
multi-objective optimization problem suite", Appl. Soft Comput. 89 (2020) 106078,
arXiv:2009.12867, problem RE3-4-7; response surfaces of Vaidyanathan et al., 2003).

Three objectives, all minimised, over four normalised design variables in [0, 1] (the hydrogen
flow angle ``alpha``, the hydrogen and oxygen area ratios ``dHA`` and ``dOA``, and the oxidiser
post tip thickness ``OPTT``): the maximum temperature of the injector face ``TF_max``, the
distance from the inlet ``X_cc`` and the maximum temperature on the post tip ``TT_max`` (all
three are normalised responses, no unit). The polynomials are the paper's quadratic and cubic
response surfaces, coefficients as published.

Run it: ``paretoopt run studies/re37.py --trials 60``.
"""

from paretoopt import Objective, StudyDefinition
from paretoopt.space import DesignSpace, Real


def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
    """The three objectives of RE37 (exact, deterministic)."""
    a, ha, oa, tt = params["alpha"], params["dHA"], params["dOA"], params["OPTT"]
    tf_max = (
        0.692 + 0.477 * a - 0.687 * ha - 0.080 * oa - 0.0650 * tt
        - 0.167 * a * a - 0.0129 * ha * a + 0.0796 * ha * ha - 0.0634 * oa * a - 0.0257 * oa * ha
        + 0.0877 * oa * oa - 0.0521 * tt * a + 0.00156 * tt * ha + 0.00198 * tt * oa + 0.0184 * tt * tt
    )  # fmt: skip
    x_cc = (
        0.153 - 0.322 * a + 0.396 * ha + 0.424 * oa + 0.0226 * tt
        + 0.175 * a * a + 0.0185 * ha * a - 0.0701 * ha * ha - 0.251 * oa * a + 0.179 * oa * ha
        + 0.0150 * oa * oa + 0.0134 * tt * a + 0.0296 * tt * ha + 0.0752 * tt * oa + 0.0192 * tt * tt
    )  # fmt: skip
    tt_max = (
        0.370 - 0.205 * a + 0.0307 * ha + 0.108 * oa + 1.019 * tt
        - 0.135 * a * a + 0.0141 * ha * a + 0.0998 * ha * ha + 0.208 * oa * a - 0.0301 * oa * ha
        - 0.226 * oa * oa + 0.353 * tt * a - 0.0497 * tt * oa - 0.423 * tt * tt
        + 0.202 * ha * a * a - 0.281 * oa * a * a - 0.342 * ha * ha * a - 0.245 * ha * ha * oa
        + 0.281 * oa * oa * ha - 0.184 * tt * tt * a - 0.281 * ha * a * oa
    )  # fmt: skip
    return {"TF_max": tf_max, "X_cc": x_cc, "TT_max": tt_max}


study = StudyDefinition(
    "re37",
    DesignSpace(
        Real("alpha", 0.0, 1.0), Real("dHA", 0.0, 1.0), Real("dOA", 0.0, 1.0), Real("OPTT", 0.0, 1.0)
    ),
    [Objective("TF_max"), Objective("X_cc"), Objective("TT_max")],
    simulate,
    description="RE37 rocket injector (Tanabe & Ishibuchi 2020): three response surfaces",
)
