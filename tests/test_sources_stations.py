"""Station sunshine: CSV validation, monthly totals, scipy interpolation, sunshine proxy."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fakeservers import NetGuard, Server
from nepflow import config as nconfig
from nepflow.errors import NepflowError
from nepflow.sources import download, proxy, stations

BBOX = [114.0, 37.0, 118.0, 41.0]


def S(cfg: dict) -> dict:
    """A ``sources`` section as a validated config holds it: ``cfg`` over the schema's defaults."""
    return nconfig.defaults("sources", cfg)


RNG = np.random.default_rng(7)
LON = RNG.uniform(113.5, 118.5, 40)
LAT = RNG.uniform(36.5, 41.5, 40)


def plane(lon, lat, month):
    return 150 + 4.0 * (lon - 116) - 6.0 * (lat - 39) + month


def monthly_csv(path, year=2001, lon=LON, lat=LAT):
    rows = [
        (f"S{i:03d}", lo, la, f"{year}-{m:02d}", plane(lo, la, m))
        for i, (lo, la) in enumerate(zip(lon, lat))
        for m in range(1, 13)
    ]
    pd.DataFrame(rows, columns=stations.COLUMNS).to_csv(path, index=False)
    return path


def cfg_for(path, **kw):
    return S({"bbox": BBOX, "stations": {"file": str(path), **kw}})


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


@pytest.mark.parametrize("method", stations.METHODS)
def test_months_with_the_same_stations_are_interpolated_together(method):
    """monthly_surfaces gives each month what one call per month gives, also where one month has a
    station fewer (a second group) and the months' values differ."""
    rows = [
        (f"S{i:03d}", lo, la, m, plane(lo, la, m) + 3 * np.sin(i + m))
        for i, (lo, la) in enumerate(zip(LON, LAT))
        for m in range(1, 13)
        if not (i == 5 and m == 7)
    ]
    totals = pd.DataFrame(rows, columns=["station_id", "lon", "lat", "month", "hours"])
    glon, glat = np.meshgrid(np.arange(114.0, 118.0, 0.25), np.arange(41.0, 37.0, -0.25))
    got = stations.monthly_surfaces(totals, glon, glat, method, 0.0)
    assert got.shape == (12,) + glon.shape
    for m in range(1, 13):
        t = totals[totals["month"] == m]
        one = stations.interpolate(t["lon"], t["lat"], t["hours"], glon, glat, method)
        np.testing.assert_allclose(got[m - 1], one, rtol=1e-9, atol=1e-9, err_msg=f"month {m}")
    assert not np.allclose(got[6], got[5])


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
        cfg["download"]["backoff"] = 0.01
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
    meteo = xr.Dataset(
        {"ssrd": (("time", "y", "x"), ssrd, {"units": "MJ m-2 month-1"})}, coords={"time": time, "y": lat, "x": lon}
    ).rio.write_crs("EPSG:4326")
    meteo.to_netcdf(tmp_path / "meteo.nc")
    cfg = S({"meteo": "demo", "proxy": {"a": 0.25, "b": 0.5}})
    out = {k: tmp_path / v for k, v in proxy.outputs("sunshine", 2001, cfg).items()}
    proxy.retrieve("sunshine", 2001, cfg, {**out, "meteo": tmp_path / "meteo.nc"})
    ds = proxy.open_year("sunshine", 2001, out["data"])
    n_max = stations.daylight_hours(lat[:, None] * np.ones((1, 2)), 2001)
    np.testing.assert_allclose(ds["sund"].values, 0.5 * n_max, rtol=1e-6)
    assert "Angstrom-Prescott" in ds["sund"].attrs["comment"] and ds["sund"].attrs["units"] == "h month-1"
    assert "proxy" in ds.attrs["source"]


