"""The passive volumes that are scanned: a lead block in a light matrix and a ladle furnace."""

from __future__ import annotations

import torch

from paretoopt.physics.materials import Material, get
from paretoopt.physics.scattering import MaterialGrid
from paretoopt.physics.tomography.detector import Geometry


def lead_block_grid(
    geometry: Geometry = Geometry(),  # noqa: B008
    *,
    voxel_m: float = 0.1,
    matrix: str | Material = "water",
    block: str | Material = "Pb",
    block_voxels: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((3, 6), (5, 8), (4, 6)),
) -> MaterialGrid:
    """A volume of ``voxel_m`` cubes of ``matrix`` holding a block of ``block`` that occupies
    voxel ranges ``((x0, x1), (y0, y1), (z0, z1))`` (half-open, z counted from the bottom)."""
    x0, x1, y0, y1 = geometry.volume_xy
    z0, z1 = geometry.volume_z
    nx, ny, nz = round((x1 - x0) / voxel_m), round((y1 - y0) / voxel_m), round((z1 - z0) / voxel_m)
    mat = torch.zeros((nz, nx, ny), dtype=torch.long)
    (bx0, bx1), (by0, by1), (bz0, bz1) = block_voxels
    mat[bz0:bz1, bx0:bx1, by0:by1] = 1
    return MaterialGrid(
        material=mat,
        materials=(get(matrix), get(block)),
        origin_m=(x0, y0, z0),
        voxel_xy_m=voxel_m,
        layer_m=voxel_m,
    )


def liquid_steel() -> Material:
    """Molten steel: iron's PDG properties per g/cm2 at the density of liquid steel near 1600 C,
    7.0 g/cm3 (the value TomOpt's ladle benchmark uses; solid iron is 7.874). Not in the shared
    materials table, so built here."""
    fe = get("Fe")
    rho = 7.0
    return Material(
        name="liquid_steel",
        density_g_cm3=rho,
        x0_g_cm2=fe.x0_g_cm2,
        x0_cm=fe.x0_g_cm2 / rho,
        critical_energy_mev=fe.critical_energy_mev,
        moliere_radius_cm=fe.moliere_radius_cm * fe.density_g_cm3 / rho,
        dedx_mip_mev_cm2_g=fe.dedx_mip_mev_cm2_g,
        z_over_a=fe.z_over_a,
        lambda_int_g_cm2=fe.lambda_int_g_cm2,
        lambda_int_cm=fe.lambda_int_g_cm2 / rho,
        z_eff=fe.z_eff,
        description="liquid steel (iron at 7.0 g/cm3)",
    )


def ladle_grid(
    fill_level_m: float,
    geometry: Geometry = Geometry(),  # noqa: B008
    *,
    voxel_m: float = 0.1,
    layer_m: float = 0.02,
    wall_voxels: int = 1,
) -> tuple[MaterialGrid, float]:
    """A ladle furnace: steel (Fe) walls ``wall_voxels`` thick on the four sides and the bottom,
    liquid steel inside up to ``fill_level_m`` (absolute z, m), air above. The material grid
    has ``layer_m`` layers in z (finer than the inference voxels) so the level is resolved to
    ``layer_m``; returns the grid and the simulated level (rounded to a layer boundary)."""
    x0, x1, y0, y1 = geometry.volume_xy
    z0, z1 = geometry.volume_z
    nx, ny = round((x1 - x0) / voxel_m), round((y1 - y0) / voxel_m)
    nz = round((z1 - z0) / layer_m)
    per_voxel = round(voxel_m / layer_m)
    floor_layers = wall_voxels * per_voxel
    n_fill = round((fill_level_m - z0) / layer_m)
    n_fill = max(floor_layers, min(nz, n_fill))
    mat = torch.zeros((nz, nx, ny), dtype=torch.long)  # 0: air
    mat[:n_fill] = 2  # liquid steel
    w = wall_voxels
    mat[:, :w, :] = 1
    mat[:, nx - w :, :] = 1
    mat[:, :, :w] = 1
    mat[:, :, ny - w :] = 1
    mat[:floor_layers] = 1
    grid = MaterialGrid(
        material=mat,
        materials=(get("air"), get("Fe"), liquid_steel()),
        origin_m=(x0, y0, z0),
        voxel_xy_m=voxel_m,
        layer_m=layer_m,
    )
    return grid, z0 + n_fill * layer_m
