"""Decision latency on the stored front (issue #22), and DESDEO 2.8 on the same exported front.

For studies of 100 / 1,000 / 10,000 trials (three objectives with mixed directions, two discrete
choices, Monte Carlo errors; written through the Storage API by
:func:`paretoopt.testing.fronts.store_study`) it measures:

* ``front_s``: reading the stored front once (``decide.front_of``; the dashboard does this once
  per study version),
* per question, the median over seeded questions: ``budget_ms``, ``reference_ms``, one
  navigation step (``nav_step_ms``), all trade-off rates (``rates_ms``), and the Decide page's
  server work for one slider move (``page_ms``: the answer, its figure patch and its table),
* in headless Chromium, a key press on the Decide page's cost slider until the answer is redrawn
  (``browser_ms``, median, and ``browser_p90_ms`` of ``--questions`` presses),
* DESDEO 2.8 (its own venv: ``--desdeo /work/venvs/desdeo/bin/python``) answering the same
  aspirations with its reference-point method (ProximalSolver on the discrete front) and the same
  navigation with E-NAUTILUS, on the front exported as CSV: time per question, and agreement
  (the same design; for navigation also the distance between the two final designs in the
  front's ideal-nadir box, since E-NAUTILUS there picks representatives by average linkage and
  ours by farthest-point sampling).

    python benchmarks/decide.py                      # 100, 1000, 10000 trials
    python benchmarks/decide.py --sizes 100 1000 --no-desdeo
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table, write_json
from paretoopt import decide
from paretoopt.problem import Objective
from paretoopt.report.columns import objective_column
from paretoopt.report.csv_format import read_front_csv
from paretoopt.space import Choice, DesignSpace, Integer, Real
from paretoopt.storage import SQLStorage
from paretoopt.study import load_study
from paretoopt.testing.fronts import store_study

DESDEO_PYTHON = "/work/venvs/desdeo/bin/python"
OBJECTIVES = [
    Objective("resolution", unit="%"),
    Objective("efficiency", direction="maximize"),
    Objective("cost", unit="kEUR"),
]
SPACE = DesignSpace(
    Real("absorber_mm", 1.0, 20.0, unit="mm", log=True),
    Choice("absorber", ["Pb", "W"]),
    Integer("n_layers", 10, 30),
)


def synthetic(
    n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], list[dict[str, float]]]:
    """``n`` calorimeter-like designs: resolution (%, min), efficiency (max), cost (kEUR, min)."""
    rng = np.random.default_rng(seed)
    absorber = rng.choice(["Pb", "W"], n)
    layers = rng.integers(10, 31, n)
    t = np.exp(rng.uniform(0, np.log(20), n))
    dear = np.where(absorber == "W", 2.5, 1.0)
    cost = dear * layers * (50 + 3 * t) * rng.uniform(1.0, 1.3, n)
    resolution = 12 / np.sqrt(layers * t) * np.where(absorber == "W", 0.8, 1.0) * rng.uniform(1.0, 1.2, n)
    efficiency = (1 - np.exp(-layers * t / (60 * dear))) * rng.uniform(0.9, 1.0, n)
    values = np.c_[resolution, efficiency, cost]
    stderr = np.c_[0.01 * resolution, np.full(n, 0.005), np.zeros(n)]
    choices = [{"absorber": str(a), "n_layers": int(k)} for a, k in zip(absorber, layers, strict=True)]
    return values, stderr, choices, [{"absorber_mm": float(x)} for x in t]


def median_ms(fn: Any, args: list[Any]) -> float:
    times = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def questions(
    front: decide.DecisionFront, k: int, seed: int
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """``k`` seeded budgets (cost and efficiency bounds inside the front's range) and aspirations."""
    rng = np.random.default_rng(seed)
    lo, hi = front.values.min(0), front.values.max(0)
    budgets = [
        {"cost": float(rng.uniform(lo[2], hi[2])), "efficiency": float(rng.uniform(lo[1], hi[1]) * 0.9)}
        for _ in range(k)
    ]
    asps = [
        {n: float(rng.uniform(lo[j], hi[j])) for j, n in enumerate(front.objective_names)} for _ in range(k)
    ]
    return budgets, asps


def page_update(front: decide.DecisionFront, rates: Any, bounds: dict[str, float]) -> None:
    """The Decide page's server work for one slider move (dashboard.callbacks.decide)."""
    from dashboard.callbacks.decide import answer_patch, answer_view, bound_shapes

    try:
        d = decide.budget(front, bounds, "resolution")
    except decide.InfeasibleBudgetError:
        return
    answer_patch(front, d, bound_shapes(front, bounds))
    answer_view(front, d, rates, 0.0)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_round_trips(url: str, steps: int) -> list[float]:
    """Milliseconds from a key press on the Decide page's cost slider to the redrawn answer
    (plotly's ``afterplot`` after the patch), in headless Chromium, the app served in a thread."""
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from dashboard import create_app

    app = create_app(url, prefetch=False, warm_surrogates=False)
    httpd = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{httpd.server_port}/study/calo/decide", timeout=120_000)
            page.wait_for_selector("#decide-front .js-plotly-plot .scatterlayer", timeout=120_000)
            page.evaluate(
                """() => {
                    const gd = document.querySelector('#decide-front .js-plotly-plot');
                    window.__rt = []; window.__t0 = null;
                    document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
                    gd.on('plotly_afterplot', () => {
                        if (window.__t0 === null) return;
                        window.__rt.push(performance.now() - window.__t0);
                        window.__t0 = null;
                    });
                }"""
            )
            thumb = page.locator("#budget-controls .control", has_text="cost").first.locator("[role=slider]")
            thumb.focus()
            out = []
            for i in range(steps + 1):
                page.keyboard.press("ArrowLeft")
                page.wait_for_function(f"window.__rt.length === {i + 1}", timeout=30_000, polling="raf")
                page.wait_for_timeout(80)
                if i:  # the first move also loads the page's callback chain: not counted
                    out.append(page.evaluate(f"window.__rt[{i}]"))
            browser.close()
    finally:
        httpd.shutdown()
    return out


def run_desdeo(
    python: str, front_csv: Path, aspirations: list[dict[str, float]], nav: dict[str, Any]
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """DESDEO on the exported CSV: its answers (rows of the CSV), and the CSV's values and numbers."""
    df = read_front_csv(front_csv)
    cols = [objective_column(o) for o in OBJECTIVES]
    values = df[cols].to_numpy(dtype=float)
    job = {
        "objectives": [{"symbol": o.name, "maximize": o.direction == "maximize"} for o in OBJECTIVES],
        "values": values.tolist(),
        "aspirations": aspirations,
        "navigations": nav,
        "rho": decide.choose.RHO,
    }
    out = subprocess.run(
        [python, str(Path(__file__).with_name("desdeo_peer.py"))],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return json.loads(out.stdout), values, df["number"].to_numpy(dtype=int)


def one_size(n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp / f'decide{n}.db'}"
    st = SQLStorage(url)
    values, stderr, choices, params = synthetic(n, seed=n)
    t0 = time.perf_counter()
    store_study(st, "calo", OBJECTIVES, values, stderr=stderr, space=SPACE, choices=choices, params=params)
    build_s = time.perf_counter() - t0
    study = load_study(study_name="calo", storage=url)
    t0 = time.perf_counter()
    front = decide.front_of(study)
    front_s = time.perf_counter() - t0
    budgets, asps = questions(front, args.questions, seed=1)
    feasible = []
    for b in budgets:
        try:
            decide.budget(front, b, "resolution")
            feasible.append(b)
        except decide.InfeasibleBudgetError:
            pass
    rates = decide.tradeoff_rates(front, "resolution", "cost")
    start, g = decide.navigate_start(front, args.iterations)
    row: dict[str, Any] = {
        "trials": n,
        "front": len(front),
        "build_s": build_s,
        "front_s": front_s,
        "budget_ms": median_ms(lambda b: decide.budget(front, b, "resolution"), feasible),
        "reference_ms": median_ms(lambda a: decide.reference_point(front, a), asps),
        "nav_step_ms": median_ms(
            lambda _: decide.navigate_options(front, start, g, 3), range(args.questions)
        ),
        "rates_ms": median_ms(lambda _: decide.tradeoff_rates(front, "resolution", "cost"), range(5)),
        "page_ms": median_ms(lambda b: page_update(front, rates, b), feasible),
    }
    if args.browser and CHROMIUM.exists():
        rt = browser_round_trips(url, args.questions)
        row["browser_ms"] = statistics.median(rt)
        row["browser_p90_ms"] = float(np.percentile(rt, 90))
    if args.desdeo:
        path = tmp / f"front{n}.csv"
        study.export("csv", str(path))
        nav = [{"iterations": args.iterations, "n_points": 3, "towards": a} for a in asps[: args.walks]]
        peer, exported, numbers = run_desdeo(args.desdeo, path, asps, nav)
        efront = decide.front_from_arrays(
            exported,
            names=[o.name for o in OBJECTIVES],
            directions=[o.direction for o in OBJECTIVES],
            numbers=numbers,
        )
        t0 = time.perf_counter()
        ours = [decide.reference_point(efront, a).trial for a in asps]
        ours_s = (time.perf_counter() - t0) / len(asps)
        theirs = [int(numbers[r["row"]]) for r in peer["reference"]]
        t0 = time.perf_counter()
        our_nav = [
            decide.navigate(efront, args.iterations, 3, reference=a).decision.trial
            for a in asps[: args.walks]
        ]
        our_nav_s = (time.perf_counter() - t0) / len(our_nav)
        their_nav = [int(numbers[w["row"]]) for w in peer["navigations"]]
        ideal, nadir = efront.ideal_nadir()
        span = np.where(nadir > ideal, nadir - ideal, 1.0)
        gap = max(
            float((np.abs(efront.oriented()[efront.row(a)] - efront.oriented()[efront.row(b)]) / span).max())
            for a, b in zip(our_nav, their_nav, strict=True)
        )
        row.update(
            {
                "rpm_agree": f"{sum(a == b for a, b in zip(ours, theirs, strict=True))}/{len(asps)}",
                "rpm_ours_ms": 1e3 * ours_s,
                "rpm_desdeo_ms": 1e3 * statistics.median(r["seconds"] for r in peer["reference"]),
                "nav_agree": f"{sum(a == b for a, b in zip(our_nav, their_nav, strict=True))}/{len(our_nav)}",
                "nav_gap": gap,
                "nav_ours_ms": 1e3 * our_nav_s,
                "nav_desdeo_ms": 1e3 * statistics.median(w["seconds"] for w in peer["navigations"]),
            }
        )
        row["rpm_ratio"] = row["rpm_desdeo_ms"] / row["rpm_ours_ms"]
        row["nav_ratio"] = row["nav_desdeo_ms"] / row["nav_ours_ms"]
    st.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--walks", type=int, default=5, help="navigations compared with DESDEO")
    ap.add_argument("--desdeo", default=DESDEO_PYTHON if Path(DESDEO_PYTHON).exists() else None)
    ap.add_argument("--no-desdeo", dest="desdeo", action="store_const", const=None)
    ap.add_argument(
        "--no-browser", dest="browser", action="store_false", help="skip the Chromium round trips"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [one_size(n, args, Path(tmp)) for n in args.sizes]
    print_table(rows, "Decisions on the stored front (medians; ratio = DESDEO time / ours)")
    path = write_json("decide", {"rows": rows, "questions": args.questions, "iterations": args.iterations})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
