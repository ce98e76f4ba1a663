"""ERA5-Land monthly means from the Copernicus Climate Data Store (product ``meteo``).

Retrieval: one ``cdsapi.Client(url, key).retrieve(dataset, request)`` per year
(``reanalysis-era5-land-monthly-means``, ``monthly_averaged_reanalysis``, the
six variables below, 12 months, NetCDF, area = the padded region box). cdsapi
(through ecmwf-datastores-client) submits the request once and polls the job
until it is done: waits between polls grow from 1 s to ``sources.cds.poll_interval``
(default 60 s; a queued ERA5-Land request takes minutes to hours), and each HTTP
call (the submission, every poll) is repeated by the client itself on
connection errors and HTTP 408/429/5xx, up to ``sources.cds.retry_max`` tries a
``poll_interval`` apart. nepflow does not wrap the job in its own retries, so a
failed poll never resubmits the request. The result file is then fetched with
:func:`nepflow.sources.download.fetch` (temporary name, size check against the
API's ``file:size``, sha256, the ``sources.download`` retries with Retry-After)
and recorded in a manifest beside it. The file is kept as delivered: today the
CDS sends a zip of one NetCDF per GRIB step type when a request mixes
instantaneous (t2m) and accumulated variables, or a single NetCDF; both are
opened here (the cache names the delivery ``<year>.zip`` or ``<year>.nc`` as the
CDS sent it, and the manifest names the file; :func:`open_raw` looks at the
content, not the suffix).

Credentials: ``CDSAPI_URL``/``CDSAPI_KEY`` or ``~/.cdsapirc`` (path in
``CDSAPI_RC``), as cdsapi reads them; ``sources.cds.url`` overrides the URL
(tests point it at a local server). The key is the personal access token of
the CDS profile page; credentials of the CDS retired in September 2024 (a key
``<UID>:<API key>``, a URL ending in ``/api/v2``) stop the job with one line
saying so. The key is never logged or written.

Conversion to CF units (docs/real-data.md, "Products and what is done to them"). ERA5-Land monthly means of
accumulated variables are means of *daily* accumulations, so a monthly total is
the value × the days of that month:

=====  ===============================  ==========================  =====================================
out    ERA5-Land (file name)            native units                 conversion
=====  ===============================  ==========================  =====================================
tas    2m_temperature (t2m)             K                            T − 273.15 → degC
pr     total_precipitation (tp)         m day-1                      tp × days × 1000 → mm month-1
ssrd   surface_solar_radiation_         J m-2 day-1                  ssrd × days / 1e6 → MJ m-2 month-1
       downwards (ssrd)
rn     surface_net_solar_radiation      J m-2 day-1                  (ssr + str) × days / 1e6 → MJ m-2 month-1
       (ssr) + surface_net_thermal_
       radiation (str)
evap   total_evaporation (e)            m water equivalent day-1     −e × days × 1000 → mm month-1
                                        (negative = evaporation)     (positive upward)
=====  ===============================  ==========================  =====================================

Time is ``valid_time`` in today's CDS NetCDF (``time`` in older files);
coordinates ``latitude``/``longitude`` become ``y``/``x``; longitudes in
0–360 are wrapped to −180–180 and sorted; an old-style ``expver`` dimension
(ERA5T mixed with final data) is collapsed, final data first.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import variables
from ..errors import NepflowError
from . import download

log = logging.getLogger("nepflow.sources.cds")

DEFAULT_URL = "https://cds.climate.copernicus.eu/api"
#: CDS request variable -> names the variable has in delivered NetCDF files.
VARIABLES = {
    "2m_temperature": ("t2m", "2t"),
    "total_precipitation": ("tp",),
    "surface_solar_radiation_downwards": ("ssrd",),
    "surface_net_solar_radiation": ("ssr",),
    "surface_net_thermal_radiation": ("str",),
    "total_evaporation": ("e",),
}
#: Units accepted per variable (as ERA5 writes them).
UNITS = {
    "t2m": {"K"},
    "tp": {"m"},
    "e": {"m of water equivalent", "m"},
    "ssrd": {"J m**-2", "J m-2"},
    "ssr": {"J m**-2", "J m-2"},
    "str": {"J m**-2", "J m-2"},
}
#: The source contract (nepflow.sources): products, config sections read by retrieve / open_year.
DELIVERS = ("meteo",)
PROJECTED = ()  # ERA5-Land on its 0.1 degree lon/lat grid
SETTINGS = ("cds",)
OPEN_SETTINGS = ()
#: Where the personal access token of the current CDS is shown.
PROFILE_URL = "https://cds.climate.copernicus.eu/profile"


def settings(cfg: dict) -> dict:
    """``sources.cds`` of the validated ``sources`` section ``cfg``."""
    return cfg["cds"]


def request(year: int, bbox, cfg: dict) -> dict:
    """The CDS request of one year: every month, the six variables, NetCDF, ``area`` = [N, W, S, E]."""
    s = settings(cfg)
    w, so, e, n = (float(v) for v in bbox)
    req = {
        "product_type": [s["product_type"]],
        "variable": list(VARIABLES),
        "year": [str(int(year))],
        "month": [f"{m:02d}" for m in range(1, 13)],
        "time": ["00:00"],
        "data_format": "netcdf",
        "download_format": "unarchived",
        "area": [n, w, so, e],
    }
    if s.get("grid"):
        req["grid"] = [float(s["grid"]), float(s["grid"])]
    return req


def _key(req: dict) -> str:
    from ..provenance import config_hash

    r = {k: v for k, v in req.items() if k != "year"}
    n, w, s, e = req["area"]
    return f"{w:g}_{s:g}_{e:g}_{n:g}-{config_hash(r)[:8]}"


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """Files of one retrieve job, relative to the cds cache folder (``data/cds``).

    ``cfg`` is the config's ``sources`` section with ``bbox`` ([W, S, E, N]) set
    (see :func:`nepflow.sources.download.request_bbox`).
    """
    _check_product(product)
    s = settings(cfg)
    folder = f"{s['dataset']}/{_key(request(2000, cfg['bbox'], cfg))}"  # the key leaves the year out
    # the delivered file's name depends on what the CDS sends (<year>.zip or <year>.nc): the manifest names it
    return {"manifest": f"{folder}/{year}.json"}


#: Suffix of the delivered file by its content.
SUFFIXES = {True: ".zip", False: ".nc"}


def _check_product(product):
    if product != "meteo":
        raise NepflowError(f"config key sources.{product}: the cds source delivers only meteo")


def credentials(cfg: dict) -> tuple[str, str]:
    """(url, key) from ``sources.cds.url``, CDSAPI_URL/CDSAPI_KEY or the cdsapirc file.

    Raises a one-line error naming what to set (never the secret).
    """
    s = settings(cfg)
    rc_name = os.environ.get("CDSAPI_RC") or "~/.cdsapirc"
    rc = Path(os.path.expanduser(rc_name))
    conf = {}
    if rc.exists():
        try:
            for line in rc.read_text().splitlines():
                k, sep, v = line.partition(":")
                if sep and k.strip() in ("url", "key"):
                    conf[k.strip()] = v.strip()
        except OSError:
            pass
    url, url_from = next(
        (
            (v, w)
            for v, w in (
                (s.get("url"), "config key sources.cds.url"),
                (os.environ.get("CDSAPI_URL"), "CDSAPI_URL"),
                (conf.get("url"), f"{rc_name} (url:)"),
            )
            if v
        ),
        (DEFAULT_URL, "the default"),
    )
    key, key_from = next(
        (
            (v, w)
            for v, w in ((os.environ.get("CDSAPI_KEY"), "CDSAPI_KEY"), (conf.get("key"), f"{rc_name} (key:)"))
            if v
        ),
        (None, None),
    )
    if not key:
        raise NepflowError(
            f"CDS credentials missing: set CDSAPI_KEY (your CDS personal access token) or write "
            f"'url:' and 'key:' lines in {rc_name} (path from CDSAPI_RC); see docs/real-data.md"
        )
    new = (
        f"the current CDS takes url {DEFAULT_URL} and as key the personal access token shown on "
        f"{PROFILE_URL} (no UID: prefix); see docs/real-data.md"
    )
    if re.fullmatch(r"\s*\d+\s*:\s*\S+", key):
        raise NepflowError(
            f"{key_from}: a key of the form <UID>:<API key> is a credential of the CDS retired in September 2024; {new}"
        )
    if re.search(r"/api/v2/?$", urlsplit(url.strip()).path):
        raise NepflowError(
            f"{url_from}: the URL {download.clean_url(url)} (/api/v2) is the API of the CDS retired in "
            f"September 2024; {new}"
        )
    return url.rstrip("/"), key


def retrieve(product: str, year: int, cfg: dict, paths: dict) -> None:
    """Fetch one year of ERA5-Land monthly means; skip if the manifest says it is complete.

    ``paths``: ``manifest`` (JSON). The delivered file goes beside it as
    ``<year>.zip`` (a zip of NetCDFs) or ``<year>.nc`` (one NetCDF), by content.
    """
    _check_product(product)
    s = settings(cfg)
    retry = download.Retry.from_config(cfg["download"])
    verify = cfg["download"]["verify"]
    req = request(year, cfg["bbox"], cfg)
    expect = {"source": "cds", "dataset": s["dataset"], "request": req}
    manifest = Path(paths["manifest"])
    names = {f"{manifest.stem}{suffix}" for suffix in SUFFIXES.values()}
    if (
        download.is_complete(manifest, expect, verify)
        and len(files := download.read_manifest(manifest)["files"]) == 1
        and files[0]["name"] in names
    ):
        log.info("%s %s: complete in the cache (%s), not downloading", s["dataset"], year, manifest)
        return
    url, key = credentials(cfg)
    import cdsapi

    # the client polls the job and repeats a failed HTTP call itself (sleep_max is both the longest wait between
    # polls and the wait before a repeated call); its retrieve() is called once, so nothing resubmits the job
    client = cdsapi.Client(
        url=url,
        key=key,
        quiet=True,
        progress=False,
        timeout=retry.read_timeout,
        retry_max=int(s["retry_max"]),
        sleep_max=float(s["poll_interval"]),
        info_callback=lambda *a, **k: log.info("CDS: %s", download.redact(a[0] % a[1:] if len(a) > 1 else a[0])),
        warning_callback=lambda *a, **k: log.warning("CDS: %s", download.redact(a[0] % a[1:] if len(a) > 1 else a[0])),
        error_callback=lambda *a, **k: log.error("CDS: %s", download.redact(a[0] % a[1:] if len(a) > 1 else a[0])),
        debug_callback=lambda *a, **k: None,  # debug lines would echo the key
    )
    log.info("CDS request %s %s: area %s", s["dataset"], year, req["area"])
    result = download.call(
        lambda: client.retrieve(s["dataset"], req),
        f"CDS request {s['dataset']} {year}",
        dataclasses.replace(retry, tries=1),
        transient=_transient,
    )
    href = str(result.location).split("?")[0]
    data = manifest.with_suffix(
        SUFFIXES[href.endswith(".zip") or "zip" in str(getattr(result, "content_type", "") or "")]
    )
    record = download.fetch(result.location, data, size=int(result.content_length), retry=retry)
    if (suffix := SUFFIXES[zipfile.is_zipfile(data)]) != data.suffix:  # named by what came, not what was announced
        data = data.rename(data.with_suffix(suffix))
        record["name"] = data.name
    record["content_type"] = str(getattr(result, "content_type", "") or "")
    download.write_manifest(
        manifest,
        {
            "source": "cds",
            "product": "meteo",
            "year": int(year),
            "dataset": s["dataset"],
            "versions": {"dataset": s["dataset"], "product_type": s["product_type"]},
            "request": req,
            "service": download.clean_url(url),
            "files": [record],
        },
    )
    for name in names - {data.name}:  # the other kind of an earlier delivery
        manifest.with_name(name).unlink(missing_ok=True)


def _transient(exc):
    again, after = download.retry_advice(exc)
    resp = getattr(exc, "response", None)
    if resp is not None and getattr(resp, "status_code", None) in (401, 403):
        raise NepflowError(
            "CDS request refused (HTTP %d): check CDSAPI_KEY / ~/.cdsapirc and that the dataset "
            "licence is accepted on the CDS website" % resp.status_code
        ) from None
    return again, after


# ---------------------------------------------------------------- opening
def _data_file(path) -> Path:
    path = Path(path)
    if path.suffix == ".json":
        m = download.read_manifest(path)
        if not m or not m.get("files"):
            raise NepflowError(f"{path}: not a readable cds manifest; expected JSON with a 'files' list")
        return path.parent / m["files"][0]["name"]
    return path


def open_raw(path) -> xr.Dataset:
    """The delivered file (NetCDF, or a zip of NetCDFs) as one dataset, loaded."""
    path = _data_file(path)
    if not path.exists():
        raise NepflowError(f"{path}: file not found")
    try:
        if zipfile.is_zipfile(path):
            parts = []
            with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as tmp:
                for name in sorted(z.namelist()):
                    if name.endswith(".nc"):
                        z.extract(name, tmp)
                        with xr.open_dataset(Path(tmp) / name, engine="netcdf4") as ds:
                            parts.append(ds.load())
            if not parts:
                raise NepflowError(f"{path}: zip without NetCDF members; expected the CDS delivery")
            return xr.merge(parts, compat="override", combine_attrs="override")
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except NepflowError:
        raise
    except Exception as exc:  # netCDF4/zip errors
        raise NepflowError(f"{path}: not a readable ERA5-Land file ({type(exc).__name__}: {exc})") from None


def days_in_month(time: xr.DataArray) -> xr.DataArray:
    """Days in the month of each time stamp (28–31), float64, on the ``time`` dim."""
    return xr.DataArray(
        pd.DatetimeIndex(time.values).days_in_month.astype("float64"), coords={"time": time}, dims="time"
    )


def normalise(raw: xr.Dataset, what: str = "ERA5-Land file") -> xr.Dataset:
    """Rename ERA5 coordinates to time/y/x, wrap longitudes to −180–180, north-up, collapse expver."""
    ds = raw
    ren = {}
    for old, new in (("valid_time", "time"), ("latitude", "y"), ("longitude", "x"), ("lat", "y"), ("lon", "x")):
        if old in ds.dims or old in ds.coords:
            ren[old] = new
    ds = ds.rename(ren)
    if "expver" in ds.dims:  # older CDS files mixing final data (1) and ERA5T (5)
        parts = [ds.isel(expver=i, drop=True) for i in range(ds.sizes["expver"])]
        ds = parts[0]
        for part in parts[1:]:  # final data first, ERA5T where the final data are missing
            ds = ds.combine_first(part)
    ds = ds.drop_vars(
        [v for v in ("expver", "number", "step", "surface") if v in ds.variables and v not in ds.dims], errors="ignore"
    )
    for d in ("time", "y", "x"):
        if d not in ds.dims:
            raise NepflowError(
                f"{what}: no {d} dimension (valid_time/time, latitude, longitude); found {', '.join(map(str, ds.dims))}"
            )
    x = ds["x"].values
    if np.nanmax(x) > 180:
        ds = ds.assign_coords(x=((ds["x"] + 180) % 360) - 180)
    ds = ds.sortby("x").sortby("y", ascending=False)
    return ds


def to_cf(raw: xr.Dataset, what: str = "ERA5-Land file") -> xr.Dataset:
    """ERA5-Land monthly means (native units) → nepflow's meteo product in CF units.

    Equations (d = days in the month of each time step)::

        tas  = t2m − 273.15                 [K → degC]
        pr   = tp · d · 1000                [m day-1 → mm month-1]
        ssrd = ssrd · d / 1e6               [J m-2 day-1 → MJ m-2 month-1]
        rn   = (ssr + str) · d / 1e6        [J m-2 day-1 → MJ m-2 month-1]
        evap = −e · d · 1000                [m day-1, negative upward → mm month-1, positive upward]

    Parameters
    ----------
    raw : the delivered dataset (``valid_time`` or ``time``; ``latitude``,
        ``longitude``; t2m, tp, ssrd, ssr, str, e in their ERA5 units).

    Returns
    -------
    Dataset (time=12, y, x) of float64 tas, pr, ssrd, rn, evap with CF attributes
    and an EPSG:4326 CRS. Reference: Muñoz-Sabater et al. (2021), ERA5-Land,
    Earth Syst. Sci. Data 13, 4349–4383; ECMWF, "ERA5-Land: data documentation"
    (monthly means of accumulations are per day).
    """
    ds = normalise(raw, what)
    names = {}
    for req_name, aliases in VARIABLES.items():
        found = next((a for a in aliases if a in ds.data_vars), None)
        if found is None:
            raise NepflowError(
                f"{what}: variable {aliases[0]} ({req_name}) missing; expected the six ERA5-Land "
                f"variables {', '.join(a[0] for a in VARIABLES.values())}"
            )
        names[aliases[0]] = found
    v = {}
    for short, found in names.items():
        da = ds[found].astype("float64")
        units = da.attrs.get("units") or da.attrs.get("GRIB_units")
        if units is None:
            log.warning(
                "%s: %s has no units attribute; assuming the ERA5 units %s", what, found, sorted(UNITS[short])[0]
            )
        elif units not in UNITS[short]:
            raise NepflowError(
                f"{what}: variable {found} has units {units!r}; expected {' or '.join(sorted(UNITS[short]))}"
            )
        v[short] = da
    days = days_in_month(ds["time"])
    out = {
        "tas": v["t2m"] - 273.15,
        "pr": v["tp"] * days * 1000.0,
        "ssrd": v["ssrd"] * days / 1e6,
        "rn": (v["ssr"] + v["str"]) * days / 1e6,
        "evap": -v["e"] * days * 1000.0,
    }
    comments = {
        "tas": "ERA5-Land t2m - 273.15",
        "pr": "ERA5-Land tp (m per day, monthly mean of daily accumulations) x days in month x 1000",
        "ssrd": "ERA5-Land ssrd (J m-2 per day) x days in month / 1e6",
        "rn": "ERA5-Land (ssr + str) (J m-2 per day) x days in month / 1e6; ground heat flux neglected",
        "evap": "-ERA5-Land e (m of water per day, negative = evaporation) x days in month x 1000; "
        "reanalysis evaporation used as actual evapotranspiration (documented approximation of TEC's ARTS model)",
    }
    res = xr.Dataset()
    for name, da in out.items():
        da = da.transpose("time", "y", "x")
        da.attrs = variables.attrs(name, comment=comments[name], source="ERA5-Land monthly means (Copernicus CDS)")
        res[name] = da
    res = res.rio.write_crs("EPSG:4326")
    res["x"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
    res["y"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    return res


def open_year(product: str, year: int, path, cfg: dict | None = None, landcover_rules=None) -> xr.Dataset:
    """One year of ERA5-Land meteorology in CF units on its native 0.1° lon/lat grid.

    ``path`` is the delivered file or its manifest. Checks the 12 months are
    those of ``year``.
    """
    _check_product(product)
    src = _data_file(path)
    ds = to_cf(open_raw(src), str(src))
    t = pd.DatetimeIndex(ds["time"].values)
    if len(t) != 12 or list(t.year) != [int(year)] * 12 or list(t.month) != list(range(1, 13)):
        raise NepflowError(f"{src}: expected the 12 months of {year}, found {[str(x)[:7] for x in t]}")
    ds = ds.assign_coords(time=pd.date_range(f"{year}-01-01", periods=12, freq="MS"))
    ds.attrs = {
        "source": "ERA5-Land monthly means, Copernicus Climate Change Service (C3S) Climate Data Store",
        "references": "Munoz-Sabater et al. (2021) Earth Syst. Sci. Data 13, 4349-4383",
    }
    return ds
