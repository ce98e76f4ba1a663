"""The whole DAG on real-data sources, served from 127.0.0.1: MODIS through earthaccess (fake CMR,
Earthdata Login and data server over HTTPS), ERA5-Land through cdsapi (fake CDS API) and a
station CSV, on a small coastal grid (Tianjin and the Bohai coast at 0.1°) for four years. The fake
CDS masks its sea cells as ERA5-Land does, so the coastal pixels are filled from land
(``regrid.coast_fill_km``).

Four, not two: the per-pixel statistics need at least three years (series/annual.nc is checked for
it) and the Hurst exponent's rescaled-range fit at least three window lengths (four years). The fake
MOD15A2H has every other 8-day composite (23 a year) to keep downloads few: the retrieval logs the
gaps and the monthly means use the composites available, as with a real gap.
Every Python process of the run (snakemake and each job) carries the network guard
(tests/netguard/sitecustomize.py): only loopback can be contacted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from fakeservers import (
    AWS_METADATA_PROBE,
    FakeCDS,
    FakeEarthdata,
    NetGuard,
    cds_delivery,
    modis_name,
    scan_for,
    tile_lonlat_bbox,
    write_modis_tile,
)
from nepflow.sources import modis
from nepflow import schema
from workflow import ROOT, scheduled_jobs, snakemake

pytestmark = pytest.mark.workflow

YEARS = [2001, 2002, 2003, 2004]
COMPOSITES = range(1, 366, 16)  # every other 8-day composite
# Tianjin: a grid over four MODIS tiles (h26/h27, v04 over v05: the mosaic seams at 40 N and along
# the tiles' sheared meridian), with the Bohai coast in the east
BOUNDS = [116.7, 38.5, 118.1, 40.3]
BBOX = [116.5, 38.3, 118.3, 40.5]
N = 60  # pixels per tile edge (real 500 m tiles have 2400)
CDS_KEY = "cds-key-fake-5f0e1d2c3b4a"
ET_DN = 40  # MOD16A2GF ET_500m outside the growing season: 4.0 mm per composite
RUN = "results/real"
#: the fill distance the run uses: the default (config/schema.yaml)
COAST_FILL_KM = schema.defaults("regrid")["coast_fill_km"]


def _doy_date(year, doy):
    return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)


def publish_modis(srv, folder: Path, tiles):
    """MOD15A2H 8-day FPAR (a seasonal cycle, greener each year), MCD12Q1 land cover and MOD16A2GF 8-day
    evapotranspiration (every composite: a month needs half its days), per tile."""
    rows, cols = np.mgrid[0:N, 0:N]
    for h, v in tiles:
        box = tile_lonlat_bbox(h, v)
        for year in YEARS:
            lc = np.where(cols < N // 2, 12, 10).astype(np.uint8)  # cropland west, grassland east
            lc[rows % 17 == 5] = 13  # an urban row: FPAR code 250 there
            name = modis_name("MCD12Q1", f"{year}001", h, v)
            srv.add_granule(
                write_modis_tile(folder / name, "MCD12Q1", h, v, {"LC_Type1": lc}),
                "MCD12Q1",
                "061",
                f"{year}-01-01",
                f"{year}-12-31",
                box,
            )
            for doy in COMPOSITES:
                d = _doy_date(year, doy)
                season = max(0.0, np.sin(np.pi * (doy - 80) / 230)) if 80 <= doy <= 310 else 0.0
                dn = np.full((N, N), 15 + 60 * season + 2 * (year - 2001), dtype=float)
                dn = np.clip(dn + 5 * np.sin(rows / 7.0), 0, 100).astype(np.uint8)
                dn[rows % 17 == 5] = 250
                qc = np.where((rows + cols + doy) % 11 == 0, 1, 0).astype(np.uint8)  # some back-up retrievals
                name = modis_name("MOD15A2H", f"{year}{doy:03d}", h, v)
                path = write_modis_tile(folder / name, "MOD15A2H", h, v, {"Fpar_500m": dn, "FparLai_QC": qc})
                end = min(d + dt.timedelta(days=7), dt.date(year, 12, 31))
                srv.add_granule(path, "MOD15A2H", "061", d.isoformat(), end.isoformat(), box)
            for doy in range(1, 366, 8):
                d = _doy_date(year, doy)
                season = max(0.0, np.sin(np.pi * (doy - 60) / 250)) if 60 <= doy <= 310 else 0.0
                et = np.full((N, N), ET_DN + 250 * season, dtype=np.int16)  # 4-29 mm per 8 days: irrigated wheat
                et[rows % 17 == 5] = 32762  # the urban row: MOD16's fill code
                name = modis_name("MOD16A2GF", f"{year}{doy:03d}", h, v)
                path = write_modis_tile(
                    folder / name, "MOD16A2GF", h, v, {"ET_500m": et, "ET_QC_500m": np.zeros((N, N), np.uint8)}
                )
                end = min(d + dt.timedelta(days=7), dt.date(year, 12, 31))
                srv.add_granule(path, "MOD16A2GF", "061", d.isoformat(), end.isoformat(), box)


def station_csv(path: Path):
    """Monthly sunshine totals of six stations around Tianjin."""
    stations = [
        ("54527", 117.07, 39.08),
        ("54523", 117.05, 39.43),
        ("54428", 117.40, 40.03),
        ("54623", 117.72, 39.05),
        ("54619", 117.22, 38.63),
        ("54517", 116.88, 39.60),
    ]
    lines = ["station_id,lon,lat,date,hours"]
    for year in YEARS:
        for m in range(1, 13):
            for i, (sid, lon, lat) in enumerate(stations):
                hours = 190 + 60 * np.sin(np.pi * (m - 2) / 8) + 4 * i - 2 * (year - 2001)
                lines.append(f"{sid},{lon},{lat},{year}-{m:02d},{hours:.1f}")
    path.write_text("\n".join(lines) + "\n")


def real_config(srv_ed, srv_cds, stations) -> dict:
    return {
        "run_name": "real",
        "years": {"start": YEARS[0], "end": YEARS[-1]},
        "region": {"provinces": ["Tianjin"]},
        "grid": {"crs": "EPSG:4326", "resolution": 0.1, "bounds": BOUNDS},
        "sources": {
            "meteo": "cds",
            "fpar": "earthdata",
            "landcover": "earthdata",
            "sunshine": "stations",
            "evap": "earthdata",  # MOD16A2GF instead of ERA5-Land's evaporation
            "bbox": BBOX,
            "download": {"tries": 2, "backoff": 0.01, "max_wait": 0.05, "read_timeout": 20},
            "earthdata": {"cmr_url": srv_ed.cmr_url, "edl_host": srv_ed.host},
            "cds": {"url": srv_cds.url},
            "stations": {"file": str(stations), "resolution": 0.1},
        },
        "regrid": {
            "methods": {
                "tas": "bilinear",
                "pr": "conservative",
                "ssrd": "conservative",
                "rn": "conservative",
                "evap": "average",
                "sund": "bilinear",
                "fpar": "average",
                "c4_frac": "average",
            }
        },
        "analysis": {"hurst_surrogates": 100},
        "figures": {"dpi": 50},
    }


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Fake Earthdata and CDS on 127.0.0.1 and the credentials in the environment (for the jobs)."""
    root = tmp_path_factory.mktemp("real")
    home = root / "home"
    home.mkdir()
    with (
        pytest.MonkeyPatch.context() as mp,
        NetGuard() as guard,
        FakeEarthdata(root / "tls") as ed,
        FakeCDS(CDS_KEY, cds_delivery()) as cds,
    ):
        for k in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "CDSAPI_URL"):
            mp.delenv(k, raising=False)
        mp.setenv("HOME", str(home))
        mp.setenv("NETRC", str(home / ".netrc"))
        mp.setenv("CDSAPI_RC", str(home / ".cdsapirc"))
        mp.setenv("REQUESTS_CA_BUNDLE", ed.cafile)
        mp.setenv("EARTHDATA_TOKEN", ed.token)
        mp.setenv("CDSAPI_KEY", CDS_KEY)
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("NEPFLOW_NETGUARD_LOG", str(root / "netguard.log"))
        mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "tests" / "netguard"), os.environ.get("PYTHONPATH", "")]))
        publish_modis(ed, root / "granules", modis.tiles_for_bbox(BBOX))
        yield {"root": root, "earthdata": ed, "cds": cds, "guard": guard, "mp": mp}
    assert set(guard.blocked) <= {AWS_METADATA_PROBE}, guard.blocked


