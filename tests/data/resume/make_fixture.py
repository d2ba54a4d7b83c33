"""Writes the resume fixture (tests/data/resume/): a study database killed mid-trial, and the
trials an uninterrupted run of the same studies ends with. Run once, with the code of the
commit named in expected.json, from the repo root:

    python tests/data/resume/make_fixture.py

tests/test_resume_fixture.py resumes a copy of the database with today's code and requires the
uninterrupted run's trials: stored studies must resume identically across refactors."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUDY_FILE = HERE.parent / "studies" / "resume_zdt1.py"
#: (study name, engine, engine options, trials asked for, simulator call that kills the process)
RUNS = [
    ("resume-nsga2", "nsga2", {"population": 4}, 10, 270),
    ("resume-random", "random", {}, 6, 120),
]
CODE = """
import json, sys
from paretoopt import load_study_definition, optimize
d = load_study_definition(sys.argv[1])
optimize(d, storage=sys.argv[2], study_name=sys.argv[3], engine=sys.argv[4],
         engine_options=json.loads(sys.argv[5]), n_trials=int(sys.argv[6]), seed=7)
"""


def trial_rows(url: str, name: str) -> list[dict]:
    """Every finished trial of ``name``: number, source, weights, choices, params, objectives."""
    from paretoopt import load_study

    study = load_study(study_name=name, storage=url)
    return [
        {
            "number": t.number,
            "source": t.source,
            "state": t.state.value,
            "weights": list(t.weights),
            "choices": dict(t.choices),
            "params": dict(t.params),
            "objectives": list(t.objectives or []),
        }
        for t in sorted(study.trials, key=lambda t: t.number)
    ]


def _run(url: str, name: str, engine: str, options: dict, n: int, kill_at: int | None) -> int:
    env = dict(os.environ)
    env.pop("PARETOOPT_TEST_KILL_AT_CALL", None)
    if kill_at is not None:
        env["PARETOOPT_TEST_KILL_AT_CALL"] = str(kill_at)
    args = [str(STUDY_FILE), url, name, engine, json.dumps(options), str(n)]
    return subprocess.run([sys.executable, "-c", CODE, *args], env=env, check=False).returncode


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    full_url = f"sqlite:///{tmp / 'full.db'}"
    killed_db = tmp / "interrupted.db"
    expected = {
        "commit": subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip(),
        "runs": [],
    }
    for name, engine, options, n, kill_at in RUNS:
        assert _run(full_url, name, engine, options, n, None) == 0
        rc = _run(f"sqlite:///{killed_db}", name, engine, options, n, kill_at)
        assert rc == -9, f"the run of {name} was meant to be killed, exit code {rc}"
        expected["runs"].append(
            {
                "study": name,
                "engine": engine,
                "options": options,
                "n_trials": n,
                "trials": trial_rows(full_url, name),
            }
        )
    with sqlite3.connect(killed_db) as con:  # fold the WAL of the killed runs into the file
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(killed_db, HERE / "interrupted.db")
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("wrote", HERE / "interrupted.db", HERE / "expected.json")


if __name__ == "__main__":
    main()
