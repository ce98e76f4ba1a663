"""The embedded offline demo: a synthetic but physically plausible North China.

Deterministic from ``demo.seed``: the same seed and year always give the same
files, whatever period or other years a run asks for. One retrieve job per year
writes the four products a real source would deliver, each on its own native
grid (lon/lat, EPSG:4326):

- ``meteo`` at ``demo.meteo_resolution`` (default 0.1°, as ERA5-Land): tas, pr,
  ssrd, rn, evap in CF units;
- ``sunshine`` on the same grid: sund;
- ``fpar`` at ``demo.land_resolution`` (default 0.025°): monthly mean FPAR;
- ``landcover`` at ``demo.land_resolution``: IGBP classes (``lc``), turned
  into C4 fractions by the config rules when opened.

How the fields are made (all documented, all from textbook relations):

- Climate gradient. g = ((lon − 110)/13 + (43 − lat)/9)/2 runs 0 (north-west)
  to 1 (south-east). Annual precipitation 420 + 520 g mm, concentrated in a
  July–August monsoon; annual mean temperature 15 − 0.85 (lat − 34.5) − 1.5 (1 − g) °C
  with a continental seasonal cycle; sunshine fraction 0.60 − 0.16 g.
- Radiation. Extraterrestrial radiation and daylight hours from FAO-56
  (Allen et al. 1998, eqs. 21–25, 34); ssrd by Angström–Prescott
  (a = 0.25, b = 0.50); net radiation Rn = 0.77 Rs − Rnl with FAO-56 eq. 39
  net longwave and a humidity that rises toward the south-east.
- Evapotranspiration. Priestley–Taylor PET (the carbon model's own function)
  partitioned by Fu's equation, E/P = 1 + φ − (1 + φ^w)^(1/w), φ = PET/P,
  w = 3.0 + 3 g (the humid south-east evaporates near its potential), month by month; where PET ≤ 0, E = 0.1 P.
- Land cover and FPAR. IGBP classes from the geography (mountain forests in
  northern Hebei/Beijing and along the Taihang and Lüliang ranges, grassland
  in the north-west, cropland on the plain, cities as urban patches);
  FPAR seasonal cycles per class (double-peaked wheat–maize croplands).

Planted signals (what the analyses must recover):

1. Trend. FPAR changes by ``greening.background`` per year relative to 2010
   in the west, fading to none east of 120° E, ``greening.hotspot`` in four hotspots (north Hebei, north
   Beijing, north-west Shanxi, west Shandong, the study's named areas) and
   ``greening.decline`` around the Beijing–Tianjin and Shijiazhuang urban
   areas. Temperature warms by ``warming`` °C per year.
2. Persistence. The precipitation anomaly is the sum of two AR(1) processes in
   year: coefficient ``persistence.west`` (> 0, persistent) weighted toward the
   west and ``persistence.east`` (< 0, anti-persistent) toward the east, each an
   independent realisation per 0.5° cell (``CLUSTER``), so a region's mean H
   averages over many draws. The AR(1) series start in 1950 from the seed, so any
   year is the same whichever years a run asks for.
3. Drivers. Water-limited north-west: FPAR and the water scalar follow the
   precipitation anomaly, so NEP correlates positively with precipitation
   there. In the humid south-east wet years are cloudy (the cloudiness anomaly
   follows the precipitation anomaly with correlation ``CLOUD_PR`` and has noise of
   its own, so sunshine and radiation fall with precipitation without being
   collinear with it; temperature has its own noise too), GPP is light-limited and Rh rises with
   precipitation, so NEP correlates less with precipitation than in the north-west
   and positively with sunshine (partial correlation, precipitation and temperature held fixed).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import io, landcover, variables
from ..errors import NepflowError

PRODUCTS = ("meteo", "sunshine", "fpar", "landcover")

#: Greening/decline hotspots: (lon, lat, sigma in degrees).
HOTSPOTS = {
    "north Hebei": (116.3, 41.5, 0.8),
    "north Beijing": (116.6, 40.6, 0.35),
    "north-west Shanxi": (112.0, 39.2, 0.7),
    "west Shandong": (116.2, 36.2, 0.6),
}
DECLINE = {"Beijing-Tianjin": (116.9, 39.5, 0.45), "Shijiazhuang": (114.5, 38.0, 0.35)}
CITIES = {  # (lon, lat, radius in degrees)
    "Beijing": (116.40, 39.90, 0.22), "Tianjin": (117.20, 39.12, 0.18), "Shijiazhuang": (114.51, 38.04, 0.12),
    "Taiyuan": (112.55, 37.87, 0.12), "Jinan": (117.00, 36.65, 0.12), "Qingdao": (120.38, 36.07, 0.10),
}
AR_START = 1950
CLUSTER = 0.5  # degrees: edge of the cells with their own AR(1) realisation of the precipitation anomaly
CLOUD_PR = 0.6  # share of the cloudiness anomaly that follows the precipitation anomaly (its correlation)
#: Version of the generator: part of the cache key, so changed generator code regenerates the files.
GENERATOR_VERSION = 7
P_SD = 0.08  # log-space standard deviation of annual precipitation in the west
FU_W = 3.0  # Fu's parameter (2.6 is typical of the region; higher wets the surface more)


def key(cfg: dict) -> str:
    """Cache key of a demo configuration: the demo parameters' short hash."""
    text = json.dumps(cfg, sort_keys=True, default=str)
    return f"v{GENERATOR_VERSION}-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """Files one retrieve job writes (relative to the demo cache folder)."""
    return {p: f"{year}/{p}.nc" for p in PRODUCTS}


# ---------------------------------------------------------------- geography
def _axis(lo: float, hi: float, res: float, descending=False) -> np.ndarray:
    n = int(round((hi - lo) / res))
    v = lo + (np.arange(n) + 0.5) * res
    return np.round(v[::-1] if descending else v, 10)


def _mesh(bounds, res):
    w, s, e, n = bounds
    lon = _axis(w, e, res)
    lat = _axis(s, n, res, descending=True)
    return lon, lat, *np.meshgrid(lon, lat)


def gradient(lon, lat):
    """0 in the north-west to 1 in the south-east of North China (clipped)."""
    return np.clip(((lon - 110.0) / 13.0 + (43.0 - lat) / 9.0) / 2.0, 0.0, 1.0)


def _blob(lon, lat, lon0, lat0, sigma):
    return np.exp(-(((lon - lon0) ** 2 + (lat - lat0) ** 2) / (2 * sigma**2)))


def greening_rate(lon, lat, cfg) -> np.ndarray:
    """Planted relative FPAR change per year (1 yr-1)."""
    g = cfg["greening"]
    hot = np.max([_blob(lon, lat, *h) for h in HOTSPOTS.values()], axis=0)
    dec = np.max([_blob(lon, lat, *h) for h in DECLINE.values()], axis=0)
    base = g["background"] * (1 - east_weight(lon))
    return base + (g["hotspot"] - base) * hot + (g["decline"] - base) * dec


def _dist_to_segment(lon, lat, a, b):
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    t = np.clip(((lon - x1) * dx + (lat - y1) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(lon - (x1 + t * dx), lat - (y1 + t * dy))


def land_cover(lon, lat) -> np.ndarray:
    """Synthetic IGBP classes of North China (uint8)."""
    g = gradient(lon, lat)
    lc = np.full(lon.shape, 12, dtype="uint8")  # cropland on the plain
    lc[g < 0.5] = 14  # cropland/natural mosaic on the plateaus
    lc[(lat > 41.2) & (lon < 117.5)] = 10  # Bashang grassland
    lc[g < 0.18] = 10
    mountains = (
        ((lat > 40.2) & (lat < 41.6) & (lon > 114.8) & (lon < 119.5))  # Yanshan
        | (_dist_to_segment(lon, lat, (113.6, 35.2), (115.2, 39.8)) < 0.35)  # Taihang
        | (_dist_to_segment(lon, lat, (111.0, 36.2), (112.2, 39.3)) < 0.3)  # Lüliang
        | (_dist_to_segment(lon, lat, (117.0, 36.0), (118.6, 36.6)) < 0.25)  # Tai/Yi mountains
    )
    lc[mountains] = 5
    lc[mountains & (lat > 40.7)] = 4
    for lon0, lat0, r in CITIES.values():
        lc[np.hypot(lon - lon0, lat - lat0) < r] = 13
    return lc


def _bump(m, peak, width):
    return np.exp(-0.5 * ((m - peak) / width) ** 2)


def fpar_climatology(lc: np.ndarray) -> np.ndarray:
    """Monthly FPAR climatology (12, y, x) per IGBP class."""
    m = np.arange(1, 13, dtype="float64")[:, None, None]
    crop = 0.10 + 0.43 * _bump(m, 4.7, 0.9) + 0.55 * _bump(m, 8.0, 1.0)
    forest = 0.13 + 0.60 * _bump(m, 7.3, 1.6)
    grass = 0.08 + 0.42 * _bump(m, 7.8, 1.3)
    urban = 0.06 + 0.15 * _bump(m, 7.5, 1.5)
    out = np.where(lc == 12, crop, 0.0)
    out = np.where(lc == 14, 0.5 * (crop + grass) + 0.03, out)
    out = np.where((lc == 4) | (lc == 5), forest, out)
    out = np.where(lc == 10, grass, out)
    out = np.where(lc == 13, urban, out)
    return out


# ---------------------------------------------------------------- radiation (FAO-56)
def extraterrestrial(lat_deg, month):
    """Extraterrestrial radiation (MJ m-2 day-1) and daylight hours at mid-month (FAO-56 eqs. 21–25, 34)."""
    doy = np.array([15, 46, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349])[month - 1]
    phi = np.deg2rad(lat_deg)
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365)
    delta = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1, 1))
    ra = 24 * 60 / np.pi * 0.0820 * dr * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))
    return ra, 24 / np.pi * ws


# ---------------------------------------------------------------- anomalies
def _ar1(seed: int, tag: int, phi: float, year: int, cell: tuple = ()) -> float:
    """Value at ``year`` of a unit-variance AR(1) series started in 1950 from the seed (one per ``cell``)."""
    if year < AR_START:
        raise NepflowError(f"config key years: the demo source starts in {AR_START}, got {year}")
    rng = np.random.default_rng([seed, tag, *cell])
    eps = rng.standard_normal(year - AR_START + 1)
    a = eps[0]
    for e in eps[1:]:
        a = phi * a + np.sqrt(1 - phi**2) * e
    return float(a)


def _cells(lon, lat):
    """Cluster index (non-negative ints) of every point: cells of CLUSTER degrees in absolute lon/lat, so a
    point's cell does not depend on the grid or the bounds."""
    return (np.floor(np.asarray(lon) / CLUSTER).astype("int64") + 1000,
            np.floor(np.asarray(lat) / CLUSTER).astype("int64") + 1000)


