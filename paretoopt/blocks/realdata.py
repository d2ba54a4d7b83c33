"""Real data: fine-tune a learned reconstruction on measured events mixed with simulation.

A measured file (CSV, or Parquet when pandas has a Parquet engine) holds one event per row:
the beam energy and the readout of each depth segment, every column with its unit in the name
(``energy_gev``, ``segment_01_mev`` ...; GeV, MeV and keV are understood). Lines starting with
``#`` are comments (metadata). Fine-tuning (:func:`fine_tune`) trains the learned block on the
measured events together with simulated ones of the same design, with ``measured_fraction`` of
the loss on the measured events, and learns one extra number, the **calibration** of the real
detector relative to the simulation (``k``: measured readout = ``k`` x simulated readout, as a
different sampling fraction makes it): the simulation teaches the shape (leakage), the
measured events fix the scale. Its standard error is a bootstrap.

``MEASURED_FILE`` ships a small synthetic "measured" file: the simulation of one design with its
readout scaled by ``k = 0.93`` (:func:`make_measured_file` writes it again, bit for bit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from paretoopt.blocks.core import Context
from paretoopt.blocks.learned import LearnedEnergyRegression
from paretoopt.blocks.pipeline import Pipeline, PipelineError

#: The shipped synthetic measured file and how it was made (see :func:`make_measured_file`).
MEASURED_FILE = Path(__file__).resolve().parent / "data" / "measured_calorimeter.csv"
MEASURED_CALIBRATION = 0.93
MEASURED_DESIGN: dict[str, Any] = {
    "n_sections": 2,
    "params": {"absorber_mm_01": 4.0, "absorber_mm_02": 4.0, "active_mm_01": 3.0, "active_mm_02": 3.0},
    "choices": {"n_layers": 14, "absorber": "Pb", "active": "scintillator"},
    "energies_gev": (2.0, 5.0, 10.0, 20.0, 50.0),
}
_UNITS = {"gev": 1.0, "mev": 1e-3, "kev": 1e-6}


@dataclass(frozen=True)
class MeasuredEvents:
    """Measured events in GeV: ``energy_gev`` ``(n,)`` and ``segments_gev`` ``(n, S)``."""

    energy_gev: torch.Tensor
    segments_gev: torch.Tensor
    source: str = ""


def _unit_factor(column: str) -> float:
    m = re.search(r"_([a-z]+)$", column.lower())
    if m is None or m.group(1) not in _UNITS:
        raise ValueError(
            f"column {column!r} has no known energy unit suffix ({', '.join('_' + u for u in _UNITS)})"
        )
    return _UNITS[m.group(1)]


def load_measured(path: str | Path) -> MeasuredEvents:
    """Read a measured file (see the module doc); ``ValueError`` on a missing energy column,
    no segment columns, an unknown unit or a non-finite value."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(p)
        except ImportError as exc:
            raise ValueError(
                f"reading {p.name} needs a Parquet engine (pyarrow or fastparquet): {exc}"
            ) from exc
    else:
        frame = pd.read_csv(p, comment="#")
    energy_cols = [c for c in frame.columns if c.lower().startswith("energy_")]
    seg_cols = sorted((c for c in frame.columns if c.lower().startswith("segment_")), key=lambda c: c.lower())
    if len(energy_cols) != 1 or not seg_cols:
        raise ValueError(
            f"{p.name}: needs one energy_<unit> column and segment_<k>_<unit> columns, "
            f"got {list(frame.columns)}"
        )
    energy = frame[energy_cols[0]].to_numpy(float) * _unit_factor(energy_cols[0])
    segs = np.column_stack([frame[c].to_numpy(float) * _unit_factor(c) for c in seg_cols])
    if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(segs)) and np.all(energy > 0)):
        raise ValueError(f"{p.name}: non-finite values or non-positive energies")
    return MeasuredEvents(torch.tensor(energy), torch.tensor(segs), str(p))


def make_measured_file(
    path: str | Path, *, calibration: float = MEASURED_CALIBRATION, n_per_energy: int = 120, seed: int = 20
) -> Path:
    """Write the synthetic measured file: :data:`MEASURED_DESIGN` simulated at its beam
    energies (``n_per_energy`` events each, seeded) with every segment's readout multiplied by
    ``calibration`` (a real sampling fraction ``calibration`` times the simulated one), in MeV."""
    from paretoopt.blocks.calorimeter import CalorimeterDetector
    from paretoopt.physics.calorimetry import SegmentedCalorimeter

    d = MEASURED_DESIGN
    sim = SegmentedCalorimeter(n_sections=d["n_sections"], energies_gev=d["energies_gev"])
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in d["params"].items()}
    n = n_per_energy * len(d["energies_gev"])
    with torch.no_grad():
        out = CalorimeterDetector(sim).forward(
            {}, Context(params, d["choices"], n, torch.Generator().manual_seed(seed))
        )
    segs = (out["segment_readout_gev"] * calibration * 1000.0).numpy()
    frame = pd.DataFrame({"energy_gev": out["energy_gev"].numpy()})
    for k in range(segs.shape[1]):
        frame[f"segment_{k + 1:02d}_mev"] = np.round(segs[:, k], 4)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# synthetic 'measured' test-beam file (paretoopt.blocks.realdata.make_measured_file)\n"
        f"# design: {d['choices']}, {d['params']} (mm), {d['n_sections']} sections\n"
        f"# readout = simulation x {calibration} (another sampling-fraction calibration), seed {seed}\n"
    )
    p.write_text(header + frame.to_csv(index=False, lineterminator="\n"))
    return p


