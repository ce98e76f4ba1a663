"""Files the user already has (``sources.<product>: local``), in a documented folder layout.

Root folder: ``sources.local.root`` (default ``local_data``). Per product and
year, the first of these that exists is used::

    <root>/meteo/<year>.nc         tas (degC), pr (mm month-1), ssrd, rn (MJ m-2 month-1), evap (mm month-1),
                                   12 months, lon/lat (latitude/longitude or y/x) or a grid with spatial_ref;
                                   or ERA5-Land monthly means as the CDS delivers them (t2m, tp, ssrd, ssr,
                                   str, e; .nc), converted exactly as the cds source does
    <root>/meteo/<year>.zip        the CDS zip delivery of ERA5-Land (converted likewise)
    <root>/fpar/<year>.nc          fpar (1), 12 months
    <root>/fpar/<year>/*.hdf       MOD15A2H tiles of the year (monthly means as the earthdata source makes them;
                                   for 2000 add <root>/fpar/2000/fill/*.hdf, composites of 1 Jan–17 Feb of
                                   other years, for the climatology)
    <root>/landcover/<year>.tif    IGBP classes (MCD12Q1 LC_Type1 values; GeoTIFF with a CRS) → c4_frac by the
    <root>/landcover/<year>.nc     config rules (variable lc or LC_Type1), or
    <root>/landcover/<year>/*.hdf  MCD12Q1 tiles
    <root>/sunshine/<year>.nc      sund (h month-1), 12 months
    <root>/sunshine/stations.csv   station records (station_id,lon,lat,date,hours), interpolated as the stations
                                   source does
    <root>/npp/<year>.tif|.nc      npp_mod17 (g C m-2 yr-1), or <root>/npp/<year>/*.hdf MOD17A3HGF tiles

Retrieval copies nothing: it checks the files exist and writes a manifest with
their paths, sizes and sha256 (``data/local/<product>/<year>-<key>.json``), so a
changed file reruns its year. :func:`inputs` lists the files for the rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import landcover, netcdf, variables
from ..errors import NepflowError
from ..provenance import file_sha256
from . import cds, download, earthdata, modis, stations

#: The source contract (nepflow.sources): products, config sections read by retrieve / open_year.
SETTINGS = ("local",)
OPEN_SETTINGS = ("earthdata", "local", "stations")
DELIVERS = ("meteo", "fpar", "landcover", "sunshine", "npp")
PROJECTED = ()  # the user's files may come on either grid: the regrid job checks their CRS


def settings(cfg: dict) -> dict:
    """``sources.local`` of the validated ``sources`` section ``cfg``."""
    return cfg["local"]


def candidates(product: str, year: int, root: Path) -> list[tuple[str, list[Path]]]:
    """(kind, files) in order of preference for one product-year."""
    d = root / product
    out = {
        "meteo": [("netcdf", [d / f"{year}.nc"]), ("zip", [d / f"{year}.zip"])],
        "fpar": [("netcdf", [d / f"{year}.nc"]), ("hdf", sorted((d / str(year)).glob("*.hdf")))],
        "landcover": [
            ("geotiff", [d / f"{year}.tif"]),
            ("netcdf", [d / f"{year}.nc"]),
            ("hdf", sorted((d / str(year)).glob("*.hdf"))),
        ],
        "sunshine": [("netcdf", [d / f"{year}.nc"]), ("csv", [d / "stations.csv"])],
        "npp": [
            ("geotiff", [d / f"{year}.tif"]),
            ("netcdf", [d / f"{year}.nc"]),
            ("hdf", sorted((d / str(year)).glob("*.hdf"))),
        ],
    }
    if product not in out:
        raise NepflowError(f"config key sources.{product}: the local source has no product {product}")
    res = out[product]
    if product == "fpar":
        res[1] = ("hdf", res[1][1] + sorted((d / str(year) / "fill").glob("*.hdf")))
    return res


def find(product: str, year: int, cfg: dict) -> tuple[str, list[Path]]:
    """The kind and files of one product-year; one-line error listing what was looked for."""
    root = Path(settings(cfg)["root"])
    tried = []
    for kind, files in candidates(product, year, root):
        if files and all(f.exists() for f in files):
            return kind, files
        tried.append(str(files[0]) if files and kind != "hdf" else str(root / product / str(year) / "*.hdf"))
    raise NepflowError(
        f"local {product} {year}: none of {', '.join(tried)} exists; expected the layout of "
        f"docs/real-data.md (sources.local.root = {root})"
    )


def inputs(product: str, year: int, cfg: dict) -> list[str]:
    """The user's files a retrieve job reads (for the rule's input)."""
    return [str(p) for p in find(product, year, cfg)[1]]


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """The manifest, relative to ``data/local``."""
    root = str(Path(settings(cfg)["root"]).resolve())
    key = hashlib.sha256(repr((root, cfg.get("bbox"))).encode()).hexdigest()[:8]
    return {"manifest": f"{product}/{year}-{key}.json"}


def retrieve(product: str, year: int, cfg: dict, paths: dict) -> None:
    """Check the user's files and record them (path, size, sha256) in the manifest."""
    kind, files = find(product, year, cfg)
    download.write_manifest(
        paths["manifest"],
        {
            "source": "local",
            "product": product,
            "year": int(year),
            "kind": kind,
            "bbox": [float(b) for b in cfg["bbox"]] if cfg.get("bbox") else None,
            "files": [{"name": str(p.resolve()), "size": p.stat().st_size, "sha256": file_sha256(p)} for p in files],
        },
    )


