"""The cost of a plate calorimeter: absorber, active medium, channels from the cell size, mechanics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from paretoopt.physics import materials
from paretoopt.physics.calorimetry.readout import ActiveMedium
from paretoopt.physics.calorimetry.sampling import as_tensor


@dataclass(frozen=True)
class CostModel:
    """Cost of a plate calorimeter of front area ``area_m2`` (kEUR).

    ``absorber mass x price/kg + active (mass x price/kg + area x price/m2) + channels x
    cost/channel + layers x cost_per_layer_eur`` (mechanics, assembly). Channels: cells of the
    active medium's ``cell_size_cm`` (default the stack's Moliere radius, the usual EM
    granularity) times its readout segments (or the number of layers). The support material
    of a layer (circuit boards, glue) is priced with the sensors and channels. Material prices
    come from :mod:`paretoopt.physics.materials` unless overridden in ``prices`` (material
    key -> ``{"price_eur_per_kg": .., "price_eur_per_m2": ..}``).
    """

    area_m2: float = 1.0
    cost_per_layer_eur: float = 200.0
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def material(self, name: str) -> materials.Material:
        mat = materials.get(name)
        over = self.prices.get(mat.name) or self.prices.get(name) or {}
        unknown = set(over) - {"price_eur_per_kg", "price_eur_per_m2"}
        if unknown:
            raise ValueError(f"unknown price keys {sorted(unknown)} for {name!r}")
        if not over:
            return mat
        return mat.with_prices(
            price_eur_per_kg=over.get("price_eur_per_kg"), price_eur_per_m2=over.get("price_eur_per_m2")
        )

    def breakdown_keur(
        self,
        absorber: str,
        active: ActiveMedium,
        absorber_mm: torch.Tensor,
        active_mm: torch.Tensor,
        n_layers: int,
        moliere_radius_cm: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Cost items in kEUR: ``absorber``, ``active``, ``readout``, ``mechanics``.

        ``absorber_mm`` / ``active_mm``: one thickness for every layer (0-d) or one per layer
        (``(n_layers,)``); ``moliere_radius_cm``: the stack's (0-d)."""
        a, p = self.material(absorber), self.material(active.material)
        area_cm2 = self.area_m2 * 1e4
        per_layer = n_layers if absorber_mm.dim() == 0 else 1
        abs_kg = per_layer * area_cm2 * (absorber_mm / 10.0).sum() * a.density_g_cm3 * 1e-3
        act_kg = per_layer * area_cm2 * (active_mm / 10.0).sum() * p.density_g_cm3 * 1e-3
        segments = min(active.readout_segments or n_layers, n_layers)
        cells = area_cm2 / active.cell_cm(moliere_radius_cm) ** 2
        return {
            "absorber": abs_kg * a.price_eur_per_kg / 1e3,
            "active": (act_kg * p.price_eur_per_kg + n_layers * self.area_m2 * p.price_eur_per_m2) / 1e3,
            "readout": cells * segments * active.channel_cost_eur / 1e3,
            "mechanics": as_tensor(n_layers * self.cost_per_layer_eur / 1e3, absorber_mm),
        }
