"""MODIS Collection 6.1 from NASA Earthdata through earthaccess (products fpar, landcover, npp).

=========  ===========  ==========================  ==============================================
product    short name   layers (HDF4 SDS)           delivered by ``open_year``
=========  ===========  ==========================  ==============================================
fpar       MOD15A2H     Fpar_500m, FparLai_QC       fpar (1): monthly means of valid 8-day retrievals
landcover  MCD12Q1      LC_Type1 (IGBP)             c4_frac (1): config rules per class and month
npp        MOD17A3HGF   Npp_500m                    npp_mod17 (g C m-2 yr-1)
evap       MOD16A2GF    ET_500m                     evap (mm month-1): 8-day sums split by day overlap
=========  ===========  ==========================  ==============================================

Retrieval (one job per product and year): ``earthaccess.login`` (Earthdata Login
from ``EARTHDATA_TOKEN``, or ``EARTHDATA_USERNAME``/``EARTHDATA_PASSWORD``, or
``~/.netrc``), ``earthaccess.search_data(short_name, version, temporal,
bounding_box)`` against CMR, then the granules of the region's sinusoidal tiles
are fetched over HTTPS with earthaccess's authenticated session through
:func:`nepflow.sources.download.fetch` (temporary name, CMR size and checksum,
sha256, bounded retries with Retry-After, connect/read timeouts) into the shared
cache ``data/earthdata/<SHORT>.<VERSION>/<YEAR>/``, named as NASA names them, so
runs over other regions or periods reuse them. A per-year manifest lists them.
Refused credentials (HTTP 401/403 from CMR or the data server, or an HTML login
page served instead of a granule: an expired ``EARTHDATA_TOKEN``, valid 60 days)
stop the job at once with one line saying so; no retry helps.
``sources.earthdata.transfer: earthaccess`` uses ``earthaccess.download``
instead (one granule at a time into a private folder, then the same
verification and atomic move); it is not the default because earthaccess's
HTTP download has no timeout (a stalled server hangs the job) and ignores
Retry-After.

Endpoints: ``sources.earthdata.cmr_url`` and ``edl_host`` set earthaccess's own
endpoint configuration, ``earthaccess.login(system=System(cmr_base_url, ...,
edl_hostname))``; the data URLs come from CMR. That is the one seam the tests
use (local HTTPS servers); defaults are NASA's production hosts.

Decoding (``open_year``), all documented in the output attributes:

- MOD15A2H ``Fpar_500m``: DN × 0.01, valid 0–100; 249–255 are fill/land-cover
  codes (249 unclassified, 250 urban, 251 wetland, 252 snow/ice, 253 barren,
  254 water, 255 fill) and give no FPAR (``fpar_nonveg: zero`` sets 250, 252,
  253 and 254 to 0 instead). ``FparLai_QC`` bit 0 (MODLAND_QC) = 0 means the
  main (radiative-transfer) algorithm; bit 0 = 1 the back-up algorithm or fill.
  Monthly value = mean of the main-algorithm retrievals of the month, each
  8-day composite weighted by its days in the month (composites straddle month
  ends; the year's last composite has 5–6 days); where a pixel has none in a
  month, the mean of all valid retrievals (back-up algorithm included,
  ``fpar_qc: main``); where it still has none, linear interpolation in time
  between the nearest valid months of the year (constant at the ends). The
  counts of each case are attributes. The record starts 2000-02-18: for 2000
  the composites of 1 January–17 February are replaced by their climatology over
  ``fpar_fill_years`` (default 2001–2020), fetched by the 2000 job, and the
  attributes say so.
- MCD12Q1 ``LC_Type1`` (IGBP 1–17; 255 fill) → C4 fraction with
  ``landcover.c4_fraction`` rules. The record starts 2001; 2000 uses 2001.
- MOD17A3HGF ``Npp_500m``: DN × 0.0001 kg C m-2 yr-1 = DN × 0.1 g C m-2 yr-1,
  valid −30000–32700; 32761–32767 are land-cover fill codes (NaN). The record
  starts 2001: earlier years are an error.
- MOD16A2GF ``ET_500m`` (the gap-filled 8-day evapotranspiration, ``sources.evap:
  earthdata``): DN × 0.1 kg m-2 per composite = mm per composite, the *sum*
  over the composite's days (8; the year's last composite 5 or 6), valid
  −32767–32700; 32761–32767 are land-cover fill codes (NaN: water, urban,
  barren, snow, wetland, unclassified, fill, where MOD15A2H has no FPAR either).
  Monthly total = Σ over composites of ET × (its days in the month / its days);
  where composites are missing, the mean daily ET of the month's covered days ×
  the days in the month, if at least half the month is covered (else NaN). Unlike
  ERA5-Land it sees irrigation (its inputs are MODIS FPAR/LAI and albedo), so it
  is the recommended ``evap`` for croplands; it replaces the meteo source's evap.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .. import blocks, landcover, variables
from ..errors import NepflowError
from . import download, modis

log = logging.getLogger("nepflow.sources.earthdata")

#: The source contract (nepflow.sources): products, config sections read by retrieve / open_year.
#: Their NASA collections: config sources.earthdata.products (defaults in config/schema.yaml).
DELIVERS = ("fpar", "landcover", "npp", "evap")
PROJECTED = DELIVERS  # every MODIS product on its sinusoidal tile grid
SETTINGS = ("earthdata",)
OPEN_SETTINGS = ("earthdata",)
LAYERS = {"fpar": ("Fpar_500m", "FparLai_QC"), "landcover": ("LC_Type1",), "npp": ("Npp_500m",), "evap": ("ET_500m",)}
FIRST_YEAR = {"MOD15A2H": 2000, "MCD12Q1": 2001, "MOD17A3HGF": 2001, "MOD16A2GF": 2000}
#: The least part of a month (days) the valid MOD16A2GF composites must cover for a monthly total.
ET_MIN_COVER = 0.5
FPAR_START = dt.date(2000, 2, 18)
#: MOD15A2H codes of non-vegetated land cover (urban, snow/ice, barren, water): FPAR 0 with fpar_nonveg: zero.
NONVEG_CODES = (250, 252, 253, 254)


def settings(cfg: dict) -> dict:
    """``sources.earthdata`` of the validated ``sources`` section ``cfg``, checked."""
    s = cfg["earthdata"]
    if s["fpar_qc"] not in ("main", "any"):
        raise NepflowError(f"config key sources.earthdata.fpar_qc: {s['fpar_qc']!r}; expected main or any")
    if s["fpar_nonveg"] not in ("nan", "zero"):
        raise NepflowError(f"config key sources.earthdata.fpar_nonveg: {s['fpar_nonveg']!r}; expected nan or zero")
    if s["transfer"] not in ("nepflow", "earthaccess"):
        raise NepflowError(f"config key sources.earthdata.transfer: {s['transfer']!r}; expected nepflow or earthaccess")
    return s


def _product(product: str, s: dict) -> dict:
    if product not in DELIVERS:
        raise NepflowError(f"config key sources.{product}: the earthdata source delivers fpar, landcover, npp and evap")
    return s["products"][product]


def tiles(cfg: dict) -> list[str]:
    """Tile names ('h26v04', …): ``sources.earthdata.tiles`` or those holding the request box."""
    s = settings(cfg)
    if s["tiles"]:
        out = sorted(str(t) for t in s["tiles"])
        for t in out:
            try:
                modis.parse_name(f"X.A2000001.{t}.061.2000000000000.hdf")
            except NepflowError:
                raise NepflowError(f"config key sources.earthdata.tiles: {t!r}; expected names like h26v04") from None
        return out
    return [f"h{h:02d}v{v:02d}" for h, v in modis.tiles_for_bbox(cfg["bbox"])]


def data_year(product: str, year: int, short: str) -> int:
    """The year whose granules serve ``year`` (MCD12Q1 before 2001 → 2001)."""
    first = FIRST_YEAR.get(short, 2000)
    if year >= first:
        return year
    if product == "landcover":
        return first
    other = "carbon.npp: tec" if product == "npp" else f"sources.{product}: local with your own files"
    raise NepflowError(
        f"config key years.start: {short} (sources.{product}) starts in {first}, the run asks for "
        f"{year}; expected years from {first} (or {other})"
    )


def fill_years(product: str, year: int, short: str, s: dict) -> list[int]:
    """Years whose early composites fill 1 Jan–17 Feb 2000 (MOD15A2H only)."""
    if product != "fpar" or year != FPAR_START.year or short != "MOD15A2H" or not s["fpar_fill_years"]:
        return []
    a, b = s["fpar_fill_years"]
    return list(range(int(a), int(b) + 1))


def outputs(product: str, year: int, cfg: dict) -> dict[str, str]:
    """Files of one retrieve job, relative to the earthdata cache (``data/earthdata``): the manifest.

    The granules land beside it (``<SHORT>.<VERSION>/<YEAR>/``) and are listed in it.
    """
    s = settings(cfg)
    p = _product(product, s)
    return {"manifest": f"{p['short_name']}.{p['version']}/{year}/{product}-{'_'.join(tiles(cfg))}.json"}


# ---------------------------------------------------------------- credentials and login
def _netrc_has(host: str) -> bool:
    import netrc

    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return path.exists() and netrc.netrc(str(path)).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def login(s: dict):
    """Log in to Earthdata Login with earthaccess; one-line error naming what to set."""
    import earthaccess
    from earthaccess.system import System

    env_ok = bool(os.environ.get("EARTHDATA_TOKEN")) or (
        bool(os.environ.get("EARTHDATA_USERNAME")) and bool(os.environ.get("EARTHDATA_PASSWORD"))
    )
    host = s["edl_host"]
    if not env_ok and not _netrc_has(host):
        netrc_path = os.environ.get("NETRC") or "~/.netrc"
        raise NepflowError(
            f"Earthdata credentials missing: set EARTHDATA_TOKEN, or EARTHDATA_USERNAME and "
            f"EARTHDATA_PASSWORD, or add 'machine {host} login <user> password <password>' to "
            f"{netrc_path}; see docs/real-data.md"
        )
    system = System(
        cmr_base_url=s["cmr_url"],
        status_url=f"https://{host}/",
        status_api_url=f"https://{host}/api/v1/statuses",
        edl_hostname=host,
    )
    # a fresh login per retrieve: earthaccess keeps a module-level session that would otherwise be reused
    earthaccess._auth = earthaccess.Auth()
    earthaccess.__store__ = None
    try:
        auth = earthaccess.login(strategy="environment" if env_ok else "netrc", system=system)
    except Exception as exc:  # LoginAttemptFailure, connection errors
        if (code := _refused(exc)) is not None:
            raise NepflowError(f"Earthdata login at {host} refused the credentials (HTTP {code}); {REFUSED}") from None
        text = download.redact(" ".join(str(exc).split()))[:200]
        raise NepflowError(
            f"Earthdata login at {host} failed ({type(exc).__name__}: {text}); check "
            f"EARTHDATA_TOKEN / EARTHDATA_USERNAME / EARTHDATA_PASSWORD or ~/.netrc"
        ) from None
    if not auth or not auth.authenticated or earthaccess.__store__ is None:
        raise NepflowError(
            f"Earthdata login at {host} failed; check EARTHDATA_TOKEN / EARTHDATA_USERNAME / "
            f"EARTHDATA_PASSWORD or ~/.netrc"
        )
    return earthaccess


#: What to do when Earthdata refuses the credentials (CMR or the data server: HTTP 401/403 or a login page).
REFUSED = (
    "an Earthdata token (EARTHDATA_TOKEN) is valid for 60 days after it is generated: generate a new one "
    "at https://urs.earthdata.nasa.gov (Generate Token), or check EARTHDATA_USERNAME/EARTHDATA_PASSWORD or "
    "~/.netrc, and that the data's EULA is accepted; see docs/real-data.md"
)


def _refused(exc) -> int | None:
    """The HTTP status (401/403) if ``exc`` is Earthdata refusing the credentials, else None.

    earthaccess raises CMR's refusals as RuntimeError(response text) from the HTTPError
    (``{"errors": ["Token [...] has expired. ..."]}``), and its own downloads' as text
    with ``Status code: 401``.
    """
    for e in (exc, getattr(exc, "__cause__", None)):
        code = getattr(getattr(e, "response", None), "status_code", None)
        if code in (401, 403):
            return code
    text = str(exc)
    for code in (401, 403):
        if f"Status code: {code}" in text or f"{code} Client Error" in text:
            return code
    if "Token" in text and ("has expired" in text or "does not exist" in text):
        return 401
    return None


# ---------------------------------------------------------------- search
def _file_info(granule) -> list[dict]:
    """(name, url, size, checksum) of the .hdf file of a CMR granule."""
    links = [u for u in granule.data_links() if u.split("?")[0].endswith(".hdf")]
    arch = {
        a.get("Name"): a for a in granule["umm"].get("DataGranule", {}).get("ArchiveAndDistributionInformation", [])
    }
    out = []
    for url in links:
        name = url.split("?")[0].rsplit("/", 1)[-1]
        a = arch.get(name, {})
        size = a.get("SizeInBytes")
        ck = a.get("Checksum") or {}
        out.append(
            {
                "name": name,
                "url": url,
                "size": int(size) if size is not None else None,
                "checksum": (ck["Algorithm"], ck["Value"]) if ck.get("Algorithm") and ck.get("Value") else None,
            }
        )
    return out


def search(
    ea, short: str, version: str, start: str, end: str, bbox, tile_names, retry, want_year=None, max_doy=None
) -> list[dict]:
    """Granule files of one product in [start, end] over ``bbox``, kept to ``tile_names``.

    Composites dated outside ``want_year`` (CMR's temporal overlap also returns
    the previous year's last one) or after ``max_doy`` are dropped; of two
    productions of the same granule the newer is kept.
    """
    what = f"CMR search {short}.{version} {start}..{end}"

    def transient(exc):
        if (code := _refused(exc)) is not None:
            raise NepflowError(f"{what}: CMR refused the credentials (HTTP {code}); {REFUSED}") from None
        return (True, None) if isinstance(exc, RuntimeError) else download.retry_advice(exc)

    granules = download.call(
        lambda: ea.search_data(
            short_name=short,
            version=version,
            temporal=(start, end),
            bounding_box=tuple(float(b) for b in bbox),
            count=-1,
        ),
        what,
        retry,
        transient=transient,
    )
    best: dict = {}
    for g in granules:
        for f in _file_info(g):
            try:
                info = modis.parse_name(f["name"])
            except NepflowError:
                continue
            tile = f"h{info['h']:02d}v{info['v']:02d}"
            if tile not in tile_names or info["short"] != short or info["version"] != version:
                continue
            if want_year is not None and info["year"] != want_year:
                continue
            if max_doy is not None and info["doy"] > max_doy:
                continue
            key = (info["year"], info["doy"], tile)
            if key not in best or info["production"] > best[key]["production"]:
                best[key] = {
                    **f,
                    **{k: info[k] for k in ("year", "doy", "production")},
                    "tile": tile,
                    "date": info["date"].isoformat(),
                }
    return [best[k] for k in sorted(best)]


# ---------------------------------------------------------------- retrieve
def _fetch_one(ea, f: dict, dest: Path, s: dict, retry, verify: str) -> dict:
    """Download one granule file unless an identical one is cached; return its manifest record."""
    rec = {"name": dest.name, "url": download.clean_url(f["url"]), "size": f["size"]}
    if dest.exists() and f["size"] is not None and dest.stat().st_size == f["size"]:
        from ..provenance import file_sha256

        ok = True
        if f["checksum"] is not None and verify == "sha256":
            h = download._hasher(f["checksum"])
            if h is not None:
                with open(dest, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                ok = h.hexdigest().lower() == str(f["checksum"][1]).lower()
        if ok:
            log.info("%s: in the cache, not downloading", dest.name)
            rec["sha256"] = file_sha256(dest)
            if f["checksum"]:
                rec["checksum"] = {"algorithm": f["checksum"][0], "value": str(f["checksum"][1]).lower()}
            return rec
    if s["transfer"] == "earthaccess":
        return _fetch_with_earthaccess(ea, f, dest, retry)
    return download.fetch(
        f["url"],
        dest,
        sess=ea.get_requests_https_session(),
        size=f["size"],
        checksum=f["checksum"],
        retry=retry,
        denied=REFUSED,
    )


def _fetch_with_earthaccess(ea, f: dict, dest: Path, retry) -> dict:
    """``earthaccess.download`` into a private folder, then verify and move into place."""
    from ..provenance import file_sha256

    def once():
        with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmp:
            got = ea.download([f["url"]], local_path=tmp, threads=1, show_progress=False, force=True)
            if not got:
                raise download.Transient("earthaccess.download returned no file")
            path = Path(got[0])
            with open(path, "rb") as fh:
                if download.is_login_page(None, fh.read(512)):
                    raise download.Permanent(
                        "the server sent an HTML page (a login page) instead of the file: "
                        f"authentication failed; {REFUSED}"
                    )
            size = path.stat().st_size
            if f["size"] is not None and size != f["size"]:
                raise download.Transient(f"size mismatch: got {size} bytes, the catalogue says {f['size']}")
            if f["checksum"] is not None and (h := download._hasher(f["checksum"])) is not None:
                with open(path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                if h.hexdigest().lower() != str(f["checksum"][1]).lower():
                    raise download.Transient(f"{f['checksum'][0]} checksum mismatch")
            os.replace(path, dest)
        rec = {
            "name": dest.name,
            "url": download.clean_url(f["url"]),
            "size": dest.stat().st_size,
            "sha256": file_sha256(dest),
        }
        if f["checksum"]:
            rec["checksum"] = {"algorithm": f["checksum"][0], "value": str(f["checksum"][1]).lower()}
        return rec

    def transient(exc):
        text = str(exc)
        if isinstance(exc, download.Permanent):
            return False, None
        if (code := _refused(exc)) is not None:
            raise NepflowError(
                f"download of {dest.name} failed: Earthdata refused the credentials (HTTP {code}); {REFUSED}"
            ) from None
        if isinstance(exc, download.Transient) or any(
            f"Status code: {c}" in text for c in (408, 429, 500, 502, 503, 504)
        ):
            return True, None
        return download.retry_advice(exc)

    dest.parent.mkdir(parents=True, exist_ok=True)
    return download.call(once, f"download of {dest.name}", retry, transient=transient)


def retrieve(product: str, year: int, cfg: dict, paths: dict) -> None:
    """Fetch one product-year of MODIS granules and write its manifest (skipped if complete).

    ``cfg``: the config's ``sources`` section with ``bbox`` set; ``paths``:
    ``manifest`` (the granules go beside it, in ``<SHORT>.<VERSION>/<YEAR>/``).
    """
    s = settings(cfg)
    p = _product(product, s)
    short, version = p["short_name"], p["version"]
    retry = download.Retry.from_config(cfg["download"])
    verify = cfg["download"]["verify"]
    manifest = Path(paths["manifest"])
    tile_names = tiles(cfg)
    dyear = data_year(product, int(year), short)
    fills = fill_years(product, int(year), short, s)
    bbox = [float(b) for b in cfg["bbox"]]
    expect = {
        "source": "earthdata",
        "product": product,
        "short_name": short,
        "version": version,
        "year": int(year),
        "data_year": dyear,
        "tiles": tile_names,
        "bbox": bbox,
        "fill_years": fills,
    }
    if download.is_complete(manifest, expect, verify):
        log.info("%s.%s %s: complete in the cache (%s), not downloading", short, version, year, manifest)
        return
    ea = login(s)
    year_dir = manifest.parent.parent  # <SHORT>.<VERSION>/
    found = search(ea, short, version, f"{dyear}-01-01", f"{dyear}-12-31", bbox, tile_names, retry, want_year=dyear)
    if not found:
        raise NepflowError(
            f"CMR found no {short}.{version} granules of {dyear} for tiles {', '.join(tile_names)} "
            f"(bbox {bbox}); expected the product to cover the region"
        )
    _check_found(found, product, short, dyear, tile_names)
    records = []
    for f in found:
        rec = _fetch_one(ea, f, year_dir / str(f["year"]) / f["name"], s, retry, verify)
        records.append(_relative(rec, f, manifest, year_dir))
    for fy in fills:
        extra = search(
            ea,
            short,
            version,
            f"{fy}-01-01",
            f"{fy}-02-17",
            bbox,
            tile_names,
            retry,
            want_year=fy,
            max_doy=FPAR_START.timetuple().tm_yday - 1,
        )
        for f in extra:
            rec = _fetch_one(ea, f, year_dir / str(f["year"]) / f["name"], s, retry, verify)
            records.append({**_relative(rec, f, manifest, year_dir), "role": "gap_fill"})
    download.write_manifest(
        manifest,
        {
            **expect,
            "cmr": download.clean_url(s["cmr_url"]),
            "edl_host": s["edl_host"],
            "versions": {short: version},
            "layers": list(LAYERS[product]),
            "files": records,
        },
    )


def _relative(rec: dict, f: dict, manifest: Path, year_dir: Path) -> dict:
    rel = os.path.relpath(year_dir / str(f["year"]) / f["name"], manifest.parent)
    return {**rec, "name": rel, "date": f["date"], "tile": f["tile"], "production": f["production"]}


def _check_found(found, product, short, year, tile_names):
    have = defaultdict(set)
    for f in found:
        have[f["tile"]].add(f["doy"])
    missing = [t for t in tile_names if t not in have]
    if product in ("landcover", "npp") and missing:
        raise NepflowError(
            f"CMR found no {short} granule of {year} for tile(s) {', '.join(missing)}; "
            f"expected one per tile (sources.earthdata.tiles)"
        )
    if product in ("fpar", "evap"):
        doys = set().union(*have.values())
        expected = {d for d in range(1, 366, 8) if dt.date(year, 1, 1) + dt.timedelta(d - 1) >= FPAR_START}
        gaps = sorted(expected - doys)
        if missing or gaps:
            log.warning(
                "%s %s: %d composite date(s) missing (%s) and tile(s) without data (%s); the monthly means "
                "use the composites available",
                short,
                year,
                len(gaps),
                gaps[:10],
                missing,
            )


# ---------------------------------------------------------------- opening
def _manifest(path) -> tuple[dict, Path]:
    path = Path(path)
    m = download.read_manifest(path)
    if not m or m.get("source") != "earthdata" or "files" not in m:
        raise NepflowError(f"{path}: not an earthdata manifest; expected the JSON written by the retrieve job")
    return m, path.parent


def composite_weights(dates, year: int) -> np.ndarray:
    """Days of each 8-day composite [d, d + 8) in each month of ``year``: array (n, 12).

    A composite's period is cut at the end of the year (the last one of a year
    covers 5 or 6 days).
    """
    w = np.zeros((len(dates), 12))
    end = dt.date(year, 12, 31)
    for i, d in enumerate(dates):
        for k in range(8):
            day = d + dt.timedelta(days=k)
            if day.year != year or day > end:
                break
            w[i, day.month - 1] += 1
    return w


def monthly_et(groups, year: int, bounds=None) -> tuple[xr.DataArray, int]:
    """Monthly evapotranspiration (mm month-1) from MOD16A2GF 8-day sums, split by day overlap.

    ``groups``: [(composite start date, [tile paths])]. With w_cm the days of
    composite c in month m and n_c its days in the year (8; the last one 5–6),
    the month's total is E_m = Σ_c ET_c · w_cm / n_c (mm), exact when every
    day of the month is covered. Where a pixel's composites are missing or
    fill, E_m = (Σ_c ET_c · w_cm / n_c) · D_m / Σ_c w_cm over its valid
    composites (the mean daily ET of the covered days × the D_m days of the
    month) if they cover at least :data:`ET_MIN_COVER` of the month, else NaN.

    Returns the DataArray (time=12, y, x; float32, on the sinusoidal grid) and
    the number of pixel-months so scaled.
    """
    dates = [d for d, _ in groups]
    w = composite_weights(dates, year)  # (n, 12) days of each composite in each month
    n_days = w.sum(axis=1)
    days = np.array([calendar.monthrange(year, m)[1] for m in range(1, 13)], float)
    num = cov = coords = None
    for (d, paths), wc, nc in zip(groups, w, n_days):
        if nc == 0:
            continue
        et = modis.mosaic(paths, "ET_500m", decode=True, bounds=bounds)  # mm over the composite, NaN fill
        if num is None:
            coords = et
            num = np.zeros((12,) + et.shape, "float64")
            cov = np.zeros((12,) + et.shape, "uint8")
        vals = et.values
        ok = np.isfinite(vals)
        rate = np.where(ok, vals, 0.0) / nc
        for m in np.nonzero(wc)[0]:
            num[m] += rate * wc[m]
            cov[m] += ok.astype("uint8") * np.uint8(wc[m])
        del et, vals, ok, rate
    if num is None:
        raise NepflowError(f"MOD16A2GF {year}: no composite to aggregate")
    full = cov >= days[:, None, None]
    enough = cov >= ET_MIN_COVER * days[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(full, num, np.where(enough, num * days[:, None, None] / cov, np.nan)).astype("float32")
    scaled = int((enough & ~full).sum())
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    da = xr.DataArray(
        out, coords={"time": time, "y": coords.y.values, "x": coords.x.values}, dims=("time", "y", "x"), name="evap"
    )
    return da, scaled


def _interp_months(a: np.ndarray, block: int = 64) -> tuple[np.ndarray, int]:
    """Fill NaN months of (12, y, x) linearly between the nearest valid months (constant at the ends).

    In place, in blocks of ``block`` rows with int8 month indices, so memory stays bounded by a
    block (a 4-tile MODIS mosaic has about 10 million pixels).
    """
    n = 0
    idx = np.arange(12, dtype=np.int8)[:, None, None]
    for s in blocks.row_slices(a.shape[1], block):
        b = a[:, s]
        valid = np.isfinite(b)
        holes = ~valid & valid.any(axis=0)[None]
        k = int(holes.sum())
        if not k:
            continue
        n += k
        prev = np.maximum.accumulate(np.where(valid, idx, np.int8(-1)), axis=0)
        nxt = np.minimum.accumulate(np.where(valid, idx, np.int8(99))[::-1], axis=0)[::-1]
        vp = np.take_along_axis(b, np.clip(prev, 0, 11).astype(np.intp), axis=0)
        vq = np.take_along_axis(b, np.clip(nxt, 0, 11).astype(np.intp), axis=0)
        span = nxt.astype(np.float32) - prev
        frac = np.where(
            (prev >= 0) & (nxt <= 11) & (nxt > prev),
            (idx - prev.astype(np.float32)) / np.maximum(span, 1),
            np.float32(0),
        )
        filled = np.where(prev < 0, vq, np.where(nxt > 11, vp, vp + frac * (vq - vp)))
        b[holes] = filled[holes]
    return a, n


def monthly_fpar(
    groups: list[tuple[dt.date, list[Path], float]], year: int, bounds=None, qc: str = "main", nonveg: str = "nan"
):
    """Monthly mean FPAR (12, y, x) from 8-day MOD15A2H composites.

    Parameters
    ----------
    groups : (composite date placed in ``year``, its tile files, weight factor);
        climatological composites carry factor 1/n for n years.
    year : the calendar year of the months.
    bounds : sinusoidal (W, S, E, N) crop of the mosaic.
    qc : ``main``: main-algorithm retrievals (FparLai_QC bit 0 = 0) first, all
        valid retrievals where a month has none; ``any``: all valid retrievals.
    nonveg : ``nan`` or ``zero`` for the non-vegetated codes 250, 252, 253, 254.

    Returns
    -------
    (DataArray fpar (time=12, y, x) in [0, 1], counts dict of pixel-months by origin)
    """
    dates = [g[0] for g in groups]
    w = composite_weights(dates, year) * np.array([g[2] for g in groups])[:, None]
    out = None
    counts = {"main": 0, "backup": 0, "interpolated": 0, "missing": 0}
    x = y = None
    for m in range(12):
        acc = None
        for (date, files, _), wm in zip(groups, w[:, m]):
            if wm <= 0:
                continue
            dn = modis.mosaic(files, "Fpar_500m", decode=False, bounds=bounds)
            qa = modis.mosaic(files, "FparLai_QC", decode=False, bounds=bounds)
            if acc is None:
                x, y = dn.x, dn.y
                acc = [np.zeros(dn.shape, "float32") for _ in range(4)]
            d = dn.values.astype("float32")
            valid = dn.values <= 100
            if nonveg == "zero":
                zero = np.isin(dn.values, NONVEG_CODES)
                d[zero] = 0
                valid = valid | zero
                main = valid & (((qa.values & 1) == 0) | zero)
            else:
                main = valid & ((qa.values & 1) == 0)
            if qc == "any":
                main = valid
            wd = d * np.float32(wm)  # float32 throughout: a 4-tile mosaic is 10 million pixels
            acc[0] += np.where(main, wd, np.float32(0))
            acc[1] += np.where(main, np.float32(wm), np.float32(0))
            acc[2] += np.where(valid, wd, np.float32(0))
            acc[3] += np.where(valid, np.float32(wm), np.float32(0))
            dn = qa = d = wd = valid = main = None
        if acc is None:
            continue
        if out is None:
            out = np.full((12, len(y), len(x)), np.nan, "float32")
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_main = acc[0] / acc[1]
            mean_any = acc[2] / acc[3]
        has_main = acc[1] > 0
        has_any = acc[3] > 0
        counts["main"] += int(has_main.sum())
        counts["backup"] += int((~has_main & has_any).sum())
        out[m] = np.where(has_main, mean_main, np.where(has_any, mean_any, np.nan)) * 0.01
    if out is None:
        raise NepflowError(f"MOD15A2H {year}: no composite in any month")
    acc = mean_main = mean_any = has_main = has_any = None  # only the monthly means stay in memory
    out, counts["interpolated"] = _interp_months(out)
    counts["missing"] = int((~np.isfinite(out)).sum())
    np.clip(out, 0, 1, out=out)
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    da = xr.DataArray(out, coords={"time": time, "y": y, "x": x}, dims=("time", "y", "x"), name="fpar")
    return da, counts


def c4_fraction_float32(lc: xr.DataArray, rules: dict, year: int) -> xr.DataArray:
    """:func:`nepflow.landcover.c4_fraction` of a large class map, in float32, month by month.

    The same numbers (the rules' table looked up per class and month, NaN where the class is
    0 or 255), built without the (y, x, 12) float64 intermediate: 0.5 GB instead of 2 GB for a
    4-tile MODIS mosaic.
    """
    table = landcover.monthly_rules(rules)
    lut = np.tile(np.asarray(table[-1], "float64"), (256, 1))
    for k, arr in table.items():
        if 0 <= k < 256:
            lut[k] = arr
    lut[0] = lut[255] = np.nan
    lut = lut.astype("float32")
    codes = np.asarray(lc.values)
    if codes.dtype.kind == "f":
        codes = np.nan_to_num(codes, nan=0)
    codes = np.clip(codes, 0, 255).astype(np.uint8)
    out = np.empty((12,) + codes.shape, "float32")
    for m in range(12):
        out[m] = lut[:, m][codes]
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    da = xr.DataArray(out, coords={"time": time, "y": lc.y, "x": lc.x}, dims=("time", "y", "x"), name="c4_frac")
    da.attrs = variables.attrs(
        "c4_frac", comment="C4 fraction per IGBP class and month from config landcover.c4_fraction"
    )
    return da


def open_year(product: str, year: int, path, cfg: dict, landcover_rules: dict | None = None) -> xr.Dataset:
    """One product-year on the native sinusoidal grid (cropped to the request box) in CF units.

    ``path`` is the manifest; ``cfg`` the ``sources`` section (for
    ``earthdata.fpar_qc``/``fpar_nonveg``; defaults if empty); ``landcover_rules``
    the config's ``landcover.c4_fraction``.
    """
    s = settings(cfg)
    m, base = _manifest(path)
    if m.get("product") != product:
        raise NepflowError(f"{path}: manifest of {m.get('product')}; expected {product}")
    bounds = modis.sinusoidal_bounds(m["bbox"]) if m.get("bbox") else None
    files = [(base / f["name"], f) for f in m["files"]]
    for p_, _ in files:
        if not p_.exists():
            raise NepflowError(f"{p_}: granule listed in {path} is missing; rerun the retrieve job")
    src = f"MODIS {m['short_name']} collection {m['version']} (NASA LP DAAC), tiles {', '.join(m['tiles'])}"
    if product == "fpar":
        main = defaultdict(list)
        clim = defaultdict(lambda: defaultdict(list))
        for p_, f in files:
            info = modis.parse_name(p_.name)
            if f.get("role") == "gap_fill":
                clim[info["doy"]][info["year"]].append(p_)
            else:
                main[info["date"]].append(p_)
        groups = [(d, fs, 1.0) for d, fs in sorted(main.items())]
        filled_doys = []
        for doy, by_year in sorted(clim.items()):
            d = dt.date(int(year), 1, 1) + dt.timedelta(days=doy - 1)
            if d in main or d >= FPAR_START:
                continue
            filled_doys.append(doy)
            groups += [(d, fs, 1.0 / len(by_year)) for _, fs in sorted(by_year.items())]
        groups.sort(key=lambda g: g[0])
        da, counts = monthly_fpar(groups, int(year), bounds, s["fpar_qc"], s["fpar_nonveg"])
        comment = (
            "monthly mean of MOD15A2H 8-day Fpar_500m (DN x 0.01, valid 0-100), composites weighted by their "
            "days in the month; main-algorithm retrievals (FparLai_QC bit 0 = 0) first, all valid retrievals "
            "where a month has none, then linear interpolation between valid months"
        )
        if filled_doys:
            comment += (
                f"; composites of day {filled_doys[0]}-{filled_doys[-1] + 7} of {year} (before the record "
                f"starts on {FPAR_START}) replaced by their {min(min(c) for c in clim.values())}-"
                f"{max(max(c) for c in clim.values())} climatology"
            )
        da.attrs = variables.attrs(
            "fpar",
            comment=comment,
            source=src,
            fpar_qc=s["fpar_qc"],
            fpar_nonveg=s["fpar_nonveg"],
            **{f"pixel_months_{k}": v for k, v in counts.items()},
        )
        ds = da.to_dataset()
    elif product == "landcover":
        lc = modis.mosaic([p_ for p_, _ in files], "LC_Type1", decode=False, bounds=bounds)
        c4 = c4_fraction_float32(lc, landcover_rules or {}, int(year))
        c4.attrs["source"] = src + f", LC_Type1 (IGBP) of {m['data_year']}"
        if m["data_year"] != int(year):
            c4.attrs["comment"] += f"; MCD12Q1 starts in {m['data_year']}: its map stands in for {year}"
        ds = c4.to_dataset()
    elif product == "npp":
        npp = modis.mosaic([p_ for p_, _ in files], "Npp_500m", decode=True, bounds=bounds) * 1000.0
        npp.name = "npp_mod17"
        npp.attrs = variables.attrs(
            "npp_mod17",
            source=src,
            comment="Npp_500m DN x 0.0001 kg C m-2 yr-1 x 1000 = DN x 0.1 g C m-2 yr-1; "
            "valid -30000..32700, fill codes 32761-32767 masked",
        )
        ds = npp.to_dataset()
    elif product == "evap":
        groups = defaultdict(list)
        for p_, _ in files:
            groups[modis.parse_name(p_.name)["date"]].append(p_)
        da, scaled = monthly_et(sorted(groups.items()), int(year), bounds)
        da.attrs = variables.attrs(
            "evap",
            source=src,
            comment="MOD16A2GF ET_500m (DN x 0.1 kg m-2 = mm, the sum over each 8-day composite, the year's last "
            "5 or 6 days; fill codes 32761-32767 masked) split over months by the composite's days in each "
            f"month; months less than {ET_MIN_COVER:.0%} covered by valid composites are NaN",
            pixel_months_scaled=scaled,
        )
        ds = da.to_dataset()
    else:
        raise NepflowError(f"config key sources.{product}: the earthdata source delivers fpar, landcover, npp and evap")
    ds.rio.write_crs(modis.SINUSOIDAL, inplace=True)  # not a copy: the FPAR year is 0.5 GB
    ds.attrs = {"source": src}
    return ds
