"""Readout of an active medium: support, cell size, noise (capacitance-scaled for gaps), default media."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paretoopt.physics import materials
from paretoopt.physics.calorimetry.sampling import SILICON_EMPIRICAL_FACTOR

#: Radius of the cluster summed for the energy, in Moliere radii: about 95 % of a shower's
#: energy lies within 2 R_M (PDG "Passage of particles through matter", EM cascades: 90 %
#: within R_M, 99 % within 3.5 R_M). The signal is counted within this radius (lateral
#: leakage from the Grindhammer-Peters lateral profile) and so is the noise of its cells.
CLUSTER_RADIUS_RM = 2.0

#: Vacuum permittivity in pF/mm (CODATA 2018: 8.8541878128e-12 F/m).
VACUUM_PERMITTIVITY_PF_PER_MM = 8.8541878128e-3


@dataclass(frozen=True)
class CapacitiveNoise:
    """Electronic noise of an ionisation-gap channel (liquid argon), from its capacitance.

    Series noise dominates the fast shaping of ionisation calorimeters, so the equivalent
    noise charge grows with the detector capacitance: ``ENC = enc_0 + slope x C`` (electrons;
    e.g. V. Radeka, Ann. Rev. Nucl. Part. Sci. 38 (1988) 217). A channel gangs the gaps of
    one depth segment of one cell: ``C = sum eps_0 eps_r A_cell / g``. A shaper of peaking
    time ``t_p`` much shorter than the drift time ``t_d = g / v_drift`` sees the initial
    current of the triangular signal, i.e. a fraction ``min(1, t_p / t_d)`` of the ionisation
    charge ``E_dep / W``. So the noise in MeV deposited in the argon is ``ENC W / min(1, t_p
    v_drift / g)``: for gaps thicker than ``t_p v_drift`` (0.2 mm here) the gap cancels and
    the noise grows with the cell area and the number of ganged gaps; thinner gaps collect all
    their charge and get noisier as ``1/g``.

    Defaults (indicative): ``eps_r = 1.5`` (liquid argon at 87 K), ``W = 23.6 eV`` per
    electron-ion pair (M. Miyajima et al., Phys. Rev. A 9 (1974) 1438), ``v_drift = 4.61
    mm/us`` at 1 kV/mm and 88.5 K (measured by ATLAS with cosmic muons, 4.61 +- 0.07 mm/us:
    Eur. Phys. J. C 70 (2010) 755, arXiv:1002.4189), ``t_p = 45 ns``, ``slope = 40 e-/pF`` (both
    indicative: searched for in ATLAS's LAr read-out papers, found only their abstracts) and
    ``enc_0 = 0``: 0.96 MeV for a 4 x 4 cm cell
    ganging ten 2 mm gaps (106 pF), the 1 MeV per channel this model used before it scaled.
    """

    relative_permittivity: float = 1.5
    enc_electrons_0: float = 0.0
    enc_electrons_per_pf: float = 40.0
    w_value_ev: float = 23.6
    drift_velocity_mm_per_us: float = 4.61
    shaping_time_ns: float = 45.0

    def __post_init__(self) -> None:
        for name in ("relative_permittivity", "w_value_ev", "drift_velocity_mm_per_us", "shaping_time_ns"):
            if not getattr(self, name) > 0:
                raise ValueError(f"CapacitiveNoise.{name} must be > 0")
        if self.enc_electrons_0 < 0 or self.enc_electrons_per_pf < 0:
            raise ValueError("CapacitiveNoise: noise coefficients must be >= 0")

    def channel_capacitance_pf(self, cell_area_cm2: torch.Tensor, gaps_mm: torch.Tensor) -> torch.Tensor:
        """Capacitance (pF) of one gap of each thickness in ``gaps_mm`` over a cell of ``cell_area_cm2``."""
        return VACUUM_PERMITTIVITY_PF_PER_MM * self.relative_permittivity * cell_area_cm2 * 100.0 / gaps_mm

    def noise_mev(self, capacitance_pf: torch.Tensor, mean_gap_mm: torch.Tensor) -> torch.Tensor:
        """Noise (MeV deposited in the active medium) of a channel of ``capacitance_pf`` whose
        gaps are ``mean_gap_mm`` thick."""
        enc = self.enc_electrons_0 + self.enc_electrons_per_pf * capacitance_pf
        collected = (self.shaping_time_ns * 1e-3 * self.drift_velocity_mm_per_us / mean_gap_mm).clamp(max=1.0)
        return enc * self.w_value_ev * 1e-6 / collected


@dataclass(frozen=True)
class ActiveMedium:
    """How an active medium is read out: material, light yield, noise, granularity, support and cost.

    ``photoelectrons_per_mev``: photo-electrons per MeV deposited (``None``: charge readout,
    no photo-statistics). ``noise_mev_per_channel``: electronic noise per readout channel,
    in MeV deposited in the active medium (replaced by ``capacitive`` when that is given).
    ``readout_segments``: depth segments read per cell (``None``: every layer read on its own,
    as silicon pads are). ``cell_size_cm``: side of a readout cell (``None``: the stack's
    Moliere radius, the usual EM granularity). ``support``: passive material in every layer
    besides the absorber, ``((material, mm), ...)`` (circuit boards, glue, air gaps): it
    takes depth, dilutes the stack (larger Moliere radius) and absorbs some mip energy.
    ``channel_cost_eur``: photodetector/preamplifier + digitisation per channel.
    ``sampling_factor``: empirical multiplier of the sampling term (1 where Wigmans' formula
    holds). All defaults are indicative (2024) and meant to be replaced by a design's numbers.
    """

    material: str
    photoelectrons_per_mev: float | None = None
    noise_mev_per_channel: float = 0.0
    readout_segments: int | None = 4
    channel_cost_eur: float = 0.0
    sampling_factor: float = 1.0
    description: str = ""
    support: tuple[tuple[str, float], ...] = ()
    cell_size_cm: float | None = None
    capacitive: CapacitiveNoise | None = None

    def __post_init__(self) -> None:
        materials.get(self.material)
        if self.photoelectrons_per_mev is not None and not self.photoelectrons_per_mev > 0:
            raise ValueError(f"photoelectrons_per_mev must be > 0 or None, got {self.photoelectrons_per_mev}")
        if self.noise_mev_per_channel < 0 or self.channel_cost_eur < 0 or self.sampling_factor <= 0:
            raise ValueError(f"invalid readout numbers in {self!r}")
        if self.readout_segments is not None and self.readout_segments < 1:
            raise ValueError(f"readout_segments must be >= 1 or None, got {self.readout_segments}")
        if self.cell_size_cm is not None and not self.cell_size_cm > 0:
            raise ValueError(f"cell_size_cm must be > 0 or None, got {self.cell_size_cm}")
        for name, mm in self.support:
            materials.get(name)
            if not (math.isfinite(mm) and mm > 0):
                raise ValueError(f"support thickness of {name!r} must be > 0 mm, got {mm}")

    def cell_cm(self, moliere_radius_cm: torch.Tensor) -> torch.Tensor:
        """Side of a readout cell (cm): ``cell_size_cm`` or the stack's Moliere radius."""
        if self.cell_size_cm is None:
            return moliere_radius_cm
        return torch.full_like(moliere_radius_cm, self.cell_size_cm)

    def channel_noise_mev(
        self, cell_cm: torch.Tensor, active_mm: torch.Tensor, membership: torch.Tensor
    ) -> torch.Tensor:
        """Noise per channel (MeV deposited) of each readout segment: ``membership`` is the
        ``(layers, segments)`` 0/1 matrix, ``active_mm`` the ``(layers,)`` active thicknesses."""
        if self.capacitive is None:
            return torch.full(
                (membership.shape[1],), self.noise_mev_per_channel, dtype=cell_cm.dtype, device=cell_cm.device
            )
        per_gap = self.capacitive.channel_capacitance_pf(cell_cm**2, active_mm)
        capacitance = per_gap @ membership
        mean_gap = (active_mm @ membership) / membership.sum(0)
        return self.capacitive.noise_mev(capacitance, mean_gap)


def cells_in_cluster(
    moliere_radius_cm: torch.Tensor, cell_cm: torch.Tensor, radius_rm: float
) -> torch.Tensor:
    """Number of cells in a disc of ``radius_rm`` Moliere radii (at least one)."""
    return (math.pi * (radius_rm * moliere_radius_cm / cell_cm) ** 2).clamp_min(1.0)


#: Per-layer support of a silicon-tungsten layer besides the sensor, from ILD's SiW-ECAL as
#: simulated (key4hep/k4geo, ILD/compact/ILD_common_v02/ecal_defs.xml, the ILD_l5_v02 model):
#: ``Ecal_Slab_PCB_thickness`` 1.70 mm (FR4), ``Ecal_Slab_copper_thickness`` 0.35 mm,
#: ``Ecal_Slab_glue_gap`` 0.1 mm + ``Ecal_Slab_ground_thickness`` 0.1 mm (taken as epoxy),
#: carbon fibre 1.0 mm (half of a slab's shared walls: 2 x 0.42 mm around the structure's
#: tungsten, 2 x 0.44 mm alveolus walls, 2 x 0.15 mm around the slab's tungsten; taken as
#: graphite, denser than the composite) and half the 0.2 mm ``Ecal_Alveolus_Air_Gap``. The
#: split per layer is ours. It puts the effective Moliere radius of ILD's 2.1 mm W / 0.525 mm
#: Si stack at 1.93 cm (2.8 mm W: 1.73 cm). Before: FR4 1.2 + epoxy 0.1 + air 0.7 mm, no copper.
SILICON_SUPPORT: tuple[tuple[str, float], ...] = (
    ("FR4", 1.7),
    ("Cu", 0.35),
    ("epoxy", 0.2),
    ("C", 1.0),
    ("air", 0.1),
)

#: Default active media of the studies (indicative numbers; see ``docs/physics-calorimeter.md``).
ACTIVE_MEDIA: dict[str, ActiveMedium] = {
    # plastic scintillator with wavelength-shifting fibres, ~10 p.e./MeV (LHCb ECAL: ~3000
    # p.e./GeV of shower energy at f_samp ~ 0.25), towers read in 4 depth segments
    "scintillator": ActiveMedium(
        "polystyrene",
        photoelectrons_per_mev=10.0,
        noise_mev_per_channel=0.1,
        readout_segments=4,
        channel_cost_eur=30.0,
        description="plastic scintillator tiles, WLS-fibre readout",
    ),
    # silicon pads: ENC ~ 2000 e- = 7 keV (3.6 eV per pair), every layer read out
    "silicon": ActiveMedium(
        "Si",
        photoelectrons_per_mev=None,
        noise_mev_per_channel=0.007,
        readout_segments=None,
        channel_cost_eur=5.0,
        sampling_factor=SILICON_EMPIRICAL_FACTOR,
        description="silicon pad sensors on a PCB",
        support=SILICON_SUPPORT,
    ),
    # liquid-argon ionisation gaps, electrodes ganged into 4 depth segments; noise from the
    # channel capacitance
    "LAr": ActiveMedium(
        "LAr",
        photoelectrons_per_mev=None,
        readout_segments=4,
        channel_cost_eur=50.0,
        description="liquid-argon gaps",
        capacitive=CapacitiveNoise(),
    ),
}
