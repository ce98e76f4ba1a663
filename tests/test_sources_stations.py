"""Station sunshine: CSV validation, monthly totals, scipy interpolation, sunshine proxy."""
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fakeservers import NetGuard, Server
from nepflow.errors import NepflowError
from nepflow.sources import download, proxy, stations

BBOX = [114.0, 37.0, 118.0, 41.0]
RNG = np.random.default_rng(7)
LON = RNG.uniform(113.5, 118.5, 40)
LAT = RNG.uniform(36.5, 41.5, 40)


def plane(lon, lat, month):
    return 150 + 4.0 * (lon - 116) - 6.0 * (lat - 39) + month


def monthly_csv(path, year=2001, lon=LON, lat=LAT):
    rows = [(f"S{i:03d}", lo, la, f"{year}-{m:02d}", plane(lo, la, m))
            for i, (lo, la) in enumerate(zip(lon, lat)) for m in range(1, 13)]
    pd.DataFrame(rows, columns=stations.COLUMNS).to_csv(path, index=False)
    return path


def cfg_for(path, **kw):
    return {"bbox": BBOX, "stations": {"file": str(path), **kw}}


def run(tmp_path, cfg, year=2001):
    paths = {k: tmp_path / "data" / "stations" / v for k, v in stations.outputs("sunshine", year, cfg).items()}
    stations.retrieve("sunshine", year, cfg, paths)
    return paths


@pytest.mark.parametrize("method,tol", [("thin_plate_spline", 0.5), ("linear", 0.5), ("nearest", 25.0)])
def test_plane_reproduced(tmp_path, method, tol):
    cfg = cfg_for(monthly_csv(tmp_path / "s.csv"), method=method, resolution=0.1)
    paths = run(tmp_path, cfg)
    ds = stations.open_year("sunshine", 2001, paths["manifest"], cfg)
    sund = ds["sund"]
    assert sund.sizes == {"time": 12, "y": 40, "x": 40} and sund.attrs["units"] == "h month-1"
    assert ds.rio.crs.to_epsg() == 4326 and sund.attrs["interpolation"] == method
    lon, lat = np.meshgrid(sund.x, sund.y)
    inside = (lon > 114.5) & (lon < 117.5) & (lat > 37.5) & (lat < 40.5)
    for m in (1, 7):
        err = np.abs(sund.values[m - 1] - plane(lon, lat, m))[inside]
        assert err.max() < tol


def test_daily_records_and_completeness(tmp_path):
    rows = []
    for i, (lo, la) in enumerate(zip(LON[:5], LAT[:5])):
        for d in pd.date_range("2001-01-01", "2001-12-31"):
            if i == 0 and d.month == 3 and d.day > 20:
                continue  # station 0 misses 11 of 31 March days (< 80 %): its March is dropped
            rows.append((f"S{i}", lo, la, d.strftime("%Y-%m-%d"), 6.0 + (i == 1)))
    df = pd.DataFrame(rows, columns=stations.COLUMNS)
    df.to_csv(tmp_path / "d.csv", index=False)
    tot = stations.monthly_totals(stations.read_csv(tmp_path / "d.csv"), 2001)
    feb = tot[(tot.month == 2)].set_index("station_id")["hours"]
    assert feb["S0"] == pytest.approx(6 * 28) and feb["S1"] == pytest.approx(7 * 28)
    assert "S0" not in set(tot[tot.month == 3]["station_id"]) and len(tot[tot.month == 3]) == 4


def test_clipped_to_daylight():
    n = stations.daylight_hours(np.array([0.0, 40.0]), 2001)
    assert n[:, 0] == pytest.approx([12 * d for d in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)], rel=1e-3)
    assert n[5, 1] > n[11, 1]  # June days are longer than December's at 40 N


def test_bad_files_are_one_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("station_id,lon,lat,hours\nA,116,39,5\n")
    with pytest.raises(NepflowError, match="missing column\\(s\\) date"):
        stations.read_csv(p)
    p.write_text("station_id,lon,lat,date,hours\nA,116,39,2001-01,5\nB,east,39,2001-01,5\n")
    with pytest.raises(NepflowError, match="line 3: column lon is 'east'; expected a number"):
        stations.read_csv(p)
    p.write_text("station_id,lon,lat,date,hours\nA,116,39,2001-01,5\nB,116,39,2001-01-05,5\n")
    with pytest.raises(NepflowError, match="line 2: date") as err:
        stations.read_csv(p)
    assert "\n" not in str(err.value)
    with pytest.raises(NepflowError, match="sources.stations.file"):
        run(tmp_path, cfg_for(tmp_path / "missing.csv"))
    few = monthly_csv(tmp_path / "few.csv", lon=LON[:2], lat=LAT[:2])
    with pytest.raises(NepflowError, match="fewer than 3 stations"):
        run(tmp_path, cfg_for(few))