@pytest.fixture(scope="module")
def real_run(servers):
    wd = servers["root"] / "run"
    wd.mkdir()
    station_csv(wd / "stations.csv")
    cfg = real_config(servers["earthdata"], servers["cds"], "stations.csv")
    path = wd / "real.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(wd, "--cores", "2", configfile=path)
    return {"wd": wd, "config": path, "proc": proc, **servers}


def test_dry_run_without_credentials_builds_the_dag(servers, tmp_path):
    """No credentials and no network needed to plan: one retrieve job per (source, product, year)."""
    mp = servers["mp"]
    with pytest.MonkeyPatch.context() as m2:
        m2.delenv("EARTHDATA_TOKEN")
        m2.delenv("CDSAPI_KEY")
        (tmp_path / "stations.csv").write_text("station_id,lon,lat,date,hours\n")
        cfg = real_config(servers["earthdata"], servers["cds"], "stations.csv")
        (tmp_path / "real.yaml").write_text(yaml.safe_dump(cfg))
        n = len(servers["earthdata"].requests) + len(servers["cds"].requests)
        counts = scheduled_jobs(tmp_path, configfile=tmp_path / "real.yaml")
    assert mp is not None
    for rule in (
        "retrieve_meteo",
        "retrieve_fpar",
        "retrieve_landcover",
        "retrieve_sunshine",
        "retrieve_evap",
        "regrid",
        "carbon",
    ):
        assert counts[rule] == len(YEARS), (rule, counts)
    assert len(servers["earthdata"].requests) + len(servers["cds"].requests) == n  # planning contacted nobody


