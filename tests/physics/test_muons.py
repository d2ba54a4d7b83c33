"""Sea-level muon flux (Guan et al. 2015) and the sampler drawn from it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from paretoopt.physics import muons

torch.set_num_threads(1)

E_RANGE = (0.5, 500.0)
MAX_ZENITH = 70.0


def _guan_by_hand(e: float, c: float) -> float:
    """Guan et al. 2015 (arXiv:1509.06176) eqs. (2)-(3) typed out independently."""
    p1, p2, p3, p4, p5 = 0.102573, -0.068287, 0.958633, 0.0407253, 0.817285
    cs = math.sqrt((c**2 + p1**2 + p2 * c**p3 + p4 * c**p5) / (1 + p1**2 + p2 + p4))
    return (
        0.14
        * (e * (1 + 3.64 / (e * cs**1.29))) ** -2.7
        * (1 / (1 + 1.1 * e * cs / 115) + 0.054 / (1 + 1.1 * e * cs / 850))
    )


@pytest.mark.parametrize("e", [0.5, 1.0, 3.0, 10.0, 100.0, 1000.0])
@pytest.mark.parametrize("c", [1.0, 0.7, 0.342])
def test_flux_equals_the_paper_formula(e: float, c: float) -> None:
    assert float(muons.sea_level_flux(e, c)) == pytest.approx(_guan_by_hand(e, c), rel=1e-12)


#: PDG RPP 2024, "Cosmic rays", sec. 30.3.1: the integral vertical intensity of muons above
#: 1 GeV/c at sea level is ~70 m^-2 s^-1 sr^-1 (typed here, not taken from the code).
PDG_VERTICAL_ABOVE_1GEV = 70.0


def test_vertical_intensity_above_1_gev_is_near_the_pdg_value() -> None:
    # the code's quadrature against a quadrature of the hand-typed Guan formula
    by_hand = integrate.quad(lambda e: _guan_by_hand(e, 1.0), 1.0, math.inf, limit=400)[0] * 1e4
    value = muons.vertical_intensity(1.0)
    assert value == pytest.approx(by_hand, rel=1e-6)
    # the Guan parametrisation gives ~60.5 against the PDG's ~70 (a rough number: the PDG
    # gives no error; Guan et al. fit the modern data, whose normalisations differ by 10-20 %)
    assert abs(value / PDG_VERTICAL_ABOVE_1GEV - 1.0) < 0.20
    # the flux falls with zenith angle (cos^2 law at a few GeV, PDG eq. 30.4)
    assert float(muons.sea_level_flux(3.0, 0.5)) < 0.5 * float(muons.sea_level_flux(3.0, 1.0))


@pytest.fixture(scope="module")
def sample() -> muons.MuonSample:
    g = torch.Generator().manual_seed(12345)
    return muons.sample_muons(
        200_000, generator=g, energy_range_gev=E_RANGE, max_zenith_deg=MAX_ZENITH, area=(-1.0, 1.0, 0.0, 0.5)
    )


def test_sample_shapes_and_geometry(sample: muons.MuonSample) -> None:
    n = len(sample)
    assert sample.position_m.shape == (n, 3) and sample.direction.shape == (n, 3)
    norms = torch.linalg.vector_norm(sample.direction, dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-12)
    assert float(sample.direction[:, 2].max()) < 0  # downward
    assert float(sample.cos_theta.min()) >= math.cos(math.radians(MAX_ZENITH)) - 1e-12
    assert float(sample.energy_gev.min()) >= E_RANGE[0] and float(sample.energy_gev.max()) <= E_RANGE[1]
    assert float(sample.position_m[:, 0].min()) >= -1.0 and float(sample.position_m[:, 1].max()) <= 0.5
    p = sample.momentum_gev
    assert torch.allclose(p**2 + muons.MUON_MASS_GEV**2, sample.energy_gev**2)
    # azimuth is uniform: the mean direction in x-y vanishes
    assert abs(float(sample.direction[:, 0].mean())) < 0.005


def _energy_bin_probabilities(edges: np.ndarray) -> np.ndarray:
    c_min = math.cos(math.radians(MAX_ZENITH))
    probs = [
        integrate.dblquad(lambda e, c: _guan_by_hand(e, c) * c, c_min, 1.0, lo, hi)[0]
        for lo, hi in itertools.pairwise(edges)
    ]
    p = np.array(probs)
    return p / p.sum()


def test_sampled_energy_spectrum_matches_the_formula(sample: muons.MuonSample) -> None:
    edges = np.geomspace(E_RANGE[0], E_RANGE[1], 16)
    counts, _ = np.histogram(sample.energy_gev.numpy(), bins=edges)
    expected = _energy_bin_probabilities(edges) * len(sample)
    keep = expected > 20
    chi2 = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, int(keep.sum()) - 1) > 1e-3


def test_sampled_zenith_distribution_matches_the_formula(sample: muons.MuonSample) -> None:
    c_min = math.cos(math.radians(MAX_ZENITH))
    edges = np.linspace(c_min, 1.0, 21)
    counts, _ = np.histogram(sample.cos_theta.numpy(), bins=edges)
    probs = np.array(
        [
            integrate.dblquad(lambda e, c: _guan_by_hand(e, c) * c, lo, hi, *E_RANGE)[0]
            for lo, hi in itertools.pairwise(edges)
        ]
    )
    expected = probs / probs.sum() * len(sample)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, len(counts) - 1) > 1e-3


def _hand_integral(power: int, e_range: tuple[float, float], max_zenith: float) -> float:
    """int int E^power I(E, c) c dc dE with the hand-typed formula (scipy quadrature)."""
    c_min = math.cos(math.radians(max_zenith))
    lo, hi = math.log(e_range[0]), math.log(e_range[1])
    val, _ = integrate.dblquad(
        lambda u, c: math.exp(u) ** (power + 1) * _guan_by_hand(math.exp(u), c) * c,
        c_min,
        1.0,
        lo,
        hi,
        epsrel=1e-7,
    )
    return val


def test_sampled_mean_energy_equals_the_flux_weighted_mean(sample: muons.MuonSample) -> None:
    expected = _hand_integral(1, E_RANGE, MAX_ZENITH) / _hand_integral(0, E_RANGE, MAX_ZENITH)
    assert muons.mean_energy(E_RANGE, MAX_ZENITH) == pytest.approx(expected, rel=1e-5)
    e = sample.energy_gev
    stderr = float(e.std()) / math.sqrt(len(e))
    assert abs(float(e.mean()) - expected) < 4 * stderr
    # over (nearly) the whole spectrum: the hand-typed formula's own quadrature (the PDG's
    # "~4 GeV" mean is not a number this parametrisation is fitted to: it gives ~6 GeV)
    whole = _hand_integral(1, (0.106, 1e4), 89.0) / _hand_integral(0, (0.106, 1e4), 89.0)
    assert muons.mean_energy((0.106, 1e4), 89.0) == pytest.approx(whole, rel=1e-5)
    assert muons.mean_energy((2.0, 500.0), MAX_ZENITH) == pytest.approx(
        _hand_integral(1, (2.0, 500.0), MAX_ZENITH) / _hand_integral(0, (2.0, 500.0), MAX_ZENITH), rel=1e-5
    )


def test_rate_matches_quadrature_and_scales_with_area(sample: muons.MuonSample) -> None:
    per_cm2 = 2.0 * math.pi * _hand_integral(0, E_RANGE, MAX_ZENITH)  # rate through a horizontal cm2
    assert muons.horizontal_rate_density(E_RANGE, MAX_ZENITH) == pytest.approx(per_cm2, rel=1e-5)
    assert sample.rate_hz == pytest.approx(per_cm2 * 1e4 * sample.area_m2, rel=1e-3)
    # PDG "Cosmic rays" sec. 30.3.1: about 1 muon per cm2 per minute through a horizontal
    # detector (all energies and angles); this range (0.5-500 GeV, < 70 deg) holds most of it
    assert 0.5 < per_cm2 * 60.0 < 1.0
    assert muons.expected_rate_hz(2.0) == pytest.approx(2 * muons.expected_rate_hz(1.0))
    assert sample.exposure_s == pytest.approx(len(sample) / sample.rate_hz)


def test_sampling_is_seeded_and_validates_input() -> None:
    a = muons.sample_muons(50, generator=torch.Generator().manual_seed(7))
    b = muons.sample_muons(50, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.momentum_gev, b.momentum_gev) and torch.equal(a.position_m, b.position_m)
    with pytest.raises(ValueError, match="energy_range"):
        muons.sample_muons(5, generator=torch.Generator(), energy_range_gev=(0.05, 1.0))
    with pytest.raises(ValueError, match="max_zenith"):
        muons.sample_muons(5, generator=torch.Generator(), max_zenith_deg=95.0)


def test_momentum_prior_weights_follow_the_spectrum() -> None:
    """The inference's prior over momentum nodes: the flux per unit ln p, I(E) p^2 / E, at the
    muon's zenith angle (hand-typed Guan formula), normalised; its width in ln p is about 1."""
    from paretoopt.physics.tomography import MomentumModel

    model = MomentumModel("unknown", n_nodes=12, range_gev=E_RANGE)
    cos_t = torch.tensor([1.0, 0.6], dtype=torch.float64)
    logw = model.log_weights(cos_t)
    p = model.nodes()
    for row, c in enumerate(cos_t.tolist()):
        dens = np.array(
            [
                _guan_by_hand(math.hypot(q, muons.MUON_MASS_GEV), c)
                * q
                * q
                / math.hypot(q, muons.MUON_MASS_GEV)
                for q in p.tolist()
            ]
        )
        assert np.allclose(torch.exp(logw[row]).numpy(), dens / dens.sum(), rtol=1e-9)
    width = 1.0 / torch.sqrt(model.log_p_precision(cos_t))
    assert bool(((width > 0.8) & (width < 1.5)).all())
    measured = MomentumModel("measured", resolution=0.3)
    assert bool((measured.log_p_precision(cos_t) > 1.0 / 0.3**2).all())
    assert bool(torch.isinf(MomentumModel("perfect").log_p_precision(cos_t)).all())
