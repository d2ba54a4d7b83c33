"""Dashboard responsiveness in a real headless Chromium: time to interactive for studies of 100,
1,000 and 10,000 trials and the what-if round trip, with optuna-dashboard on the same studies
in the same run.

    python benchmarks/dashboard.py [--sizes 100 1000 10000] [--whatif-steps 20] [--no-optuna]

What is measured (Debian's /usr/bin/chromium driven by playwright, 1400x1000, software WebGL):

* **time to front**: from navigation start (``performance.timeOrigin``) until the front plot
  holds every completed trial (checked each animation frame in the page). *cold*: the first
  visit of the study on a server started with ``--no-prefetch`` (reads the database and builds
  the figure while the browser waits); *prefetched*: the first visit on a default server that
  had ``--prefetch-wait`` seconds to read the newest studies in the background; *warm*: later
  visits (paretoopt keeps a per-study snapshot until the study changes).
* **click -> trial**: clicking a front point until the trial panel shows that trial (the page
  is interactive, not only painted).
* **what-if round trip**: a key press on a what-if slider until the surrogate's prediction has
  been redrawn on the front (``plotly_afterplot`` after the patched overlay trace changed);
  median and 90th percentile of ``--whatif-steps`` presses, after the study's real surrogate
  (the model ``Study.surrogate()`` gives, fitted in memory on the first move, not timed) is ready.
* **optuna-dashboard** (0.21.0, installed by this script with pip into
  ``benchmarks/.venv-optuna-dashboard/`` when absent, next to the Optuna version of this
  environment): the same trials (same parameters and objective values) written to Optuna's
  JournalStorage (every size) and RDB SQLite storage (sizes <= ``--optuna-sqlite-max``: Optuna
  writes ~90 ms per trial there), served by ``optuna-dashboard``; time until its "Pareto Front"
  plot holds every trial, cold and warm.

Studies are seeded through the Storage API (enqueue, claim, finish; no inner loops): ZDT1 with
30 variables, random designs biased towards the front, exact objectives with a 0.01 standard
error. Both dashboards run as their own server processes (``paretoopt dashboard``,
``optuna-dashboard``) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import print_table, write_json

ROOT = Path(__file__).resolve().parents[1]
# this script is named like the package it measures: import ``dashboard`` from the checkout
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(ROOT)] + [q for q in sys.path if Path(q or ".").resolve() != HERE]
OPTUNA_VENV = Path(__file__).parent / ".venv-optuna-dashboard"
OPTUNA_DASHBOARD_VERSION = "0.21.0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
N_VAR = 30


# ----------------------------------------------------------------------------- seeding
def designs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` ZDT1 designs (``n x 30``) and their objectives (``n x 2``)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, N_VAR))
    x[:, 1:] *= rng.random((n, 1)) ** 3
    g = 1.0 + 9.0 * x[:, 1:].mean(axis=1)
    f = np.column_stack([x[:, 0], g * (1.0 - np.sqrt(x[:, 0] / g))])
    return x, f


def seed_paretoopt(url: str, name: str, x: np.ndarray, f: np.ndarray) -> float:
    """Write the trials through the Storage API; returns the seconds it took."""
    from paretoopt.problem import load_study_definition
    from paretoopt.storage import SQLStorage, TrialProposal, TrialResult, TrialState
    from paretoopt.study import spec_from_definition

    t0 = time.perf_counter()
    st = SQLStorage(url)
    definition = load_study_definition(ROOT / "studies" / "zdt1.py")
    spec = spec_from_definition(
        definition,
        name=name,
        engine="random",
        engine_options={},
        scalarization="chebyshev",
        seed=0,
        settings={},
    )
    sid = st.create_study(spec).id
    st.set_normalization(sid, {"ideal": [0.0, 0.0], "nadir": [1.0, 1.0], "signs": [1.0, 1.0]})
    w = np.linspace(0.0, 1.0, len(x))
    trials = st.enqueue_trials(
        sid, [TrialProposal((float(a), 1.0 - float(a)), {}, i) for i, a in enumerate(w)], batch=0
    )
    for t, xi, fi in zip(trials, x, f, strict=True):
        st.start_trial(t.id, "bench:1")
        result = TrialResult(
            params={f"x{j + 1}": float(v) for j, v in enumerate(xi)},
            objectives=[float(v) for v in fi],
            stderr=[0.01, 0.01],
            n_calls=10,
            n_backward=9,
            n_steps=9,
            wall_time_s=0.01,
        )
        st.finish_trial(t.id, TrialState.COMPLETE, result)
    st.close()
    return time.perf_counter() - t0


OPTUNA_WRITER = r"""
import sys, numpy as np, optuna
from optuna.distributions import FloatDistribution
optuna.logging.set_verbosity(optuna.logging.WARNING)
npz, target, kind = sys.argv[1], sys.argv[2], sys.argv[3]
data = np.load(npz)
x, f = data["x"], data["f"]
if kind == "journal":
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    storage = JournalStorage(JournalFileBackend(target))
else:
    storage = target
