"""CF-1.8 metadata of nepflow's NetCDF files: coordinates, time axes with bounds, file-level attributes.

Every NetCDF nepflow writes passes the IOOS compliance checker's ``cf:1.8`` test with no error
(tests/test_cf_compliance.py). :func:`conform` is applied by :func:`nepflow.netcdf.write_netcdf` to every
file: x/y coordinate attributes from the grid's CRS, an int32 ``spatial_ref`` grid mapping, time
coordinates with their standard name, int32 day counts and bounds. The producers add the time axis
the file covers: the months of a year (:func:`with_months`), one year (:func:`with_year`), every year
of the series (:func:`with_years`) or the period of a statistic (:func:`with_period`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

#: How times are stored: whole days, int32, the proleptic Gregorian (standard) calendar.
TIME_UNITS = "days since 1970-01-01"
CALENDAR = "standard"
BOUNDS = "time_bnds"

#: ``title`` of each rule's files (``provenance.attrs``); the file-level ``references`` point to the
#: equations and literature of docs/science.md.
TITLES = {
    "grid": "nepflow target grid: region codes and pixel areas",
    "regrid": "nepflow monthly drivers of one year on the target grid",
    "carbon": "nepflow annual carbon fluxes (GPP, NPP, Rh, NEP) of one year",
    "carbon_monthly": "nepflow monthly carbon fluxes (GPP, NPP, Rh, NEP) of one year",
    "series": "nepflow annual NEP, precipitation, temperature and sunshine of every year",
    "trend": "nepflow trend of annual NEP (OLS, Theil-Sen, Mann-Kendall)",
    "hurst": "nepflow persistence of annual NEP (Hurst exponent)",
    "stability": "nepflow stability of annual NEP (mean, standard deviation, coefficient of variation)",
    "correlation": "nepflow correlation of annual NEP with precipitation, temperature and sunshine",
    "classes": "nepflow class maps: trend, stability, persistence, future trend, correlation",
}
REFERENCES = {
    "carbon": "Yan H., Wang S.-Q. et al. (2015) Ecological Modelling 297: 42-59 (TEC); Pei Z. et al. (2009) "
    "Journal of Integrative Plant Biology 51(5): 521-526 (Rh); Priestley C.H.B., Taylor R.J. (1972) "
    "Monthly Weather Review 100: 81-92",
    "trend": "Mann H.B. (1945) Econometrica 13: 245-259; Kendall M.G. (1975) Rank Correlation Methods; "
    "Sen P.K. (1968) JASA 63: 1379-1389; Benjamini Y., Hochberg Y. (1995) JRSS B 57: 289-300",
    "hurst": "Hurst H.E. (1951) Transactions of the ASCE 116: 770-799; Benjamini Y., Hochberg Y. (1995) "
    "JRSS B 57: 289-300",
    "correlation": "Benjamini Y., Hochberg Y. (1995) JRSS B 57: 289-300",
}
REFERENCES["carbon_monthly"] = REFERENCES["carbon"]
DOCS = "nepflow docs/science.md (equations, defaults and literature)"


def file_attrs(rule: str, version: str) -> dict[str, str]:
    """``title``, ``history`` and ``references`` of a rule's file: no timestamp, so reruns give the same bytes."""
    refs = "; ".join(r for r in (REFERENCES.get(rule), DOCS) if r)
    return {
        "title": TITLES.get(rule, f"nepflow {rule}"),
        "history": f"written by nepflow {version}, rule {rule}",
        "references": refs,
    }


def conform(ds: xr.Dataset) -> xr.Dataset:
    """CF attributes and storage types of ``ds``'s coordinates (in place) and ``ds``.

    x/y get the attributes their CRS implies (longitude/latitude or projection coordinates), the grid
    mapping is int32 with a ``long_name``, ``time`` gets its standard name (axis T when it is a
    dimension) and ``year`` (the series' dimension) is int32.
    """
    if "spatial_ref" in ds.variables:
        sr = ds["spatial_ref"]
        attrs = {"long_name": "coordinate reference system", **sr.attrs}
        ds.coords["spatial_ref"] = xr.Variable(sr.dims, np.asarray(sr.values).astype("int32"), attrs)
        wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
        if wkt:
            from pyproj import CRS

            coord_attrs(ds, CRS.from_wkt(wkt))
    if "time" in ds.variables:
        t = ds["time"]
        t.attrs.setdefault("standard_name", "time")
        t.attrs.setdefault("long_name", "time")
        if "time" in ds.dims:
            t.attrs["axis"] = "T"
    if "year" in ds.dims and "year" in ds.coords and ds["year"].dtype.kind in "iu":
        ds.coords["year"] = xr.Variable(
            "year", ds["year"].values.astype("int32"), {"long_name": "calendar year", "units": "1"}
        )
    return ds


