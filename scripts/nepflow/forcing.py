"""Assemble one year's monthly drivers on the target grid (the forcing file).

Products arrive regridded (``regrid.to_target``); this module derives PAR from
surface solar radiation, masks everything outside the region and attaches the
contract's attributes. Contract: docs/architecture.md, ``forcing/{Y}.nc``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import variables
from .errors import NepflowError

FORCING_VARS = ("fpar", "par", "tas", "pr", "sund", "rn", "evap", "c4_frac")


def par_from_ssrd(ssrd: xr.DataArray, fraction: float = 0.45) -> xr.DataArray:
    """Photosynthetically active radiation from surface solar radiation.

    PAR = f × SSRD, f the PAR fraction of shortwave radiation (default 0.45;
    literature 0.43–0.50, e.g. McCree 1972; Monteith & Unsworth 2013).

    Parameters
    ----------
    ssrd : surface solar radiation downwards, MJ m-2 month-1.
    fraction : PAR fraction, 1.

    Returns
    -------
    PAR, MJ m-2 month-1.
    """
    if not 0 < fraction <= 1:
        raise NepflowError(f"config key carbon.par_fraction: expected a fraction in (0, 1], got {fraction}")
    par = ssrd * fraction
    par.name = "par"
    par.attrs = variables.attrs(
        "par",
        comment=f"PAR = {fraction} x surface solar radiation downwards",
        par_fraction=fraction,
        **{k: v for k, v in ssrd.attrs.items() if k.startswith("coastal_fill_")},
    )
    return par


def assemble(
    fields: dict[str, xr.DataArray], region: xr.DataArray, year: int, par_fraction: float = 0.45
) -> xr.Dataset:
    """The forcing dataset of one year from regridded fields.

    Parameters
    ----------
    fields : regridded DataArrays (time=12, y, x), CF units: fpar, tas, pr,
        ssrd, rn, evap, sund, c4_frac; optionally npp_mod17 (y, x).
    region : region codes on the target grid (0 outside).
    year : calendar year; the time coordinate is the first day of each month.
    par_fraction : PAR fraction of shortwave radiation.

    Returns
    -------
    Dataset with the forcing contract's variables, NaN outside the region.
    """
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    data = dict(fields)
    if "ssrd" in data:
        data["par"] = par_from_ssrd(data.pop("ssrd"), par_fraction)
    missing = [v for v in FORCING_VARS if v not in data]
    if missing:
        raise NepflowError(f"forcing {year}: missing driver(s) {', '.join(missing)}")
    inside = region.values > 0
    out = {}
    for name, da in data.items():
        if "time" in da.dims:
            if da.sizes["time"] != 12:
                raise NepflowError(f"forcing {year}: {name} has {da.sizes['time']} months; expected 12")
            da = da.assign_coords(time=time)
        da = da.where(inside)
        extra = {
            k: v
            for k, v in da.attrs.items()
            if k in ("regrid_method", "comment", "par_fraction", "source", "coastal_fill_km", "coastal_fill_pixels")
        }
        da.attrs = {**variables.attrs(name), **extra, "grid_mapping": "spatial_ref"}
        out[name] = da.astype("float32")
    import rioxarray  # noqa: F401  (here only: the carbon job reads this module and needs no rasterio)

    ds = xr.Dataset(out)
    ds = ds.rio.write_crs(region.rio.crs if region.rio.crs else fields["tas"].rio.crs)
    ds["time"].attrs.update(standard_name="time", long_name="month (first day)", axis="T")
    return ds


def annual_climate(forcing: xr.Dataset) -> xr.Dataset:
    """Annual precipitation (sum, mm yr-1), temperature (mean, degC) and sunshine (sum, h yr-1)."""
    out = xr.Dataset(
        {
            "pr": forcing["pr"].sum("time", skipna=False),
            "tas": forcing["tas"].mean("time", skipna=False),
            "sund": forcing["sund"].sum("time", skipna=False),
        }
    )
    for name in out.data_vars:
        out[name].attrs = {**variables.attrs(f"{name}_annual"), "grid_mapping": "spatial_ref"}
    return out


def check_grid_match(a: xr.Dataset, b: xr.Dataset, what: str) -> None:
    """One-line error if two datasets are not on the same grid."""
    if (
        a.sizes.get("x") != b.sizes.get("x")
        or a.sizes.get("y") != b.sizes.get("y")
        or not np.allclose(a.x, b.x)
        or not np.allclose(a.y, b.y)
    ):
        raise NepflowError(f"{what}: grid differs from the run's target grid (grid.nc); expected identical y/x")