study = optuna.create_study(storage=storage, study_name="zdt1", directions=["minimize", "minimize"])
dist = {f"x{j + 1}": FloatDistribution(0.0, 1.0) for j in range(x.shape[1])}
study.add_trials([
    optuna.trial.create_trial(params={f"x{j + 1}": float(v) for j, v in enumerate(xi)}, distributions=dist,
                              values=[float(fi[0]), float(fi[1])])
    for xi, fi in zip(x, f)
])
"""


def optuna_python() -> Path | None:
    """The optuna-dashboard venv's python (created and filled with pip when missing)."""
    py = OPTUNA_VENV / "bin" / "python"
    if (OPTUNA_VENV / "bin" / "optuna-dashboard").exists():
        return py
    try:
        import optuna

        optuna_pin = f"optuna=={optuna.__version__}"
    except ImportError:
        optuna_pin = "optuna"
    print(f"installing optuna-dashboard {OPTUNA_DASHBOARD_VERSION} into {OPTUNA_VENV} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(OPTUNA_VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             f"optuna-dashboard=={OPTUNA_DASHBOARD_VERSION}", optuna_pin],
            check=True,
        )  # fmt: skip
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"optuna-dashboard could not be installed ({exc}); skipping it", flush=True)
        return None
    return py


def seed_optuna(py: Path, x: np.ndarray, f: np.ndarray, target: str, kind: str, tmp: Path) -> float:
    npz = tmp / "designs.npz"
    np.savez(npz, x=x, f=f)
    t0 = time.perf_counter()
    subprocess.run([str(py), "-c", OPTUNA_WRITER, str(npz), target, kind], check=True)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A server process on 127.0.0.1; waits until its port accepts connections."""

    def __init__(self, args: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{args} did not listen on {port}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def optuna_study_id(port: int) -> int:
    """The id optuna-dashboard gives study "zdt1" (0 in a JournalStorage, 1 in SQLite)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=60) as r:
        studies = json.load(r)["study_summaries"]
    return next(int(s["study_id"]) for s in studies if s["study_name"] == "zdt1")


# ----------------------------------------------------------------------------- browser measurements
OURS_READY = """(n) => {
    const gd = document.querySelector('#front .js-plotly-plot');
    if (!gd || !gd._fullData || gd._fullData.length !== 5) return false;
    const k = (gd._fullData[0].x || []).length + (gd._fullData[1].x || []).length;
    return k === n ? performance.now() : false;
}"""

OPTUNA_READY = """(n) => {
    const gd = document.querySelector('#graph-pareto-front');
    if (!gd || !gd._fullData) return false;
    let k = 0;
    for (const t of gd._fullData) k += (t.x || []).length;
    return k >= n ? performance.now() : false;
}"""


def time_to_front(context: Any, url: str, ready: str, n: int, timeout_s: float = 120) -> float:
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        handle = page.wait_for_function(ready, arg=n, polling="raf", timeout=timeout_s * 1000)
        return float(handle.json_value()) / 1000.0
    finally:
        page.close()


def click_latency(page: Any, k: int) -> float:
    """Click the ``k``-th front point until the trial panel changes, in seconds (plotly picks
    the point nearest the cursor, which need not be the one aimed at, so any change counts)."""
    target = page.evaluate(
        """(k) => {
            const gd = document.querySelector('#front .js-plotly-plot');
            const t = gd._fullData[1];
            const i = Math.floor(t.x.length * k) % t.x.length;
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const r = gd.getBoundingClientRect();
            return [r.left + xa._offset + xa.l2p(t.x[i]), r.top + ya._offset + ya.l2p(t.y[i])];
        }""",
        [0.2, 0.5, 0.8][k % 3],
    )
    before = page.locator("#trial-title").inner_text()
    page.mouse.move(target[0], target[1])
    page.wait_for_timeout(200)
    t0 = page.evaluate("performance.now()")
    page.mouse.click(target[0], target[1])
    handle = page.wait_for_function(
        "(old) => { const e = document.querySelector('#trial-title'); "
        "return e && e.innerText !== old ? performance.now() : false; }",
        arg=before,
        polling="raf",
        timeout=30_000,
    )
    return (float(handle.json_value()) - float(t0)) / 1000.0