def _lonlat(ds: xr.Dataset) -> xr.Dataset:
    ren = {k: v for k, v in (("latitude", "y"), ("longitude", "x"), ("lat", "y"), ("lon", "x")) if k in ds.dims}
    ds = ds.rename(ren)
    if ds.rio.crs is None:
        ds = ds.rio.write_crs("EPSG:4326")
    return ds


def _months(ds, year, what):
    t = pd.DatetimeIndex(ds["time"].values)
    if len(t) != 12 or list(t.year) != [year] * 12:
        raise NepflowError(f"{what}: expected the 12 months of {year}, found {[str(x)[:7] for x in t]}")
    return ds.assign_coords(time=pd.date_range(f"{year}-01-01", periods=12, freq="MS"))


def open_year(product: str, year: int, path, cfg: dict, landcover_rules=None) -> xr.Dataset:
    """One product-year from the user's files in CF units on their native grid (``path``: the manifest)."""
    m = download.read_manifest(path)
    if not m or m.get("source") != "local":
        raise NepflowError(f"{path}: not a local-source manifest; expected the JSON written by the retrieve job")
    kind, files = m["kind"], [Path(path).parent / f["name"] for f in m["files"]]  # names relative to the manifest
    year = int(year)
    what = str(files[0])
    if product == "meteo":
        if kind == "zip" or _is_era5(files[0]):
            return cds.open_year("meteo", year, files[0])
        ds = _lonlat(netcdf.open_dataset(files[0], ["tas", "pr", "ssrd", "rn", "evap"]).load())
        return _months(ds[["tas", "pr", "ssrd", "rn", "evap"]], year, what)
    if product == "fpar":
        if kind == "netcdf":
            return _months(_lonlat(netcdf.open_dataset(files[0], ["fpar"]).load())[["fpar"]], year, what)
        return _fpar_tiles(files, year, cfg, m.get("bbox"))
    if product == "landcover":
        if kind == "hdf":
            lc = modis.mosaic(
                files, "LC_Type1", decode=False, bounds=modis.sinusoidal_bounds(m["bbox"]) if m.get("bbox") else None
            )
        elif kind == "geotiff":
            lc = _tif(files[0])
            check_extent(lc, m.get("bbox"), files[0])
        else:
            ds = _lonlat(netcdf.open_dataset(files[0]).load())
            name = next((v for v in ("lc", "LC_Type1", "landcover") if v in ds.data_vars), None)
            if name is None:
                raise NepflowError(f"{what}: no land-cover variable; expected lc or LC_Type1")
            lc = ds[name]
        c4 = landcover.c4_fraction(lc, landcover_rules or {}, year).astype("float32")
        return c4.to_dataset().rio.write_crs(lc.rio.crs, inplace=True)
    if product == "sunshine":
        if kind == "netcdf":
            return _months(_lonlat(netcdf.open_dataset(files[0], ["sund"]).load())[["sund"]], year, what)
        return _stations(files[0], year, cfg, m)
    if product == "npp":
        if kind == "hdf":
            npp = modis.mosaic(files, "Npp_500m", bounds=modis.sinusoidal_bounds(m["bbox"]) if m.get("bbox") else None)
            npp = npp * 1000.0
        elif kind == "geotiff":
            npp = _tif(files[0]).astype("float64")
            check_extent(npp, m.get("bbox"), files[0])
        else:
            npp = _lonlat(netcdf.open_dataset(files[0], ["npp_mod17"]).load())["npp_mod17"]
        crs = npp.rio.crs
        npp.name = "npp_mod17"
        npp.attrs = variables.attrs("npp_mod17", source=f"local file {what}")
        return npp.to_dataset().rio.write_crs(crs)
    raise NepflowError(f"config key sources.{product}: the local source has no product {product}")


def _is_era5(path: Path) -> bool:
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return "t2m" in ds.data_vars and "tas" not in ds.data_vars
    except Exception:  # unreadable: let open_dataset give the one-line error
        return False


