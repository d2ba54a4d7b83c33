"""Reference fronts of the RE problems (``studies/re21.py``, ``studies/re37.py``) from long
pymoo NSGA-II runs, stored in ``benchmarks/reference_fronts/<name>.json``.

The RE suite gives no analytic front; as Tanabe & Ishibuchi (arXiv:2009.12867, sec. 4) did for
their approximated fronts, the non-dominated union of long evolutionary runs stands in for it:
NSGA-II, population 200, 500 generations, 3 seeds (300,000 evaluations per problem), evaluated
through the study's own torch ``simulate`` (batched: the formulas are element-wise), every
generation's population archived. At most 1,000 (2 objectives) / 3,000 (3) points are kept
(evenly thinned along the sorted front for 2 objectives, a seeded subset for 3); the stored
``note`` says how much hypervolume the thinning lost (0.04 % on RE21, 0.2 % on RE37).

Run: ``PYTHONPATH=. python benchmarks/re_fronts.py`` (about a minute on one core).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paretoopt import pareto
from paretoopt.problem import StudyDefinition, load_study_definition

ROOT = Path(__file__).resolve().parents[1]
FRONTS = Path(__file__).resolve().parent / "reference_fronts"
NAMES = ("re21", "re37")


def batch_objectives(definition: StudyDefinition, x: np.ndarray) -> np.ndarray:
    """Objectives (``n x m``) of the designs ``x`` (``n x d``, the space's inner order)."""
    params = {
        p.name: torch.as_tensor(x[:, i], dtype=torch.float64) for i, p in enumerate(definition.space.inner)
    }
    with torch.no_grad():
        out = definition.simulate(params, {}, 1, torch.Generator())
    return np.column_stack([out[o.name].numpy() for o in definition.objectives])


def long_nsga2(definition: StudyDefinition, seeds: int = 3, pop: int = 200, gens: int = 500) -> np.ndarray:
    """The non-dominated union of ``seeds`` NSGA-II runs."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    inner = definition.space.inner
    lo = np.array([p.low for p in inner])
    hi = np.array([p.high for p in inner])
    signs = np.asarray(definition.signs, dtype=float)

    class Wrapped(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=len(inner), n_obj=len(signs), xl=lo, xu=hi)

        def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            out["F"] = batch_objectives(definition, x) * signs

    from pymoo.core.callback import Callback

    directions = ["minimize"] * len(signs)
    kept = [np.zeros((0, len(signs)))]

    class Archive(Callback):  # every generation's offspring, not only the last population
        def notify(self, algorithm: Any) -> None:
            f = np.vstack([kept[0], algorithm.pop.get("F")])
            kept[0] = f[pareto.non_dominated(f, directions)]

    for seed in range(seeds):
        minimize(
            Wrapped(), NSGA2(pop_size=pop), ("n_gen", gens), seed=seed, callback=Archive(), verbose=False
        )
    return kept[0] * signs


def thin(front: np.ndarray, n: int | None = None) -> np.ndarray:
    """At most ``n`` points (default 1,000 for two objectives, 3,000 beyond): evenly along f1
    for two objectives, a seeded subset otherwise."""
    n = n if n is not None else (1000 if front.shape[1] == 2 else 3000)
    if len(front) <= n:
        return front
    if front.shape[1] == 2:
        order = np.argsort(front[:, 0])
        return front[order[np.linspace(0, len(front) - 1, n).round().astype(int)]]
    return front[np.sort(np.random.default_rng(0).choice(len(front), n, replace=False))]


def load_front(name: str) -> np.ndarray:
    """The stored reference front of ``name`` (``n x m``, natural units)."""
    return np.asarray(json.loads((FRONTS / f"{name}.json").read_text())["front"], dtype=float)


def main() -> None:
    FRONTS.mkdir(exist_ok=True)
    for name in NAMES:
        definition = load_study_definition(ROOT / "studies" / f"{name}.py")
        full = long_nsga2(definition)
        front = thin(full)
        front = np.array([[float(f"{v:.9g}") for v in row] for row in front])  # as stored
        front = front[pareto.non_dominated(front, pareto.directions_of(definition))]  # rounding ties
        ref = pareto.reference_point(full, pareto.directions_of(definition))
        kept = pareto.hypervolume(front, pareto.directions_of(definition), ref)
        kept /= pareto.hypervolume(full, pareto.directions_of(definition), ref)
        payload = {
            "problem": name,
            "method": "pymoo NSGA-II, population 200, 500 generations, seeds 0-2, non-dominated union",
            "objectives": definition.objective_names,
            "ideal": front.min(axis=0).tolist(),
            "nadir": front.max(axis=0).tolist(),
            "note": f"thinned from {len(full)} points: hypervolume (reference nadir + 10 %) "
            f"{kept:.5f} of the unthinned front's",
            "front": front.tolist(),
        }
        (FRONTS / f"{name}.json").write_text(json.dumps(payload))
        print(name, len(front), "points; ideal", payload["ideal"], "nadir", payload["nadir"])


if __name__ == "__main__":
    main()
