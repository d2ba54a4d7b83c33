"""RE21, the four-bar truss design (Tanabe & Ishibuchi, "An easy-to-use real-world
multi-objective optimization problem suite", Appl. Soft Comput. 89 (2020) 106078,
arXiv:2009.12867, problem RE2-4-1; from Cheng & Li 1999).

Minimise the structural volume ``f1 = L (2 x1 + sqrt(2) x2 + sqrt(x3) + x4)`` [cm^3] and the
joint displacement ``f2 = F L / E (2 / x1 + 2 sqrt(2) / x2 - 2 sqrt(2) / x3 + 2 / x4)`` [cm]
over the four members' cross-sections x1..x4 [cm^2], with ``F = 10 kN``, ``E = 2e5 kN/cm^2``,
``L = 200 cm``, ``sigma = 10 kN/cm^2`` (the stress limits are the bounds: ``a = F / sigma``,
x1, x4 in [a, 3a], x2, x3 in [sqrt(2) a, 3a]). The objectives differ by about 10^5 in
magnitude, and the study states no ideal or nadir: a test of the unit-free normalisation.

Run it: ``paretoopt run studies/re21.py --trials 40``.
"""

import math

import torch

from paretoopt import Objective, StudyDefinition
from paretoopt.space import DesignSpace, Real

FORCE = 10.0  # kN
YOUNG = 2.0e5  # kN / cm^2
LENGTH = 200.0  # cm
SIGMA = 10.0  # kN / cm^2
A = FORCE / SIGMA  # cm^2, the smallest cross-section the stress limit allows
SQRT2 = math.sqrt(2.0)


def simulate(params, choices, n_samples, generator):  # type: ignore[no-untyped-def]
    """The two objectives of RE21 (exact, deterministic)."""
    x1, x2, x3, x4 = (params[f"x{i}"] for i in range(1, 5))
    volume = LENGTH * (2.0 * x1 + SQRT2 * x2 + torch.sqrt(x3) + x4)
    displacement = (FORCE * LENGTH / YOUNG) * (2.0 / x1 + 2.0 * SQRT2 / x2 - 2.0 * SQRT2 / x3 + 2.0 / x4)
    return {"volume": volume, "displacement": displacement}


study = StudyDefinition(
    "re21",
    DesignSpace(
        Real("x1", A, 3 * A, unit="cm^2"),
        Real("x2", SQRT2 * A, 3 * A, unit="cm^2"),
        Real("x3", SQRT2 * A, 3 * A, unit="cm^2"),
        Real("x4", A, 3 * A, unit="cm^2"),
    ),
    [Objective("volume", unit="cm^3"), Objective("displacement", unit="cm")],
    simulate,
    description="RE21 four-bar truss (Tanabe & Ishibuchi 2020): volume vs joint displacement",
)
