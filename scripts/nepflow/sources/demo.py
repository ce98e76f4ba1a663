"""The embedded offline demo: a synthetic but physically plausible North China.

Deterministic from ``demo.seed``: the same seed and year always give the same
files, whatever period or other years a run asks for. A source like the others
(the contract in ``nepflow.sources``): one retrieve job per year writes the four
products as the real sources deliver them, over the request box (``sources.bbox``
or the region padded; ``demo.bounds`` overrides), and opens them with the real
sources' decoding, so every demo run exercises it:

- ``meteo``: ERA5-Land monthly means as the CDS delivers them (the zip of two
  NetCDF streams, ``valid_time``, t2m in K, per-day accumulations in m and J m-2,
  evaporation negative upward, ssr/str the net radiation with an albedo of 0.23)
  at ``demo.meteo_resolution`` (default 0.1°), with the sea masked as ERA5-Land
  masks it: no value (NaN, the _FillValue) in the cells less than half land
  (:func:`land_fraction`, 4 × 4 sub-points per cell, < :data:`LAND_SEA_THRESHOLD`).
  The sea (:data:`SEA`) is the Bohai and the Yellow Sea west of 124.5° E between
  33.5° and 41.2° N: one ring traced from the cnmaps outlines of the coastal
  provinces, simplified to 0.05°, so the coast of Tianjin, Hebei and Shandong's
  region pixels lies under masked cells and the regrid job fills them
  (``regrid.coast_fill_km``) as it does for real data. Opened by ``nepflow.sources.cds``;
- ``fpar``: MOD15A2H as LP DAAC delivers it: HDF4-EOS tiles of the MODIS
  sinusoidal grid (``nepflow.sources.modis.write_tile``: the real SDS names, types,
  scale factor, valid range, fill value and StructMetadata), one file per 8-day
  composite (day 1, 9, …, 361) and tile, named ``MOD15A2H.AYYYYDDD.hHHvVV.061.<production>.hdf``,
  at pixels of k × 463.3 m with k the divisor of 2400 nearest ``demo.land_resolution``
  (coarser than 500 m for speed; the reader takes k from XDim/YDim). ``Fpar_500m``
  holds round(100 FPAR) with the product's land-cover codes (MOD15 user guide):
  250 on urban pixels, 254 on water (the sea and Baiyangdian lake; real tiles code
  the ocean 254 too), 255 outside the domain. ``FparLai_QC`` (bits 0 MODLAND_QC,
  3-4 cloud state, 5-7 SCF_QC): 0 (main algorithm, clear), 32 (main, saturated,
  FPAR > 0.8), 105 (significant clouds, back-up empirical algorithm, FPAR biased low
  by up to 30 %) on a share of pixels of :data:`CLOUD_SHARE` (most in the July–August
  monsoon, in patches), 153 (not produced, FPAR 255) on :data:`LOST_SHARE`, and 157
  on the land-cover codes, as real tiles carry. Listed in the local source's
  manifest (kind hdf) and opened by ``nepflow.sources.local``, whose MOD15A2H
  tiles go through ``nepflow.sources.earthdata.monthly_fpar`` (the main retrievals'
  monthly means first) with ``sources.earthdata``'s defaults but ``fpar_nonveg: zero``
  (urban and water count as FPAR 0, so the forcing covers every region pixel);
- ``landcover``: MCD12Q1 ``LC_Type1`` (IGBP classes, 17 water) tiles on the same
  pixels, one per tile and year, opened likewise (C4 fractions by the config rules);
- ``sunshine``: monthly station records (station_id, lon, lat, date, hours) at
  synthetic stations every ``STATION_SPACING`` degrees (jittered; none at sea),
  aggregated and interpolated by ``nepflow.sources.stations``.

:func:`generate` gives the fields in memory, unmasked, on lon/lat grids (the tests
check the planted signals on them).

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
  in the north-west, cropland on the plain, cities as urban patches, water on
  the sea and Baiyangdian lake); FPAR seasonal cycles per class (double-peaked
  wheat–maize croplands, 0 on water), evaluated at each 8-day composite's centre.

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

import functools
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import files, landcover, schema, variables
from ..errors import NepflowError

DELIVERS = ("meteo", "sunshine", "fpar", "landcover")
PROJECTED = ("fpar", "landcover")  # the MODIS sinusoidal grid, as the real products
#: The source contract (nepflow.sources): the config sections the generator reads; one job per year.
SETTINGS = ("demo",)
OPEN_SETTINGS = ("demo",)  # the stations' interpolation grid is the meteorology's
ONE_JOB = True
#: Delivered file per product (the real formats: see the module docstring).
FILES = {"meteo": "meteo.zip", "sunshine": "sunshine.csv"}  # fpar, landcover: MODIS tiles listed in a manifest
#: Spacing (degrees) of the synthetic sunshine stations, about that of China's national stations.
STATION_SPACING = 1.0
ALBEDO = 0.23  # ssr = (1 - albedo) ssrd, as the demo's net radiation (FAO-56 eq. 38)
MODIS_PIXEL = 463.312716528  # m, MOD15A2H / MCD12Q1

#: Greening/decline hotspots: (lon, lat, sigma in degrees).
HOTSPOTS = {
    "north Hebei": (116.3, 41.5, 0.8),
    "north Beijing": (116.6, 40.6, 0.35),
    "north-west Shanxi": (112.0, 39.2, 0.7),
    "west Shandong": (116.2, 36.2, 0.6),
}
DECLINE = {"Beijing-Tianjin": (116.9, 39.5, 0.45), "Shijiazhuang": (114.5, 38.0, 0.35)}
CITIES = {  # (lon, lat, radius in degrees)
    "Beijing": (116.40, 39.90, 0.22),
    "Tianjin": (117.20, 39.12, 0.18),
    "Shijiazhuang": (114.51, 38.04, 0.12),
    "Taiyuan": (112.55, 37.87, 0.12),
    "Jinan": (117.00, 36.65, 0.12),
    "Qingdao": (120.38, 36.07, 0.10),
}
LAKES = {"Baiyangdian": (115.95, 38.88, 0.07)}  # (lon, lat, radius in degrees): IGBP water, MOD15A2H 254
#: The Bohai and the Yellow Sea west of 124.5° E between 33.5° and 41.2° N, one ring of lon,lat vertices: the
#: coast of the cnmaps province outlines (Liaoning, Hebei, Tianjin, Shandong, Jiangsu) simplified by
#: Douglas–Peucker to 0.05° (about 5 km). Outside the ring all is land.
SEA = """
124.50,33.50 120.69,33.50 120.31,34.31 119.64,34.57 119.46,34.67 119.52,34.73 119.50,34.73 119.45,34.75
119.38,34.75 119.37,34.76 119.50,34.75 119.45,34.78 119.23,34.80 119.23,35.04 119.43,35.11 119.41,35.24
119.53,35.29 119.66,35.59 119.92,35.64 119.92,35.76 120.01,35.71 120.07,35.88 120.11,35.88 120.13,35.92
120.20,35.95 120.20,35.89 120.30,35.97 120.11,36.10 120.17,36.20 120.36,36.20 120.28,36.04 120.71,36.13
120.69,36.39 120.82,36.47 120.87,36.37 120.96,36.47 120.98,36.55 120.84,36.62 121.03,36.57 121.56,36.83
121.48,36.77 121.53,36.73 121.59,36.77 121.65,36.72 121.63,36.80 121.98,36.96 122.04,36.87 122.05,36.90
122.13,36.94 122.18,36.84 122.51,36.89 122.58,37.04 122.46,37.04 122.48,37.13 122.62,37.19 122.57,37.30
122.71,37.40 122.17,37.43 122.12,37.57 121.92,37.47 121.56,37.44 121.38,37.63 121.21,37.58 121.14,37.72
120.70,37.83 120.21,37.69 120.24,37.56 119.84,37.38 119.89,37.27 119.74,37.13 119.32,37.12 119.28,37.21
119.19,37.20 119.20,37.28 119.05,37.25 118.93,37.52 119.02,37.64 119.26,37.66 119.29,37.87 119.13,37.83
118.87,38.15 118.62,38.14 118.55,38.06 118.01,38.20 117.89,38.29 117.94,38.38 117.78,38.37 117.64,38.51
117.64,38.64 117.73,38.75 117.64,38.83 117.85,38.87 117.87,39.12 118.06,39.21 118.22,39.03 118.53,38.91
118.59,39.14 118.95,39.18 118.92,39.12 119.27,39.36 119.35,39.72 119.46,39.81 119.53,39.81 119.54,39.89
119.58,39.91 119.60,39.90 119.78,39.95 119.83,39.98 119.86,39.95 119.95,40.05 120.47,40.18 120.61,40.46
120.83,40.68 121.03,40.71 120.98,40.74 120.97,40.82 121.08,40.79 121.07,40.82 121.14,40.87 121.49,40.88
121.55,40.82 121.81,40.90 121.93,40.79 121.95,40.68 122.14,40.67 122.27,40.48 121.93,40.24 122.00,40.15
121.77,39.94 121.47,39.81 121.44,39.62 121.22,39.55 121.30,39.49 121.24,39.39 121.42,39.36 121.48,39.28
121.72,39.36 121.68,39.28 121.59,39.27 121.64,39.24 121.59,39.17 121.64,39.16 121.68,39.12 121.63,39.08
121.59,39.15 121.50,39.03 121.37,39.06 121.32,38.97 121.09,38.93 121.12,38.88 121.13,38.72 121.33,38.82
121.56,38.87 121.69,38.86 121.71,38.92 121.61,38.95 121.67,39.01 121.91,38.96 121.85,39.03 122.07,39.06
122.17,39.15 122.11,39.21 122.41,39.41 122.49,39.40 122.65,39.52 123.04,39.67 123.21,39.66 123.28,39.70
123.24,39.75 123.82,39.83 124.10,39.82 124.15,39.74 124.22,39.92 124.35,39.98 124.34,40.08 124.44,40.17
124.50,40.20
"""
#: Share of a meteorological cell that must be land for it to have values (ERA5-Land: land-sea mask >= 0.5).
LAND_SEA_THRESHOLD = 0.5
#: Sub-points per side of a cell for its land share.
LAND_SEA_SUBSAMPLE = 4
AR_START = 1950
CLUSTER = 0.5  # degrees: edge of the cells with their own AR(1) realisation of the precipitation anomaly
CLOUD_PR = 0.6  # share of the cloudiness anomaly that follows the precipitation anomaly (its correlation)
#: Version of the generator: part of the cache key, so changed generator code regenerates the files.
GENERATOR_VERSION = 9
P_SD = 0.08  # log-space standard deviation of annual precipitation in the west
FU_W = 3.0  # Fu's parameter (2.6 is typical of the region; higher wets the surface more)


def key(cfg: dict) -> str:
    """Cache key of a demo configuration: the demo parameters' short hash."""
    text = json.dumps(cfg, sort_keys=True, default=str)
    return f"v{GENERATOR_VERSION}-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def domain(cfg: dict) -> list[float]:
    """The generated domain [W, S, E, N] (degrees): ``demo.bounds``, else the request box."""
    return [float(b) for b in (cfg["demo"]["bounds"] or cfg["bbox"])]


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """Files one retrieve job writes for ``product`` (relative to the demo cache folder)."""
    if product not in DELIVERS:
        raise NepflowError(f"config key sources.{product}: the demo source has no product {product}")
    folder = f"{key({'demo': cfg.get('demo') or {}, 'bounds': domain(cfg)})}/{year}"
    if product in PROJECTED:  # MODIS tiles beside the local source's manifest that lists them
        return {"manifest": f"{folder}/{product}.json"}
    out = {"data": f"{folder}/{FILES[product]}"}
    if product == "sunshine":  # the stations source reads its records through a manifest
        out["manifest"] = f"{folder}/{product}.json"
    return out