def _ar1_field(seed: int, tag: int, phi: float, year: int, lon, lat) -> np.ndarray:
    """An independent unit-variance AR(1) realisation per cluster (``_ar1`` of each cell), at every point."""
    ix, iy = _cells(lon, lat)
    keys, inverse = np.unique(np.stack([ix.ravel(), iy.ravel()]), axis=1, return_inverse=True)
    vals = np.array([_ar1(seed, tag, phi, year, (int(a), int(b))) for a, b in keys.T])
    return vals[inverse.ravel()].reshape(np.shape(lon))


def _smooth_noise(seed: int, year: int, tag: int, lon, lat) -> np.ndarray:
    """A smooth, unit-scale random field for one year (sum of 6 random plane waves)."""
    rng = np.random.default_rng([seed, year, tag])
    out = np.zeros_like(lon)
    for _ in range(6):
        kx, ky = rng.uniform(-0.6, 0.6, 2)
        out += np.cos(kx * lon + ky * lat + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(3.0)


def east_weight(lon):
    """0 west of 112° E to 1 east of 120° E: weight of the eastern (anti-persistent) regime."""
    return np.clip((lon - 112.0) / 8.0, 0, 1)


def precip_anomaly(lon, lat, year, cfg) -> np.ndarray:
    """Standardised precipitation anomaly field of ``year`` (planted persistence): per cluster of CLUSTER
    degrees, independent AR(1) realisations of the western and the eastern regime, so a region's H
    averages over many draws; plus a smooth field independent from year to year."""
    seed, pers = cfg["seed"], cfg["persistence"]
    east = east_weight(lon)
    a_w = _ar1_field(seed, 1, pers["west"], year, lon, lat)
    a_e = _ar1_field(seed, 2, pers["east"], year, lon, lat)
    return (1 - east) * a_w + east * a_e + 0.25 * _smooth_noise(seed, year, 3, lon, lat)


def cloud_anomaly(lon, lat, year, cfg) -> np.ndarray:
    """Standardised cloudiness anomaly: CLOUD_PR of it follows the precipitation anomaly (wet years are
    cloudy), the rest is its own noise, so precipitation and sunshine are not collinear."""
    own = _smooth_noise(cfg["seed"], year, 5, lon, lat)
    return CLOUD_PR * precip_anomaly(lon, lat, year, cfg) + np.sqrt(1 - CLOUD_PR**2) * own


# ---------------------------------------------------------------- products
def _dataset(fields: dict, lon, lat, year, attrs) -> xr.Dataset:
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    data = {}
    for name, arr in fields.items():
        dims = ("time", "y", "x") if arr.ndim == 3 else ("y", "x")
        data[name] = (dims, arr.astype("float32") if arr.dtype.kind == "f" else arr)
    ds = xr.Dataset(data, coords={"time": time, "y": lat, "x": lon})
    ds = ds.rio.write_crs("EPSG:4326")
    for name in fields:
        if name in variables.table():
            ds[name].attrs = variables.attrs(name)
        ds[name].attrs["grid_mapping"] = "spatial_ref"
    ds["x"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
    ds["y"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    ds.attrs.update(attrs)
    return ds


def _meteo_fields(year: int, cfg: dict, LON, LAT) -> dict[str, np.ndarray]:
    """Monthly meteorology and sunshine (12, y, x) at the pixel centres LON, LAT (every step is per pixel)."""
    from ..carbon.tec import priestley_taylor_pet

    months = np.arange(1, 13)
    g = gradient(LON, LAT)
    eps = precip_anomaly(LON, LAT, year, cfg)
    psd = P_SD + 0.10 * east_weight(LON)  # the east's anti-persistent regime varies more
    p_ann = (420 + 520 * g) * np.exp(psd * eps - 0.5 * psd**2)
    w = _bump(months, 7.4, 1.4) + 0.06
    pr = p_ann[None] * (w / w.sum())[:, None, None]
    t_noise = 0.5 * _smooth_noise(cfg["seed"], year, 4, LON, LAT)
    t_ann = 15 - 0.85 * (LAT - 34.5) - 1.5 * (1 - g) + cfg["warming"] * (year - 2010) + t_noise - 0.1 * eps
    amp = 13.5 + 0.45 * (LAT - 35)
    tas = t_ann[None] + amp[None] * np.cos(2 * np.pi * (months[:, None, None] - 7) / 12)
    days = np.array(pd.date_range(f"{year}-01-01", periods=12, freq="MS").days_in_month)[:, None, None]
    ra, daylen = extraterrestrial(LAT[None], months[:, None, None])
    cloud = cloud_anomaly(LON, LAT, year, cfg)
    sfrac = np.clip((0.60 - 0.16 * g)[None] * np.clip(np.exp(-(0.03 + 0.25 * g) * cloud), 0.7, 1.3)[None]
                    * (1 - 0.25 * _bump(months, 7.4, 1.2))[:, None, None], 0.1, 0.8)
    sund = sfrac * daylen * days
    rs_day = (0.25 + 0.50 * sfrac) * ra
    ssrd = rs_day * days
    rh_air = np.clip(0.30 + 0.2 * g[None] + 0.3 * _bump(months, 7.4, 1.5)[:, None, None], 0.2, 0.95)
    ea = rh_air * 0.6108 * np.exp(17.27 * tas / (tas + 237.3))
    rso = 0.75 * ra
    rnl = 4.903e-9 * (tas + 273.16) ** 4 * (0.34 - 0.14 * np.sqrt(ea)) * (1.35 * np.clip(rs_day / rso, 0.3, 1) - 0.35)
    rn = (0.77 * rs_day - rnl) * days
    pet = priestley_taylor_pet(rn, tas)
    pet = np.asarray(pet)
    phi = np.where(pr > 0, np.maximum(pet, 0) / np.maximum(pr, 1e-9), 0)
    w_fu = FU_W + 3.0 * g[None]  # the humid south-east evaporates near its potential
    fu = 1 + phi - (1 + phi**w_fu) ** (1 / w_fu)
    evap = np.where(pet > 0, pr * fu, 0.1 * pr)
    return {"tas": tas, "pr": pr, "ssrd": ssrd, "rn": rn, "evap": evap, "sund": sund}


def _land_fields(year: int, cfg: dict, LON2, LAT2) -> dict[str, np.ndarray]:
    """Land cover (y, x) and monthly FPAR (12, y, x) at the pixel centres LON2, LAT2 (per pixel)."""
    lc = land_cover(LON2, LAT2)
    g2 = gradient(LON2, LAT2)
    eps2 = precip_anomaly(LON2, LAT2, year, cfg)
    water = 1 + 0.12 * (1 - g2) ** 2 * eps2  # the dry north-west greens in wet years
    trend = 1 + greening_rate(LON2, LAT2, cfg) * (year - 2010)
    fpar = np.clip(fpar_climatology(lc) * (water * trend)[None], 0.0, 0.95)
    return {"fpar": fpar, "lc": lc}


def _lc_attrs() -> dict:
    return {"long_name": "IGBP land cover class (synthetic)", "units": "1",
            "flag_values": np.array(sorted(landcover.IGBP), dtype="uint8"),
            "flag_meanings": " ".join(v.replace(" ", "_").replace("/", "_")
                                      for _, v in sorted(landcover.IGBP.items())),
            "grid_mapping": "spatial_ref"}


def _product(product: str, year: int, cfg: dict, lon, lat, attrs) -> xr.Dataset:
    """One product's dataset on the pixel centres lon (x) and lat (y, any block of rows)."""
    LON, LAT = np.meshgrid(lon, lat)
    if product in ("meteo", "sunshine"):
        f = _meteo_fields(year, cfg, LON, LAT)
        names = ["tas", "pr", "ssrd", "rn", "evap"] if product == "meteo" else ["sund"]
        return _dataset({n: f[n] for n in names}, lon, lat, year, attrs)
    if product == "fpar":
        return _dataset({"fpar": _land_fields(year, cfg, LON, LAT)["fpar"]}, lon, lat, year, attrs)
    ds = _dataset({"lc": land_cover(LON, LAT)}, lon, lat, year, attrs)
    ds["lc"].attrs = _lc_attrs()
    return ds


def product_axes(product: str, cfg: dict, bounds) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) pixel centres of a product's native grid."""
    res = cfg["meteo_resolution"] if product in ("meteo", "sunshine") else cfg["land_resolution"]
    w, s, e, n = bounds
    return _axis(w, e, res), _axis(s, n, res, descending=True)


def _attrs(year: int, cfg: dict) -> dict:
    return {
        "title": f"nepflow demo drivers, {year}",
        "source": "nepflow synthetic North China (nepflow.sources.demo); not observations",
        "demo_seed": int(cfg["seed"]),
    }


#: Bytes per native pixel that generating one block holds (float64 monthly temporaries).
BYTES_PER_PIXEL = 12 * 8 * 24


def generate(year: int, cfg: dict, bounds, rows: int | None = None) -> dict[str, xr.Dataset]:
    """The four demo products of ``year`` on their native grids.

    Parameters
    ----------
    year : calendar year (>= 1950).
    cfg : the config's ``demo`` section.
    bounds : [west, south, east, north] in degrees, the domain to cover.
    rows : None: every product computed now, in memory; a number: each product
        is dask-backed, made of blocks of ``rows`` rows computed when written
        (:func:`nepflow.io.blocked`), so any resolution fits in bounded memory.
        Every field is a function of the pixel centre alone, so blocks give
        exactly the values of the whole grid.
    """
    if rows is not None:
        return {product: generate_product(product, year, cfg, bounds, rows) for product in PRODUCTS}
    attrs = _attrs(year, cfg)
    return {product: _product(product, year, cfg, *product_axes(product, cfg, bounds), attrs)
            for product in PRODUCTS}


def retrieve(year: int, cfg: dict, bounds, paths: dict[str, Path], rows: int | None = None,
             mem_mb: float | None = None) -> None:
    """Generate and write the four products of ``year`` (atomic writes), block by block.

    ``rows``: rows per block (None: derived from ``mem_mb``, see
    :func:`nepflow.io.block_rows`).
    """
    from .. import io as nio

    for product in PRODUCTS:
        lon, lat = product_axes(product, cfg, bounds)
        r = nio.block_rows(len(lon), BYTES_PER_PIXEL, mem_mb, rows=rows, ny=len(lat))
        ds = generate_product(product, year, cfg, bounds, r)
        nio.write_netcdf(ds, paths[product], chunk_rows=r)


def generate_product(product: str, year: int, cfg: dict, bounds, rows: int) -> xr.Dataset:
    """One product of ``year`` in blocks of ``rows`` rows (dask-backed, see :func:`generate`)."""
    from .. import io as nio

    lon, lat = product_axes(product, cfg, bounds)
    attrs = _attrs(year, cfg)

    def block(s):
        return _product(product, year, cfg, lon, lat[s], attrs)

    return nio.blocked(block, lat, rows).rio.write_crs("EPSG:4326")


def open_year(product: str, year: int, path, cfg: dict | None = None,
              landcover_rules: dict | None = None) -> xr.Dataset:
    """Open one delivered demo product in CF units on its native grid.

    Lazily: values are read (and land cover turned into C4 fractions) only
    for the parts a consumer selects, so a regrid job working in blocks of
    rows reads one source window at a time.
    """
    names = {"meteo": ["tas", "pr", "ssrd", "rn", "evap"], "sunshine": ["sund"], "fpar": ["fpar"], "landcover": ["lc"]}
    ds = io.open_dataset(path, names[product])
    ds = ds[names[product]]
    if product == "landcover":
        ds = xr.Dataset({"c4_frac": _lazy_c4(ds["lc"], landcover_rules or {}, year)})
        ds = ds.rio.write_crs("EPSG:4326")
    return ds


def _lazy_c4(lc: xr.DataArray, rules: dict, year: int) -> xr.DataArray:
    """:func:`landcover.c4_fraction` as a dask array computed block by block (the same values)."""
    import dask.array as dsa

    attrs = landcover.c4_fraction(lc.isel(y=slice(0, 1), x=slice(0, 1)).load(), rules, year).attrs
    codes = lc.chunk({"y": io.CHUNK, "x": -1}).data

    def block(b):
        y, x = np.arange(b.shape[0]), np.arange(b.shape[1])
        return landcover.c4_fraction(xr.DataArray(b, coords={"y": y, "x": x}, dims=("y", "x")), rules, year).values

    data = dsa.map_blocks(block, codes, new_axis=0, chunks=((12,),) + codes.chunks, dtype="float64")
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    return xr.DataArray(data, coords={"time": time, "y": lc.y, "x": lc.x}, dims=("time", "y", "x"),
                        name="c4_frac", attrs=attrs)