@dataclass
class FineTuneResult:
    """``calibration``: fitted ``k`` (measured readout over simulated), with its bootstrap
    ``calibration_stderr``; the numbers of events used and the block's training curve."""

    calibration: float
    calibration_stderr: float
    n_measured: int
    n_simulated: int
    curve: list[float]


def fine_tune(
    pipeline: Pipeline,
    measured: MeasuredEvents,
    params: dict[str, torch.Tensor],
    choices: dict[str, Any],
    *,
    block: str = "reconstruction",
    measured_fraction: float = 0.5,
    n_simulated: int = 4000,
    n_bootstrap: int = 200,
    oversample: int = 4,
    seed: int = 0,
) -> FineTuneResult:
    """Fine-tune the learned ``block`` of ``pipeline`` on ``measured`` events mixed with
    ``n_simulated`` simulated events of the design (``params``, ``choices``; continuous
    energies): a fraction ``measured_fraction`` of the loss on the measured events. The
    calibration ``k`` is the ratio of the mean relative responses ``w.x/E`` (simulation-trained
    weights ``w``) of the measured events and of ``oversample`` simulated events at each measured event's
    energy; its error a bootstrap of both. ``k`` is returned and set as ``block.calibration``
    (measured readouts are divided by it: :meth:`LearnedEnergyRegression.reconstruct_measured`);
    then the block is trained on the mixed sample."""
    reco = pipeline.block(block)
    if not isinstance(reco, LearnedEnergyRegression):
        raise PipelineError(f"block {block!r} is not a learned energy regression")
    if not 0.0 < measured_fraction <= 1.0:
        raise ValueError(f"measured_fraction must be in (0, 1], got {measured_fraction}")
    i = pipeline.names.index(block)
    gen = torch.Generator().manual_seed(seed)
    xm, em = measured.segments_gev.to(torch.float64), measured.energy_gev.to(torch.float64)
    with torch.no_grad():
        sim = pipeline.run(Context(params, choices, n_simulated, gen, phase="train"), upto=i)
        matched = pipeline.run(
            Context(params, choices, 0, gen, phase="train", extra={"energy_gev": em.repeat(oversample)}),
            upto=i,
        )
    xs, es = sim["segment_readout_gev"], sim["energy_gev"]
    xc = matched["segment_readout_gev"]
    if xm.shape[1] != xs.shape[1]:
        raise ValueError(f"measured file has {xm.shape[1]} segments, the design reads {xs.shape[1]}")
    # 1. the shape from the simulation alone; 2. k = measured over simulated reconstructed sum at
    # the same beam energies (a ratio of means: no regression-to-the-mean bias), bootstrapped
    reco.fit({"segment_readout_gev": xs, "energy_gev": es})
    w = reco.weights
    ec = em.repeat(oversample)
    num, den = (xm @ w) / em, (xc @ w) / ec  # relative responses, energy by energy matched
    k = float(num.mean() / den.mean())
    rng = np.random.default_rng(seed)
    strata = [(torch.nonzero(em == e).flatten(), torch.nonzero(ec == e).flatten()) for e in torch.unique(em)]

    def resampled(values: torch.Tensor, which: int) -> float:
        # stratified by beam energy: the energy mix of the file is fixed, not sampled
        parts = [values[idx[rng.integers(0, len(idx), len(idx))]] for idx in (s[which] for s in strata)]
        return float(torch.cat(parts).mean())

    boot = [resampled(num, 0) / resampled(den, 1) for _ in range(n_bootstrap)]
    # 3. weights and network on the mixed sample (measured readout brought to the simulation's
    # scale by k), each measured event weighted so that measured_fraction of the loss is theirs
    x_all = torch.cat([xs, xm / k])
    e_all = torch.cat([es, em])
    v = torch.cat(
        [
            torch.full_like(es, (1 - measured_fraction) / len(es)),
            torch.full_like(em, measured_fraction / len(em)),
        ]
    )
    curve = reco.fit({"segment_readout_gev": x_all, "energy_gev": e_all, "event_weight": v})
    reco._w = None
    reco.calibration = k
    return FineTuneResult(k, float(np.std(boot, ddof=1)), len(em), len(es), curve)
