"""Write cost of one trial (with a 200-step trajectory) in paretoopt's storage vs Optuna's RDB
storage, both on SQLite in the same run; and paretoopt on PostgreSQL when a server can be started.

    python benchmarks/storage.py [--trials 200]

Per trial, paretoopt writes three transactions (enqueue WAITING, claim RUNNING, finish with
values + 200 trajectory rows). Optuna is measured two ways: its native intermediate values
(``trial.report`` per step, how Optuna stores a learning curve; Optuna allows it only in
single-objective studies, so that variant has one objective) and the cheapest equivalent (the
trajectory as one JSON user attribute), each with ``study.ask`` + ``study.tell`` of 2 objectives.
Target (issue 4): <= 5 ms per trial and >= 10x cheaper than Optuna.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import print_table, write_json

from paretoopt.inner import TrajectoryStep
from paretoopt.storage import SQLStorage, StudySpec, TrialProposal, TrialResult, TrialState

STEPS = 200


def _spec() -> StudySpec:
    return StudySpec(
        name="bench",
        definition_name="bench",
        definition_hash="0" * 64,
        space=[
            {
                "type": "real",
                "name": f"x{i}",
                "low": 0.0,
                "high": 1.0,
                "unit": None,
                "log": False,
                "differentiable": True,
            }
            for i in range(5)
        ],
        objectives=[
            {"name": "f1", "direction": "minimize", "unit": None, "description": ""},
            {"name": "f2", "direction": "minimize", "unit": None, "description": ""},
        ],
        constraints=[],
        engine="grid",
    )


def _result(i: int) -> TrialResult:
    params = {f"x{j}": 0.1 * j + 1e-3 * i for j in range(5)}
    traj = [TrajectoryStep(s, 1.0 / (s + 1), [0.5, 0.5 + 1e-3 * s], params) for s in range(STEPS)]
    return TrialResult(
        params=params,
        objectives=[0.1 * i, 1.0 - 0.1 * i],
        stderr=[0.01, 0.01],
        n_calls=STEPS + 1,
        n_backward=STEPS,
        n_steps=STEPS,
        loss=0.3,
        wall_time_s=1.0,
        trajectory=traj,
    )


def bench_paretoopt(url: str, n: int) -> list[float]:
    st = SQLStorage(url)
    sid = st.create_study(_spec()).id
    results = [_result(i) for i in range(n)]
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        (t,) = st.enqueue_trials(sid, [TrialProposal((0.5, 0.5), {}, i)], batch=i)
        st.start_trial(t.id, "bench:1")
        st.finish_trial(t.id, TrialState.COMPLETE, results[i])
        times.append(time.perf_counter() - t0)
    assert len(st.get_trials(sid)) == n
    st.close()
    return times


def bench_optuna(url: str, n: int, mode: str) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna refuses trial.report in multi-objective studies: that variant uses one objective
    directions = ["minimize"] if mode == "report" else ["minimize", "minimize"]
    study = optuna.create_study(storage=url, study_name="bench", directions=directions)
    traj = [1.0 / (s + 1) for s in range(STEPS)]
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        trial = study.ask()
        for j in range(5):
            trial.suggest_float(f"x{j}", 0.0, 1.0)
        if mode == "report":
            for s, v in enumerate(traj):
                trial.report(v, s)
        else:
            trial.set_user_attr("trajectory", json.dumps(traj))
        study.tell(trial, [0.1 * i, 1.0 - 0.1 * i][: len(directions)])
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    rows = []
    raw: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        raw["paretoopt (SQLite)"] = bench_paretoopt(f"sqlite:///{tmpdir / 'p.db'}", args.trials)
        try:
            import optuna  # noqa: F401

            raw["Optuna RDB (SQLite), trial.report per step (1 objective)"] = bench_optuna(
                f"sqlite:///{tmpdir / 'o1.db'}", max(20, args.trials // 5), "report"
            )
            raw["Optuna RDB (SQLite), trajectory as one user attr"] = bench_optuna(
                f"sqlite:///{tmpdir / 'o2.db'}", args.trials, "attr"
            )
        except ImportError:
            print("optuna not installed (pip install 'paretoopt[bench]'): peer skipped")
        try:
            from paretoopt.testing.postgres import PostgresUnavailable, fresh_database, stop_server

            try:
                url, _ = fresh_database()
                raw["paretoopt (PostgreSQL)"] = bench_paretoopt(url, args.trials)
            except PostgresUnavailable as exc:
                print(f"PostgreSQL skipped: {exc}")
            finally:
                stop_server()
        except ImportError:
            pass
    ours = statistics.median(raw["paretoopt (SQLite)"])
    for name, ts in raw.items():
        med = statistics.median(ts)
        rows.append(
            {
                "storage": name,
                "trials": len(ts),
                "median ms/trial": 1e3 * med,
                "p90 ms/trial": 1e3 * sorted(ts)[int(0.9 * (len(ts) - 1))],
                "trials/s": 1.0 / med,
                "ratio to paretoopt SQLite": med / ours,
            }
        )
    print_table(rows, f"Trial write cost with a {STEPS}-step trajectory")
    path = write_json("storage", {"steps": STEPS, "rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
