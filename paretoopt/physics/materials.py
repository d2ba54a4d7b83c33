"""Material properties for detector simulations: the PDG table, indicative prices, mixtures.

Every physical value comes from the Particle Data Group, "Atomic and nuclear properties of
materials" (https://pdg.lbl.gov/AtomicNuclearProperties, the per-material pages of the 2020-2024
editions; the same numbers appear in the RPP summary table "Atomic and nuclear properties of
materials" of the Review of Particle Physics). Units are in the field names:

* ``density_g_cm3``: density (g/cm3);
* ``x0_g_cm2`` / ``x0_cm``: radiation length (Tsai's formula, PDG "Passage of particles through matter");
* ``critical_energy_mev``: critical energy for electrons, Rossi's definition (ionisation loss
  per radiation length equals the electron energy), as PDG tabulates it;
* ``moliere_radius_cm``: Moliere radius ``R_M = E_s X0 / E_c`` with ``E_s = 21.2052 MeV``
  (PDG, EM cascades);
* ``dedx_mip_mev_cm2_g``: minimum ionisation loss of a unit-charge particle (MeV cm2/g);
* ``z_over_a``: <Z/A> (mol/g);
* ``lambda_int_g_cm2`` / ``lambda_int_cm``: nuclear interaction length;
* ``z_eff``: atomic number for elements, mass-fraction-weighted mean Z for compounds (the
  effective Z of Grindhammer & Peters' shower parametrisation, hep-ex/0001020).

Two support materials of silicon layers, ``epoxy`` and ``FR4``, are not PDG pages: their
values are computed from a nominal composition (see the comments in the table).

Prices are **indicative** (EUR, with year and source in ``price_source``): enough for an
order-of-magnitude cost objective, and meant to be overridden from a study file with
:meth:`Material.with_prices` or :func:`get`'s keyword arguments once real quotes exist.
Sensors priced by area (silicon, scintillator tiles) carry ``price_eur_per_m2``.

Mixtures (:func:`mixture`) combine components by mass fraction with Bragg additivity:
``1/X0 = sum w_j / X0_j`` (PDG, radiation length of mixtures), ``dE/dx = sum w_j dE/dx_j``,
``1/lambda = sum w_j / lambda_j``, ``<Z/A> = sum w_j (Z/A)_j``, and
``1/R_M = (1/E_s) sum w_j E_c,j / X0_j`` (PDG, EM cascades), from which ``E_c = E_s X0 / R_M``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Scale energy of multiple scattering, ``m_e c^2 sqrt(4 pi / alpha)`` (MeV), PDG, EM cascades.
E_S_MEV = 21.2052

#: Where the physical values come from.
PDG_SOURCE = "PDG, Atomic and nuclear properties of materials, pdg.lbl.gov/AtomicNuclearProperties"


class UnknownMaterialError(KeyError):
    """A material name is not in the table; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown material"


