"""The annual series cube (year, y, x): NEP and the annual climate of every year.

The cube is built and written in blocks of rows (every year of a block at
once), and read by the statistics in dask chunks, so memory stays bounded by
a block or a chunk, not the grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from . import blocks, cf, forcing, netcdf, variables
from .errors import NepflowError

if TYPE_CHECKING:
    import pandas as pd


#: The fewest years the statistics accept (a trend and a Hurst exponent need at least 3).
MIN_YEARS = 3


def check_year_count(n: int, where: str) -> None:
    """One-line error naming ``where`` (a file, or the config key at plan time) for fewer than MIN_YEARS years."""
    if n < MIN_YEARS:
        raise NepflowError(
            f"{where}: {n} year{'s' if n != 1 else ''}; expected at least {MIN_YEARS} for the statistics"
        )


def min_valid_years(n: int, min_valid) -> int:
    """The minimum number of valid years per pixel (``analysis.min_valid_years``; None: all ``n``).

    Every statistic calls it (nepflow.stats); so does the plan-time check (nepflow.config.check_semantics)
    with the configured number of years (here, not in nepflow.stats: planning does not import numba).
    """
    if min_valid is None:
        return n
    if not MIN_YEARS <= int(min_valid) <= n:
        raise NepflowError(
            f"config key analysis.min_valid_years: {min_valid}; expected {MIN_YEARS} to the number of years ({n})"
        )
    return int(min_valid)


def build(carbon_paths, forcing_paths, years, rows: int | None = None, mem_mb: float | None = None) -> xr.Dataset:
    """Stack annual NEP (g C m-2 yr-1), pr (mm yr-1), tas (degC), sund (h yr-1) over ``years``.

    The cube is dask-backed, in blocks of ``rows`` rows of the grid (None:
    derived from ``mem_mb``, :func:`nepflow.blocks.block_rows`): writing it
    (:func:`nepflow.netcdf.write_netcdf`) reads, for one block at a time, the
    rows of every year's files, so memory is bounded by the block, not the
    grid or the number of years.

    Raises a one-line error for a duplicated year or a year whose grid differs
    from the first year's.
    """
    years = [int(y) for y in years]
    if len(set(years)) != len(years):
        raise NepflowError(f"config key years: duplicated years in {years}")
    if not (len(carbon_paths) == len(forcing_paths) == len(years)):
        raise NepflowError("series: expected one carbon and one forcing file per year")
    ref = None  # the first year's grid: every file must share it
    for cpath, fpath in zip(carbon_paths, forcing_paths):
        with netcdf.open_dataset(cpath, ["nep"]) as c, netcdf.open_dataset(fpath, list(variables.FACTORS)) as f:
            if ref is None:
                ref = xr.Dataset(coords={"y": c["y"].load(), "x": c["x"].load()})
                crs = c.rio.crs
            else:
                forcing.check_grid_match(ref, c, str(cpath))
            forcing.check_grid_match(c, f, str(fpath))
    nx, ny, y = ref.sizes["x"], ref.sizes["y"], ref["y"]
    nep_attrs = {**variables.attrs("nep"), "cell_methods": "year: mean", "grid_mapping": "spatial_ref"}

    def block(s):
        # every file is opened for the block and closed after it: 2 x n_years open files would each
        # keep a netCDF chunk cache (tens of MB), more than the block itself
        per_year = []
        for year, cpath, fpath in zip(years, carbon_paths, forcing_paths):
            with netcdf.open_dataset(cpath, ["nep"]) as c, netcdf.open_dataset(fpath, list(variables.FACTORS)) as f:
                ds = forcing.annual_climate(f.isel(y=s).load())
                ds["nep"] = c["nep"].isel(y=s).drop_vars("time", errors="ignore").load()
            per_year.append(ds.expand_dims(year=[year]))
        cube = xr.concat(per_year, dim="year", coords="minimal", compat="override", join="override")
        cube = cube[["nep", *variables.FACTORS]]
        cube["nep"].attrs = nep_attrs
        cube["year"].attrs = {"long_name": "calendar year", "units": "1"}
        cube = cube.rio.write_crs(crs)
        return cube.transpose("year", "y", "x").astype("float32")

    rows = blocks.block_rows(nx, blocks.stage_bytes("series", len(years)), mem_mb, rows=rows, ny=ny)
    return cf.with_years(blocks.blocked(block, y, rows))


def block_rows_of(ds: xr.Dataset) -> int | None:
    """Rows per block of a dataset from :func:`nepflow.blocks.blocked` (None: in memory, one block)."""
    for var in ds.data_vars.values():
        if var.chunks and "y" in var.dims:
            return int(var.chunks[var.dims.index("y")][0])
    return None


def open_cube(path, chunk: int = 512) -> xr.Dataset:
    """Open ``series/annual.nc`` chunked on y/x with the year axis whole."""
    ds = netcdf.open_dataset(path, ["nep", *variables.FACTORS], chunks={"year": -1, "y": chunk, "x": chunk})
    check_year_count(ds.sizes["year"], str(path))
    years = ds["year"].values
    if len(np.unique(years)) != len(years):
        raise NepflowError(f"{path}: duplicated years {sorted(years)}")
    return ds


def regional_means(carbon_paths, years, grid: xr.Dataset) -> "pd.DataFrame":
    """Area-weighted regional means of annual GPP, NPP, Rh and NEP per year.

    Returns a long table with columns ``year, region, gpp, npp, rh, nep``
    (g C m-2 yr-1); ``region`` is ``all`` or a province name from ``grid.region``.
    Means use the true pixel areas and the pixels with a finite value.
    """
    import pandas as pd

    from .grid import region_masks

    area = grid["pixel_area"].values
    groups = region_masks(grid["region"])
    rows = []
    for year, path in zip(years, carbon_paths):
        with netcdf.open_dataset(path, ["gpp", "npp", "rh", "nep"]) as ds:
            fields = {v: ds[v].values.astype("float64") for v in ("gpp", "npp", "rh", "nep")}
        for region, mask in groups.items():
            row = {"year": int(year), "region": region}
            for v, arr in fields.items():
                ok = mask & np.isfinite(arr)
                row[v] = float(np.sum(arr[ok] * area[ok]) / np.sum(area[ok])) if ok.any() else np.nan
            rows.append(row)
    return pd.DataFrame(rows)
