"""The dashboard against the database and the surrogate, in a real headless Chromium: every
export button's file parsed back and compared row by row with the stored trials
(tests/export_truth.py), and the what-if readout and front overlay equal to
``surrogate.predict`` of the design the controls show (mean and sigma; a log-scaled real, a
real with a negative range, an integer and a choice moved). Synchronised on page state (the
overlay's data reaching the value computed here), never on a fixed wait."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paretoopt import load_study_definition, optimize
from paretoopt.study import load_study
from tests.dashboard.conftest import ROOT, Server
from tests.dashboard.test_browser import FRONT_JS, _open_study
from tests.export_truth import check_export, check_rounded

pytestmark = pytest.mark.browser

REVIEW = ROOT / "tests" / "data" / "studies" / "review.py"
BUTTONS = {"csv": "csv", "xlsx": "xlsx", "latex": "tex", "html": "html"}


class RecordingFactory:
    """The dashboard's default surrogate factory, keeping the model it hands out (the test
    compares the page with that very model) and signalling when a fit is done."""

    def __init__(self) -> None:
        self.models: list = []
        self.started = threading.Event()
        self.fitted = threading.Event()

    def __call__(self, study):
        from dashboard.whatif import default_surrogate_factory

        self.started.set()
        model = default_surrogate_factory(study)
        self.models.append(model)
        self.fitted.set()
        return model


@pytest.fixture(scope="module")
def review_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('review-dash') / 'review.db'}"
    optimize(load_study_definition(REVIEW), storage=url, engine="random", n_trials=20, seed=3)
    return url


@pytest.fixture(scope="module")
def review_server(review_db):
    from dashboard import create_app

    factory = RecordingFactory()
    server = Server(create_app(review_db, surrogate_factory=factory, prefetch=False, warm_surrogates=True))
    server.factory = factory  # type: ignore[attr-defined]
    yield server
    # a fit thread still running when the process exits aborts it: let a started fit finish
    if factory.started.is_set():
        assert factory.fitted.wait(timeout=300)
    server.close()


@pytest.mark.parametrize("fmt", sorted(BUTTONS))
def test_export_button_downloads_the_database(tab, review_server, review_db, tmp_path, fmt):
    _open_study(tab, review_server, "review")
    with tab.expect_download() as info:
        tab.locator(f"#export-{fmt}").click()
    path = Path(tmp_path) / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == f"review-front.{BUTTONS[fmt]}"
    check_export(path, fmt, load_study(study_name="review", storage=review_db))


def _slider(tab, name: str):
    return tab.locator(".control", has_text=name).first.locator("[role=slider]")


def _readout(tab) -> dict[str, str]:
    items = tab.locator("#whatif-values li").all_inner_texts()
    return dict(re.match(r"^(.*?) = (.*)$", item.strip()).groups() for item in items)


def test_whatif_readout_equals_the_surrogates_prediction(tab, review_server, review_db):
    study = load_study(study_name="review", storage=review_db)
    space = study.space
    _open_study(tab, review_server, "review")
    # the page opening starts the fit (warm_surrogates): wait for that event, not for a time
    assert review_server.factory.fitted.wait(timeout=300), "the surrogate fit never finished"

    # the choice: a radio item (its options look like formulas and markup)
    tab.locator(".control", has_text="material").first.get_by_text("W|Cu", exact=True).click()
    # the log-scaled real: three steps down from the top of its log10 slider
    gap = _slider(tab, "gap_mm")
    gap.focus()
    tab.keyboard.press("End")
    for _ in range(3):
        tab.keyboard.press("ArrowLeft")
    # the real with a negative range: seven steps up from the bottom
    offset = _slider(tab, "offset_cm")
    offset.focus()
    tab.keyboard.press("Home")
    for _ in range(7):
        tab.keyboard.press("ArrowRight")
    # the integer: 3
    layers = _slider(tab, "n_layers")
    layers.focus()
    tab.keyboard.press("Home")
    tab.keyboard.press("ArrowRight")
    tab.keyboard.press("ArrowRight")

    # the design the controls now show, computed here from the slider definitions
    lo, hi = np.log10(space["gap_mm"].low), np.log10(space["gap_mm"].high)
    design = {
        "gap_mm": 10.0 ** (hi - 3 * (hi - lo) / 1000.0),
        "offset_cm": space["offset_cm"].low + 7 * (space["offset_cm"].high - space["offset_cm"].low) / 1000.0,
        "n_layers": 3,
        "material": "W|Cu",
    }
    assert float(gap.get_attribute("aria-valuenow")) == pytest.approx(np.log10(design["gap_mm"]), abs=1e-9)
    assert float(offset.get_attribute("aria-valuenow")) == pytest.approx(design["offset_cm"], abs=1e-9)
    assert int(float(layers.get_attribute("aria-valuenow"))) == 3
    (model,) = review_server.factory.models
    mean, std = (np.asarray(a, dtype=float)[0] for a in model.predict(pd.DataFrame([design])))
    assert np.all(std > 0)

    # synchronise on the page: the overlay point reaches the prediction for that design
    overlay = f"{FRONT_JS}._fullData[4]"
    tab.wait_for_function(
        f"""([m0, m1]) => {{
            const t = {overlay};
            return t && t.x && t.x.length === 1
                && Math.abs(t.x[0] - m0) <= 1e-9 * Math.abs(m0)
                && Math.abs(t.y[0] - m1) <= 1e-9 * Math.abs(m1);
        }}""",
        arg=[float(mean[0]), float(mean[1])],
        timeout=60_000,
    )
    shown = tab.evaluate(
        f"[{overlay}.x[0], {overlay}.y[0], {overlay}.error_x.array[0], {overlay}.error_y.array[0]]"
    )
    np.testing.assert_allclose(shown, [mean[0], mean[1], std[0], std[1]], rtol=1e-9)
    readout = _readout(tab)
    assert list(readout) == ["efficiency [%]", "cost [kEUR]"]
    for (label, text), m, s in zip(readout.items(), mean, std, strict=True):
        check_rounded(text, float(m), float(s), f"what-if {label}")


def test_log_scaled_whatif_box_shows_and_takes_physical_units(tab, review_server, review_db):
    """Issue #22 item 5: the box beside a log-scaled real's slider is in its unit (1.28 mm,
    not log10 = 0.108), and a value typed in it moves the slider to its log10."""
    study = load_study(study_name="review", storage=review_db)
    _open_study(tab, review_server, "review")
    number = int(tab.locator("#trial-title").inner_text().split()[-1])
    trial = next(t for t in study.trials if t.number == number)
    gap = trial.params.get("gap_mm", trial.choices.get("gap_mm"))
    box = tab.locator(".control", has_text="gap_mm").first.locator(".physical-input input")
    assert float(box.input_value()) == pytest.approx(float(f"{gap:.4g}"))
    box.fill("1.5")
    box.press("Enter")
    handle = _slider(tab, "gap_mm")
    tab.wait_for_function(
        "([want]) => { const h = document.querySelector('.log-control [role=slider]');"
        " return h && Math.abs(parseFloat(h.getAttribute('aria-valuenow')) - want) < 1e-9; }",
        arg=[float(np.log10(1.5))],
    )
    assert float(handle.get_attribute("aria-valuenow")) == pytest.approx(np.log10(1.5), abs=1e-9)
    # selecting another trial prefills the slider, and the box follows in millimetres
    from tests.dashboard.test_browser import _point_xy

    others = [int(n) for n in study.pareto_front()["number"] if int(n) != number]
    target = next(t for t in study.trials if t.number == others[0])
    x, y = _point_xy(tab, 1, target.number)
    tab.mouse.click(x, y)
    tab.wait_for_function(f"document.querySelector('#trial-title').innerText === 'Trial {target.number}'")
    want = float(f"{target.params.get('gap_mm', target.choices.get('gap_mm')):.4g}")
    tab.wait_for_function(
        "([want]) => { const e = document.querySelector('.physical-input input');"
        " return e && Math.abs(parseFloat(e.value) - want) <= 1e-9 * Math.abs(want); }",
        arg=[want],
    )