@dataclass(frozen=True)
class Material:
    """One material: PDG properties (units in the names) and indicative prices.

    ``x0_cm`` and ``lambda_int_cm`` are stored as PDG lists them (they equal the g/cm2 values
    divided by the density to the table's rounding).
    """

    name: str
    density_g_cm3: float
    x0_g_cm2: float
    x0_cm: float
    critical_energy_mev: float
    moliere_radius_cm: float
    dedx_mip_mev_cm2_g: float
    z_over_a: float
    lambda_int_g_cm2: float
    lambda_int_cm: float
    z_eff: float
    price_eur_per_kg: float = 0.0
    price_eur_per_m2: float = 0.0
    price_year: int | None = None
    price_source: str = ""
    description: str = ""
    source: str = PDG_SOURCE

    def __post_init__(self) -> None:
        positive = (
            "density_g_cm3",
            "x0_g_cm2",
            "x0_cm",
            "critical_energy_mev",
            "moliere_radius_cm",
            "dedx_mip_mev_cm2_g",
            "z_over_a",
            "lambda_int_g_cm2",
            "lambda_int_cm",
            "z_eff",
        )
        for f in positive:
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"Material {self.name!r}: {f}={v!r} must be a finite positive number")
        for f in ("price_eur_per_kg", "price_eur_per_m2"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"Material {self.name!r}: {f}={v!r} must be a finite number >= 0")

    # ----- derived quantities -----
    @property
    def dedx_mip_mev_cm(self) -> float:
        """Minimum ionisation loss per cm (MeV/cm) = ``dedx_mip_mev_cm2_g * density``."""
        return self.dedx_mip_mev_cm2_g * self.density_g_cm3

    @property
    def moliere_radius_g_cm2(self) -> float:
        """Moliere radius in g/cm2."""
        return self.moliere_radius_cm * self.density_g_cm3

    def mass_kg(self, volume_cm3: float) -> float:
        """Mass (kg) of ``volume_cm3`` of the material."""
        return self.density_g_cm3 * volume_cm3 * 1e-3

    def with_prices(
        self,
        *,
        price_eur_per_kg: float | None = None,
        price_eur_per_m2: float | None = None,
        price_year: int | None = None,
        price_source: str | None = None,
    ) -> Material:
        """A copy with other prices (e.g. a quote in a study file); ``None`` keeps a value."""
        changes: dict[str, Any] = {}
        if price_eur_per_kg is not None:
            changes["price_eur_per_kg"] = float(price_eur_per_kg)
        if price_eur_per_m2 is not None:
            changes["price_eur_per_m2"] = float(price_eur_per_m2)
        if price_year is not None:
            changes["price_year"] = int(price_year)
        if price_source is not None:
            changes["price_source"] = price_source
        elif changes:
            changes["price_source"] = "overridden by the user"
        return dataclasses.replace(self, **changes)


def _m(
    name: str,
    *,
    density: float,
    x0_g_cm2: float,
    x0_cm: float,
    ec_mev: float,
    rm_cm: float,
    dedx: float,
    z_over_a: float,
    lambda_g_cm2: float,
    lambda_cm: float,
    z_eff: float,
    eur_per_kg: float = 0.0,
    eur_per_m2: float = 0.0,
    price_source: str = "",
    description: str = "",
) -> Material:
    return Material(
        name=name,
        density_g_cm3=density,
        x0_g_cm2=x0_g_cm2,
        x0_cm=x0_cm,
        critical_energy_mev=ec_mev,
        moliere_radius_cm=rm_cm,
        dedx_mip_mev_cm2_g=dedx,
        z_over_a=z_over_a,
        lambda_int_g_cm2=lambda_g_cm2,
        lambda_int_cm=lambda_cm,
        z_eff=z_eff,
        price_eur_per_kg=eur_per_kg,
        price_eur_per_m2=eur_per_m2,
        price_year=2024 if (eur_per_kg or eur_per_m2) else None,
        price_source=price_source,
        description=description,
    )


# Indicative prices, 2024, EUR. Bulk metals: London Metal Exchange 2024 averages (lead ~2.0,
# copper ~9.1, aluminium ~2.4 USD/kg) times ~2-3 for rolled / machined plates; tungsten:
# heavy-alloy plates (W-Ni-Fe/Cu, ~95 % W) at ~100 EUR/kg, ammonium paratungstate being
# ~40 USD per kg of W before sintering and machining; depleted uranium: handling-dominated,
# order of ZEUS-era plate costs; crystals: PbWO4 at ~2 EUR/cm3 (CMS ECAL order of magnitude);
# silicon pad sensors ~2 EUR/cm2 (CALICE / CMS HGCAL order of magnitude); plastic scintillator
# tiles ~20 EUR/kg plus ~500 EUR/m2 for tiling, wrapping and light collection. These are
# placeholders for a cost *objective* that ranks designs; override them with real quotes.
_METAL = "indicative, 2024: LME-based raw price x fabrication factor (see module comment)"

