"""The scanner's fixed geometry, its tracking technologies and the differentiable panel parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from paretoopt.space import Real


@dataclass(frozen=True)
class Technology:
    """A tracking-plane technology: per-plane hit resolution (1 sigma in x and in y, m), hit
    efficiency, and an indicative cost per m2 of plane (kEUR, sensors + readout + mechanics)."""

    name: str
    resolution_m: float
    efficiency: float
    cost_keur_per_m2: float
    source: str = ""

    def __post_init__(self) -> None:
        if not self.resolution_m > 0:
            raise ValueError(f"Technology {self.name!r}: resolution_m must be > 0, got {self.resolution_m}")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"Technology {self.name!r}: efficiency must be in (0, 1], got {self.efficiency}")
        if not self.cost_keur_per_m2 >= 0:
            raise ValueError(f"Technology {self.name!r}: cost_keur_per_m2 must be >= 0")


#: Indicative values, meant for an order-of-magnitude trade-off, not for procurement.
#: Resolutions follow the ranges of PDG RPP "Particle detectors at accelerators", Table 35.1
#: ("typical resolutions of common charged-particle detectors": RPC <~ 10 mm down to ~1 mm with
#: fine strips, drift tubes/chambers 50-300 um, scintillating fibres ~100 um, silicon strips
#: pitch/(3 to 7)); efficiencies are typical single-plane values. Costs per m2 are rough 2024
#: orders of magnitude for instrumented planes (the area-dominated part of the cost).
TECHNOLOGIES: dict[str, Technology] = {
    "rpc": Technology(
        "rpc",
        resolution_m=1.0e-3,
        efficiency=0.95,
        cost_keur_per_m2=1.5,
        source="PDG RPP Table 35.1 (RPC); ~3 mm strip pitch / sqrt(12); cheap large-area gas planes",
    ),
    "drift_tubes": Technology(
        "drift_tubes",
        resolution_m=0.3e-3,
        efficiency=0.95,
        cost_keur_per_m2=5.0,
        source="PDG RPP Table 35.1 (drift chambers); CMS DT cell ~250 um (JINST 5 T03015)",
    ),
    "scintillating_fibres": Technology(
        "scintillating_fibres",
        resolution_m=0.1e-3,
        efficiency=0.98,
        cost_keur_per_m2=30.0,
        source="PDG RPP Table 35.1 (scintillation tracker ~100 um); LHCb SciFi TDR (<100 um)",
    ),
    "silicon_strips": Technology(
        "silicon_strips",
        resolution_m=0.02e-3,
        efficiency=0.99,
        cost_keur_per_m2=100.0,
        source="PDG RPP Table 35.1 (Si strips, pitch/(3-7): 80 um pitch -> ~20 um)",
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
