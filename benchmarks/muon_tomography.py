"""paretoopt's muon tomography: the training pass at scale, the figure of merit, the inference,
and TomOpt 0.1.0 on the same scenario.

Scenario: a 1 m x 1 m x 1 m volume of 10 cm voxels of water at z = 0.5-1.5 m with a 30 x 30 x
20 cm lead block; four drift-tube panels above (z = 1.70, 1.75, 1.80, 1.85 m) and four below
(z = 0.30, 0.25, 0.20, 0.15 m), 1.1 m x 1.1 m, centred on the volume; muons from the Guan et
al. 2015 flux (0.5-500 GeV, zenith < 70 deg) generated at z = 2.0 m over x, y in [-0.5, 1.5] m.

Measured for paretoopt (``--ours``): wall time and memory of one training pass (forward and
backward of the figure of merit, the block accumulation with recomputation in the backward
pass), per batch size and thread count: peak resident memory (``ru_maxrss``) and its increase
over the process after imports (``psutil``); with ``--device cuda`` the same code on the GPU
(peak CUDA memory). ``--accuracy``: the evaluation-mode figure and the converged inference
(momentum unknown and known): the block's estimate, its pull, iterations and time.
``--figures``: the figure of merit per technology, panel count and span (mean and seed-to-seed
spread over seeds). ``--sigma-check SEEDS``: which sigma of the block is right with the momentum
unknown: on a small volume (40 x 40 x 40 cm of water, a 20 x 20 x 20 cm lead block, default
drift tubes 4 + 4) the seed-to-seed spread of the converged inference's block estimate over
``SEEDS`` scans of ``--sigma-muons`` muons each, against the Asimov figure and the Laplace
sigma at the same exposure (``results/muon_tomography_sigma.json``). ``--profile-fit N``: where
the unknown-momentum inference spends its time on one scan of ``N`` muons (``--seed``;
``results/muon_tomography_profile_fit.json``).

TomOpt (``--tomopt``, skipped with ``--skip-tomopt``) runs in its own virtual environment,
``benchmarks/.venv-tomopt`` (created here if missing: ``pip install torch==2.13.0 tomopt==0.1.0
mypy_extensions``), one subprocess per measurement; its loss is its own (MSE of X0 per voxel
from its PoCA estimator), so only its time and memory per batch compare.

Usage::

    python benchmarks/muon_tomography.py --skip-tomopt                 # defaults below
    python benchmarks/muon_tomography.py --ours 100000,1000000 --threads 1,2 --skip-tomopt
    python benchmarks/muon_tomography.py --device cuda --ours 1000000,4000000 --skip-tomopt

Prints a table and writes ``benchmarks/results/muon_tomography.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv-tomopt"
RESULTS = HERE / "results" / "muon_tomography.json"

# ---- the shared scenario (plain numbers, so the TomOpt worker needs no paretoopt) ----------
VOXEL_M = 0.1
VOLUME_Z = (0.5, 1.5)
ABOVE_Z = [1.70, 1.75, 1.80, 1.85]
BELOW_Z = [0.30, 0.25, 0.20, 0.15]
SPAN_M = 1.1
CENTRE = (0.5, 0.5)
RESOLUTION_M = 0.3e-3
EFFICIENCY = 0.95
LEAD_VOXELS = ((3, 6), (5, 8), (4, 6))  # x, y, z (z from the bottom layer), half-open
X0_WATER_M, X0_LEAD_M = 0.3608, 0.005612  # PDG (same values in TomOpt's core.X0)
GEN_RANGE = (-0.5, 1.5)
X0_RANGE_M = (0.001, 10.0)  # both estimates clamped to 0.1 cm - 10 m before taking logs


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _true_x0_zxy():
    import torch

    x0 = torch.full((10, 10, 10), X0_WATER_M)
    (x_lo, x_hi), (y_lo, y_hi), (z_lo, z_hi) = LEAD_VOXELS
    x0[z_lo:z_hi, x_lo:x_hi, y_lo:y_hi] = X0_LEAD_M
    return x0


def _log_mse(pred_x0_m, true_x0_m) -> float:
    import torch

    p = torch.nan_to_num(pred_x0_m.detach().double(), nan=X0_RANGE_M[1]).clamp(*X0_RANGE_M)
    return float(((torch.log(p) - torch.log(true_x0_m.double())) ** 2).mean())


# ============================================================================================
# TomOpt worker (runs inside benchmarks/.venv-tomopt)
# ============================================================================================


def _tomopt_volume(train: bool):
    import torch
    from tomopt.volume import DetectorPanel, PanelDetectorLayer, PassiveLayer, Volume
    from torch import nn

    lw = torch.tensor([1.0, 1.0])

    def panels(zs: list[float]) -> list[DetectorPanel]:
        return [
            DetectorPanel(
                res=1.0 / RESOLUTION_M,
                eff=EFFICIENCY,
                init_xyz=(CENTRE[0], CENTRE[1], z),
                init_xy_span=(SPAN_M, SPAN_M),
                m2_cost=1.0,
            )
            for z in zs
        ]

    above = PanelDetectorLayer(pos="above", lw=lw, z=2.0, size=0.45, panels=panels(ABOVE_Z))
    layers: list[nn.Module] = [above]
    for k in reversed(range(10)):  # top of layer k (k = 0 the bottom one)
        layers.append(PassiveLayer(lw=lw, z=round(VOLUME_Z[0] + (k + 1) * VOXEL_M, 2), size=VOXEL_M))
    layers.append(PanelDetectorLayer(pos="below", lw=lw, z=0.45, size=0.45, panels=panels(BELOW_Z)))
    volume = Volume(nn.ModuleList(layers))
    true = _true_x0_zxy()

    def rad_length(*, z, lw, size):
        k = round(float(z) / VOXEL_M - VOLUME_Z[0] / VOXEL_M) - 1
        return true[k].clone()

    volume.load_rad_length(rad_length)
    volume.train(train)
    return volume, true


def tomopt_worker(mode: str, n: int, repeats: int, threads: int, seed: int) -> dict:
    import numpy as np
    import torch
    from tomopt.inference import PanelX0Inferrer, ScatterBatch
    from tomopt.muon import MuonBatch, MuonGenerator2015

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)  # TomOpt draws from numpy's global generator
    gen = MuonGenerator2015(x_range=GEN_RANGE, y_range=GEN_RANGE, fixed_mom=None)
    out: dict = {"tool": "tomopt", "mode": mode, "n": n, "threads": threads}
    if mode == "timing":
        volume, true = _tomopt_volume(train=True)
        times, errors = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            mu = MuonBatch(gen(n), init_z=volume.h)
            volume(mu)
            sb = ScatterBatch(mu=mu, volume=volume)
            inf = PanelX0Inferrer(volume=volume)
            inf.add_scatters(sb)
            pred = inf.get_prediction()
            loss = ((torch.log(pred.clamp(*X0_RANGE_M)) - torch.log(true)) ** 2).mean()
            volume.zero_grad()
            loss.backward()
            times.append(time.perf_counter() - t0)
            errors.append(float(loss.detach()))
        out.update(time_s=times, loss=errors)
    else:  # accuracy: evaluation mode, muons in batches of `repeats`
        volume, true = _tomopt_volume(train=False)
        inf = PanelX0Inferrer(volume=volume)
        t0 = time.perf_counter()
        done = 0
        while done < n:
            b = min(repeats, n - done)
            mu = MuonBatch(gen(b), init_z=volume.h)
            volume(mu)
            inf.add_scatters(ScatterBatch(mu=mu, volume=volume))
            done += b
        pred = inf.get_prediction()
        out.update(time_s=[time.perf_counter() - t0], x0_log_mse=_log_mse(pred, true), batch=repeats)
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


# ============================================================================================
# paretoopt worker (runs in the project's environment)
# ============================================================================================


def _ours_params(device: str = "cpu"):
    import torch

    from paretoopt.physics.tomography import tomography_space

    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in tomography_space().default_inner().items()}
    for side, zs in (("above", ABOVE_Z), ("below", BELOW_Z)):
        for k, z in enumerate(zs, 1):
            params[f"{side}{k}_z"] = torch.tensor(z, dtype=torch.float64)
            params[f"{side}{k}_x"] = torch.tensor(CENTRE[0], dtype=torch.float64)
            params[f"{side}{k}_y"] = torch.tensor(CENTRE[1], dtype=torch.float64)
            params[f"{side}{k}_span_x"] = torch.tensor(SPAN_M, dtype=torch.float64)
            params[f"{side}{k}_span_y"] = torch.tensor(SPAN_M, dtype=torch.float64)
    return {k: v.to(device) for k, v in params.items()}


def ours_worker(mode: str, n: int, repeats: int, threads: int, seed: int, method: str, device: str) -> dict:
    """``mode``: "timing" (training pass), "accuracy" (evaluation + inference, momentum mode
    ``method``), "figures" (the figure per technology / panels / span)."""
    import statistics as st

    import psutil
    import torch

    from paretoopt.physics.tomography import InferenceSettings, MomentumModel, MuonTomography
    from paretoopt.physics.tomography.simulation import cat_kinks

    torch.set_num_threads(threads)
    base_rss = psutil.Process().memory_info().rss / 2**20
    choices = {"n_above": 4, "n_below": 4, "technology": "drift_tubes"}
    out: dict = {
        "tool": "paretoopt",
        "mode": mode,
        "n": n,
        "threads": threads,
        "method": method,
        "device": device,
    }

    def generator() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed)

    if mode == "timing":
        sim = MuonTomography(block_size=16384 if device == "cpu" else 262144)
        sim.train()
        times, values = [], []
        for r in range(repeats):
            params = {k: v.clone().requires_grad_(True) for k, v in _ours_params(device).items()}
            if device != "cpu":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            res = sim(params, choices, n, torch.Generator(device=device).manual_seed(seed + r))
            loss = res["x0_precision"].value + res["cost"] / 100.0 + res["scan_time"].value / 600.0
            loss.backward()
            if device != "cpu":
                torch.cuda.synchronize()
                out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
            times.append(time.perf_counter() - t0)
            values.append(float(res["x0_precision"].value.detach()))
        out.update(time_s=times, loss=values)
    elif mode == "accuracy":
        sim = MuonTomography(momentum=MomentumModel(method))
        sim.eval()
        kinks: list = []
        t0 = time.perf_counter()
        with torch.no_grad():
            f, _, _, _ = sim.information(_ours_params(device), choices, n, generator(), kinks=kinks)
        t_sample = n / sim.source.rate_hz()
        sim.exposure_s = t_sample
        asimov = float(sim.figure_of_merit(f, t_sample))
        t1 = time.perf_counter()
        data = cat_kinks(kinks)
        trace: list = []
        from paretoopt.physics.tomography import block_log_density, infer_x0

        est = infer_x0(data, sim.inference_grid, loss=sim.loss, settings=InferenceSettings(), trace=trace)
        lam = est.inv_x0_per_cm.reshape(-1)
        m = sim.block_mask
        value, mean_u, sigma = block_log_density(est, m)
        truth_block = math.log(float(torch.exp(sim.true_u[m]).mean()))
        err, err_mean_u = -(value - truth_block), -(mean_u - truth_block)
        truth = torch.exp(sim.true_u)
        mse = float(((torch.log(lam) - torch.log(truth)) ** 2).mean())
        out.update(
            time_s=[time.perf_counter() - t0], inference_s=time.perf_counter() - t1,
            n_reconstructed=len(data),
            exposure_s=t_sample, asimov_sigma=asimov, laplace_sigma=sigma, block_error=err, pull=err / sigma,
            block_error_mean_u=err_mean_u,
            iterations=est.iterations, converged=est.converged, gradient_norm=est.gradient_norm,
            x0_log_mse=mse,
        )  # fmt: skip
    else:  # figures
        sim = MuonTomography()
        sim.eval()
        rows = []
        designs = [
            (t, 4, SPAN_M)
            for t in ("rpc", "rpc_fine", "drift_tubes", "scintillating_fibres", "silicon_strips")
        ]
        designs += [("drift_tubes", k, SPAN_M) for k in (2, 3)] + [("drift_tubes", 4, s) for s in (0.6, 1.8)]
        t0 = time.perf_counter()
        for tech, k, span in designs:
            params = _ours_params(device)
            for key in params:
                if "span" in key:
                    params[key] = torch.tensor(span, dtype=torch.float64, device=device)
            ch = {"n_above": k, "n_below": k, "technology": tech}
            vals, cost = [], 0.0
            for s_ in range(repeats):
                with torch.no_grad():
                    res = sim(params, ch, n, torch.Generator(device=device).manual_seed(seed + s_))
                vals.append(float(res["x0_precision"].value))
                cost = float(res["cost"])
            rows.append({"technology": tech, "panels": k, "span_m": span, "mean": st.mean(vals),
                         "sd": st.stdev(vals) if len(vals) > 1 else 0.0, "cost_keur": cost})  # fmt: skip
        out.update(time_s=[time.perf_counter() - t0], figures=rows)
    out["peak_rss_mb"] = _peak_rss_mb()
    out["base_rss_mb"] = base_rss
    return out


# ============================================================================================
# driver
# ============================================================================================


def ensure_tomopt_venv() -> Path:
    """Create ``benchmarks/.venv-tomopt`` with torch 2.13.0 (CPU wheel) and tomopt 0.1.0."""
    python = VENV / "bin" / "python"
    if python.exists():
        ok = subprocess.run([str(python), "-c", "import tomopt"], capture_output=True, check=False)
        if ok.returncode == 0:
            return python
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)  # first: takes the CPU wheel on disk
    subprocess.run([*pip, "tomopt==0.1.0"], check=True)
    subprocess.run([*pip, "mypy_extensions"], check=True)  # imported by tomopt.core, not declared
    return python


def _run(cmd: list[str], timeout_s: float, env: dict[str, str] | None = None) -> dict:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout_s:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "wall_s": time.perf_counter() - t0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _worker_cmd(
    python: str, tool: str, mode: str, n: int, repeats: int, threads: int, **kw: object
) -> list[str]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", tool, "--mode", mode, "--n", str(n)]
    cmd += ["--repeats", str(repeats), "--threads", str(threads)]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    return cmd


def _ints(text: str) -> list[int]:
    return [int(float(t)) for t in text.split(",") if t.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", default="10000,100000,300000,1000000", help="paretoopt training-pass sizes")
    ap.add_argument("--tomopt", default="100,300,1000", help="TomOpt batch sizes (it is slow)")
    ap.add_argument("--accuracy", default="50000", help="muons for the inference checks")
    ap.add_argument(
        "--figures", type=int, default=20000, help="muons per figure-of-merit evaluation (0: skip)"
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tomopt-accuracy", default="10000", help="total muons TomOpt is run on for accuracy")
    ap.add_argument("--tomopt-batch", type=int, default=300, help="TomOpt's batch size in the accuracy runs")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", default=f"1,{os.cpu_count() or 1}")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--skip-tomopt", action="store_true")
    ap.add_argument("--sigma-check", type=int, default=0, help="seeds of the sigma check (0: skip; alone)")
    ap.add_argument("--sigma-muons", type=int, default=20000, help="muons per scan of the sigma check")
    ap.add_argument("--sigma-first-seed", type=int, default=100)
    ap.add_argument("--profile-fit", type=int, default=0, help="muons of a profiled fit (0: skip)")
    # worker mode (internal)
    ap.add_argument("--worker", choices=["tomopt", "ours"])
    ap.add_argument("--mode", choices=["timing", "accuracy", "figures"], default="timing")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--method", default="unknown")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.worker == "tomopt":
        print(json.dumps(tomopt_worker(args.mode, args.n, args.repeats, int(args.threads), args.seed)))
        return
    if args.worker == "ours":
        a = args
        print(json.dumps(ours_worker(a.mode, a.n, a.repeats, int(a.threads), a.seed, a.method, a.device)))
        return

    if args.profile_fit:
        out = HERE / "results" / "muon_tomography_profile_fit.json"
        out.write_text(json.dumps(profile_fit(args.profile_fit, args.seed), indent=1))
        print(f"wrote {out.relative_to(ROOT)}")
        return
    if args.sigma_check:
        seeds = list(range(args.sigma_first_seed, args.sigma_first_seed + args.sigma_check))
        out = HERE / "results" / "muon_tomography_sigma.json"
        out.write_text(json.dumps(sigma_check(args.sigma_muons, seeds), indent=1))
        print(f"wrote {out.relative_to(ROOT)}")
        return
    threads = _ints(args.threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows: list[dict] = []
    ours_py = sys.executable
    tom_py = None if args.skip_tomopt else str(ensure_tomopt_venv())
    for t in threads:
        for n in _ints(args.ours):
            cmd = _worker_cmd(ours_py, "ours", "timing", n, args.repeats, t, device=args.device)
            r = _run(cmd, args.timeout, env)
            rows.append({**r, "tool": "paretoopt", "mode": "timing", "n": n, "threads": t})
            print(_fmt(rows[-1]), flush=True)
        if tom_py:
            for n in _ints(args.tomopt):
                cmd = _worker_cmd(tom_py, "tomopt", "timing", n, max(1, args.repeats - 1), t)
                r = _run(cmd, args.timeout)
                rows.append({**r, "tool": "tomopt", "mode": "timing", "n": n, "threads": t})
                print(_fmt(rows[-1]), flush=True)
    t = threads[0]
    for n in _ints(args.accuracy):
        for method in ("unknown", "perfect"):
            cmd = _worker_cmd(ours_py, "ours", "accuracy", n, 1, t, method=method, device=args.device)
            rows.append(
                {
                    **_run(cmd, args.timeout, env),
                    "tool": "paretoopt",
                    "mode": "accuracy",
                    "n": n,
                    "threads": t,
                }
            )
            print(_fmt(rows[-1]), flush=True)
    if args.figures:
        cmd = _worker_cmd(ours_py, "ours", "figures", args.figures, 4, t, device=args.device)
        row = {**_run(cmd, args.timeout, env), "tool": "paretoopt", "mode": "figures", "n": args.figures}
        rows.append({**row, "threads": t})
        print(_fmt(rows[-1]), flush=True)
    if tom_py:
        for n in _ints(args.tomopt_accuracy):
            r = _run(_worker_cmd(tom_py, "tomopt", "accuracy", n, args.tomopt_batch, t), args.timeout)
            rows.append({**r, "tool": "tomopt", "mode": "accuracy", "n": n, "threads": t})
            print(_fmt(rows[-1]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    _summary(rows)


def sigma_check(n_muons: int, seeds: list[int]) -> dict:
    """Per seed: the Asimov sigma (the figure at the sample's own exposure), the Laplace sigma
    and the error of the converged MAP block estimate (ln of the block's mean density), on the
    small volume of the module docstring; then the spread of the errors with its bootstrap
    error (2,000 resamples)."""
    import numpy as np
    import torch

    from paretoopt.physics.tomography import MuonTomography, tomography_space
    from paretoopt.physics.tomography.detector import Geometry
    from paretoopt.physics.tomography.volumes import lead_block_grid

    torch.set_num_threads(1)
    geo = Geometry(volume_xy=(0.3, 0.7, 0.3, 0.7), volume_z=(0.8, 1.2))
    grid = lead_block_grid(geo, block_voxels=((1, 3), (1, 3), (1, 3)))
    sim = MuonTomography(grid, geo, infer=True)
    sim.exposure_s = n_muons / sim.source.rate_hz()
    sim.eval()
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in tomography_space().default_inner().items()}
    choices = {"n_above": 4, "n_below": 4, "technology": "drift_tubes"}
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        with torch.no_grad():
            out = sim(params, choices, n_muons, torch.Generator().manual_seed(seed))
        rows.append(
            {
                "seed": seed,
                "asimov": float(out["x0_precision"].value) / 100.0,
                "laplace": out["inferred_precision"] / 100.0,
                "err": out["block_error"],
                "conv": out["inference_converged"],
                "it": out["inference_iterations"],
                "s": time.perf_counter() - t0,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    e = np.array([r["err"] for r in rows])
    rng = np.random.default_rng(0)
    boot = float(np.std([e[rng.integers(0, e.size, e.size)].std(ddof=1) for _ in range(2000)]))
    summary = {
        "n_muons": n_muons,
        "seeds": len(rows),
        "spread": float(e.std(ddof=1)),
        "spread_bootstrap_error": boot,
        "mean_error": float(e.mean()),
        "asimov_mean": float(np.mean([r["asimov"] for r in rows])),
        "laplace_mean": float(np.mean([r["laplace"] for r in rows])),
        "converged": int(sum(r["conv"] for r in rows)),
    }
    print(json.dumps(summary))
    return {"summary": summary, "rows": rows}


def profile_fit(n_muons: int, seed: int) -> dict:
    """Where the unknown-momentum MAP fit spends its time on one scan of the full-size scenario
    (default drift tubes): cProfile's cumulative seconds of the backward passes (gradient and
    Hessian-vector products), the eigendecompositions and the forward likelihood evaluations,
    with the iterations per stage."""
    import cProfile
    import pstats

    import torch

    from paretoopt.physics.tomography import MuonTomography, infer_x0, tomography_space
    from paretoopt.physics.tomography.simulation import cat_kinks

    torch.set_num_threads(1)
    sim = MuonTomography()
    sim.eval()
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in tomography_space().default_inner().items()}
    kinks: list = []
    with torch.no_grad():
        sim.information(
            params, {"n_above": 4, "n_below": 4, "technology": "drift_tubes"}, n_muons,
            torch.Generator().manual_seed(seed), kinks=kinks,
        )  # fmt: skip
    data = cat_kinks(kinks)
    trace: list[dict[str, float]] = []
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    est = infer_x0(data, sim.inference_grid, loss=sim.loss, settings=sim.inference, trace=trace)
    prof.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]

    def cum(name: str) -> float:
        # built-ins are keyed "<method 'run_backward' of ...>", "<built-in method ...linalg_eigh>"
        hits = (k for k in stats if k[2] == name or f"{name}'" in k[2] or k[2].endswith(f"{name}>"))
        return sum(stats[k][3] for k in hits)

    row = {
        "n_muons": n_muons,
        "reconstructed": len(data),
        "seed": seed,
        "time_s": total,
        "iterations": est.iterations,
        "per_stage": [sum(1 for t in trace if t["stage"] == s) for s in sorted({t["stage"] for t in trace})],
        "converged": est.converged,
        "backward_s": cum("run_backward"),
        "eigh_s": cum("linalg_eigh"),
        "forward_loglik_s": cum("mixture_loglik"),
    }
    print(json.dumps(row))
    return row


def _fmt(r: dict) -> str:
    if "error" in r:
        return f"{r['tool']:>9} {r['mode']:>8} n={r['n']:>7} threads={r['threads']} ERROR {r['error']}"
    med = statistics.median(r["time_s"])
    head = f"{r['tool']:>9} {r['mode']:>8} n={r['n']:>8} threads={r['threads']} time={med:8.2f} s"
    if r["mode"] == "figures":
        lines = [head]
        for f in r["figures"]:
            lines.append(
                f"    {f['technology']:>20} panels={f['panels']} span={f['span_m']:.1f} m: "
                f"x0_precision {f['mean']:.3f} +- {f['sd']:.3f} %  cost {f['cost_keur']:.1f} kEUR"
            )
        return "\n".join(lines)
    mem = f"peak RSS={r['peak_rss_mb']:6.0f} MB (+{r['peak_rss_mb'] - r.get('base_rss_mb', 0):5.0f})"
    if "cuda_peak_mb" in r:
        mem += f" cuda={r['cuda_peak_mb']:.0f} MB"
    if r["mode"] == "accuracy" and r["tool"] == "paretoopt":
        return (
            f"{head} momentum={r['method']} n_reco={r['n_reconstructed']} asimov={r['asimov_sigma']:.4f} "
            f"laplace={r['laplace_sigma']:.4f} error={r['block_error']:+.4f} pull={r['pull']:+.2f} "
            f"iters={r['iterations']} converged={r['converged']} |grad|={r['gradient_norm']:.1e} "
            f"inference={r['inference_s']:.1f}s {mem}"
        )
    if r["mode"] == "accuracy":
        return f"{head} lnX0 MSE={r['x0_log_mse']:.3f} {mem}"
    return f"{head} ({r['n'] / med:9.0f} muons/s) {mem} loss={statistics.median(r['loss']):.4f}"


def _summary(rows: list[dict]) -> None:
    ok = [r for r in rows if "error" not in r and r["mode"] == "timing"]
    for t in sorted({r["threads"] for r in ok}):
        tom = [r for r in ok if r["tool"] == "tomopt" and r["threads"] == t]
        ours = [r for r in ok if r["tool"] == "paretoopt" and r["threads"] == t]
        if not tom or not ours:
            continue
        best_tom = max(r["n"] / statistics.median(r["time_s"]) for r in tom)
        for r in ours:
            rate = r["n"] / statistics.median(r["time_s"])
            speed = rate / best_tom
            print(f"threads={t} n={r['n']:>7}: paretoopt {rate:9.0f} muons/s = {speed:6.1f}x TomOpt's best")
        for r in tom:
            same = [o for o in ours if o["n"] == r["n"]]
            if same:
                ratio = statistics.median(r["time_s"]) / statistics.median(same[0]["time_s"])
                print(f"threads={t} n={r['n']:>7}: equal batch size, paretoopt {ratio:.1f}x faster")


if __name__ == "__main__":
    main()
