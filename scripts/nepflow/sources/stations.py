"""Sunshine duration from weather-station records, interpolated to a grid (product ``sunshine``).

Input: one CSV file (``sources.stations.file``; a local path, or an http(s)
URL fetched with :func:`nepflow.sources.download.fetch`) with the header
``station_id,lon,lat,date,hours``:

- ``date`` ``YYYY-MM-DD``: daily sunshine hours. A station-month counts when at
  least ``min_days`` (default 0.8) of its days have a value; its total is the
  mean of the valid days × the days in the month (h month-1).
- ``date`` ``YYYY-MM``: monthly totals (h month-1) as given.

``sources.stations.format: cma_daily`` reads instead the daily layout of the
national archive (China Meteorological Administration, "China surface climate
data daily values", file ``SURF_CLI_CHN_MUL_DAY-SSD-14032-YYYYMM.TXT``; the
monthly files concatenated into one, e.g. ``cat SURF_CLI_CHN_MUL_DAY-SSD-*.TXT``):
whitespace-separated columns station, latitude, longitude, altitude, year,
month, day, sunshine[, quality code], converted as

- latitude ``ddmm`` and longitude ``dddmm`` in degrees and minutes:
  ``3948`` → 39 + 48/60 = 39.8°;
- sunshine in 0.1 h: ``85`` → 8.5 h;
- ``32766`` (missing) → no value (the day is missing for ``min_days``); any
  other code of 32700 and above is an error naming the file, station and date.
  The altitude and the quality code are not used.

Values are never clipped: a negative value, a day above 24 h or a month above
its daylight hours at the station (FAO-56 eq. 34) stops the job with one line
naming the file, station and date (a missing-value code such as 32766, 3276.6
or 999.9 left in a CSV is caught this way).

Retrieval (one job per year) validates the file, aggregates the year to
station-month totals and writes them (``<key>/<year>.csv``) with a manifest
(source file, its sha256, the stations used). Interpolation happens when the
year is opened, onto a lon/lat grid of ``sources.stations.resolution``
degrees (default 0.05°) covering the request box; ``regrid`` then puts it on
the target grid.

Interpolation (``sources.stations.method``), in a local azimuthal equidistant
projection centred on the stations (km), per month:

- ``thin_plate_spline`` (default): ``scipy.interpolate.RBFInterpolator`` with the
  thin-plate-spline kernel φ(r) = r² log r and a degree-1 polynomial, exact at
  the stations unless ``smoothing`` > 0 (the basis of ANUSPLIN-style climate
  surfaces; Hutchinson 1995, Int. J. Geogr. Inf. Syst. 9, 385–403);
- ``linear``: ``scipy.interpolate.griddata`` barycentric on the Delaunay
  triangulation, nearest station outside the stations' convex hull;
- ``nearest``: ``scipy.interpolate.griddata`` nearest station.

The interpolated surface (not the station values) is clipped to [0, daylight
hours of the month] (FAO-56 eq. 34), where a spline overshoots between stations.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import files, variables
from ..errors import NepflowError
from . import download

log = logging.getLogger("nepflow.sources.stations")

#: The source contract (nepflow.sources): products, config sections read by retrieve / open_year.
DELIVERS = ("sunshine",)
PROJECTED = ()  # interpolated on a lon/lat grid
SETTINGS = ("stations",)
OPEN_SETTINGS = ("stations",)
COLUMNS = ["station_id", "lon", "lat", "date", "hours"]
METHODS = ("thin_plate_spline", "linear", "nearest")
FORMATS = ("csv", "cma_daily")
#: The CMA daily layout: its missing-value code, the smallest special code, the unit of sunshine (h).
CMA_MISSING, CMA_CODES, CMA_UNIT = 32766, 32700, 0.1
#: Values of a CSV that are missing-value codes of common archives, not hours (named in the error).
SENTINELS = (32766, 3276.6, 9999, 999.9, 999, 99.9)


def settings(cfg: dict) -> dict:
    """``sources.stations`` of the validated ``sources`` section ``cfg``, checked."""
    s = cfg["stations"]
    if s["method"] not in METHODS:
        raise NepflowError(f"config key sources.stations.method: {s['method']!r}; expected one of {', '.join(METHODS)}")
    if s["format"] not in FORMATS:
        raise NepflowError(f"config key sources.stations.format: {s['format']!r}; expected one of {', '.join(FORMATS)}")
    if not s["file"]:
        raise NepflowError(
            "config key sources.stations.file: no station file set; expected a CSV with columns "
            "station_id,lon,lat,date,hours"
        )
    return s


def _key(s: dict, bbox) -> str:
    text = repr(
        (str(s["file"]), s["min_days"], [float(b) for b in bbox]) + ((s["format"],) if s["format"] != "csv" else ())
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """Files of one retrieve job relative to ``data/stations``: monthly station totals and the manifest."""
    if product != "sunshine":
        raise NepflowError(f"config key sources.{product}: the stations source delivers only sunshine")
    s = settings(cfg)
    key = _key(s, cfg["bbox"])
    return {"data": f"{key}/{year}.csv", "manifest": f"{key}/{year}.json"}


def _read(path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"station_id": str, "date": str}, **kw)
    except FileNotFoundError:
        raise NepflowError(
            f"config key sources.stations.file: {path} not found; expected a CSV with columns {','.join(COLUMNS)}"
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise NepflowError(f"{path}: not a readable CSV ({type(exc).__name__}: {exc})") from None


def check_header(path, columns=None) -> None:
    """One-line error naming the station file unless it exists and its header has every column of COLUMNS.

    ``columns``: the header already read; None reads only the header (the plan-time check).
    """
    if columns is None:
        columns = _read(Path(path), nrows=0).columns
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise NepflowError(f"{path}: missing column(s) {', '.join(missing)}; expected header {','.join(COLUMNS)}")


def inputs(product: str, year: int, cfg: dict) -> list[str]:
    """The station CSV when it is a local file (a changed file reruns the years); none for a URL or
    a missing file (the plan still builds; the job stops with one line naming the file)."""
    f = str(cfg["stations"]["file"] or "")
    return [f] if f and not f.startswith(("http://", "https://")) and Path(f).exists() else []


def read_csv(path) -> pd.DataFrame:
    """The station file as a DataFrame; one-line errors naming the file, line and column."""
    path = Path(path)
    df = _read(path)
    check_header(path, df.columns)
    for col in ("lon", "lat", "hours"):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() & df[col].notna() & (df[col].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.values)[0])
            raise NepflowError(f"{path}: line {i + 2}: column {col} is {df[col].iloc[i]!r}; expected a number")
        df[col] = vals
    if ((df["lon"] < -180) | (df["lon"] > 360) | (df["lat"] < -90) | (df["lat"] > 90)).any():
        i = int(np.flatnonzero(((df["lon"] < -180) | (df["lon"] > 360) | (df["lat"].abs() > 90)).values)[0])
        raise NepflowError(f"{path}: line {i + 2}: lon/lat {df['lon'].iloc[i]}, {df['lat'].iloc[i]} out of range")
    if (df["hours"] < 0).any():
        i = int(np.flatnonzero((df["hours"] < 0).values)[0])
        raise NepflowError(
            f"{path}: line {i + 2}: station {df['station_id'].iloc[i]}, {df['date'].iloc[i]}: "
            f"negative sunshine hours {df['hours'].iloc[i]}; expected a measured duration or an empty field"
        )
    daily = df["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    monthly = df["date"].str.fullmatch(r"\d{4}-\d{2}")
    if not (daily.all() or monthly.all()):
        i = int(np.flatnonzero(~(daily | monthly).values)[0]) if not (daily | monthly).all() else 0
        raise NepflowError(
            f"{path}: line {i + 2}: date {df['date'].iloc[i]!r}; expected all YYYY-MM-DD (daily) "
            f"or all YYYY-MM (monthly totals)"
        )
    df.attrs["daily"] = bool(daily.all())
    return df


def _degrees_minutes(v: pd.Series, path, df, what: str) -> pd.Series:
    deg, minutes = np.floor(v / 100), v % 100
    bad = (minutes >= 60) | v.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise NepflowError(
            f"{path}: station {df['station_id'].iloc[i]}, {df['date'].iloc[i]}: {what} "
            f"{df.iloc[i][what]!r}; expected degrees and minutes (ddmm, minutes < 60)"
        )
    return deg + minutes / 60


def read_cma_daily(path) -> pd.DataFrame:
    """The CMA daily sunshine layout (module docstring) as the CSV's columns (hours NaN where missing)."""
    path = Path(path)
    names = ["station_id", "lat", "lon", "alt", "year", "month", "day", "ssd"]
    try:
        raw = pd.read_csv(path, sep=r"\s+", header=None, usecols=range(8), names=names, dtype=str, comment=None)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise NepflowError(
            f"{path}: not the CMA daily layout (station lat lon alt year month day sunshine ...; "
            f"sources.stations.format: cma_daily): {type(exc).__name__}: {exc}"
        ) from None
    num = raw[names[1:]].apply(pd.to_numeric, errors="coerce")
    bad = num.isna().any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise NepflowError(
            f"{path}: line {i + 1}: {' '.join(raw.iloc[i].astype(str))!r} is not the CMA daily layout; "
            f"expected 8 or more numeric columns station lat(ddmm) lon(dddmm) alt year month day "
            f"sunshine(0.1 h)"
        )
    df = pd.DataFrame({"station_id": raw["station_id"].str.strip()})
    df["date"] = [
        f"{y:04d}-{m:02d}-{d:02d}"
        for y, m, d in zip(num["year"].astype(int), num["month"].astype(int), num["day"].astype(int))
    ]
    df["lat"] = _degrees_minutes(num["lat"], path, df.assign(lat=raw["lat"]), "lat")
    df["lon"] = _degrees_minutes(num["lon"], path, df.assign(lon=raw["lon"]), "lon")
    ssd = num["ssd"]
    code = (ssd >= CMA_CODES) & (ssd != CMA_MISSING)
    if code.any():
        i = int(np.flatnonzero(code.values)[0])
        raise NepflowError(
            f"{path}: station {df['station_id'].iloc[i]}, {df['date'].iloc[i]}: sunshine code "
            f"{int(ssd.iloc[i])}; expected 0.1 h values or {CMA_MISSING} (missing)"
        )
    df["hours"] = ssd.where(ssd != CMA_MISSING) * CMA_UNIT
    df = df[COLUMNS]
    df.attrs["daily"] = True
    return df


