"""The dashboard's parts without a browser: URL routing, server-side table filters (nothing
evaluated), the incremental hypervolume history, read-only storage, the trusted re-load of a
study definition, the Host check, the top-level assets folder (and pages without it), what-if
value handling, and the CLI's default bind address."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from dashboard.callbacks.routing import parse_path
from dashboard.callbacks.tabs import filter_and_sort
from dashboard.data import SnapshotStorage, StudyCache, fast_hypervolume_history
from dashboard.simulate import CannotSimulate, load_trusted_definition
from dashboard.whatif import SurrogateCache, design_from_controls, design_value
from paretoopt.exceptions import StorageError, StudyNotFoundError
from paretoopt.problem import load_study_definition
from paretoopt.space import Choice, DesignSpace, Integer, Real
from paretoopt.storage import StudyRecord, TrialProposal, open_existing_storage
from paretoopt.study import load_study, spec_from_definition
from tests.dashboard.conftest import ROOT


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ("list", None)),
        (None, ("list", None)),
        ("/study/zdt1", ("study", "zdt1")),
        ("/study/a%2Fb%20c", ("study", "a/b c")),
        ("/study/", ("unknown", "/study/")),
        ("/study/a/b", ("unknown", "/study/a/b")),
        ("/admin", ("unknown", "/admin")),
    ],
)
def test_parse_path(path, expected):
    assert parse_path(path) == expected


def test_table_filters_and_sorts_without_evaluating_anything():
    df = pd.DataFrame(
        {
            "number": [0, 1, 2, 3, 4],
            "f1 [mm]": [0.5, 0.1, np.nan, 0.9, 0.3],
            "source": ["grid", "whatif", "grid", "anchor", "__import__('os')"],
        }
    )
    out = filter_and_sort(df, {"f1 [mm]": {"filterType": "number", "type": "lessThan", "filter": 0.6}}, None)
    assert list(out["number"]) == [0, 1, 4]
    rng = {"filterType": "number", "type": "inRange", "filter": 0.2, "filterTo": 0.9}
    assert list(filter_and_sort(df, {"f1 [mm]": rng}, None)["number"]) == [0, 3, 4]
    either = {
        "filterType": "text",
        "operator": "OR",
        "conditions": [
            {"filterType": "text", "type": "equals", "filter": "whatif"},
            {"filterType": "text", "type": "startsWith", "filter": "anch"},
        ],
    }
    assert list(filter_and_sort(df, {"source": either}, None)["number"]) == [1, 3]
    # text that looks like code is only ever compared as text
    code = {"filterType": "text", "type": "contains", "filter": "__import__('os')"}
    assert list(filter_and_sort(df, {"source": code}, None)["number"]) == [4]
    blank = {"filterType": "number", "type": "blank"}
    assert list(filter_and_sort(df, {"f1 [mm]": blank}, None)["number"]) == [2]
    # unknown columns, operators and malformed values are ignored, not fatal
    junk = {"nope": {"type": "equals"}, "f1 [mm]": {"filterType": "number", "type": "exec", "filter": "1"}}
    assert len(filter_and_sort(df, junk, None)) == 5
    bad = {"f1 [mm]": {"filterType": "number", "type": "lessThan", "filter": "os.system('x')"}}
    assert len(filter_and_sort(df, bad, None)) == 5
    desc = filter_and_sort(df, None, [{"colId": "f1 [mm]", "sort": "desc"}, {"colId": "nope", "sort": "asc"}])
    assert list(desc["number"]) == [3, 0, 4, 1, 2]


@pytest.mark.parametrize("name", ["zdt1", "mixed_zdt"])
def test_incremental_hypervolume_history_equals_the_study_api(seeded_db, name):
    study = load_study(study_name=name, storage=seeded_db)
    expected = study.hypervolume_history()
    fast = fast_hypervolume_history(study.trials, study.directions, study.reference_point())
    np.testing.assert_allclose(fast["hypervolume"], expected["hypervolume"], rtol=1e-12)
    np.testing.assert_array_equal(fast["calls"], expected["calls"])
    np.testing.assert_array_equal(fast["number"], expected["number"])


def test_snapshot_storage_refuses_writes_and_reads_trials_once(seeded_db):
    st = open_existing_storage(seeded_db, migrate=False)
    sid = st.get_study("zdt1").id
    view = SnapshotStorage(st)
    with pytest.raises(StorageError, match="reads this database only"):
        view.enqueue_trials(sid, [TrialProposal((0.5, 0.5), {}, 0)], batch=0)
    with pytest.raises(StorageError, match="reads this database only"):
        view.set_normalization(sid, {})
    assert view.get_trials(sid) == view.get_trials(sid) == st.get_trials(sid)
    cache = StudyCache(st)
    assert cache.get("zdt1") is cache.get("zdt1")
    with pytest.raises(StudyNotFoundError, match=r"no study named 'nope'.*zdt1"):
        cache.get("nope")


def test_open_storage_creates_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="no database at"):
        open_existing_storage(f"sqlite:///{missing}", migrate=False)
    assert not missing.exists()
    with pytest.raises(StorageError, match="bad storage URL"):
        open_existing_storage("not a url", migrate=False)


def test_definition_is_reloaded_only_from_an_unchanged_file(tmp_path):
    src = ROOT / "studies" / "zdt1.py"
    path = tmp_path / "zdt1.py"
    shutil.copy(src, path)
    definition = load_study_definition(path)
    spec = spec_from_definition(
        definition, name="z", engine="grid", engine_options={}, scalarization="chebyshev", seed=0, settings={}
    )
    record = StudyRecord(**dataclasses.asdict(spec))
    assert record.definition_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_trusted_definition(record).name == "zdt1"
    path.write_text(path.read_text() + "\n# edited\n")
    with pytest.raises(CannotSimulate, match="changed since the study was created"):
        load_trusted_definition(record)
    path.unlink()
    with pytest.raises(CannotSimulate, match="no longer exists"):
        load_trusted_definition(record)
    with pytest.raises(CannotSimulate, match="not created from a study file"):
        load_trusted_definition(dataclasses.replace(record, definition_path=None))


def test_host_header_check_and_headers(seeded_db):
    from dashboard import create_app

    client = create_app(seeded_db, prefetch=False).server.test_client()
    ok = client.get("/", headers={"Host": "127.0.0.1:8050"})
    assert ok.status_code == 200 and ok.headers["X-Frame-Options"] == "DENY"
    assert client.get("/", headers={"Host": "localhost:8050"}).status_code == 200
    assert client.get("/", headers={"Host": "attacker.example:8050"}).status_code == 403


def test_styles_come_from_the_top_level_assets_and_pages_work_without_them(seeded_db, tmp_path, monkeypatch):
    import dashboard.app
    from dashboard import create_app

    assert dashboard.app.ASSETS == ROOT / "assets"
    client = create_app(seeded_db, prefetch=False).server.test_client()
    assert "style.css" in client.get("/").text and client.get("/assets/style.css").status_code == 200
    monkeypatch.setattr(dashboard.app, "ASSETS", tmp_path / "no-assets")
    client = create_app(seeded_db, prefetch=False).server.test_client()
    page = client.get("/")
    assert page.status_code == 200 and "_dash-config" in page.text and "style.css" not in page.text
    assert client.get("/_dash-layout").status_code == 200


def test_whatif_values_are_parsed_and_clamped():
    space = DesignSpace(
        Real("t_mm", 1.0, 100.0, unit="mm", log=True), Integer("n", 1, 5), Choice("m", ("Pb", "W", "Cu"))
    )
    assert design_value(space["t_mm"], 1.0) == pytest.approx(10.0)  # log10 control
    assert design_value(space["t_mm"], 9.0) == 100.0
    assert design_value(space["n"], 7.4) == 5 and design_value(space["n"], "2") == 2
    assert design_value(space["m"], 2) == "Cu" and design_value(space["m"], "__import__('os')") == "Pb"
    design = design_from_controls(space, {"t_mm": "nonsense", "m": 1})
    assert design == {"t_mm": pytest.approx(10.0), "n": 1, "m": "W"}


def test_surrogate_cache_fits_once_and_refits_when_the_study_grew():
    calls = []
    refit_started = threading.Event()
    release = threading.Event()

    def factory(study):
        calls.append(study)
        if study == "study-b":  # the refit: hold it until the test has seen the old model served
            refit_started.set()
            assert release.wait(timeout=300)
        return object()

    cache = SurrogateCache(factory)
    first = cache.request("s", "study-a", 20).result(timeout=300)
    assert cache.request("s", "study-a", 21).result(timeout=300) is first and len(calls) == 1
    # grew by 50 %: a refit starts in the background, and the old model answers meanwhile
    assert cache.request("s", "study-b", 30).result(timeout=300) is first
    assert refit_started.wait(timeout=300)
    assert cache.request("s", "study-b", 30).result(timeout=300) is first and len(calls) == 2
    release.set()
    # once the refit is done, the next request gets the new model (and starts no third fit)
    pending = cache._pending["s"][1]
    new = pending.result(timeout=300)
    assert cache.request("s", "study-b", 30).result(timeout=300) is new is not first and len(calls) == 2


def test_cli_dashboard_binds_loopback_by_default(seeded_db):
    """``--port 0``: the server binds a free port itself and prints it once it listens (no port
    picked by the test and re-bound later, no start-up clock: the test waits for that line)."""
    import queue
    import threading
    import urllib.request

    import psutil

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from paretoopt.cli import main; main()", "dashboard", "--storage", seeded_db,
         "--port", "0", "--no-prefetch"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        url = None
        while url is None:
            line = lines.get(timeout=300)  # a fail-safe only: the event is the printed line
            seen.append(line)
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            url = m and (m.group(0), int(m.group(1)))
        address, port = url
        assert port > 0 and "read-only" in line
        listening = [
            (c.laddr.ip, c.laddr.port)
            for c in psutil.Process(proc.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening == [("127.0.0.1", port)], seen
        with urllib.request.urlopen(address, timeout=60) as response:  # it serves on that port
            assert response.status == 200 and "_dash-config" in response.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_cli_dashboard_bad_storage_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from paretoopt.cli import app

    r = CliRunner().invoke(app, ["dashboard", "--storage", f"sqlite:///{tmp_path / 'none.db'}"])
    assert r.exit_code == 2 and "no database at" in r.output and "Traceback" not in r.output


def _text(component) -> str:
    """Every string inside a Dash component tree, joined."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def test_trial_panel_and_summary_say_how_each_inner_loop_stopped(tmp_path):
    """A trial view names its inner loop's stop reason; the study's summary line counts the
    loops that did not converge. Three exact-mode calls cannot solve a 6-variable ZDT1 (it
    needs ~14 from the centre), so every trial hits max_steps; the same study with the default
    budget converges."""
    from dashboard.layout import summary_line, trial_panel
    from paretoopt import InnerSettings, optimize
    from paretoopt.analytic import zdt_study

    url = f"sqlite:///{tmp_path / 'conv.db'}"
    short = zdt_study("zdt1", n_var=6)
    short.name = "short"
    short.inner = InnerSettings(mode="exact", max_steps=3)
    optimize(short, storage=url, n_trials=3, engine="grid")
    full = zdt_study("zdt1", n_var=6)
    full.inner = InnerSettings(mode="exact")
    optimize(full, storage=url, n_trials=3, engine="grid")
    cache = StudyCache(open_existing_storage(url, migrate=False))
    for name, fact in (("short", "inner loop stopped: max_steps"), ("zdt1", "inner loop converged")):
        snap = cache.get(name)
        for t in snap.trials:
            assert fact in _text(trial_panel(snap, t.number)), (name, t.number, t.stop_reason)
        line = _text(summary_line(snap))
        assert ("3 inner loops not converged" in line) is (name == "short"), line
    grid = cache.get("short").trials_frame()
    assert list(grid["stop_reason"]) == ["max_steps"] * 3 and not grid["converged"].any()
