"""paretoopt's differentiable muon tomography against TomOpt 0.1.0 on the same scenario.

Scenario (both tools): a 1 m x 1 m x 1 m volume of 10 cm voxels of water at z = 0.5-1.5 m with a
30 x 30 x 20 cm lead block; four drift-tube panels above (z = 1.70, 1.75, 1.80, 1.85 m) and four
below (z = 0.30, 0.25, 0.20, 0.15 m), 1.1 m x 1.1 m, centred on the volume, resolution 0.3 mm,
efficiency 0.95; muons from the Guan et al. 2015 flux (0.5-500 GeV, zenith < 70 deg, sampled
momentum for both) generated at z = 2.0 m over x, y in [-0.5, 1.5] m.

Measured, per tool: wall time of one batch forward + backward (training mode; the loss is the
mean squared error of ln X0 over the voxels) and peak resident memory, for several batch sizes,
on one thread and on all threads; and the ln X0 error of the evaluation-mode inference after the
same total number of muons (TomOpt in batches of its best size, paretoopt in one batch).

TomOpt runs in its own virtual environment, ``benchmarks/.venv-tomopt`` (created here if
missing: ``pip install torch==2.13.0 tomopt==0.1.0 mypy_extensions``; tomopt pins numpy < 2 and
pandas < 2 and imports mypy_extensions without declaring it), in a
subprocess per measurement, so each peak-memory figure belongs to one configuration.

Usage::

    python benchmarks/muon_tomography.py                      # defaults below
    python benchmarks/muon_tomography.py --ours 1000,10000 --tomopt 100,300 --accuracy 10000

Prints a table and writes ``benchmarks/results/muon_tomography.json``.
"""

from __future__ import annotations

import argparse
import json
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


def _ours_params():
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
    return params


def ours_worker(mode: str, n: int, repeats: int, threads: int, seed: int, method: str, dtype: str) -> dict:
    import torch

    from paretoopt.physics.tomography import Geometry, InferenceSettings, MuonTomography, true_inv_x0

    torch.set_num_threads(threads)
    geo = Geometry(margin_m=0.5)
    sim = MuonTomography(geometry=geo, inference=InferenceSettings(method=method))
    choices = {"n_above": 4, "n_below": 4, "technology": "drift_tubes"}
    base = _ours_params()
    tdt = torch.float64 if dtype == "float64" else torch.float32
    out: dict = {"tool": "paretoopt", "mode": mode, "n": n, "threads": threads, "method": method}
    out["dtype"] = dtype
    truth = true_inv_x0(sim.grid, sim.inference_grid)
    if mode == "timing":
        sim.train()
        times, errors = [], []
        for r in range(repeats):
            params = {k: v.to(tdt).clone().requires_grad_(True) for k, v in base.items()}
            t0 = time.perf_counter()
            res = sim(params, choices, n, torch.Generator().manual_seed(seed + r))
            loss = res["x0_error"].value
            loss.backward()
            times.append(time.perf_counter() - t0)
            errors.append(float(loss.detach()))
        out.update(time_s=times, loss=errors)
    else:
        sim.eval()
        params = {k: v.to(tdt) for k, v in base.items()}
        t0 = time.perf_counter()
        with torch.no_grad():
            scan = sim.scan(sim.grid, params, choices, n, torch.Generator().manual_seed(seed))
        x0_m = scan.estimate.x0_cm / 100.0
        out.update(
            time_s=[time.perf_counter() - t0],
            x0_log_mse=_log_mse(x0_m, 1.0 / (100.0 * truth)),
            n_reconstructed=scan.extras["n_reconstructed"],
        )
    out["peak_rss_mb"] = _peak_rss_mb()
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
    ap.add_argument("--ours", default="1000,3000,10000,30000,100000", help="paretoopt batch sizes")
    ap.add_argument("--tomopt", default="100,300,1000", help="TomOpt batch sizes (it is slow)")
    ap.add_argument("--accuracy", default="10000,100000", help="total muons for the X0 error")
    ap.add_argument("--tomopt-accuracy", default="10000", help="total muons TomOpt is run on for accuracy")
    ap.add_argument("--tomopt-batch", type=int, default=300, help="TomOpt's batch size in the accuracy runs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default=f"1,{os.cpu_count() or 1}")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--skip-tomopt", action="store_true")
    # worker mode (internal)
    ap.add_argument("--worker", choices=["tomopt", "ours"])
    ap.add_argument("--mode", choices=["timing", "accuracy"], default="timing")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--method", default="path")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.worker == "tomopt":
        print(json.dumps(tomopt_worker(args.mode, args.n, args.repeats, int(args.threads), args.seed)))
        return
    if args.worker == "ours":
        a = args
        print(json.dumps(ours_worker(a.mode, a.n, a.repeats, int(a.threads), a.seed, a.method, a.dtype)))
        return

    threads = _ints(args.threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows: list[dict] = []
    ours_py = sys.executable
    tom_py = None if args.skip_tomopt else str(ensure_tomopt_venv())
    for t in threads:
        for n in _ints(args.ours):
            for method in ("path", "poca"):
                cmd = _worker_cmd(ours_py, "ours", "timing", n, args.repeats, t, method=method)
                r = _run(cmd, args.timeout, env)
                rows.append({**r, "tool": "paretoopt", "mode": "timing", "n": n, "threads": t})
                rows[-1]["method"] = method
                print(_fmt(rows[-1]), flush=True)
        if tom_py:
            for n in _ints(args.tomopt):
                cmd = _worker_cmd(tom_py, "tomopt", "timing", n, max(1, args.repeats - 1), t)
                r = _run(cmd, args.timeout)
                rows.append({**r, "tool": "tomopt", "mode": "timing", "n": n, "threads": t})
                print(_fmt(rows[-1]), flush=True)
    t = threads[-1]
    for n in _ints(args.accuracy):
        for method in ("path", "poca"):
            r = _run(_worker_cmd(ours_py, "ours", "accuracy", n, 1, t, method=method), args.timeout, env)
            rows.append({**r, "tool": "paretoopt", "mode": "accuracy", "n": n, "threads": t})
            rows[-1]["method"] = method
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


def _fmt(r: dict) -> str:
    if "error" in r:
        return f"{r['tool']:>9} {r['mode']:>8} n={r['n']:>7} threads={r['threads']} ERROR {r['error']}"
    med = statistics.median(r["time_s"])
    extra = f" method={r.get('method', '-'):>4}"
    if r["mode"] == "accuracy":
        extra += f" lnX0 MSE={r['x0_log_mse']:.3f}"
    else:
        extra += f" loss={statistics.median(r['loss']):.3f}"
    return (
        f"{r['tool']:>9} {r['mode']:>8} n={r['n']:>7} threads={r['threads']} time={med:8.3f} s "
        f"({r['n'] / med:9.0f} muons/s) peak RSS={r['peak_rss_mb']:7.0f} MB{extra}"
    )


def _summary(rows: list[dict]) -> None:
    ok = [r for r in rows if "error" not in r and r["mode"] == "timing"]
    for t in sorted({r["threads"] for r in ok}):
        tom = [r for r in ok if r["tool"] == "tomopt" and r["threads"] == t]
        ours = [r for r in ok if r["tool"] == "paretoopt" and r["threads"] == t and r.get("method") == "path"]
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
