"""The Decide page on a real study with an archive (issue #19): unrefined trajectory points are
drawn grey and are never an answer; refined ones are not grey."""

from __future__ import annotations

import numpy as np

import paretoopt
from dashboard.data import StudyCache
from dashboard.decide_page import TRACE_ARCHIVE, decide_figure, decision_front
from paretoopt import decide
from paretoopt.storage import get_storage


def test_grey_points_are_the_archive_fronts_unrefined_points_and_never_answers(tmp_path):
    url = f"sqlite:///{tmp_path / 'zdt1.db'}"
    definition = paretoopt.load_study_definition("studies/zdt1.py")
    study = paretoopt.optimize(definition, storage=url, study_name="zdt1", engine="grid", n_trials=4, seed=0)
    # independent of the page: the archive front's trajectory points, from the read API's points
    expected = {tuple(np.round(p.objectives, 12)) for p in study.archive_front_points() if not p.review_grade}
    assert expected  # 4 exact inner loops leave trajectory points between their optima

    snap = StudyCache(get_storage(url)).get("zdt1")
    grey = decide_figure(snap).data[TRACE_ARCHIVE]
    drawn = {tuple(np.round(xy, 12)) for xy in zip(grey.x, grey.y, strict=True)}
    assert drawn == expected

    front = decision_front(snap)
    trials = {t.number for t in study.best_trials}
    assert set(front.numbers.tolist()) <= trials  # answers come from stored trials only
    f1 = front.objective_names[0]
    answer = decide.reference_point(front, {f1: 0.3, front.objective_names[1]: 0.3})
    assert answer.trial in trials

    # once refined, the same points are review-grade: nothing is grey any more
    paretoopt.refine_study(definition, paretoopt.load_study(study_name="zdt1", storage=url))
    snap = StudyCache(get_storage(url)).get("zdt1")
    assert len(decide_figure(snap).data[TRACE_ARCHIVE].x) == 0
