"""Stored surrogate models through the Storage API, on every mode (the ``storage`` fixture), and
the default of a backend that does not store them. The ``surrogate_models`` table itself and the
upgrade of a revision-0001 database: test_sql_storage.py."""

from __future__ import annotations

import pytest

from tests.storage.samples import save_surrogate, spec


def test_versions_replace_older_models_and_follow_the_study(storage):
    sid = storage.create_study(spec("a")).id
    other = storage.create_study(spec("b")).id
    assert storage.get_surrogate(sid) is None
    first = save_surrogate(storage, sid, b"\x00first")
    assert first.version == 1 and first.trial_numbers == [0, 1]
    second = save_surrogate(storage, sid, b"\x00\xffsecond", numbers=(0, 1, 2))
    save_surrogate(storage, other, b"other")
    got = storage.get_surrogate(sid)
    assert got.version == 2 and got.blob == b"\x00\xffsecond" and got.trial_numbers == [0, 1, 2]
    assert got.kind == "exact_gp" and got.n_points == 7 and got.digest == second.digest
    storage.delete_study("a")
    assert storage.get_surrogate(other).blob == b"other"


def test_a_backend_without_models_says_so():
    from paretoopt.storage import BaseStorage

    class Minimal(BaseStorage):
        url = "mem://"

    for name in BaseStorage.__abstractmethods__:
        setattr(Minimal, name, lambda *a, **k: None)
    Minimal.__abstractmethods__ = frozenset()
    with pytest.raises(NotImplementedError, match="does not store surrogate models"):
        Minimal().get_surrogate(1)