def test_proxy_keeps_the_sea_mask_for_the_coastal_fill(tmp_path):
    """ERA5-Land's sea cells (no ssrd) give no sunshine (NaN, not 0), so regrid fills them like the meteorology."""
    from nepflow import grid, regrid

    target = grid.target_grid("EPSG:4326", 0.1, bounds=[117.0, 38.5, 117.4, 38.9])
    lat2 = np.broadcast_to(target.y.values[:, None], (4, 4))
    ra = proxy.extraterrestrial_monthly(lat2, 2001)
    ssrd = (0.25 + 0.5 * 0.5) * ra
    ssrd[:, :, 3] = np.nan  # the easternmost column is sea
    meteo = xr.Dataset(
        {"ssrd": (("time", "y", "x"), ssrd, {"units": "MJ m-2 month-1"})},
        coords={"time": pd.date_range("2001-01-01", periods=12, freq="MS"), "y": target.y.values, "x": target.x.values},
    ).rio.write_crs("EPSG:4326")
    meteo.to_netcdf(tmp_path / "meteo.nc")
    cfg = S({"meteo": "demo"})
    out = {k: tmp_path / v for k, v in proxy.outputs("sunshine", 2001, cfg).items()}
    proxy.retrieve("sunshine", 2001, cfg, {**out, "meteo": tmp_path / "meteo.nc"})
    sund = proxy.open_year("sunshine", 2001, out["data"])["sund"]
    assert np.isnan(sund.values[:, :, 3]).all() and np.isfinite(sund.values[:, :, :3]).all()
    filled, n = regrid.fill_coastal(regrid.to_target(sund, target, "bilinear"), np.ones((4, 4), bool), 20.0)
    assert n == 4 and np.isfinite(filled.values).all()
    np.testing.assert_allclose(filled.values[:, :, 3], filled.values[:, :, 2])


def test_local_source_station_csv(tmp_path):
    from nepflow.sources import local

    root = tmp_path / "mine"
    (root / "sunshine").mkdir(parents=True)
    monthly_csv(root / "sunshine" / "stations.csv")
    cfg = S({"local": {"root": str(root)}, "bbox": BBOX, "stations": {"method": "linear", "resolution": 0.1}})
    manifest = tmp_path / local.outputs("sunshine", 2001, cfg)["manifest"]
    local.retrieve("sunshine", 2001, cfg, {"manifest": manifest})
    sund = local.open_year("sunshine", 2001, manifest, cfg)["sund"]
    lon, lat = np.meshgrid(sund.x, sund.y)
    inside = (lon > 114.5) & (lon < 117.5) & (lat > 37.5) & (lat < 40.5)
    assert np.abs(sund.values[6] - plane(lon, lat, 7))[inside].max() < 0.5


# ---------------------------------------------------------------- archive layouts and implausible values
def cma_lines(stations_, year=2001, months=(1, 2), value=lambda i, d: 60 + i + d.day % 5, qc=True):
    """Daily sunshine as the CMA archive ships it: station lat(ddmm) lon(dddmm) alt(0.1 m) year month day
    sunshine(0.1 h) qc, whitespace-aligned."""
    out = []
    for i, (sid, lat_dm, lon_dm) in enumerate(stations_):
        for d in pd.date_range(f"{year}-{months[0]:02d}-01", f"{year}-{months[-1]:02d}-28"):
            if d.month not in months:
                continue
            v = value(i, d)
            out.append(
                f"{sid} {lat_dm:5d} {lon_dm:5d} {313:6d} {d.year:5d} {d.month:3d} {d.day:3d} {v:6d}"
                + (f" {0:3d}" if qc else "")
            )
    return "\n".join(out) + "\n"


CMA_STATIONS = [("54527", 3905, 11704), ("54511", 3948, 11628), ("54623", 3903, 11743)]