def test_retrieve_skips_and_reruns_on_change(tmp_path):
    src = monthly_csv(tmp_path / "s.csv")
    cfg = cfg_for(src)
    paths = run(tmp_path, cfg)
    m = json.loads(paths["manifest"].read_text())
    assert len(m["stations"]) == 40 and m["station_file"]["name"] == "s.csv"
    mtime = paths["data"].stat().st_mtime_ns
    run(tmp_path, cfg)
    assert paths["data"].stat().st_mtime_ns == mtime  # complete: untouched
    monthly_csv(src, lon=LON + 0.01)
    run(tmp_path, cfg)
    assert json.loads(paths["manifest"].read_text())["station_file_sha256"] != m["station_file_sha256"]


def test_station_file_from_a_url(tmp_path):
    body = monthly_csv(tmp_path / "s.csv").read_bytes()

    class CsvServer(Server):
        def handle(self, h, method, path, query, body_):
            self.send_file(h, path, body, "text/csv")

    with NetGuard() as guard, CsvServer() as srv:
        srv.faults["/sun.csv"].append({"status": 503})
        cfg = cfg_for(f"{srv.base}/sun.csv")
        cfg["download"] = {"backoff": 0.01}
        paths = run(tmp_path, cfg)
    assert guard.blocked == [] and download.is_complete(paths["manifest"])


# ---------------------------------------------------------------- proxy
def test_angstrom_prescott_inverted():
    lat = np.array([[40.0]])
    ra = proxy.extraterrestrial_monthly(lat, 2001)  # MJ m-2 month-1
    n_max = stations.daylight_hours(lat, 2001)
    rs = (0.25 + 0.5 * 0.6) * ra  # 60 % relative sunshine
    sund = proxy.sunshine_from_radiation(rs, ra, n_max)
    np.testing.assert_allclose(sund, 0.6 * n_max, rtol=1e-12)
    np.testing.assert_allclose(proxy.sunshine_from_radiation(0.1 * ra, ra, n_max), 0.0)  # below a: no sun
    np.testing.assert_allclose(proxy.sunshine_from_radiation(ra, ra, n_max), n_max)  # capped
    assert ra[5, 0, 0] > ra[11, 0, 0] and 1100 < ra[5, 0, 0] < 1300  # ~ 40 MJ m-2 day-1 in June at 40 N


def test_proxy_retrieve_from_meteo(tmp_path):
    lat = np.array([40.05, 39.95])
    lon = np.array([116.0, 116.1])
    time = pd.date_range("2001-01-01", periods=12, freq="MS")
    ra = proxy.extraterrestrial_monthly(lat[:, None] * np.ones((1, 2)), 2001)
    ssrd = (0.25 + 0.5 * 0.5) * ra
    meteo = xr.Dataset({"ssrd": (("time", "y", "x"), ssrd, {"units": "MJ m-2 month-1"})},
                       coords={"time": time, "y": lat, "x": lon}).rio.write_crs("EPSG:4326")
    meteo.to_netcdf(tmp_path / "meteo.nc")
    cfg = {"meteo": "demo", "proxy": {"a": 0.25, "b": 0.5}}
    out = {k: tmp_path / v for k, v in proxy.outputs("sunshine", 2001, cfg).items()}
    proxy.retrieve("sunshine", 2001, cfg, {**out, "meteo": tmp_path / "meteo.nc"})
    ds = proxy.open_year("sunshine", 2001, out["data"])
    n_max = stations.daylight_hours(lat[:, None] * np.ones((1, 2)), 2001)
    np.testing.assert_allclose(ds["sund"].values, 0.5 * n_max, rtol=1e-6)
    assert "Angstrom-Prescott" in ds["sund"].attrs["comment"] and ds["sund"].attrs["units"] == "h month-1"
    assert "proxy" in ds.attrs["source"]


def test_local_source_station_csv(tmp_path):
    from nepflow.sources import local

    root = tmp_path / "mine"
    (root / "sunshine").mkdir(parents=True)
    monthly_csv(root / "sunshine" / "stations.csv")
    cfg = {"local": {"root": str(root)}, "bbox": BBOX, "stations": {"method": "linear", "resolution": 0.1}}
    manifest = tmp_path / local.outputs("sunshine", 2001, cfg)["manifest"]
    local.retrieve("sunshine", 2001, cfg, {"manifest": manifest})
    sund = local.open_year("sunshine", 2001, manifest, cfg)["sund"]
    lon, lat = np.meshgrid(sund.x, sund.y)
    inside = (lon > 114.5) & (lon < 117.5) & (lat > 37.5) & (lat < 40.5)
    assert np.abs(sund.values[6] - plane(lon, lat, 7))[inside].max() < 0.5
