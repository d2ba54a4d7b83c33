"""Surrogate benchmark: fit time, prediction latency (the dashboard's what-if budget) and
held-out accuracy of ``Study.surrogate()``, against the plain botorch GP a user would fit on
the trials table.

For each study (run by ``paretoopt.optimize`` on a temporary SQLite file):

* **paretoopt**: ``fit_surrogate`` (validation fit + final fit), points used, stored blob
  size; latency of ``predict`` on a one-row pandas frame (what a slider move costs: frame
  handling, encoding, prediction; median of 200 calls after one warm-up), on 100 rows, and of
  one differentiable ``torch_predict`` + backward (the inner loop on the surrogate).
* **peer**: botorch ``SingleTaskGP`` with its defaults (RBF with the dimension-scaled prior,
  ``Standardize``; learned homoskedastic noise), fitted on the final evaluations in
  ``trials_dataframe()`` (inputs normalised to the bounds, choices one-hot), and its
  ``posterior`` latency for one design.

Both are scored on the same held-out trials (paretoopt's seeded split): R2 and 95 % coverage
of the held-out trials' *final evaluations* (what a what-if predicts), so the peer is not
penalised for the trajectory points it never saw.

Run: ``PYTHONPATH=. python benchmarks/surrogate.py [--calorimeter-trials 40]``.
Writes ``benchmarks/results/surrogate.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table, write_json

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn: Any, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def _studies(tmp: Path, calo_trials: int) -> list[tuple[str, Any]]:
    from paretoopt import load_study_definition, optimize
    from paretoopt.physics.calorimetry import CALORIMETER_QUICK_INNER, calorimeter_study

    out = []
    for kind, n in (("zdt1", 10), ("zdt1", 30), ("zdt2", 10)):
        d = load_study_definition(ROOT / "studies" / f"{kind}.py")
        url = f"sqlite:///{tmp / f'{kind}-{n}.db'}"
        out.append((f"{kind}, {n} trials", optimize(d, storage=url, n_trials=n, seed=0, warm_start=False)))
    small = calorimeter_study(
        absorbers=("Pb", "W"),
        actives=("scintillator", "LAr"),
        n_layers=(10, 40),
        inner=CALORIMETER_QUICK_INNER,
    )
    url = f"sqlite:///{tmp / 'calo-small.db'}"
    out.append(
        ("calorimeter (test config), 24 trials", optimize(small, storage=url, n_trials=24, engine="random"))
    )
    if calo_trials:
        d = load_study_definition(ROOT / "studies" / "calorimeter_uniform.py")
        url = f"sqlite:///{tmp / 'calo.db'}"
        label = f"studies/calorimeter_uniform.py, {calo_trials} trials"
        out.append((label, optimize(d, storage=url, n_trials=calo_trials, engine="random")))
    return out


def _peer(study: Any, train: list[int], test: list[int]) -> dict[str, Any]:
    """botorch's default SingleTaskGP on the final evaluations of the training trials."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from paretoopt.surrogate.encoding import design_encoding

    enc = design_encoding(study.space)
    done = {t.number: t for t in study.completed_trials}

    def xy(numbers: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.array([enc.encode_values({**done[n].choices, **done[n].params}) for n in numbers])
        y = np.array([done[n].objectives for n in numbers])
        return enc.one_hot(torch.as_tensor(x)), torch.as_tensor(y)

    x, y = xy(train)
    xt, yt = xy(test)
    t0 = time.perf_counter()
    model = SingleTaskGP(x, y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    fit_s = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        post = model.posterior(xt, observation_noise=True)
        mean, sd = post.mean.numpy(), post.variance.sqrt().numpy()
        latency = _median_ms(lambda: model.posterior(xt[:1]), 200)
    return {"fit_s": fit_s, "predict_1_ms": latency, **_scores(yt.numpy(), mean, sd)}


def _scores(y: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> dict[str, Any]:
    r2 = 1 - ((y - mean) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    cover = (np.abs(y - mean) <= 1.959964 * sd).mean(0)
    return {"r2": [round(float(v), 4) for v in r2], "coverage_95": [round(float(v), 3) for v in cover]}


def run(calo_trials: int) -> list[dict[str, Any]]:
    from paretoopt.surrogate import fit_surrogate

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, study in _studies(Path(tmp), calo_trials):
            t0 = time.perf_counter()
            sur = fit_surrogate(study, seed=0)
            fit_s = time.perf_counter() - t0
            blob = sur.to_bytes()
            frame = study.trials_dataframe()
            one, hundred = frame.iloc[[0]], frame.sample(100, replace=True, random_state=0)
            t = study.completed_trials[0]

            def grad_step(t=t, sur=sur) -> None:
                params = {
                    k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in t.params.items()
                }
                mean, _ = sur.torch_predict(params, t.choices)
                mean.sum().backward()

            v = sur.validation
            test = v["test_trials"]
            done = {x.number: x for x in study.completed_trials}
            yt = np.array([done[n].objectives for n in test])
            # score the final evaluations of the held-out trials with the validation-split model
            from paretoopt.surrogate.data import collect_training_data
            from paretoopt.surrogate.encoding import design_encoding
            from paretoopt.surrogate.models import fit_model

            data = collect_training_data(study, max_trajectory_points=sur.info["max_trajectory_points"])
            enc = design_encoding(study.space)
            model, scaling = fit_model(sur.kind, enc, data.subset(np.isin(data.trial, v["train_trials"])), 0)
            xt = torch.as_tensor(
                np.array([enc.encode_values({**done[n].choices, **done[n].params}) for n in test])
            )
            with torch.no_grad():
                m_t, var_t, extra = model.predict(xt)
                mean, sd = scaling.to_natural(m_t, var_t + extra)
            m = len(study.objectives)
            se = np.array([done[n].stderr for n in test])
            ours = _scores(yt, mean.numpy()[:, :m], np.sqrt(sd.numpy()[:, :m] ** 2 + se**2))
            peer = _peer(study, v["train_trials"], test)
            rows.append(
                {
                    "study": label,
                    "points": sur.n_points,
                    "model": sur.kind,
                    "fit [s]": round(fit_s, 2),
                    "predict 1 [ms]": round(_median_ms(lambda one=one, sur=sur: sur.predict(one), 200), 2),
                    "predict 100 [ms]": round(_median_ms(lambda h=hundred, sur=sur: sur.predict(h), 50), 2),
                    "grad step [ms]": round(_median_ms(grad_step, 100), 2),
                    "blob [kB]": round(len(blob) / 1024, 1),
                    "held-out R2 (finals)": ours["r2"],
                    "cov95 (finals)": ours["coverage_95"],
                    "held-out R2 (all points)": [r["r2"] and round(r["r2"], 4) for r in v["metrics"][:m]],
                    "cov95 (all points)": [
                        r["coverage_95"] and round(r["coverage_95"], 3) for r in v["metrics"][:m]
                    ],
                    "peer fit [s]": round(peer["fit_s"], 2),
                    "peer predict 1 [ms]": round(peer["predict_1_ms"], 2),
                    "peer R2 (finals)": peer["r2"],
                    "peer cov95 (finals)": peer["coverage_95"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calorimeter-trials", type=int, default=0, help="also studies/calorimeter_uniform.py"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rows = run(args.calorimeter_trials)
    print_table(rows, "Surrogates: fit, what-if latency, held-out accuracy (paretoopt vs botorch default GP)")
    path = write_json("surrogate", {"rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
