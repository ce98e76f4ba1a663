"""Regridding every product onto the one target grid.

The method of each variable is a config value (``regrid.methods``) and is
recorded in the output attributes:

- ``bilinear``: intensive fields (temperature), and any field refined from a
  coarser grid;
- ``average``: area average of the source pixels inside a target pixel (GDAL's
  "average" resampling), for FPAR and C4 fraction when coarsening, and for
  accumulated fields (precipitation, radiation) when coarsening;
- ``nearest`` / ``mode``: categorical fields (land cover classes).

Reprojection is rasterio's (GDAL warp) through rioxarray, so any source CRS
(lon/lat, MODIS sinusoidal) goes onto any target CRS.
"""
from __future__ import annotations

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling

from .errors import NepflowError

METHODS = {
    "bilinear": Resampling.bilinear,
    "average": Resampling.average,
    "nearest": Resampling.nearest,
    "mode": Resampling.mode,
    "cubic": Resampling.cubic,
}


def to_target(da: xr.DataArray, target: xr.Dataset, method: str) -> xr.DataArray:
    """Reproject ``da`` (…, y, x) with a CRS onto the ``target`` grid with ``method``.

    NaN is the nodata value in both directions. Attributes are kept and the
    method is added as ``regrid_method``.
    """
    if method not in METHODS:
        raise NepflowError(f"config key regrid.methods: unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if da.rio.crs is None:
        raise NepflowError(f"variable {da.name}: source grid has no CRS; expected a georeferenced field")
    src = da.astype("float64").rio.write_nodata(np.nan, encoded=False)
    out = src.rio.reproject_match(target, resampling=METHODS[method], nodata=np.nan)
    out = out.assign_coords(x=target.x, y=target.y)
    out.attrs = {**da.attrs, "regrid_method": method}
    out.attrs.pop("_FillValue", None)
    return out


def check_coverage(da: xr.DataArray, inside: np.ndarray, what: str) -> None:
    """Raise a one-line error if ``da`` has no value in some month inside the region."""
    vals = np.asarray(da.values)
    if vals.ndim == 2:
        vals = vals[None]
    missing = ~np.isfinite(vals[:, inside])
    if missing.any():
        frac = missing.mean()
        raise NepflowError(
            f"{what}: variable {da.name} does not cover the region on the target grid "
            f"({frac:.1%} of region pixel-months missing); expected the source to cover the grid bounds"
        )