def check_values(df: pd.DataFrame, path) -> None:
    """Reject, never clip: a day above 24 h, or a month above its daylight hours at the station (FAO-56 eq. 34).

    One line naming the file, station and date; a known missing-value code (:data:`SENTINELS`) is named as one.
    """
    daily = bool(df.attrs.get("daily"))
    h = df["hours"].to_numpy(float)
    limit = np.full(len(df), 24.0)
    if not daily:
        years = df["date"].str.slice(0, 4).astype(int).to_numpy()
        months = df["date"].str.slice(5, 7).astype(int).to_numpy()
        lat = df["lat"].to_numpy(float)
        for year in np.unique(years):
            rows = years == year
            n = daylight_hours(lat[rows], int(year))  # (12, rows)
            limit[rows] = n[months[rows] - 1, np.arange(rows.sum())]
    over = h > limit
    if over.any():
        i = int(np.flatnonzero(over)[0])
        v = float(h[i])
        code = " (a missing-value code? leave missing values empty)" if any(np.isclose(v, c) for c in SENTINELS) else ""
        what = (
            "24 h of a day" if daily else f"the {limit[i]:.1f} daylight hours of the month at {df['lat'].iloc[i]:g} N"
        )
        raise NepflowError(
            f"{path}: station {df['station_id'].iloc[i]}, {df['date'].iloc[i]}: sunshine {v:g} h is "
            f"above {what}{code}; expected a measured sunshine duration (values are not clipped)"
        )


