"""simulate_stack: the event-by-event Monte Carlo of a plate calorimeter whose layers may differ."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paretoopt.physics.calorimetry.readout import CLUSTER_RADIUS_RM, ActiveMedium, cells_in_cluster
from paretoopt.physics.calorimetry.sampling import (
    WIGMANS_CONSTANT,
    StackProperties,
    e_over_mip,
    stack_properties,
)
from paretoopt.physics.showers import LongitudinalShower, lateral_containment


@dataclass(frozen=True)
class MonteCarloOptions:
    """Which effects the Monte Carlo includes (all on by default; tests switch them off to
    compare one effect with an independent calculation).

    ``constant_term``: relative calibration spread applied to the summed energy;
    ``cluster_radius_rm``: radius of the cluster (Moliere radii) in which both the signal
    (lateral leakage) and the noise are counted."""

    constant_term: float = 0.005
    noise: bool = True
    photostatistics: bool = True
    lateral_leakage: bool = True
    cluster_radius_rm: float = CLUSTER_RADIUS_RM

    def __post_init__(self) -> None:
        if self.constant_term < 0:
            raise ValueError(f"constant_term must be >= 0, got {self.constant_term}")
        if not self.cluster_radius_rm > 0:
            raise ValueError(f"cluster_radius_rm must be > 0, got {self.cluster_radius_rm}")


@dataclass
class StackResponse:
    """What the Monte Carlo of one stack gives, per event and per layer.

    ``response``: reconstructed over true energy (before the global calibration), ``(n,)``;
    ``energy_gev``: true energies ``(n,)``; ``containment``: fraction of each shower inside
    the stack and the cluster ``(n,)``; ``layer_deposits_gev``: true shower energy deposited
    in each layer inside the cluster ``(n, L)``; ``layer_signals_gev``: the same with sampling
    and photo-statistics fluctuations, on the shower-energy scale ``(n, L)``;
    ``segment_signals_gev``: calibrated readout of each depth segment with electronic noise
    ``(n, S)``; ``noise_gev``: rms electronic noise of the cluster on the shower scale (0-d);
    ``stochastic_term``: per-layer sampling term ``(L,)`` (fraction); ``layers``: per-layer
    properties; ``medium``: the whole stack's effective medium; ``e_over_mip``."""

    response: torch.Tensor
    energy_gev: torch.Tensor
    containment: torch.Tensor
    layer_deposits_gev: torch.Tensor
    layer_signals_gev: torch.Tensor
    segment_signals_gev: torch.Tensor
    noise_gev: torch.Tensor
    stochastic_term: torch.Tensor
    layers: StackProperties
    medium: StackProperties
    e_over_mip: float


def segment_membership(n_layers: int, n_segments: int, like: torch.Tensor) -> torch.Tensor:
    """``(n_layers, n_segments)`` 0/1 matrix: layer ``i`` belongs to segment ``i S // L``
    (consecutive layers, sizes differing by at most one)."""
    seg = (torch.arange(n_layers, device=like.device) * n_segments) // n_layers
    return torch.nn.functional.one_hot(seg, n_segments).to(like.dtype)


def simulate_stack(
    absorber: str,
    medium: ActiveMedium,
    absorber_mm: torch.Tensor,
    active_mm: torch.Tensor,
    energy_gev: torch.Tensor,
    generator: torch.Generator,
    *,
    shower: LongitudinalShower,
    options: MonteCarloOptions,
) -> StackResponse:
    """Simulate ``len(energy_gev)`` showers in layers of ``absorber_mm`` / ``active_mm`` (both
    ``(L,)``; differentiable), read out by ``medium``.

    Per event: a fluctuating Grindhammer-Peters profile in the stack's effective medium
    deposits ``E c_i`` in layer ``i`` (``c_i`` from the exact depth of each layer in X0),
    of which the lateral profile keeps a fraction inside the cluster radius; the layer's
    signal is ``D_i + sqrt(D_i) s_i z_i`` with ``s_i^2 = (k a_i)^2 + 1/(1000 e/mip f_i n_pe)``
    (Wigmans' sampling term of the layer times the medium's factor ``k``, photo-statistics);
    layers are summed into readout segments of visible energy ``e/mip f_i x signal``, each
    calibrated by its deposit-weighted mean visible fraction and given the electronic noise
    of the cluster's channels; the sum is multiplied by ``1 + c z`` (constant term)."""
    n_layers = absorber_mm.shape[0]
    like = absorber_mm
    layers = stack_properties(absorber, medium.material, absorber_mm, active_mm, medium.support)
    whole = stack_properties(
        absorber, medium.material, absorber_mm.sum(), active_mm.sum(), medium.support, support_scale=n_layers
    )
    ehat = e_over_mip(absorber, medium.material)
    n = energy_gev.shape[0]
    zero = torch.zeros(1, dtype=like.dtype, device=like.device)
    boundaries = torch.cat([zero, torch.cumsum(layers.layer_x0, 0)])
    prof = shower.profiles(energy_gev, whole.critical_energy_mev, whole.z_eff, n, generator)
    cells = prof.cell_fractions(boundaries.expand(n, -1))
    if options.lateral_leakage:
        tau = 0.5 * (boundaries[1:] + boundaries[:-1]) / prof.t_max[:, None]
        cells = cells * lateral_containment(options.cluster_radius_rm, tau, energy_gev[:, None], whole.z_eff)
    deposits = energy_gev[:, None] * cells
    a_samp = WIGMANS_CONSTANT * torch.sqrt(active_mm / layers.f_samp) * medium.sampling_factor
    var_per_gev = a_samp**2
    if options.photostatistics and medium.photoelectrons_per_mev is not None:
        var_per_gev = var_per_gev + 1.0 / (1000.0 * ehat * layers.f_samp * medium.photoelectrons_per_mev)
    z = torch.randn(n, n_layers, generator=generator, dtype=like.dtype, device=like.device)
    signals = deposits + torch.sqrt(deposits.clamp_min(1e-12) * var_per_gev) * z
    n_seg = min(medium.readout_segments or n_layers, n_layers)
    member = segment_membership(n_layers, n_seg, like)
    visible_fraction = ehat * layers.f_samp
    mean_dep = deposits.mean(0) + 1e-12
    calib = ((visible_fraction * mean_dep) @ member) / (mean_dep @ member)
    segments = ((signals * visible_fraction) @ member) / calib
    cell = medium.cell_cm(whole.moliere_radius_cm)
    n_cells = cells_in_cluster(whole.moliere_radius_cm, cell, options.cluster_radius_rm)
    noise_seg = medium.channel_noise_mev(cell, active_mm, member) * torch.sqrt(n_cells) / 1000.0 / calib
    if options.noise and bool(torch.any(noise_seg > 0)):
        segments = segments + noise_seg * torch.randn(
            n, n_seg, generator=generator, dtype=like.dtype, device=like.device
        )
    else:
        noise_seg = torch.zeros_like(noise_seg)
    total = segments.sum(-1)
    if options.constant_term > 0:
        total = total * (
            1.0
            + options.constant_term
            * torch.randn(n, generator=generator, dtype=like.dtype, device=like.device)
        )
    return StackResponse(
        response=total / energy_gev,
        energy_gev=energy_gev,
        containment=cells.sum(-1),
        layer_deposits_gev=deposits,
        layer_signals_gev=signals,
        segment_signals_gev=segments,
        noise_gev=torch.sqrt((noise_seg**2).sum()),
        stochastic_term=a_samp,
        layers=layers,
        medium=whole,
        e_over_mip=ehat,
    )
