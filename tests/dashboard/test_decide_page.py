"""The Decide page (issue #22) in a real headless Chromium: a budget slider moves, the highlighted
design changes and equals the brute-force answer over the stored front; an aspiration projects
to the brute-force design; a navigation walks to a design; the header's hypervolume is
normalised with the raw value on hover."""

from __future__ import annotations

import pytest

from paretoopt.study import load_study

pytestmark = pytest.mark.browser

DECIDE_JS = "document.querySelector('#decide-front .js-plotly-plot')"


def open_decide(tab, server, name: str) -> None:
    tab.goto(f"{server.url}/study/{name}/decide")
    tab.wait_for_selector("#decide-front .js-plotly-plot .scatterlayer")
    tab.wait_for_function(f"{DECIDE_JS} && {DECIDE_JS}._fullData && {DECIDE_JS}._fullData.length === 5")


def slider(tab, label: str):
    return tab.locator("#budget-controls .control", has_text=label).first.locator("[role=slider]")


def brute_budget(trials, bound_on: int, bound: float, optimise: int) -> int:
    """Smallest objective ``optimise`` among the front trials meeting ``f[bound_on] <= bound``."""
    ok = [t for t in trials if t.objectives[bound_on] <= bound]
    return min(ok, key=lambda t: (t.objectives[optimise], t.number)).number


def chosen_after(tab, previous: str | None) -> str:
    tab.wait_for_function(
        "([prev]) => { const e = document.querySelector('#decide-chosen');"
        " return e && e.innerText !== prev; }",
        arg=[previous],
    )
    return tab.locator("#decide-chosen").inner_text()


def answer_for(tab, bound: float) -> str:
    """The chosen trial once the answer is the one for ``bound`` (each key press answers)."""
    text = f"with f2 bound {bound:.6g}"
    tab.wait_for_function(
        "([t]) => { const e = document.querySelector('#decide-answer');"
        " return e && e.innerText.includes(t); }",
        arg=[text],
    )
    return tab.locator("#decide-chosen").inner_text()


def test_moving_a_budget_slider_changes_the_highlighted_design(tab, server, seeded_db):
    study = load_study(study_name="zdt1", storage=seeded_db)
    front = study.best_trials
    f2 = sorted(t.objectives[1] for t in front)
    lo, hi = f2[0], f2[-1]
    step = (hi - lo) / 200.0
    open_decide(tab, server, "zdt1")
    handle = slider(tab, "f2")
    handle.focus()
    tab.keyboard.press("Home")
    for _ in range(10):
        tab.keyboard.press("ArrowRight")
    first_bound = float(handle.get_attribute("aria-valuenow"))
    assert first_bound == pytest.approx(lo + 10 * step, rel=1e-9, abs=1e-12)
    first = answer_for(tab, first_bound)
    assert int(first) == brute_budget(front, 1, first_bound, 0)
    # the overlay trace of the chosen design sits on that trial
    x = tab.evaluate(f"{DECIDE_JS}._fullData[4].x[0]")
    assert x == pytest.approx({t.number: t for t in front}[int(first)].objectives[0])
    for _ in range(120):
        tab.keyboard.press("ArrowRight")
    second_bound = float(handle.get_attribute("aria-valuenow"))
    expected = brute_budget(front, 1, second_bound, 0)
    assert expected != int(first)  # the two bounds have different answers on this front
    assert int(answer_for(tab, second_bound)) == expected
    assert "ms on the server" in tab.locator("#decide-ms").inner_text()
    assert "trade-off at the answer" in tab.locator("#decide-rate").inner_text()
    # each answer is a step of the session's decision tree
    assert tab.locator("#decide-session-tree li").count() >= 2


def test_aspiration_and_navigation_answer_on_the_front(tab, server, seeded_db):
    from paretoopt import decide

    study = load_study(study_name="zdt1", storage=seeded_db)
    dfront = decide.front_of(study)
    open_decide(tab, server, "zdt1")
    inputs = tab.locator("#aspiration-controls input")
    inputs.nth(0).fill("0.3")
    inputs.nth(1).fill("0.3")
    tab.locator("#reference-go").click()
    got = chosen_after(tab, None)
    assert int(got) == decide.reference_point(dfront, {"f1": 0.3, "f2": 0.3}).trial
    tab.locator("#nav-iterations").fill("2")
    tab.locator("#nav-start").click()
    tab.wait_for_selector("#nav-ranges")
    tab.locator(".nav-option").first.click()
    tab.wait_for_function("document.querySelector('#nav-status').innerText.startsWith('step 1')")
    tab.locator(".nav-option").first.click()
    tab.wait_for_function(
        "document.querySelector('#decide-answer').innerText.includes('E-NAUTILUS, 2 steps')"
    )
    final = tab.locator("#decide-chosen").inner_text()
    assert int(final) == decide.navigate(dfront, 2, 3, choose=[0, 0]).decision.trial


def test_header_hypervolume_is_normalised_with_the_raw_value_on_hover(tab, server, seeded_db):
    import numpy as np

    study = load_study(study_name="zdt1", storage=seeded_db)
    raw = study.hypervolume_history()["hypervolume"].iloc[-1]
    # the box from the ideal (best stored or observed value of each objective, both minimised
    # here) to the hypervolume's reference point, computed here
    ideal = np.min([t.objectives for t in study.completed_trials if t.feasible], axis=0)
    if study.normalization is not None:
        ideal = np.minimum(ideal, study.normalization.ideal.numpy())
    box = float(np.prod(study.reference_point() - ideal))
    tab.goto(f"{server.url}/study/zdt1")
    fact = tab.locator("#study-hv")
    fact.wait_for()
    assert 0 < raw / box <= 1
    assert fact.inner_text() == f"hypervolume {raw / box:.3f} of the ideal–reference box"
    assert f"raw hypervolume {raw:.6g}" in fact.get_attribute("title")