# fmt: off
_TABLE: dict[str, Material] = {
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/beryllium_Be.html
    "Be": _m(
        "Be", density=1.848, x0_g_cm2=65.19, x0_cm=35.28, ec_mev=113.70, rm_cm=6.579, dedx=1.595,
        z_over_a=0.44384, lambda_g_cm2=77.8, lambda_cm=42.10, z_eff=4.0,
        eur_per_kg=700.0, price_source="indicative, 2024: beryllium metal ~ several hundred EUR/kg",
        description="beryllium",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/carbon_graphite.html (density 2.210)
    "C": _m(
        "C", density=2.210, x0_g_cm2=42.70, x0_cm=19.32, ec_mev=81.74, rm_cm=5.012, dedx=1.742,
        z_over_a=0.49955, lambda_g_cm2=85.8, lambda_cm=38.83, z_eff=6.0,
        eur_per_kg=20.0, price_source="indicative, 2024: isostatic graphite blocks",
        description="carbon (graphite)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/aluminum_Al.html
    "Al": _m(
        "Al", density=2.699, x0_g_cm2=24.01, x0_cm=8.897, ec_mev=42.70, rm_cm=4.419, dedx=1.615,
        z_over_a=0.48181, lambda_g_cm2=107.2, lambda_cm=39.70, z_eff=13.0,
        eur_per_kg=6.0, price_source=_METAL, description="aluminium",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/silicon_Si.html
    "Si": _m(
        "Si", density=2.329, x0_g_cm2=21.82, x0_cm=9.370, ec_mev=40.19, rm_cm=4.944, dedx=1.664,
        z_over_a=0.49848, lambda_g_cm2=108.4, lambda_cm=46.52, z_eff=14.0,
        eur_per_m2=20000.0,
        price_source="indicative, 2024: silicon pad sensors ~2 EUR/cm2 (CALICE, CMS HGCAL order)",
        description="silicon (sensor)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/iron_Fe.html
    "Fe": _m(
        "Fe", density=7.874, x0_g_cm2=13.84, x0_cm=1.757, ec_mev=21.68, rm_cm=1.719, dedx=1.451,
        z_over_a=0.46557, lambda_g_cm2=132.1, lambda_cm=16.77, z_eff=26.0,
        eur_per_kg=1.5, price_source=_METAL, description="iron (steel plates are priced)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/copper_Cu.html
    "Cu": _m(
        "Cu", density=8.960, x0_g_cm2=12.86, x0_cm=1.436, ec_mev=19.42, rm_cm=1.568, dedx=1.403,
        z_over_a=0.45636, lambda_g_cm2=137.3, lambda_cm=15.32, z_eff=29.0,
        eur_per_kg=15.0, price_source=_METAL, description="copper",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/tungsten_W.html
    "W": _m(
        "W", density=19.30, x0_g_cm2=6.76, x0_cm=0.3504, ec_mev=7.97, rm_cm=0.9327, dedx=1.145,
        z_over_a=0.40252, lambda_g_cm2=191.9, lambda_cm=9.946, z_eff=74.0,
        eur_per_kg=100.0, price_source=_METAL, description="tungsten",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/lead_Pb.html
    "Pb": _m(
        "Pb", density=11.35, x0_g_cm2=6.37, x0_cm=0.5612, ec_mev=7.43, rm_cm=1.602, dedx=1.122,
        z_over_a=0.39575, lambda_g_cm2=199.6, lambda_cm=17.59, z_eff=82.0,
        eur_per_kg=5.0, price_source=_METAL, description="lead",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/uranium_U.html (PDG lists natural U; depleted U
    # differs by 0.5 % in A, below the table's precision for these quantities)
    "U": _m(
        "U", density=18.95, x0_g_cm2=6.00, x0_cm=0.3166, ec_mev=6.65, rm_cm=1.010, dedx=1.081,
        z_over_a=0.38651, lambda_g_cm2=209.0, lambda_cm=11.03, z_eff=92.0,
        eur_per_kg=50.0, price_source="indicative, 2024: depleted-uranium plates, handling-dominated",
        description="uranium (depleted)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/water_liquid.html
    "water": _m(
        "water", density=1.000, x0_g_cm2=36.08, x0_cm=36.08, ec_mev=78.33, rm_cm=9.77, dedx=1.992,
        z_over_a=0.55509, lambda_g_cm2=83.3, lambda_cm=83.30, z_eff=7.217,
        eur_per_kg=0.01, price_source="indicative, 2024: purified water", description="water (liquid)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/liquid_argon.html
    "LAr": _m(
        "LAr", density=1.396, x0_g_cm2=19.55, x0_cm=14.00, ec_mev=32.84, rm_cm=9.043, dedx=1.519,
        z_over_a=0.45059, lambda_g_cm2=119.7, lambda_cm=85.77, z_eff=18.0,
        eur_per_kg=2.0, eur_per_m2=3000.0,
        price_source=(
            "indicative, 2024: liquid argon ~2 EUR/kg; per m2 of gap: electrodes, cryostat share"
        ),
        description="liquid argon",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/polystyrene.html (the scintillator base)
    "polystyrene": _m(
        "polystyrene", density=1.060, x0_g_cm2=43.79, x0_cm=41.31, ec_mev=93.11, rm_cm=9.409,
        dedx=1.936, z_over_a=0.53768, lambda_g_cm2=81.7, lambda_cm=77.07, z_eff=5.613,
        eur_per_kg=20.0, eur_per_m2=500.0,
        price_source="indicative, 2024: scintillator ~20 EUR/kg plus ~500 EUR/m2 tiling and readout optics",
        description="polystyrene (plastic scintillator)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/lead_tungstate.html
    "PbWO4": _m(
        "PbWO4", density=8.300, x0_g_cm2=7.39, x0_cm=0.8903, ec_mev=9.64, rm_cm=1.959, dedx=1.229,
        z_over_a=0.41315, lambda_g_cm2=168.3, lambda_cm=20.28, z_eff=68.36,
        eur_per_kg=250.0, price_source="indicative, 2024: PbWO4 crystals ~2 EUR/cm3 (CMS ECAL order)",
        description="lead tungstate (crystal)",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/shielding_concrete.html. E_c cross-checked here
    # with Rossi's definition on the Berger-Seltzer collision loss (49.8 MeV, within 0.3 %).
    "concrete": _m(
        "concrete", density=2.300, x0_g_cm2=26.57, x0_cm=11.55, ec_mev=49.90, rm_cm=4.909, dedx=1.711,
        z_over_a=0.50274, lambda_g_cm2=97.5, lambda_cm=42.39, z_eff=11.098,
        eur_per_kg=0.07, price_source="indicative, 2024: ready-mix concrete ~150 EUR/m3",
        description="shielding concrete",
    ),
    # pdg.lbl.gov/AtomicNuclearProperties/HTML/air_dry_1_atm.html
    "air": _m(
        "air", density=1.205e-3, x0_g_cm2=36.62, x0_cm=30390.0, ec_mev=87.92, rm_cm=7330.0,
        dedx=1.815, z_over_a=0.49919, lambda_g_cm2=90.1, lambda_cm=74770.0, z_eff=7.373,
        description="air (dry, near sea level, 20 C)",
    ),
    # Not PDG pages: the two support materials of a silicon layer (glue, circuit board), computed
    # here from a nominal composition with Bragg additivity over Tsai's X0 of the elements
    # (PDG, radiation length), PDG's fit E_c = 610 MeV/(Z + 1.24) per element with the mixture
    # rule for R_M, and the elements' PDG dE/dx_min and lambda_I (H from liquid H2). Good to a
    # few % (the real resins and glass cloths vary more); they are ~5 % of a Si-W layer's mass.
    # epoxy: bisphenol-A diglycidyl ether, C21H24O4 (mass fractions C 0.7409, H 0.0711, O 0.1880)
    "epoxy": _m(
        "epoxy", density=1.20, x0_g_cm2=41.72, x0_cm=34.76, ec_mev=88.92, rm_cm=8.290, dedx=1.916,
        z_over_a=0.53464, lambda_g_cm2=82.7, lambda_cm=68.92, z_eff=6.021,
        description="epoxy glue (C21H24O4; computed, not a PDG page)",
    ),
    # FR4 circuit board: 60 % glass (taken as SiO2) + 40 % epoxy by mass, density 1.85 g/cm3;
    # X0 = 17.0 cm against the 17.5 cm usually quoted for FR4 (bromine-free here)
    "FR4": _m(
        "FR4", density=1.85, x0_g_cm2=31.47, x0_cm=17.01, ec_mev=62.42, rm_cm=5.780, dedx=1.809,
        z_over_a=0.51344, lambda_g_cm2=91.2, lambda_cm=49.30, z_eff=8.891,
        description="FR4 printed-circuit board (60 % SiO2 glass, 40 % epoxy; computed, not a PDG page)",
    ),
}
# fmt: on

#: Accepted aliases (case-insensitive) -> canonical key.
_ALIASES: dict[str, str] = {
    "beryllium": "Be",
    "carbon": "C",
    "graphite": "C",
    "aluminium": "Al",
    "aluminum": "Al",
    "silicon": "Si",
    "iron": "Fe",
    "copper": "Cu",
    "tungsten": "W",
    "wolfram": "W",
    "lead": "Pb",
    "uranium": "U",
    "du": "U",
    "depleted_uranium": "U",
    "h2o": "water",
    "liquid_argon": "LAr",
    "liquid argon": "LAr",
    "scintillator": "polystyrene",
    "plastic_scintillator": "polystyrene",
    "plastic scintillator": "polystyrene",
    "ps": "polystyrene",
    "lead_tungstate": "PbWO4",
    "lead tungstate": "PbWO4",
    "pwo": "PbWO4",
    "shielding_concrete": "concrete",
    "pcb": "FR4",
    "glue": "epoxy",
}

_LOOKUP: dict[str, str] = {k.lower(): k for k in _TABLE} | _ALIASES


def names() -> list[str]:
    """The canonical material keys, in table order."""
    return list(_TABLE)


def aliases() -> dict[str, str]:
    """Accepted alternative names (lower case) -> canonical key."""
    return dict(_ALIASES)


def canonical_name(name: str) -> str:
    """The canonical key of ``name`` (case-insensitive; aliases accepted).

    Raises:
        UnknownMaterialError: (a ``KeyError``) naming the known materials.
    """
    key = _LOOKUP.get(str(name).strip().lower())
    if key is None:
        raise UnknownMaterialError(
            f"unknown material {name!r}; known materials: {names()} (aliases: {sorted(_ALIASES)})"
        )
    return key


def get(
    name: str | Material,
    *,
    price_eur_per_kg: float | None = None,
    price_eur_per_m2: float | None = None,
) -> Material:
    """The :class:`Material` called ``name`` (``"Pb"``, ``"lead"``, ``"scintillator"`` ...).

    A :class:`Material` passes through unchanged (so functions accept either). Price keywords
    override the indicative prices (e.g. from a study file).

    Raises:
        UnknownMaterialError: (a ``KeyError``) for an unknown name, listing the known ones.
    """
    mat = name if isinstance(name, Material) else _TABLE[canonical_name(name)]
    if price_eur_per_kg is not None or price_eur_per_m2 is not None:
        mat = mat.with_prices(price_eur_per_kg=price_eur_per_kg, price_eur_per_m2=price_eur_per_m2)
    return mat


def mixture(
    name: str,
    components: Mapping[str | Material, float],
    *,
    density_g_cm3: float | None = None,
    price_eur_per_m2: float = 0.0,
) -> Material:
    """A homogeneous mixture by **mass fraction** (fractions are normalised to sum to 1).

    Bragg additivity: ``1/X0 = sum w/X0``, ``dE/dx = sum w dE/dx``, ``1/lambda = sum w/lambda``,
    ``<Z/A> = sum w (Z/A)``, ``1/R_M = (1/E_s) sum w E_c/X0`` (PDG, EM cascades) and
    ``E_c = E_s X0 / R_M``; ``z_eff = sum w Z_eff`` (Grindhammer & Peters). The density
    defaults to volume additivity ``1/rho = sum w/rho`` (exact for a stack of plates, the
    case of a sampling calorimeter's average medium). The price per kg is mass-weighted.

    Args:
        name: the mixture's name.
        components: material (name or :class:`Material`) -> mass fraction (> 0).
        density_g_cm3: the mixture's density; default volume additivity.
        price_eur_per_m2: area-priced part of the mixture (default 0).
    """
    if not components:
        raise ValueError("a mixture needs at least one component")
    mats = [(get(k), float(w)) for k, w in components.items()]
    if any(not (math.isfinite(w) and w > 0) for _, w in mats):
        raise ValueError(f"mass fractions must be positive, got {dict(components)}")
    total = sum(w for _, w in mats)
    mats = [(m, w / total) for m, w in mats]
    x0 = 1.0 / sum(w / m.x0_g_cm2 for m, w in mats)
    lam = 1.0 / sum(w / m.lambda_int_g_cm2 for m, w in mats)
    rho = density_g_cm3 if density_g_cm3 is not None else 1.0 / sum(w / m.density_g_cm3 for m, w in mats)
    rm_g_cm2 = E_S_MEV / sum(w * m.critical_energy_mev / m.x0_g_cm2 for m, w in mats)
    return Material(
        name=name,
        density_g_cm3=rho,
        x0_g_cm2=x0,
        x0_cm=x0 / rho,
        critical_energy_mev=E_S_MEV * x0 / rm_g_cm2,
        moliere_radius_cm=rm_g_cm2 / rho,
        dedx_mip_mev_cm2_g=sum(w * m.dedx_mip_mev_cm2_g for m, w in mats),
        z_over_a=sum(w * m.z_over_a for m, w in mats),
        lambda_int_g_cm2=lam,
        lambda_int_cm=lam / rho,
        z_eff=sum(w * m.z_eff for m, w in mats),
        price_eur_per_kg=sum(w * m.price_eur_per_kg for m, w in mats),
        price_eur_per_m2=price_eur_per_m2,
        price_year=None,
        price_source="mass-weighted from the components",
        description="mixture of " + ", ".join(f"{w:.4g} {m.name}" for m, w in mats),
        source=PDG_SOURCE + " (components), Bragg additivity",
    )


def stack(name: str, layers: Mapping[str | Material, float]) -> Material:
    """The average medium of a stack of plates given as material -> thickness (cm).

    Mass fractions ``w_j = rho_j t_j / sum rho t``; density ``sum rho t / sum t``. Used for the
    effective ``X0``, ``R_M`` and ``E_c`` of a sampling calorimeter (Wigmans, *Calorimetry*,
    on sampling calorimeters; PDG, EM cascades).
    """
    mats = [(get(k), float(t)) for k, t in layers.items()]
    if any(not (math.isfinite(t) and t > 0) for _, t in mats):
        raise ValueError(f"thicknesses must be positive, got {dict(layers)}")
    areal: dict[str | Material, float] = {m: m.density_g_cm3 * t for m, t in mats}
    rho = sum(areal.values()) / sum(t for _, t in mats)
    return mixture(name, areal, density_g_cm3=rho)
