"""Trade-offs that share a zero weight may end on one design without being stuck (issue #19:
the local-optimum guard re-solved them from two cold starts, 120-186 calls a trial on DTLZ2,
and found nothing). Reference: a brute-force minimum of the augmented Chebyshev scalarisation
over a fine grid of DTLZ2's true front (the unit sphere's positive octant)."""

from __future__ import annotations

import numpy as np
import torch

from paretoopt.optimality import KnownDesign, piles_up
from paretoopt.run import optimize
from paretoopt.scalarize import AugmentedChebyshev, Normalization
from paretoopt.space import DesignSpace, Real


def test_weights_with_a_shared_zero_share_the_vertex_on_dtlz2():
    a, b = np.meshgrid(np.linspace(0, np.pi / 2, 301), np.linspace(0, np.pi / 2, 301))
    f = np.stack([np.cos(a) * np.cos(b), np.cos(a) * np.sin(b), np.sin(a)], axis=-1).reshape(-1, 3)
    norm = Normalization([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    for w in ([0.0, 0.25, 0.75], [0.0, 0.75, 0.25], [0.0, 0.5, 0.5]):
        s = AugmentedChebyshev(w, norm, smoothing=0.0)(torch.tensor(f, dtype=torch.float64)).numpy()
        assert np.allclose(f[np.argmin(s)], [1.0, 0.0, 0.0], atol=1e-9)


def test_piles_up_ignores_trade_offs_that_both_ignore_an_objective():
    space = DesignSpace(Real("x", 0.0, 1.0), Real("y", 0.0, 1.0))
    design = {"x": 0.0, "y": 0.0}
    known = [KnownDesign(3, 0, {}, dict(design), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0), True, (0.0, 0.5, 0.5))]
    assert piles_up(design, (0.0, 0.25, 0.75), known, space) is None  # both ignore f1
    other = [KnownDesign(3, 0, {}, dict(design), (0.5, 0.5, 0.7), (0.0,) * 3, True, (0.2, 0.3, 0.5))]
    assert piles_up(design, (0.3, 0.3, 0.4), other, space) is other[0]  # still a suspect pile-up


def test_no_dtlz2_trial_is_re_solved_for_a_shared_vertex(studies_dir, tmp_path):
    """Every trial's calls are its own inner loop's (recorded steps + the final evaluation):
    no trial paid for re-solves (which would add two more inner loops' calls)."""
    from paretoopt import load_study_definition

    d = load_study_definition(studies_dir / "dtlz2.py")
    study = optimize(d, storage=f"sqlite:///{tmp_path / 'd.db'}", engine="grid", n_trials=12, seed=0)
    assert [t.n_calls for t in study.trials] == [t.n_steps + 1 for t in study.trials]


def test_a_trial_at_an_anchor_s_extreme_is_not_a_pile_up():
    """The (1, 0) trade-off and the anchor (1, 1e-3) both minimise the first objective: sharing
    its extreme is expected."""
    space = DesignSpace(Real("x", 0.0, 1.0))
    anchor = [KnownDesign(0, -1, {}, {"x": 0.2}, (0.1, 5.0), (0.0, 0.0), True, (1.0, 1e-3))]
    assert piles_up({"x": 0.2}, (1.0, 0.0), anchor, space) is None
    assert piles_up({"x": 0.2}, (0.7, 0.3), anchor, space) is anchor[0]
