"""The grid engine's layout: weights-major for small discrete spaces, choices-major when the
budget is smaller than twice the number of combinations."""

from paretoopt.analytic import mixed_study, zdt_study
from paretoopt.outer import GridEngine


def test_weights_major_when_budget_covers_the_combinations():
    e = GridEngine(seed=0).setup(mixed_study(), budget=40)
    props = e.ask(16)
    combos = {(p.choices["family"], p.choices["level"]) for p in props[:8]}
    assert len(combos) == 8  # every combination at the first weight
    assert all(p.weights == props[0].weights for p in props[:8])
    assert props[8].weights != props[0].weights


def test_choices_major_when_budget_is_small():
    e = GridEngine(seed=0).setup(mixed_study(), budget=6)
    props = e.ask(6)
    assert all(p.weights == (0.5, 0.5) for p in props)  # one (equal) weight per combination
    assert len({(p.choices["family"], p.choices["level"]) for p in props}) == 6


def test_prefix_stable_without_choices():
    a = GridEngine().setup(zdt_study("zdt1", 5), budget=10).ask(10)
    b = GridEngine().setup(zdt_study("zdt1", 5), budget=30).ask(10)
    assert a == b
