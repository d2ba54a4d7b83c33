"""Does the botorch GP gain from the archive? (issue #19, item 2: "the GP sees more than one point
per trial"; an experiment, kept in the engine only if it helps).

The botorch engine models (weights, choices) -> the objectives the inner loop reaches. A trial
gives one such pair. The archive's non-dominated inner-loop steps are other points of the front;
each is (about) the Chebyshev optimum of the weights ``w_i ~ 1 / (z_i + offset)`` (``z``: its
normalised objectives, ``offset``: the scalarisation's utopia offset), so it can enter the GP
as one more (weights, choices) -> objectives pair. Variant ``archive`` adds up to
``2 x completed trials`` of them (spread along the first objective) to the GP's training data;
``trials`` is the engine as shipped. Same seeds, same trials budget; reported: hypervolume and
IGD of the trials' front (what the engine steers) and of the archive front, against the
study's true front, and the calls spent.

Run: ``python benchmarks/gp_archive.py [--trials 16] [--seeds 0,1]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_json  # noqa: E402
from paretoopt import load_study_definition, optimize, pareto  # noqa: E402
from paretoopt.analytic import distance_to_front  # noqa: E402
from paretoopt.outer import TrialRecord  # noqa: E402
from paretoopt.outer.botorch import BotorchEngine  # noqa: E402
from paretoopt.scalarize import Normalization  # noqa: E402
from paretoopt.storage import get_storage  # noqa: E402
from paretoopt.study import load_study  # noqa: E402

#: Where the engine variant reads the running study's archive from (benchmark only).
HOOK: dict[str, Any] = {}
UTOPIA_OFFSET = 0.01


def archive_records(study_name: str, url: str, n_completed: int) -> list[TrialRecord]:
    """Pseudo-trials from the archive front's trajectory points (weights from the Chebyshev
    inversion), at most ``2 n_completed``, spread along the first objective."""
    study = load_study(study_name=study_name, storage=get_storage(url))
    norm = study.normalization
    if norm is None:
        return []
    points = [p for p in study.archive_front_points() if p.source == "trajectory"]
    points.sort(key=lambda p: p.objectives[0])
    most = 2 * n_completed
    if len(points) > most:
        points = [points[int(i)] for i in np.linspace(0, len(points) - 1, most)]
    out = []
    for k, p in enumerate(points):
        z = _normalised(norm, p.objectives)
        w = 1.0 / np.maximum(z + UTOPIA_OFFSET, 1e-6)
        w = w / w.sum()
        se = tuple(0.0 if not np.isfinite(s) else float(s) for s in p.stderr)
        out.append(TrialRecord(-1 - k, "COMPLETE", tuple(w.tolist()), dict(p.choices), p.objectives, se))
    return out


def _normalised(norm: Normalization, f: tuple[float, ...]) -> np.ndarray:
    import torch

    return norm.transform(torch.tensor([f], dtype=torch.float64)).numpy()[0]


class ArchiveBotorch(BotorchEngine):
    """The botorch engine with the archive's front points added to its training data."""

    name = "botorch"

    def _training_data(self) -> Any:
        hook = HOOK.get("archive")
        if hook is None:
            return super()._training_data()
        extra = hook(len(self.completed))
        saved = self.archive
        self.archive = [*saved, *extra]
        try:
            return super()._training_data()
        finally:
            self.archive = saved


def run(study_file: str, variant: str, seed: int, n_trials: int, folder: Path) -> dict[str, Any]:
    d = load_study_definition(ROOT / "studies" / f"{study_file}.py")
    url = f"sqlite:///{folder / f'{study_file}-{variant}-{seed}.db'}"
    name = f"{study_file}-{variant}-{seed}"
    HOOK.clear()
    if variant == "archive":
        HOOK["archive"] = lambda n: archive_records(name, url, n)
    engine = ArchiveBotorch(seed=seed)
    t0 = time.perf_counter()
    study = optimize(d, storage=url, study_name=name, engine=engine, n_trials=n_trials, seed=seed)
    wall = time.perf_counter() - t0
    true = d.true_front(5000)
    ref = pareto.reference_point(true, study.directions)
    trials_f = np.array([t.objectives for t in study.best_trials], dtype=float)
    arch_f = np.array([p.objectives for p in study.archive_front_points()], dtype=float)
    return {
        "study": study_file,
        "variant": variant,
        "seed": seed,
        "calls": study.n_calls,
        "HV trials": pareto.hypervolume(trials_f, study.directions, ref),
        "IGD trials": float(distance_to_front(true, trials_f).mean()),
        "HV archive": pareto.hypervolume(arch_f, study.directions, ref),
        "HV true": pareto.hypervolume(true, study.directions, ref),
        "wall s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--studies", default="zdt1,mixed_zdt")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in args.studies.split(","):
            for seed in [int(x) for x in args.seeds.split(",")]:
                for variant in ("trials", "archive"):
                    rows.append(run(s, variant, seed, args.trials, Path(tmp)))
                    print(rows[-1], flush=True)
    print_table(rows, f"botorch with and without archive points in the GP, {args.trials} trials")
    print(f"\nwrote {write_json('gp_archive', {'trials': args.trials, 'rows': rows})}")


if __name__ == "__main__":
    main()
