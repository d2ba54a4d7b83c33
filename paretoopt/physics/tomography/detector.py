"""The scanner's geometry, its tracking technologies (resolution, material, cost), the panel parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from paretoopt.space import Real


@dataclass(frozen=True)
class Technology:
    """A tracking-plane technology, per x-y plane (one panel).

    Resolution and cost follow from the readout: ``pitch_m`` (strip, tube or fibre-channel
    pitch), ``readout_layers`` (sensitive layers per measured coordinate: a plane has that many
    layers measuring x and as many measuring y) and ``sensor_layers`` (layers of sensor area in
    the plane: 1 for an RPC read on both faces, 2 for single-sided silicon strips). A panel of
    spans ``(sx, sy)`` has ``readout_layers (sx + sy) / pitch`` channels and costs
    ``fixed_keur + eur_per_channel channels / 1000 + keur_per_m2 sensor_layers sx sy``.
    ``resolution_m`` (1 sigma per coordinate) is ``pitch / sqrt(12)`` for binary strip readout
    (PDG RPP "Particle detectors at accelerators": binary readout; checked in the tests) and the
    drift-time or charge-sharing value otherwise. ``x0_per_plane``: material of the plane in
    radiation lengths at normal incidence (the muon scatters in it). ``efficiency``: per-plane
    hit efficiency. Numbers are indicative: orders of magnitude for a first design study, each
    with its source in ``source``, to be replaced by quotes.
    """

    name: str
    resolution_m: float
    efficiency: float
    pitch_m: float
    readout_layers: int
    sensor_layers: int
    x0_per_plane: float
    fixed_keur: float
    eur_per_channel: float
    keur_per_m2: float
    source: str = ""

    def __post_init__(self) -> None:
        if not self.resolution_m > 0:
            raise ValueError(f"Technology {self.name!r}: resolution_m must be > 0, got {self.resolution_m}")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"Technology {self.name!r}: efficiency must be in (0, 1], got {self.efficiency}")
        if not self.pitch_m > 0:
            raise ValueError(f"Technology {self.name!r}: pitch_m must be > 0")
        if self.readout_layers < 1 or self.sensor_layers < 1:
            raise ValueError(f"Technology {self.name!r}: readout_layers and sensor_layers must be >= 1")
        for f in ("x0_per_plane", "fixed_keur", "eur_per_channel", "keur_per_m2"):
            if not getattr(self, f) >= 0:
                raise ValueError(f"Technology {self.name!r}: {f} must be >= 0")

    def channels(self, span_x: torch.Tensor, span_y: torch.Tensor) -> torch.Tensor:
        """Readout channels of panels of spans ``span_x, span_y`` (m): ``layers (sx + sy) / pitch``."""
        return self.readout_layers * (span_x + span_y) / self.pitch_m

    def panel_cost_keur(self, span_x: torch.Tensor, span_y: torch.Tensor) -> torch.Tensor:
        """Cost (kEUR) of panels of spans ``span_x, span_y`` (m): fixed + channels + sensor area."""
        return (
            self.fixed_keur
            + 1e-3 * self.eur_per_channel * self.channels(span_x, span_y)
            + self.keur_per_m2 * self.sensor_layers * span_x * span_y
        )


_SQRT12 = math.sqrt(12.0)

#: Indicative values for a first design study (not for procurement). Resolutions: PDG RPP
#: "Particle detectors at accelerators" (Table 35.1 ranges; binary strips give pitch/sqrt(12)).
#: Material per x-y plane (radiation lengths, PDG X0: Al 8.897 cm, Si 9.370 cm, float glass
#: ~11 cm from PDG "Glass (Pyrex)" 28.17 g/cm2 at 2.5 g/cm3): RPC two 2 mm glass electrodes plus
#: strip boards ~3 %; aluminium drift tubes with 0.4 mm walls (ATLAS MDT wall, CERN-LHCC-97-022)
#: average pi x wall per tube layer = 1.26 mm Al = 1.4 % X0 per layer, two layers (x, y) ~3 %;
#: scintillating-fibre mats ~1 % X0 per layer (LHCb SciFi TDR, CERN-LHCC-2014-001), two layers
#: ~2 %; silicon strips 2 x 320 um + support ~1 %. Costs: per-channel electronics and per-m2
#: sensor costs are rough 2024 orders of magnitude (e.g. ~10 EUR per gas-detector strip
#: channel, ~1 EUR per silicon-strip ASIC channel, ~20 kEUR/m2 of silicon sensor), uncertain
#: by factors of ~2.
TECHNOLOGIES: dict[str, Technology] = {
    "rpc": Technology(
        "rpc",
        resolution_m=10e-3 / _SQRT12,
        efficiency=0.95,
        pitch_m=10e-3,
        readout_layers=1,
        sensor_layers=1,
        x0_per_plane=0.03,
        fixed_keur=2.0,
        eur_per_channel=10.0,
        keur_per_m2=0.5,
        source="glass RPC, 1 cm x-y strips read digitally (pitch/sqrt(12) = 2.9 mm); ~3 % X0",
    ),
    "rpc_fine": Technology(
        "rpc_fine",
        resolution_m=3e-3 / _SQRT12,
        efficiency=0.95,
        pitch_m=3e-3,
        readout_layers=1,
        sensor_layers=1,
        x0_per_plane=0.03,
        fixed_keur=2.0,
        eur_per_channel=10.0,
        keur_per_m2=0.5,
        source="glass RPC, 3 mm x-y strips read digitally (0.87 mm); ~670 channels per m of side",
    ),
    "drift_tubes": Technology(
        "drift_tubes",
        resolution_m=0.3e-3,
        efficiency=0.95,
        pitch_m=30e-3,
        readout_layers=1,
        sensor_layers=2,
        x0_per_plane=0.028,
        fixed_keur=3.0,
        eur_per_channel=50.0,
        keur_per_m2=1.5,
        source="30 mm Al drift tubes, 0.4 mm walls (ATLAS MDT-like), one layer per coordinate; "
        "drift-time resolution ~0.3 mm (PDG Table 35.1: 50-300 um); ~2.8 % X0",
    ),
    "scintillating_fibres": Technology(
        "scintillating_fibres",
        resolution_m=0.08e-3,
        efficiency=0.98,
        pitch_m=0.25e-3,
        readout_layers=1,
        sensor_layers=2,
        x0_per_plane=0.02,
        fixed_keur=5.0,
        eur_per_channel=8.0,
        keur_per_m2=3.0,
        source="250 um fibre mats read by 250 um SiPM channels (LHCb SciFi TDR: < 100 um); ~2 % X0",
    ),
    "silicon_strips": Technology(
        "silicon_strips",
        resolution_m=80e-6 / _SQRT12,
        efficiency=0.99,
        pitch_m=80e-6,
        readout_layers=1,
        sensor_layers=2,
        x0_per_plane=0.01,
        fixed_keur=5.0,
        eur_per_channel=1.0,
        keur_per_m2=20.0,
        source="single-sided 80 um strips, two sensor layers per x-y plane, binary readout (23 um); ~1 % X0",
    ),
}


@dataclass(frozen=True)
class Geometry:
    """Where the volume and the detector regions are (m).

    The passive volume spans ``volume_xy`` = (x_min, x_max, y_min, y_max) and ``volume_z`` =
    (z_min, z_max); panels above live in ``above_z``, panels below in ``below_z``. Each of the
    ``max_panels`` slots of a side has its own z range inside its region, staggered by
    ``stagger_m`` so that the default (centre) start has distinct panel heights (a straight
    line needs two distinct z); slot 1 is the one nearest the volume. Muons are generated on
    the top plane of the upper region over the volume footprint widened by ``margin_m``.
    """

    volume_xy: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)
    volume_z: tuple[float, float] = (0.5, 1.5)
    above_z: tuple[float, float] = (1.55, 2.0)
    below_z: tuple[float, float] = (0.0, 0.45)
    max_panels: int = 4
    stagger_m: float = 0.05
    margin_m: float = 0.5
    span_range_m: tuple[float, float] = (0.2, 2.0)

    def slot_z_range(self, side: str, slot: int) -> tuple[float, float]:
        """z range (m) of slot ``slot`` (1-based) on ``side`` ("above" or "below")."""
        n, s = self.max_panels, self.stagger_m
        if side == "above":
            lo, hi = self.above_z
            return lo + (slot - 1) * s, hi - (n - slot) * s
        lo, hi = self.below_z
        return lo + (n - slot) * s, hi - (slot - 1) * s

    @property
    def generation_area(self) -> tuple[float, float, float, float]:
        x0, x1, y0, y1 = self.volume_xy
        m = self.margin_m
        return x0 - m, x1 + m, y0 - m, y1 + m

    @property
    def generation_z(self) -> float:
        return self.above_z[1]


SIDES = ("above", "below")
PANEL_FIELDS = ("z", "x", "y", "span_x", "span_y")


def panel_param_name(side: str, slot: int, field_name: str) -> str:
    """Name of a panel parameter, e.g. ``above1_z``, ``below3_span_x``."""
    return f"{side}{slot}_{field_name}"


def panel_parameters(geometry: Geometry) -> list[Real]:
    """The differentiable panel parameters (m): per slot and side, z, xy centre and xy span."""
    x0, x1, y0, y1 = geometry.volume_xy
    out: list[Real] = []
    for side in SIDES:
        for slot in range(1, geometry.max_panels + 1):
            zlo, zhi = geometry.slot_z_range(side, slot)
            out += [
                Real(panel_param_name(side, slot, "z"), zlo, zhi, unit="m"),
                Real(panel_param_name(side, slot, "x"), x0, x1, unit="m"),
                Real(panel_param_name(side, slot, "y"), y0, y1, unit="m"),
                Real(panel_param_name(side, slot, "span_x"), *geometry.span_range_m, unit="m"),
                Real(panel_param_name(side, slot, "span_y"), *geometry.span_range_m, unit="m"),
            ]
    return out


@dataclass(frozen=True)
class Panels:
    """The active panels of one side: ``(K,)`` tensors z, centre x/y, span x/y (m)."""

    z: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    span_x: torch.Tensor
    span_y: torch.Tensor

    @property
    def n(self) -> int:
        return int(self.z.shape[0])

    def area_m2(self) -> torch.Tensor:
        return (self.span_x * self.span_y).sum()

    @classmethod
    def from_params(cls, params: Mapping[str, torch.Tensor], side: str, n: int) -> Panels:
        cols = [
            torch.stack([torch.as_tensor(params[panel_param_name(side, k, f)]) for k in range(1, n + 1)])
            for f in PANEL_FIELDS
        ]
        return cls(*cols)
