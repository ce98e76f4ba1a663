"""Sunshine duration estimated from surface solar radiation (product ``sunshine``): a documented proxy.

ERA5-Land has no sunshine duration. Where no station records are available,
nepflow inverts the Angström–Prescott relation (Angström 1924; Prescott 1940;
FAO-56, Allen et al. 1998, eq. 35):

    Rs = (a + b · n/N) · Ra   ⇒   n = N · clip((Rs/Ra − a) / b, 0, 1)

with Rs the surface solar radiation (ERA5-Land ``ssrd``, MJ m-2 month-1), Ra
the extraterrestrial radiation summed over the days of the month (FAO-56 eqs.
21–25, MJ m-2 month-1), N the total daylight hours of the month (FAO-56 eq. 34,
h month-1) and n the sunshine duration (h month-1). Defaults a = 0.25,
b = 0.50 (FAO-56's values where no calibration exists; ``sources.proxy.a``/``b``).
Using monthly totals of Rs and Ra gives the month's mean relative sunshine.

This is an estimate, not an observation: it inherits the reanalysis' cloud
errors and the regional uncertainty of a and b (calibrated values for North
China are about a = 0.16–0.22, b = 0.52–0.60). Every output says so in its
``source`` and ``comment`` attributes.

The retrieve job reads the year's meteorology (``paths["meteo"]``, from the
configured meteo source) and writes ``<key>/<year>.nc`` on its grid.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import netcdf, variables
from ..errors import NepflowError
from .stations import daylight_hours

#: The source contract (nepflow.sources): products, config sections read by retrieve / open_year.
DELIVERS = ("sunshine",)
PROJECTED = ()  # on the lon/lat grid of the meteorology it reads
SETTINGS = ("proxy", "meteo")  # meteo: which source delivers the meteorology it reads
OPEN_SETTINGS = ()
NEEDS = {"sunshine": "meteo"}
GSC = 0.0820  # solar constant, MJ m-2 min-1


def settings(cfg: dict) -> dict:
    """``sources.proxy`` of the validated ``sources`` section ``cfg``, checked."""
    s = cfg["proxy"]
    if not (0 <= s["a"] < 1 and 0 < s["b"] <= 1 and s["a"] + s["b"] <= 1):
        raise NepflowError(
            f"config key sources.proxy: a={s['a']}, b={s['b']}; expected 0 <= a < 1, 0 < b <= 1, a + b <= 1"
        )
    return s


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """Files of one job relative to ``data/proxy``."""
    if product != "sunshine":
        raise NepflowError(f"config key sources.{product}: the proxy source delivers only sunshine")
    s = settings(cfg)
    key = hashlib.sha256(repr((s["a"], s["b"], cfg.get("meteo"), cfg.get("bbox"))).encode()).hexdigest()[:10]
    return {"data": f"{key}/{year}.nc"}


def extraterrestrial_monthly(lat_deg, year: int) -> np.ndarray:
    """Extraterrestrial radiation summed over each month's days (MJ m-2 month-1), shape (12, …).

    FAO-56 eq. 21: Ra = (24·60/π) Gsc dr [ωs sin φ sin δ + cos φ cos δ sin ωs] per day.
    """
    phi = np.deg2rad(np.asarray(lat_deg, float))[..., None]
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    out = np.zeros((12,) + np.shape(lat_deg))
    for month in range(1, 13):
        j = days[days.month == month].day_of_year.values.astype(float)
        dr = 1 + 0.033 * np.cos(2 * np.pi * j / 365)
        delta = 0.409 * np.sin(2 * np.pi * j / 365 - 1.39)
        ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1, 1))
        ra = 24 * 60 / np.pi * GSC * dr * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))
        out[month - 1] = ra.sum(axis=-1)
    return out


def sunshine_from_radiation(rs, ra, n_max, a: float = 0.25, b: float = 0.50):
    """Sunshine duration (h month-1) from the inverted Angström–Prescott relation.

    Parameters
    ----------
    rs : surface solar radiation, MJ m-2 month-1.
    ra : extraterrestrial radiation, MJ m-2 month-1.
    n_max : daylight hours, h month-1.
    a, b : Angström–Prescott coefficients (1).

    Returns
    -------
    n = N · clip((Rs/Ra − a)/b, 0, 1), h month-1.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (np.asarray(rs, float) / np.asarray(ra, float) - a) / b
    return np.asarray(n_max, float) * np.clip(frac, 0.0, 1.0)


def retrieve(product: str, year: int, cfg: dict, paths: dict) -> None:
    """Compute one year's sunshine proxy from the meteorology in ``paths["meteo"]``; write ``paths["data"]``."""
    s = settings(cfg)
    meteo = Path(paths["meteo"])
    if cfg.get("meteo") in ("cds", "local"):  # their retrieve delivers a manifest or raw ERA5-Land
        from . import module

        ds = module(cfg["meteo"]).open_year("meteo", int(year), meteo, cfg)
    else:
        ds = netcdf.open_dataset(meteo, ["ssrd"]).load()
    if ds.rio.crs is not None and not ds.rio.crs.is_geographic:
        raise NepflowError(f"{meteo}: the sunshine proxy needs meteorology on a lon/lat grid")
    ssrd = ds["ssrd"]
    if ssrd.attrs.get("units", "MJ m-2 month-1") != "MJ m-2 month-1":
        raise NepflowError(f"{meteo}: ssrd has units {ssrd.attrs['units']!r}; expected MJ m-2 month-1")
    lat2 = np.broadcast_to(ds["y"].values[:, None], (ds.sizes["y"], ds.sizes["x"]))
    ra = extraterrestrial_monthly(lat2, int(year))
    n_max = daylight_hours(lat2, int(year))
    sund = sunshine_from_radiation(ssrd.values, ra, n_max, s["a"], s["b"])
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    da = xr.DataArray(
        sund, coords={"time": time, "y": ds["y"].values, "x": ds["x"].values}, dims=("time", "y", "x"), name="sund"
    )
    da.attrs = variables.attrs(
        "sund",
        source="proxy: estimated from surface solar radiation, not observed",
        comment=f"inverted Angstrom-Prescott relation n = N clip((Rs/Ra - a)/b, 0, 1), a = {s['a']}, b = {s['b']}; "
        f"Rs = ssrd of the meteo source ({cfg.get('meteo')}), Ra and N from FAO-56 eqs. 21-25 and 34",
        angstrom_a=s["a"],
        angstrom_b=s["b"],
    )
    out = da.to_dataset().rio.write_crs("EPSG:4326")
    out.attrs = {
        "source": "nepflow sunshine proxy from reanalysis radiation (nepflow.sources.proxy)",
        "references": "Allen et al. (1998) FAO Irrigation and Drainage Paper 56, eqs. 21-25, 34, 35",
    }
    netcdf.write_netcdf(out, paths["data"])


def open_year(product: str, year: int, path, cfg: dict | None = None, landcover_rules=None) -> xr.Dataset:
    """The proxy sunshine of one year (h month-1) on the meteorology's grid."""
    return netcdf.open_dataset(path, ["sund"]).load()