# ---------------------------------------------------------------- geography
def _axis(lo: float, hi: float, res: float, descending=False) -> np.ndarray:
    n = int(round((hi - lo) / res))
    v = lo + (np.arange(n) + 0.5) * res
    return np.round(v[::-1] if descending else v, 10)


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


@functools.lru_cache(maxsize=1)
def _sea_polygon():
    import shapely

    ring = np.array([[float(v) for v in p.split(",")] for p in SEA.split()])
    poly = shapely.Polygon(ring)
    shapely.prepare(poly)
    return poly


def is_sea(lon, lat) -> np.ndarray:
    """True at the points (degrees) inside the demo's sea (:data:`SEA`)."""
    import shapely

    lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    return shapely.contains_xy(_sea_polygon(), lon, lat)


def land_fraction(lon, lat, res: float, n: int = LAND_SEA_SUBSAMPLE) -> np.ndarray:
    """Land share of the ``res``-degree cells centred on ``lon``, ``lat``: the share of n x n evenly spread
    sub-points outside the sea, the demo's land-sea mask (ERA5-Land's is the land share of its cells)."""
    lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    offsets = ((np.arange(n) + 0.5) / n - 0.5) * res
    land = np.zeros(lon.shape)
    for dy in offsets:
        for dx in offsets:
            land += ~is_sea(lon + dx, lat + dy)
    return land / n**2


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
    water = is_sea(lon, lat)
    for lon0, lat0, r in LAKES.values():
        water |= np.hypot(lon - lon0, lat - lat0) < r
    lc[water] = 17
    return lc