def whatif_round_trips(page: Any, steps: int) -> list[float]:
    """Seconds from a key press on the first what-if slider to the redrawn prediction."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(
        """() => {
            const gd = document.querySelector('#front .js-plotly-plot');
            window.__rt = []; window.__t0 = null; window.__last = null;
            document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
            gd.on('plotly_afterplot', () => {
                const t = gd._fullData[4];
                const x = t && t.x && t.x.length ? t.x[0] : null;
                if (window.__t0 !== null && x !== null && x !== window.__last) {
                    window.__rt.push(performance.now() - window.__t0);
                    window.__t0 = null; window.__last = x;
                }
            });
        }"""
    )
    thumb = page.locator(".control [role=slider]").first
    thumb.focus()
    # the first moves wait for the surrogate fit (a callback waits 20 s, then asks to move
    # again); not counted
    for _ in range(60):
        page.keyboard.press("ArrowRight")
        try:
            page.wait_for_function("window.__rt.length >= 1", timeout=25_000, polling=50)
            break
        except PlaywrightTimeout:
            continue
    page.wait_for_timeout(500)
    page.evaluate("window.__rt = window.__rt.slice(0, 1)")
    out = []
    for i in range(steps):
        page.keyboard.press("ArrowRight" if i % 2 else "ArrowLeft")
        page.wait_for_function(f"window.__rt.length === {i + 2}", timeout=30_000, polling="raf")
        page.wait_for_timeout(60)
        out.append(page.evaluate(f"window.__rt[{i + 1}]") / 1000.0)
    return out


def server_side(url: str, name: str) -> dict[str, float]:
    """Seconds the dashboard's server spends on a cold study page: read the trials, build the
    front figure (what the first visit waits for)."""
    from dashboard import figures
    from dashboard.data import Snapshot
    from paretoopt.storage import open_existing_storage

    st = open_existing_storage(url, migrate=False)
    t0 = time.perf_counter()
    snap = Snapshot(st, name, "bench")
    t1 = time.perf_counter()
    figures.front(snap)
    t2 = time.perf_counter()
    snap.hypervolume_history()
    t3 = time.perf_counter()
    return {"read trials s": t1 - t0, "front figure s": t2 - t1, "hypervolume history s": t3 - t2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--whatif-steps", type=int, default=20)
    ap.add_argument(
        "--whatif-sizes",
        type=int,
        nargs="*",
        default=[100, 1000],
        help="study sizes of the what-if measurement",
    )
    ap.add_argument("--no-optuna", action="store_true", help="skip optuna-dashboard")
    ap.add_argument("--optuna-sqlite-max", type=int, default=1000)
    ap.add_argument("--prefetch-wait", type=float, default=20.0, help="seconds the prefetching server gets")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"needs {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="paretoopt-dash-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    py = None if args.no_optuna else optuna_python()
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {"sizes": {}}
    data = {n: designs(n, seed=n) for n in args.sizes}
    seeding = {}
    for n in args.sizes:
        seeding[n] = seed_paretoopt(url, f"zdt1_{n}", *data[n])
        print(f"seeded {n} trials in {seeding[n]:.1f} s", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def launcher(prefetch: bool, port: int) -> list[str]:
        # what `paretoopt dashboard` runs, with surrogates fitted on the first what-if only (a
        # fit started by merely opening a page would load the CPU during the other timings)
        code = (
            "import sys; from dashboard import create_app, serve; "
            f"serve(create_app(sys.argv[1], prefetch={prefetch}, warm_surrogates=False, poll_interval_s=60), "
            f"'127.0.0.1', {port})"
        )
        return [sys.executable, "-c", code, url]

    # cold: nothing read before the first visit; the default (prefetching) server is measured below
    ours = Process(launcher(False, port := free_port()), port, env)
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(tmp / "profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            for n in args.sizes:
                page_url = f"http://127.0.0.1:{port}/study/zdt1_{n}"
                cold = time_to_front(context, page_url, OURS_READY, n)
                warm = [time_to_front(context, page_url, OURS_READY, n) for _ in range(3)]
                page = context.new_page()
                page.goto(page_url)
                page.wait_for_function(OURS_READY, arg=n, polling="raf", timeout=120_000)
                clicks = [click_latency(page, k) for k in range(3)]
                page.close()
                srv = server_side(url, f"zdt1_{n}")
                details["sizes"][n] = {
                    "seed s": seeding[n],
                    "cold s": cold,
                    "warm s": warm,
                    "click s": clicks,
                    "server": srv,
                }
                row = {
                    "dashboard": "paretoopt",
                    "trials": n,
                    "storage": "SQLite",
                    "front cold s": cold,
                    "front prefetched s": float("nan"),
                    "front warm s": statistics.median(warm),
                    "click->trial s": statistics.median(clicks),
                    "what-if median ms": float("nan"),
                    "what-if p90 ms": float("nan"),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
            # what-if round trips on the real surrogate (fitted on the first move, not timed)
            for n in args.whatif_sizes:
                if n not in args.sizes:
                    continue
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/study/zdt1_{n}")
                page.wait_for_function(OURS_READY, arg=n, polling="raf", timeout=120_000)
                t_fit = time.perf_counter()
                rt = whatif_round_trips(page, args.whatif_steps)
                page.close()
                details["sizes"][n]["whatif s"] = rt
                details["sizes"][n]["first what-if (fit) s"] = time.perf_counter() - t_fit - sum(rt)
                for row in rows:
                    if row["dashboard"] == "paretoopt" and row["trials"] == n:
                        row["what-if median ms"] = 1e3 * statistics.median(rt)
                        row["what-if p90 ms"] = 1e3 * float(np.percentile(rt, 90))
                print(f"what-if {n}: median {1e3 * statistics.median(rt):.0f} ms", flush=True)
            # the default server (prefetch on), visited once it had time to read the studies
            prefetching = Process(launcher(True, pport := free_port()), pport, env)
            try:
                time.sleep(args.prefetch_wait)
                for n in args.sizes:
                    first = time_to_front(context, f"http://127.0.0.1:{pport}/study/zdt1_{n}", OURS_READY, n)
                    details["sizes"][n]["first visit after prefetch s"] = first
                    for row in rows:
                        if row["dashboard"] == "paretoopt" and row["trials"] == n:
                            row["front prefetched s"] = first
            finally:
                prefetching.close()
            if py is not None:
                for n in args.sizes:
                    kinds = ["journal"] + (["sqlite"] if n <= args.optuna_sqlite_max else [])
                    for kind in kinds:
                        target = (
                            str(tmp / f"optuna_{n}.log")
                            if kind == "journal"
                            else f"sqlite:///{tmp / f'optuna_{n}.db'}"
                        )
                        try:
                            wrote = seed_optuna(py, *data[n], target, kind, tmp)
                        except subprocess.CalledProcessError as exc:
                            print(f"optuna {kind} {n}: writing the study failed: {exc}", flush=True)
                            continue
                        oport = free_port()
                        od = Process(
                            [str(OPTUNA_VENV / "bin" / "optuna-dashboard"), target, "--host", "127.0.0.1",
                             "--port", str(oport)],
                            oport,
                        )  # fmt: skip
                        try:
                            try:
                                ourl = f"http://127.0.0.1:{oport}/dashboard/studies/{optuna_study_id(oport)}"
                                cold = time_to_front(context, ourl, OPTUNA_READY, n, timeout_s=300)
                                warm = [
                                    time_to_front(context, ourl, OPTUNA_READY, n, timeout_s=300)
                                    for _ in range(2)
                                ]
                            except Exception as exc:
                                print(f"optuna-dashboard {kind} {n}: {exc}", flush=True)
                                cold, warm = float("nan"), [float("nan")]
                        finally:
                            od.close()
                        details["sizes"].setdefault(f"optuna {kind} {n}", {}).update(
                            {"write s": wrote, "cold s": cold, "warm s": warm}
                        )
                        row = {
                            "dashboard": f"optuna-dashboard {OPTUNA_DASHBOARD_VERSION}",
                            "trials": n,
                            "storage": "JournalStorage" if kind == "journal" else "SQLite (RDB)",
                            "front cold s": cold,
                            "front prefetched s": float("nan"),
                            "front warm s": statistics.median(warm),
                            "click->trial s": float("nan"),
                            "what-if median ms": float("nan"),
                            "what-if p90 ms": float("nan"),
                        }
                        rows.append(row)
                        print(json.dumps(row), flush=True)
            context.close()
    finally:
        ours.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows, "Dashboard: time to the front in headless Chromium, click and what-if latency")
    path = write_json("dashboard", {"rows": rows, "details": details, "args": vars(args)})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