def test_outputs_are_sane(real_run):
    wd = real_run["wd"] / RUN
    grid = xr.open_dataset(wd / "grid.nc")
    inside = grid["region"].values > 0
    assert inside.sum() > 40
    for year in YEARS:
        f = xr.open_dataset(wd / f"forcing/{year}.nc", decode_coords="all")
        assert f["pr"].attrs["regrid_method"] == "conservative" and f["tas"].attrs["regrid_method"] == "bilinear"
        assert f["fpar"].attrs["regrid_method"] == "average" and f["c4_frac"].attrs["regrid_method"] == "average"
        for name in ("tas", "pr", "par", "rn", "sund"):
            assert np.isfinite(f[name].values[:, inside]).all(), name
        for name in ("tas", "pr", "par", "rn"):  # the sea cells of the delivery, filled from land
            assert f[name].attrs["coastal_fill_km"] == COAST_FILL_KM and f[name].attrs["coastal_fill_pixels"] >= 1, name
        assert f["sund"].attrs["coastal_fill_pixels"] == 0  # interpolated from the stations: no sea mask
        # evap from MOD16A2GF (a land variable, like FPAR), not from ERA5-Land: January is 31/8 composites of
        # 4.0 mm = 15.5 mm where the fake ERA5-Land gives about 10 mm
        evap = f["evap"].values[:, inside]
        assert f["evap"].attrs["regrid_method"] == "average" and 0.8 < np.isfinite(evap).mean() < 1
        np.testing.assert_allclose(np.nanmedian(evap[0]), ET_DN * 0.1 * 31 / 8, rtol=1e-3)
        assert np.nanmax(evap[6]) > 80  # the growing season
        fpar = f["fpar"].values[:, inside]
        assert np.nanmin(fpar) >= 0 and np.nanmax(fpar) <= 1 and np.isfinite(fpar).mean() > 0.8
        assert 0.5 < np.nanmax(fpar) and np.nanmin(fpar) < 0.3  # the seasonal cycle survived
        assert -15 < float(f["tas"].min()) and float(f["tas"].max()) < 35
        assert 0 < float(f["pr"].min()) and float(f["pr"].max()) < 300
        assert 100 < float(f["sund"].min()) and float(f["sund"].max()) < 300
        c = xr.open_dataset(wd / f"carbon/{year}.nc")
        nep = c["nep"].values[inside]
        assert np.isfinite(nep).mean() > 0.8
        assert -400 < np.nanmin(nep) and np.nanmax(nep) < 1000  # MOD16A2GF's irrigated ET lifts the water scalar
        assert 100 < np.nanmean(c["rh"].values[inside]) < 900
        assert 0 < np.nanmean(c["npp"].values[inside]) < 1500
    s = xr.open_dataset(wd / "series/annual.nc")
    assert list(s["year"].values) == YEARS
    trend = xr.open_dataset(wd / "analysis/trend.nc")
    assert np.isfinite(trend["ols_slope"].values[inside]).any()
    for name in ("hurst", "stability", "correlation", "classes"):
        assert (wd / f"analysis/{name}.nc").exists(), name
    assert (wd / "tables/area_stats.csv").stat().st_size > 0


def test_manifests_are_written(real_run):
    data = real_run["wd"] / "data"
    for year in YEARS:
        for pattern in (
            f"cds/reanalysis-era5-land-monthly-means/*/{year}.json",
            f"earthdata/MOD15A2H.061/{year}/fpar-*.json",
            f"earthdata/MCD12Q1.061/{year}/landcover-*.json",
            f"stations/*/{year}.json",
        ):
            found = list(data.glob(pattern))
            assert len(found) == 1, pattern
            m = json.loads(found[0].read_text())
            assert m["files"] and all(len(f["sha256"]) == 64 for f in m["files"]), pattern
    fpar = json.loads(next(data.glob(f"earthdata/MOD15A2H.061/{YEARS[0]}/fpar-*.json")).read_text())
    assert len(fpar["files"]) == len(COMPOSITES) * len(modis.tiles_for_bbox(BBOX))


def test_rerun_is_a_no_op(real_run):
    n = len(real_run["earthdata"].requests) + len(real_run["cds"].requests)
    proc = snakemake(real_run["wd"], "--cores", "2", configfile=real_run["config"])
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert len(real_run["earthdata"].requests) + len(real_run["cds"].requests) == n


def test_no_secret_in_any_produced_file(real_run):
    secrets = [real_run["earthdata"].token, real_run["earthdata"].password, CDS_KEY]
    wd = real_run["wd"]
    assert (wd / ".snakemake").is_dir() and (wd / RUN / "logs").is_dir()
    assert scan_for(secrets, [wd]) == []
    assert not any(s in real_run["proc"].stdout + real_run["proc"].stderr for s in secrets)


def test_jobs_contacted_only_loopback(real_run):
    log = real_run["root"] / "netguard.log"
    blocked = set(log.read_text().split()) if log.exists() else set()
    assert blocked <= {AWS_METADATA_PROBE}, blocked
    assert any(r["path"].startswith("/lp-prod-protected/") for r in real_run["earthdata"].requests)
    assert any(r["method"] == "POST" for r in real_run["cds"].requests)