def check_extent(da: xr.DataArray, bbox, what) -> None:
    """One-line error if ``da`` (with a CRS) does not overlap the request box ``bbox`` (lon/lat).

    A GeoTIFF whose CRS is wrong (e.g. lon/lat degrees labelled as a projected CRS in metres)
    lands somewhere else on Earth: its footprint then misses the region.
    """
    if not bbox or da.rio.crs is None:
        return
    from pyproj import Transformer

    try:
        left, bottom, right, top = da.rio.bounds()
        w, s, e, n = Transformer.from_crs(da.rio.crs, "EPSG:4326", always_xy=True).transform_bounds(
            left, bottom, right, top, densify_pts=21
        )
    except Exception as exc:  # PROJ errors: outside the CRS's area of use
        raise NepflowError(
            f"{what}: its extent cannot be placed in lon/lat with its CRS {da.rio.crs} "
            f"({type(exc).__name__}); expected a raster georeferenced in its true CRS"
        ) from None
    bw, bs, be, bn = (float(b) for b in bbox)
    finite = all(np.isfinite(v) for v in (w, s, e, n))
    if not finite or e < bw or w > be or n < bs or s > bn:
        raise NepflowError(
            f"{what}: with its CRS {da.rio.crs.to_string()} it lies at lon/lat "
            f"[{w:.4g}, {s:.4g}, {e:.4g}, {n:.4g}], outside the request box {list(map(float, bbox))}; "
            f"expected a raster over the region (is its CRS right?)"
        )


def _tif(path: Path) -> xr.DataArray:
    try:
        da = rioxarray.open_rasterio(path, masked=False).squeeze("band", drop=True).load()
    except Exception as exc:  # rasterio errors
        raise NepflowError(f"{path}: not a readable GeoTIFF ({type(exc).__name__}: {exc})") from None
    if da.rio.crs is None:
        raise NepflowError(f"{path}: GeoTIFF without a CRS; expected a georeferenced raster")
    nodata = da.rio.nodata
    if nodata is not None and da.dtype.kind == "f":
        da = da.where(da != nodata)
    return da


def _fpar_tiles(files, year, cfg, bbox) -> xr.Dataset:
    s = earthdata.settings(cfg)
    main, clim = defaultdict(list), defaultdict(lambda: defaultdict(list))
    for p in files:
        info = modis.parse_name(p.name)
        if p.parent.name == "fill":
            clim[info["doy"]][info["year"]].append(p)
        else:
            main[info["date"]].append(p)
    groups = [(d, fs, 1.0) for d, fs in sorted(main.items())]
    for doy, by_year in clim.items():
        d = dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
        if d not in main and d < earthdata.FPAR_START:
            groups += [(d, fs, 1.0 / len(by_year)) for fs in by_year.values()]
    groups.sort(key=lambda g: g[0])
    da, counts = earthdata.monthly_fpar(
        groups, year, modis.sinusoidal_bounds(bbox) if bbox else None, s["fpar_qc"], s["fpar_nonveg"]
    )
    da.attrs = variables.attrs(
        "fpar",
        source="local MOD15A2H tiles",
        fpar_qc=s["fpar_qc"],
        comment="monthly means of valid 8-day retrievals as in nepflow.sources.earthdata",
        **{f"pixel_months_{k}": v for k, v in counts.items()},
    )
    return da.to_dataset().rio.write_crs(modis.SINUSOIDAL, inplace=True)


def _stations(path: Path, year: int, cfg, m) -> xr.Dataset:
    s = cfg["stations"]
    if not m.get("bbox"):
        raise NepflowError(f"{path}: station records need the request box (sources.bbox or the region)")
    totals = stations.monthly_totals(stations.read_csv(path), year, s["min_days"])
    w, so, e, n = m["bbox"]
    res = float(s["resolution"])
    lon = stations._axis(w, e, res)
    lat = stations._axis(so, n, res, descending=True)
    glon, glat = np.meshgrid(lon, lat)
    for month in range(1, 13):
        n = int((totals["month"] == month).sum())
        if n < s["min_stations"]:
            raise NepflowError(
                f"{path}: month {year}-{month:02d} has {n} stations with a complete record; "
                f"expected at least {s['min_stations']}"
            )
    out = stations.monthly_surfaces(totals, glon, glat, s["method"], float(s["smoothing"]))
    out = np.clip(out, 0, stations.daylight_hours(glat, year))
    da = xr.DataArray(
        out,
        coords={"time": pd.date_range(f"{year}-01-01", periods=12, freq="MS"), "y": lat, "x": lon},
        dims=("time", "y", "x"),
        name="sund",
    )
    da.attrs = variables.attrs("sund", source=f"local station records {path.name}", interpolation=s["method"])
    return da.to_dataset().rio.write_crs("EPSG:4326")