def _bump(m, peak, width):
    return np.exp(-0.5 * ((m - peak) / width) ** 2)


def fpar_climatology(lc: np.ndarray, months=None) -> np.ndarray:
    """FPAR seasonal cycle (len(months), *lc.shape) per IGBP class at ``months`` (fractional, 1.0 = mid-January;
    default the 12 mid-months); 0 on water."""
    m = np.arange(1, 13, dtype="float64") if months is None else np.asarray(months, "float64")
    m = m.reshape((-1,) + (1,) * np.ndim(lc))
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
@functools.lru_cache(maxsize=1 << 16)
def _ar1(seed: int, tag: int, phi: float, year: int, cell: tuple = ()) -> float:
    """Value at ``year`` of a unit-variance AR(1) series started in 1950 from the seed (one per ``cell``).

    Cached: a retrieve job asks for the same cells' values for every product and field (meteorology,
    cloudiness, FPAR, stations), each a new generator and a loop over the years otherwise."""
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
    return (
        np.floor(np.asarray(lon) / CLUSTER).astype("int64") + 1000,
        np.floor(np.asarray(lat) / CLUSTER).astype("int64") + 1000,
    )


def _ar1_field(seed: int, tag: int, phi: float, year: int, lon, lat) -> np.ndarray:
    """An independent unit-variance AR(1) realisation per cluster (``_ar1`` of each cell), at every point."""
    ix, iy = _cells(lon, lat)
    # one int64 code per cell (both indices are small and non-negative): a 1-D unique, fast on millions of points
    keys, inverse = np.unique(ix.ravel() * 1_000_000 + iy.ravel(), return_inverse=True)
    vals = np.array([_ar1(seed, tag, phi, year, (int(k // 1_000_000), int(k % 1_000_000))) for k in keys])
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
    sfrac = np.clip(
        (0.60 - 0.16 * g)[None]
        * np.clip(np.exp(-(0.03 + 0.25 * g) * cloud), 0.7, 1.3)[None]
        * (1 - 0.25 * _bump(months, 7.4, 1.2))[:, None, None],
        0.1,
        0.8,
    )
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


def fpar_factor(year: int, cfg: dict, lon, lat) -> np.ndarray:
    """The year's multiplier of the FPAR climatology at the points lon, lat: the planted trend and the dry
    north-west's greening in wet years."""
    g = gradient(lon, lat)
    water = 1 + 0.12 * (1 - g) ** 2 * precip_anomaly(lon, lat, year, cfg)
    return water * (1 + greening_rate(lon, lat, cfg) * (year - 2010))


def _land_fields(year: int, cfg: dict, LON2, LAT2) -> dict[str, np.ndarray]:
    """Land cover (y, x) and monthly FPAR (12, y, x) at the pixel centres LON2, LAT2 (per pixel)."""
    lc = land_cover(LON2, LAT2)
    fpar = np.clip(fpar_climatology(lc) * fpar_factor(year, cfg, LON2, LAT2)[None], 0.0, 0.95)
    return {"fpar": fpar, "lc": lc}


def _lc_attrs() -> dict:
    return {
        "long_name": "IGBP land cover class (synthetic)",
        "units": "1",
        "flag_values": np.array(sorted(landcover.IGBP), dtype="uint8"),
        "flag_meanings": " ".join(v.replace(" ", "_").replace("/", "_") for _, v in sorted(landcover.IGBP.items())),
        "grid_mapping": "spatial_ref",
    }


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


def generate(year: int, cfg: dict, bounds) -> dict[str, xr.Dataset]:
    """The four demo fields of ``year`` in CF units on lon/lat grids, in memory (the monthly fields the
    delivered files encode, without the meteorology's sea mask; the tests check the planted signals on them).

    Parameters
    ----------
    year : calendar year (>= 1950).
    cfg : the config's ``demo`` section.
    bounds : [west, south, east, north] in degrees, the domain to cover.
    """
    attrs = _attrs(year, cfg)
    return {product: _product(product, year, cfg, *product_axes(product, cfg, bounds), attrs) for product in DELIVERS}


def retrieve(product: str, year: int, cfg: dict, paths: dict) -> None:
    """Generate and write one product of ``year`` in its real format (atomic writes)."""
    demo_cfg, bounds = cfg["demo"], domain(cfg)
    {"meteo": _write_meteo, "fpar": _write_land, "landcover": _write_land, "sunshine": _write_sunshine}[product](
        product, int(year), demo_cfg, bounds, cfg, paths
    )


def _write_meteo(product, year, cfg, bounds, src_cfg, paths):
    """ERA5-Land monthly means as the CDS zip delivers them (see the module docstring)."""
    import tempfile
    import zipfile

    lon, lat = product_axes("meteo", cfg, bounds)
    LON, LAT = np.meshgrid(lon, lat)
    f = _meteo_fields(year, cfg, LON, LAT)
    days = np.array(pd.date_range(f"{year}-01-01", periods=12, freq="MS").days_in_month, float)[:, None, None]
    ssr = (1 - ALBEDO) * f["ssrd"]
    native = {  # per-day means of the accumulations, as ERA5-Land's monthly means
        "t2m": f["tas"] + 273.15,
        "tp": f["pr"] / days / 1000.0,
        "ssrd": f["ssrd"] * 1e6 / days,
        "ssr": ssr * 1e6 / days,
        "str": (f["rn"] - ssr) * 1e6 / days,
        "e": -f["evap"] / days / 1000.0,
    }
    units = {"t2m": "K", "tp": "m", "ssrd": "J m**-2", "ssr": "J m**-2", "str": "J m**-2", "e": "m of water equivalent"}
    sea = land_fraction(LON, LAT, cfg["meteo_resolution"]) < LAND_SEA_THRESHOLD  # ERA5-Land: no value at sea
    for v in native.values():
        v[:, sea] = np.nan
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    streams = {"avgua": ["t2m"], "avgad": ["tp", "ssrd", "ssr", "str", "e"]}
    with tempfile.TemporaryDirectory() as tmp, files.atomic_path(paths["data"], suffix=".zip") as out:
        with zipfile.ZipFile(out, "w") as z:
            for step, names in streams.items():
                ds = xr.Dataset(
                    {
                        n: (
                            ("valid_time", "latitude", "longitude"),
                            native[n].astype("float32"),
                            {"units": units[n], "GRIB_units": units[n], "GRIB_stepType": step},
                        )
                        for n in names
                    },
                    coords={
                        "valid_time": time,
                        "latitude": ("latitude", lat, {"units": "degrees_north"}),
                        "longitude": ("longitude", lon, {"units": "degrees_east"}),
                    },
                )
                ds.attrs = {
                    "institution": "nepflow demo (synthetic), as ERA5-Land monthly means",
                    "Conventions": "CF-1.7",
                }
                name = f"data_stream-moda_stepType-{step}.nc"
                enc = {"valid_time": {"units": "seconds since 1970-01-01", "dtype": "int64"}}
                enc.update({n: {"zlib": True, "complevel": 1, "_FillValue": np.float32(np.nan)} for n in names})
                ds.to_netcdf(Path(tmp) / name, engine="netcdf4", encoding=enc)
                z.write(Path(tmp) / name, name)


def pixel_factor(cfg: dict) -> int:
    """MODIS pixels (463.3 m) per side of a demo land pixel: the divisor of the tile's 2400 nearest
    ``demo.land_resolution`` (so whole demo pixels tile a MODIS tile)."""
    want = cfg["land_resolution"] * 111195.0 / MODIS_PIXEL
    return min((d for d in range(1, 2401) if 2400 % d == 0), key=lambda d: (abs(d - want), d))


def composite_months(year: int) -> tuple[np.ndarray, np.ndarray]:
    """Day of year of the year's 8-day MOD15A2H composites (1, 9, …, 361) and their centres in months
    (1.0 = mid-January); the last composite ends on 31 December (5 or 6 days)."""
    n = 366 if pd.Timestamp(year=year, month=1, day=1).is_leap_year else 365
    doy = np.arange(1, n + 1, 8)
    centre = doy - 1 + np.minimum(8, n - doy + 1) / 2
    return doy, centre / n * 12 + 0.5


#: FparLai_QC values (bits 0 MODLAND_QC, 1 sensor, 2 dead detector, 3-4 cloud state, 5-7 SCF_QC; MOD15 user
#: guide): main algorithm, clear; main with saturation; cloudy, back-up (empirical) algorithm (1 + 1<<3 + 3<<5);
#: not produced (1 + 3<<3 + 4<<5); the value real tiles carry on land-cover fill codes (157); fill.
QC = {"main": 0, "saturated": 32, "backup": 105, "not_produced": 153, "nonveg": 157, "fill": 255}
#: MOD15A2H Fpar_500m codes of the demo's land cover (user guide: 250 urban/built-up, 254 perennial salt or
#: inland fresh water; ocean pixels carry 254 as well).
NONVEG_CODES = {13: 250, 17: 254}
CLOUD_SHARE = (0.08, 0.30)  # share of back-up retrievals: all year, and more in the July–August monsoon
LOST_SHARE = 0.005  # share of pixels not produced in a composite (bad L1B data)


def mod15_composite(fpar, lc, cloudy, backup_loss, lost) -> tuple[np.ndarray, np.ndarray]:
    """Fpar_500m counts and FparLai_QC of one 8-day composite (uint8 arrays like ``fpar``).

    Clear pixels: the main algorithm, DN = round(100 FPAR) (saturated above 0.8); ``cloudy`` ones: the
    back-up algorithm, biased low by ``backup_loss`` (a fraction); ``lost`` ones: not produced (255);
    urban and water (IGBP 13, 17): their land-cover codes (:data:`NONVEG_CODES`); NaN FPAR: fill.
    """
    ok = np.isfinite(fpar)
    value = np.where(cloudy, fpar * (1 - backup_loss), fpar)
    dn = np.where(ok, np.round(100 * np.nan_to_num(value)), 255).astype("uint8")
    qc = np.where(cloudy, QC["backup"], np.where(dn > 80, QC["saturated"], QC["main"])).astype("uint8")
    dn[lost & ok], qc[lost & ok] = 255, QC["not_produced"]
    for cls, code in NONVEG_CODES.items():
        dn[(lc == cls) & ok], qc[(lc == cls) & ok] = code, QC["nonveg"]
    qc[~ok] = QC["fill"]
    return dn, qc


PRODUCTION = "2024153000000"  # the production stamp of the demo's granule names


PATCH_STEP = 0.1  # degrees: the cloud patches (plane waves of 10° and more) are evaluated this coarsely


def _tiles(cfg: dict, bounds):
    """(h, v, lon, lat, inside, coarse) of every MODIS tile over ``bounds``, at the demo's coarsened pixels:
    pixel centres in degrees, whether they fall inside the domain, and ``coarse(field)``: a smooth field of
    (lon, lat) evaluated every :data:`PATCH_STEP` degrees and spread to the domain's pixels of the tile."""
    from . import modis

    n = 2400 // pixel_factor(cfg)
    step = max(1, int(PATCH_STEP * 111195.0 / (modis.TILE_WIDTH / n)))
    w, s, e, north = bounds
    for h, v in modis.tiles_for_bbox(bounds):
        x, y = modis.tile_coords(h, v, n)
        lon, lat = modis.sinusoidal_to_lonlat(*np.meshgrid(x, y))
        inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= north)

        def coarse(field, lon=lon, lat=lat, inside=inside):
            full = np.repeat(np.repeat(field(lon[::step, ::step], lat[::step, ::step]), step, 0), step, 1)
            return full[: lon.shape[0], : lon.shape[1]][inside]

        yield h, v, lon, lat, inside, coarse


def _land_tiles(product, year, cfg, bounds, doys, months, write) -> None:
    """Generate the domain's tiles of ``product`` and hand each to ``write(name, arrays, short, h, v)``."""
    for h, v, lon, lat, inside, coarse in _tiles(cfg, bounds):
        if not inside.any():
            continue
        lon, lat = lon[inside], lat[inside]  # the generator works on the domain's pixels only
        lc = land_cover(lon, lat)
        if product == "landcover":
            tile = np.full(inside.shape, 255, "uint8")  # LC_Type1 fill outside the domain
            tile[inside] = lc
            write(f"MCD12Q1.A{year}001.h{h:02d}v{v:02d}.061.{PRODUCTION}.hdf", {"LC_Type1": tile}, "MCD12Q1", h, v)
            continue
        factor = fpar_factor(year, cfg, lon, lat)
        for k, (doy, month) in enumerate(zip(doys, months)):
            fpar = np.clip(fpar_climatology(lc, [month])[0] * factor, 0.0, 0.95)
            rng = np.random.default_rng([cfg["seed"], year, 7, k, h, v])
            share = CLOUD_SHARE[0] + CLOUD_SHARE[1] * _bump(month, 7.4, 1.3)
            patches = 1 + 0.8 * np.tanh(coarse(functools.partial(_smooth_noise, cfg["seed"], year, 1000 + k)))
            cloudy = rng.random(lon.shape) < share * patches
            dn, qc = mod15_composite(fpar, lc, cloudy, 0.3 * rng.random(lon.shape), rng.random(lon.shape) < LOST_SHARE)
            arrays = {
                "Fpar_500m": np.full(inside.shape, 255, "uint8"),
                "FparLai_QC": np.full(inside.shape, 255, "uint8"),
            }
            arrays["Fpar_500m"][inside], arrays["FparLai_QC"][inside] = dn, qc  # fill outside the domain
            name = f"MOD15A2H.A{year}{doy:03d}.h{h:02d}v{v:02d}.061.{PRODUCTION}.hdf"
            write(name, arrays, "MOD15A2H", h, v)


def _write_land(product, year, cfg, bounds, src_cfg, paths):
    """MOD15A2H (FPAR) or MCD12Q1 (land cover) HDF4-EOS tiles of the domain, named as NASA names them,
    with the local source's manifest (its MODIS decoding opens them; see the module docstring)."""
    from ..provenance import file_sha256
    from . import download, modis

    manifest = Path(paths["manifest"])
    folder = manifest.parent / product
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f".{product}.*"):  # a killed attempt's staging folder
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{product}.", dir=folder))  # the tiles are written there, then moved
    records = []

    def write(name, arrays, short, h, v):
        f = modis.write_tile(folder / name, short, h, v, arrays, staging=staging)  # whole or not at all
        records.append({"name": f"{product}/{name}", "size": f.stat().st_size, "sha256": file_sha256(f)})

    doys, months = composite_months(year)
    try:
        _land_tiles(product, year, cfg, bounds, doys, months, write)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # The local source's manifest of a user's tiles (kind hdf); names relative to the manifest's folder, so the
    # cache reads the same wherever the project folder is moved and a rerun writes the same bytes.
    download.write_manifest(
        manifest,
        {
            "source": "local",
            "product": product,
            "year": int(year),
            "kind": "hdf",
            "bbox": [float(b) for b in bounds],
            "files": records,
        },
    )


def station_locations(cfg: dict, bounds) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of the synthetic sunshine stations: a lattice every STATION_SPACING degrees over
    ``bounds``, each jittered by up to a third of the spacing (fixed by the seed, the same every year); those
    that land in the sea are left out."""
    w, s, e, n = bounds
    lon, lat = np.meshgrid(_axis(w, e, STATION_SPACING), _axis(s, n, STATION_SPACING))
    rng = np.random.default_rng([cfg["seed"], 99])
    jitter = rng.uniform(-STATION_SPACING / 3, STATION_SPACING / 3, (2,) + lon.shape)
    lon, lat = (lon + jitter[0]).ravel(), (lat + jitter[1]).ravel()
    land = ~is_sea(lon, lat)  # no station at sea
    return lon[land], lat[land]


def _write_sunshine(product, year, cfg, bounds, src_cfg, paths):
    """Monthly station records of sunshine duration, aggregated by the stations source's retrieval."""
    from . import stations

    lon, lat = station_locations(cfg, bounds)
    sund = _meteo_fields(year, cfg, lon[None], lat[None])["sund"][:, 0]  # (12, stations)
    raw = Path(paths["data"]).with_name(f"stations-{year}.csv")
    rows = pd.DataFrame(
        {
            "station_id": np.repeat([f"D{i:04d}" for i in range(len(lon))], 12),
            "lon": np.repeat(np.round(lon, 4), 12),
            "lat": np.repeat(np.round(lat, 4), 12),
            "date": np.tile([f"{year}-{m:02d}" for m in range(1, 13)], len(lon)),
            "hours": np.round(sund.T.ravel(), 2),
        }
    )
    with files.atomic_path(raw, suffix=".csv") as out:
        rows.to_csv(out, index=False)
    # the stations source with its own defaults (the schema's), whatever the run's sources.stations
    st_cfg = {**src_cfg, "bbox": bounds, "stations": schema.defaults("sources.stations", {"file": str(raw)})}
    stations.retrieve("sunshine", year, st_cfg, paths)


def open_year(product: str, year: int, path, cfg: dict, landcover_rules: dict | None = None) -> xr.Dataset:
    """One delivered demo product in CF units on its native grid, by the real sources' decoding."""
    from . import cds, local, stations

    if product == "meteo":
        return cds.open_year("meteo", year, path)
    if product == "sunshine":  # interpolated onto the meteorology's grid, as the demo made it before
        res = cfg["demo"]["meteo_resolution"]
        return stations.open_year(
            "sunshine", year, path, {"stations": schema.defaults("sources.stations", {"resolution": res})}
        )
    # the local source's MODIS tiles: earthdata's decoding with the product's defaults, except that urban and
    # water pixels (codes 250, 254) count as FPAR 0, so the forcing covers every region pixel
    settings = {**cfg, "earthdata": schema.defaults("sources.earthdata", {"fpar_nonveg": "zero"})}
    ds = local.open_year(product, year, path, settings, landcover_rules)
    short = "MOD15A2H" if product == "fpar" else "MCD12Q1"
    for da in ds.data_vars.values():
        da.attrs["source"] = f"nepflow synthetic North China (nepflow.sources.demo), {short} tiles; not observations"
    return ds