def monthly_totals(df: pd.DataFrame, year: int, min_days: float = 0.8) -> pd.DataFrame:
    """Station-month sunshine totals (h month-1) of ``year``: columns station_id, lon, lat, month, hours."""
    y = df[df["date"].str.startswith(f"{year}-")].copy()
    y["month"] = y["date"].str.slice(5, 7).astype(int)
    loc = y.groupby("station_id")[["lon", "lat"]].first()
    if df.attrs.get("daily", True) and len(y) and len(y["date"].iloc[0]) == 10:
        days = pd.Series(pd.to_datetime([f"{year}-{m:02d}-01" for m in range(1, 13)]).days_in_month, index=range(1, 13))
        g = y.dropna(subset=["hours"]).groupby(["station_id", "month"])["hours"]
        stats = pd.DataFrame({"mean": g.mean(), "n": g.count()}).reset_index()
        stats["days"] = stats["month"].map(days)
        stats = stats[stats["n"] >= min_days * stats["days"]]
        stats["hours"] = stats["mean"] * stats["days"]
        out = stats[["station_id", "month", "hours"]]
    else:
        out = y.dropna(subset=["hours"]).groupby(["station_id", "month"], as_index=False)["hours"].sum()
    out = out.join(loc, on="station_id")
    return (
        out[["station_id", "lon", "lat", "month", "hours"]].sort_values(["month", "station_id"]).reset_index(drop=True)
    )


