"""The front's "include archive" toggle in a real headless Chromium: on, the archive front's
inner-loop steps appear as grey markers (not review-grade), exactly those the database's archive
front holds; off, the figure is back to its five traces. No browser console errors (``tab``)."""

from __future__ import annotations

import pytest

from dashboard.figures import ARCHIVE_COLOR, TRACE_ARCHIVE, TRACE_REFINED
from paretoopt.study import load_study

pytestmark = pytest.mark.browser

FRONT_JS = "document.querySelector('#front .js-plotly-plot')"


def test_include_archive_draws_unrefined_points_in_grey(tab, server, seeded_db):
    study = load_study(study_name="zdt1", storage=seeded_db)
    traj = [p for p in study.archive_front_points() if p.source == "trajectory"]
    assert traj  # zdt1 is exact: its inner-loop steps reach the front between the trials
    tab.goto(f"{server.url}/study/zdt1")
    tab.wait_for_function(f"{FRONT_JS} && {FRONT_JS}._fullData && {FRONT_JS}._fullData.length === 5")
    tab.get_by_label("include archive").check()
    tab.wait_for_function(f"{FRONT_JS}._fullData.length === 7")
    grey = tab.evaluate(
        f"(() => {{ const t = {FRONT_JS}._fullData[{TRACE_ARCHIVE}]; "
        "return {x: Array.from(t.x), y: Array.from(t.y), color: t.marker.color, "
        "text: Array.from(t.text)}; })()"
    )
    assert grey["color"] == ARCHIVE_COLOR and len(grey["x"]) == len(traj)
    drawn = sorted(zip(grey["x"], grey["y"], strict=True))
    stored = sorted(p.objectives for p in traj)
    assert [v for xy in drawn for v in xy] == pytest.approx([v for xy in stored for v in xy])
    assert all("not" not in s and "trajectory" in s for s in grey["text"])
    assert tab.evaluate(f"{FRONT_JS}._fullData[{TRACE_REFINED}].x.length") == 0  # nothing refined yet
    assert "not review-grade" in tab.evaluate(f"{FRONT_JS}._fullData[{TRACE_ARCHIVE}].name")
    tab.get_by_label("include archive").uncheck()
    tab.wait_for_function(f"{FRONT_JS}._fullData.length === 5")