def test_cma_daily_layout_converted(tmp_path):
    p = tmp_path / "ssd.txt"

    def missing(i, d):
        return 32766 if (i == 0 and d.month == 1 and d.day <= 3) else 60 + i + d.day % 5

    p.write_text(cma_lines(CMA_STATIONS, value=missing))
    df = stations.read_cma_daily(p)
    s0 = df[df.station_id == "54527"]
    assert s0["lat"].iloc[0] == pytest.approx(39 + 5 / 60) and s0["lon"].iloc[0] == pytest.approx(117 + 4 / 60)
    assert df[df.station_id == "54511"]["lat"].iloc[0] == pytest.approx(39.8)
    assert np.isnan(s0["hours"].iloc[:3]).all() and s0["hours"].iloc[3] == pytest.approx(6.0 + (4 % 5) * 0.1)
    assert s0["date"].iloc[0] == "2001-01-01"
    # January of station 54527: 28 valid days of 31 -> mean x 31; the days with 32766 are missing, not zero
    cfg = cfg_for(p, format="cma_daily")
    tot = stations.monthly_totals(df, 2001)
    jan = tot[(tot.month == 1) & (tot.station_id == "54527")]["hours"].iloc[0]
    days = pd.date_range("2001-01-04", "2001-01-31")
    assert jan == pytest.approx(np.mean([6.0 + (d.day % 5) * 0.1 for d in days]) * 31)
    assert stations.outputs("sunshine", 2001, cfg) != stations.outputs("sunshine", 2001, cfg_for(p))


@pytest.mark.parametrize(
    "case,text,match",
    [
        ("code", None, r"station 54511, 2001-01-05: sunshine code 32744; expected 0.1 h values or 32766"),
        ("day", None, r"station 54623, 2001-02-10: sunshine 25.3 h is above 24 h of a day"),
        ("minutes", None, r"station 54527, 2001-01-01: lat '3975'; expected degrees and minutes"),
        ("layout", "54527 3905 11704 313 2001 1 x 60\n", r"line 1: .* is not the CMA daily layout"),
    ],
)
def test_cma_daily_bad_values_are_one_line(tmp_path, case, text, match):
    if text is None:

        def value(i, d):
            if case == "code" and i == 1 and d.month == 1 and d.day == 5:
                return 32744
            if case == "day" and i == 2 and d.month == 2 and d.day == 10:
                return 253
            return 60

        rows = [(s, 3975, lo) if case == "minutes" and s == "54527" else (s, la, lo) for s, la, lo in CMA_STATIONS]
        text = cma_lines(rows, value=value)
    p = tmp_path / "ssd.txt"
    p.write_text(text)
    with pytest.raises(NepflowError, match=match) as err:
        run(tmp_path, cfg_for(p, format="cma_daily"))
    assert "\n" not in str(err.value) and str(p) in str(err.value)
    assert not list((tmp_path / "data").rglob("*.csv"))  # nothing half-written


@pytest.mark.parametrize(
    "date,hours,match",
    [
        (
            "2001-06",
            32766,
            r"station S001, 2001-06: sunshine 32766 h is above the 4\d\d\.\d daylight hours .*missing-value code",
        ),
        ("2001-12", 300.0, r"station S001, 2001-12: sunshine 300 h is above the 2\d\d\.\d daylight hours of the month"),
        ("2001-03-04", 24.5, r"station S001, 2001-03-04: sunshine 24.5 h is above 24 h of a day"),
        ("2001-03-04", 999.9, r"above 24 h of a day \(a missing-value code"),
        ("2001-03-04", -1, r"station S001, 2001-03-04: negative sunshine hours"),
    ],
)
def test_implausible_csv_values_rejected_not_clipped(tmp_path, date, hours, match):
    daily = len(date) == 10
    dates = (
        [f"2001-{m:02d}" for m in range(1, 13)]
        if not daily
        else [d.strftime("%Y-%m-%d") for d in pd.date_range("2001-01-01", "2001-12-31")]
    )
    rows = [(f"S{i:03d}", LON[i], LAT[i], t, 5.0 if daily else 150.0) for i in range(4) for t in dates]
    df = pd.DataFrame(rows, columns=stations.COLUMNS)
    df.loc[(df.station_id == "S001") & (df.date == date), "hours"] = hours
    p = tmp_path / "s.csv"
    df.to_csv(p, index=False)
    with pytest.raises(NepflowError, match=match) as err:
        run(tmp_path, cfg_for(p))
    assert "\n" not in str(err.value) and str(p) in str(err.value)