def retrieve(product: str, year: int, cfg: dict, paths: dict) -> None:
    """Aggregate one year of the station file to station-month totals (skipped if complete)."""
    s = settings(cfg)
    data, manifest = Path(paths["data"]), Path(paths["manifest"])
    src = str(s["file"])
    retry = download.Retry.from_config(cfg["download"])
    if re.match(r"^https?://", src):
        local = manifest.parent / ("source-" + Path(src.split("?")[0]).name)
        rec = download.fetch(src, local, retry=retry)
        src_path = local
    else:
        src_path = Path(src)
        if not src_path.exists():
            raise NepflowError(
                f"config key sources.stations.file: {src_path} not found; expected a CSV with "
                f"columns {','.join(COLUMNS)}"
            )
        from ..provenance import file_sha256

        rec = {
            "name": src_path.name,
            "url": str(src_path),
            "size": src_path.stat().st_size,
            "sha256": file_sha256(src_path),
        }
    expect = {"source": "stations", "year": int(year), "station_file_sha256": rec["sha256"], "min_days": s["min_days"]}
    if s["format"] != "csv":
        expect["format"] = s["format"]
    if download.is_complete(manifest, expect):
        log.info("stations %s: complete (%s)", year, manifest)
        return
    df = read_cma_daily(src_path) if s["format"] == "cma_daily" else read_csv(src_path)
    check_values(df, src_path)
    totals = monthly_totals(df, int(year), s["min_days"])
    per_month = totals.groupby("month").size().reindex(range(1, 13), fill_value=0)
    short = [int(m) for m, n in per_month.items() if n < s["min_stations"]]
    if short:
        raise NepflowError(
            f"{src_path}: year {year} has fewer than {s['min_stations']} stations with a complete "
            f"record in month(s) {short}; expected at least {s['min_stations']} (sources.stations.min_stations)"
        )
    with files.atomic_path(data, suffix=".csv") as tmp:
        totals.to_csv(tmp, index=False, float_format="%.6g")
    from ..provenance import file_sha256

    download.write_manifest(
        manifest,
        {
            **expect,
            "product": "sunshine",
            "bbox": [float(b) for b in cfg["bbox"]],
            "station_file": {k: rec[k] for k in ("name", "url", "size", "sha256")},
            "stations": sorted(totals["station_id"].unique().tolist()),
            "files": [{"name": data.name, "size": data.stat().st_size, "sha256": file_sha256(data)}],
        },
    )


def daylight_hours(lat_deg, year: int) -> np.ndarray:
    """Monthly total daylight hours (12, …) at latitudes ``lat_deg`` (FAO-56 eqs. 24, 25, 34, summed over days)."""
    lat = np.deg2rad(np.asarray(lat_deg, float))
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    out = np.zeros((12,) + lat.shape)
    for month in range(1, 13):
        doy = days[days.month == month].day_of_year.values.astype(float)
        delta = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)
        ws = np.arccos(np.clip(-np.tan(lat[..., None]) * np.tan(delta), -1, 1))
        out[month - 1] = (24 / np.pi * ws).sum(axis=-1)
    return out