def coord_attrs(ds: xr.Dataset, crs) -> None:
    """Attributes of the x/y coordinates of a grid in ``crs`` (a pyproj CRS), in place."""
    if crs.is_geographic:
        x = dict(standard_name="longitude", long_name="longitude", units="degrees_east", axis="X")
        y = dict(standard_name="latitude", long_name="latitude", units="degrees_north", axis="Y")
    else:
        x = dict(standard_name="projection_x_coordinate", long_name="x coordinate of projection", units="m", axis="X")
        y = dict(standard_name="projection_y_coordinate", long_name="y coordinate of projection", units="m", axis="Y")
    for name, attrs in (("x", x), ("y", y)):
        if name in ds.coords:
            ds[name].attrs.update(attrs)


def time_encoding() -> dict:
    """How :func:`nepflow.netcdf.write_netcdf` stores a datetime variable."""
    return {"units": TIME_UNITS, "calendar": CALENDAR, "dtype": "int32", "_FillValue": None}


def _jan1(year: int) -> np.datetime64:
    return np.datetime64(f"{int(year):04d}-01-01", "ns")


def with_months(ds: xr.Dataset) -> xr.Dataset:
    """Bounds of a monthly ``time`` dimension (first day of each month): the month it covers."""
    if "time" not in ds.dims or ds["time"].dtype.kind != "M":
        return ds
    start = pd.DatetimeIndex(ds["time"].values)
    end = start + pd.offsets.MonthBegin(1)
    ds[BOUNDS] = xr.DataArray(np.stack([start.values, end.values], axis=1), dims=("time", "nv"))
    ds["time"].attrs.update(standard_name="time", long_name="month (first day)", bounds=BOUNDS)
    return ds


def with_year(ds: xr.Dataset, year: int) -> xr.Dataset:
    """A scalar ``time`` coordinate of one calendar year (1 July) with the year's bounds."""
    return _scalar_time(ds, int(year), int(year), "calendar year (1 July) the values are of")


def with_period(ds: xr.Dataset, first: int, last: int) -> xr.Dataset:
    """A scalar ``time`` coordinate of the years ``first``..``last`` (their middle) with the period's bounds."""
    return _scalar_time(ds, int(first), int(last), "middle of the period the statistics are of")


def _scalar_time(ds, first, last, long_name):
    lo, hi = _jan1(first), _jan1(last + 1)
    mid = (
        np.datetime64(f"{first:04d}-07-01", "ns")
        if first == last
        else lo + ((hi - lo) // 2).astype("timedelta64[D]").astype("timedelta64[ns]")
    )
    ds = ds.assign_coords(
        time=xr.Variable((), mid, {"standard_name": "time", "long_name": long_name, "bounds": BOUNDS})
    )
    ds[BOUNDS] = xr.DataArray(np.array([lo, hi]), dims=("nv",))
    return ds


def with_years(ds: xr.Dataset) -> xr.Dataset:
    """A ``time(year)`` coordinate (1 July of each year) with the years' bounds: the series' T axis."""
    years = [int(y) for y in ds["year"].values]
    mid = np.array([np.datetime64(f"{y:04d}-07-01", "ns") for y in years])
    bounds = np.array([[_jan1(y), _jan1(y + 1)] for y in years])
    ds = ds.assign_coords(
        time=xr.Variable(
            "year", mid, {"standard_name": "time", "long_name": "calendar year (1 July)", "bounds": BOUNDS}
        )
    )
    ds[BOUNDS] = xr.DataArray(bounds, dims=("year", "nv"))
    return ds


def copy_time(src: xr.Dataset, dst: xr.Dataset) -> xr.Dataset:
    """``dst`` with ``src``'s scalar ``time`` coordinate and its bounds (e.g. classes from the trend file)."""
    if "time" not in src.variables or src["time"].ndim:
        return dst
    dst = dst.assign_coords(time=xr.Variable((), src["time"].values, dict(src["time"].attrs)))
    bname = src["time"].attrs.get("bounds", BOUNDS)
    if bname in src.variables:
        dst[bname] = xr.DataArray(src[bname].values, dims=src[bname].dims)
        dst["time"].attrs["bounds"] = bname
    return dst
