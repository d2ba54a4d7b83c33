"""The decision log (issue #22, schema 0004) through the Storage API on every mode (SQLite and
PostgreSQL: the ``storage`` fixture), and a schema-0003 database upgraded to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from paretoopt.exceptions import StorageError, StudyNotFoundError
from paretoopt.storage import SQLStorage
from tests.storage.samples import spec

INPUTS = {"bounds": {"cost": 2000.0, "depth": [None, 40.0]}, "objective": "resolution"}
OUTPUTS = {"trial": 7, "objectives": {"resolution": 0.31, "cost": 1999.5}, "ties": [9], "neighbours": [3, 4]}


def test_steps_round_trip_in_order_with_parents(storage):
    sid = storage.create_study(spec("a")).id
    other = storage.create_study(spec("b")).id
    assert storage.get_decisions(sid) == []
    first = storage.add_decision(sid, method="budget", inputs=INPUTS, outputs=OUTPUTS, author="ana")
    second = storage.add_decision(
        sid, method="reference", inputs={"aspiration": {"cost": 1500.0}}, outputs={"trial": 3}, parent=1
    )
    storage.add_decision(other, method="navigate", inputs={}, outputs={"trial": 0})
    assert (first.step, first.parent, second.step, second.parent) == (1, None, 2, 1)
    got = storage.get_decisions(sid)
    assert [d.step for d in got] == [1, 2]
    assert got[0].method == "budget" and got[0].inputs == INPUTS and got[0].outputs == OUTPUTS
    assert got[0].author == "ana" and got[1].author is None and got[0].created_at is not None
    assert got[1].parent == 1 and got[1].inputs == {"aspiration": {"cost": 1500.0}}
    assert [d.step for d in storage.get_decisions(other)] == [1]  # numbered per study


def test_a_parent_must_exist_and_the_study_too(storage):
    sid = storage.create_study(spec("a")).id
    with pytest.raises(StorageError, match="no step 1"):
        storage.add_decision(sid, method="budget", inputs={}, outputs={}, parent=1)
    with pytest.raises(StudyNotFoundError):
        storage.add_decision(sid + 99, method="budget", inputs={}, outputs={})
    assert storage.get_decisions(sid) == []  # nothing written by the refused calls


def test_deleting_a_study_deletes_its_log(storage):
    sid = storage.create_study(spec("a")).id
    storage.add_decision(sid, method="budget", inputs={}, outputs={})
    storage.delete_study("a")
    sid2 = storage.create_study(spec("a")).id
    assert storage.get_decisions(sid2) == []


def test_another_process_sees_the_log(storage_supplier):
    writer, reader = storage_supplier.open(), storage_supplier.open()
    sid = writer.create_study(spec("a")).id
    writer.add_decision(sid, method="budget", inputs=INPUTS, outputs=OUTPUTS)
    assert reader.get_decisions(sid)[0].outputs == OUTPUTS


def test_a_schema_0003_database_upgrades_with_an_empty_log(tmp_path):
    saved = Path(__file__).parents[1] / "data" / "schemas" / "0003.db"
    copy = tmp_path / "0003.db"
    shutil.copy(saved, copy)
    st = SQLStorage(f"sqlite:///{copy}")
    sid = st.get_study("mixed_zdt").id
    assert st.get_decisions(sid) == []
    assert st.add_decision(sid, method="budget", inputs={}, outputs={"trial": 1}).step == 1
    st.close()