def interpolate(
    lon, lat, values, grid_lon, grid_lat, method: str = "thin_plate_spline", smoothing: float = 0.0
) -> np.ndarray:
    """Interpolate station values to a lon/lat mesh (2-D arrays) with a scipy method (module docstring).

    ``values``: (stations,) or (stations, k), k fields at the same stations (e.g. months) interpolated
    in one call; the result is the mesh's shape, followed by k."""
    from pyproj import Transformer
    from scipy.interpolate import RBFInterpolator, griddata

    lon, lat, values = (np.asarray(a, float) for a in (lon, lat, values))
    proj = f"+proj=aeqd +lat_0={lat.mean():.6f} +lon_0={lon.mean():.6f} +R=6371007.181 +units=km"
    t = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
    sx, sy = t.transform(lon, lat)
    gx, gy = t.transform(np.asarray(grid_lon, float), np.asarray(grid_lat, float))
    pts = np.column_stack([sx, sy])
    q = np.column_stack([gx.ravel(), gy.ravel()])
    if method == "thin_plate_spline":
        out = RBFInterpolator(pts, values, kernel="thin_plate_spline", smoothing=smoothing, degree=1)(q)
    elif method == "linear":
        out = griddata(pts, values, q, method="linear")
        near = griddata(pts, values, q, method="nearest")
        out = np.where(np.isfinite(out), out, near)
    elif method == "nearest":
        out = griddata(pts, values, q, method="nearest")
    else:
        raise NepflowError(f"config key sources.stations.method: {method!r}; expected one of {', '.join(METHODS)}")
    return out.reshape(np.shape(grid_lon) + values.shape[1:])


def monthly_surfaces(totals: pd.DataFrame, grid_lon, grid_lat, method: str, smoothing: float) -> np.ndarray:
    """(12, …mesh) surfaces of station-month totals (columns station_id, lon, lat, month, hours).

    Each month is interpolated from its own stations (:func:`interpolate`); months with the same
    stations are interpolated in one call, a column per month, so the costly part (the thin-plate
    spline's evaluation matrix at every grid point, or the triangulation) is built once per station
    set, not once per month. The values are those of one call per month."""
    groups: dict[tuple, list[tuple[int, np.ndarray]]] = {}
    for month in range(1, 13):
        t = totals[totals["month"] == month]
        key = tuple(zip(t["station_id"], t["lon"].astype(float), t["lat"].astype(float)))
        groups.setdefault(key, []).append((month, t["hours"].to_numpy(float)))
    out = np.empty((12,) + np.shape(grid_lon))
    for key, months in groups.items():
        lon, lat = [k[1] for k in key], [k[2] for k in key]
        surfaces = interpolate(lon, lat, np.column_stack([v for _, v in months]), grid_lon, grid_lat, method, smoothing)
        for i, (month, _) in enumerate(months):
            out[month - 1] = surfaces[..., i]
    return out


def _axis(lo, hi, res, descending=False):
    n = max(1, int(np.ceil(round((hi - lo) / res, 9))))
    v = lo + (np.arange(n) + 0.5) * res
    return np.round(v[::-1] if descending else v, 10)


def open_year(product: str, year: int, path, cfg: dict, landcover_rules=None) -> xr.Dataset:
    """Monthly sunshine duration (h month-1) interpolated onto a lon/lat grid over the request box.

    ``path``: the manifest (or the monthly CSV beside it); ``cfg``: the
    validated ``sources`` section (its ``stations``: method, smoothing, resolution).
    """
    s = cfg["stations"]
    path = Path(path)
    manifest = path if path.suffix == ".json" else path.with_suffix(".json")
    m = download.read_manifest(manifest)
    if not m or m.get("source") != "stations":
        raise NepflowError(f"{manifest}: not a stations manifest; expected the JSON written by the retrieve job")
    totals = pd.read_csv(manifest.parent / m["files"][0]["name"], dtype={"station_id": str})
    w, so, e, n = m["bbox"]
    res = float(s["resolution"])
    lon = _axis(w, e, res)
    lat = _axis(so, n, res, descending=True)
    glon, glat = np.meshgrid(lon, lat)
    maxh = daylight_hours(glat, int(year))
    out = np.clip(monthly_surfaces(totals, glon, glat, s["method"], float(s["smoothing"])), 0, maxh)
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    da = xr.DataArray(out, coords={"time": time, "y": lat, "x": lon}, dims=("time", "y", "x"), name="sund")
    da.attrs = variables.attrs(
        "sund",
        source=f"weather stations ({len(m['stations'])}) from {m['station_file']['name']} "
        f"(sha256 {m['station_file']['sha256'][:12]})",
        comment=f"station-month totals interpolated with {s['method']} (scipy; smoothing {s['smoothing']}) in an "
        f"azimuthal equidistant projection, clipped to [0, daylight hours]; grid {res} degrees",
        interpolation=s["method"],
    )
    ds = da.to_dataset().rio.write_crs("EPSG:4326")
    ds["x"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
    ds["y"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    return ds
