"""Databases written by earlier schemas open and upgrade (a small .db per schema revision)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from paretoopt.storage import SQLStorage, TrialState, head_revision
from paretoopt.storage.schema import current_revision, known_revisions
from paretoopt.study import load_study

SCHEMAS = sorted((Path(__file__).parents[1] / "data" / "schemas").glob("*.db"))


def test_every_revision_has_a_saved_database():
    """A new Alembic revision must come with a .db saved at the revision before it: every
    revision but the head has one (named after it), and each is really at that revision."""
    saved = {p.stem for p in SCHEMAS}
    assert saved == known_revisions() - {head_revision()}
    for db in SCHEMAS:
        engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")  # read only
        try:
            assert current_revision(engine) == db.stem
        finally:
            engine.dispose()


@pytest.mark.parametrize("db", SCHEMAS, ids=lambda p: p.stem)
def test_old_database_upgrades_and_reads_whole(db, tmp_path):
    copy = tmp_path / db.name
    shutil.copy(db, copy)
    st = SQLStorage(f"sqlite:///{copy}")
    assert current_revision(st.engine) == head_revision()
    study = load_study(study_name="mixed_zdt", storage=st)
    trials = study.trials
    assert len(trials) == 4 and all(t.state is TrialState.COMPLETE for t in trials)
    assert all(len(t.objectives) == 2 for t in trials)
    # trials stored before schema 0003 say nothing about why their inner loop stopped
    assert all(t.stop_reason is None for t in trials)
    assert len(study.trajectory(0)) == trials[0].n_steps > 0
    assert not study.pareto_front().empty
    st.close()


def test_schema_0003_adds_a_stop_reason_that_new_trials_write(tmp_path):
    """The database saved at 0002 gains ``trials.stop_reason``; a trial finished after the
    upgrade stores its reason next to the old trials' ``None``."""
    from paretoopt.storage import TrialProposal, TrialResult

    copy = tmp_path / "0002.db"
    shutil.copy(SCHEMAS[[p.stem for p in SCHEMAS].index("0002")], copy)
    st = SQLStorage(f"sqlite:///{copy}")
    sid = st.get_study("mixed_zdt").id
    old = st.get_trials(sid)
    (t,) = st.enqueue_trials(sid, [TrialProposal((0.5, 0.5), old[0].choices, 1)], batch=9)
    st.start_trial(t.id, "w")
    st.finish_trial(
        t.id, TrialState.COMPLETE, TrialResult(params={}, converged=False, stop_reason="max_steps")
    )
    back = {x.number: x for x in st.get_trials(sid)}
    assert back[t.number].stop_reason == "max_steps" and not back[t.number].converged
    assert [back[x.number].stop_reason for x in old] == [None] * len(old)
    assert [back[x.number].converged for x in old] == [x.converged for x in old]
    st.close()


def test_upgrade_from_an_empty_database(tmp_path):
    st = SQLStorage(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(st.engine) == head_revision()
    assert st.list_studies() == []
    st.close()


def test_schema_0005_archive_reads_old_trajectories_as_unknown(tmp_path):
    """The database saved at 0003 gains the archive's columns and table: its trajectory points
    read with unknown errors and sample size (NaN / None, never a made-up 0), its trials with
    unknown events."""
    import math

    copy = tmp_path / "0003.db"
    shutil.copy(SCHEMAS[[p.stem for p in SCHEMAS].index("0003")], copy)
    st = SQLStorage(f"sqlite:///{copy}")
    study = load_study(study_name="mixed_zdt", storage=st)
    assert study.n_events is None and all(t.n_samples is None for t in study.trials)
    traj = [p for p in study.archive_points() if p.source == "trajectory"]
    assert traj and all(p.n_samples is None and all(math.isnan(s) for s in p.stderr) for p in traj)
    assert st.get_refinements(study.record.id) == []
    st.close()
