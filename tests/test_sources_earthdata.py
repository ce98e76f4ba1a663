"""MODIS through earthaccess against local CMR/EDL/data servers: search, download, decode, secrets."""

import datetime as dt
import json
import logging

import numpy as np
import pytest

from fakeservers import (
    AWS_METADATA_PROBE,
    FakeEarthdata,
    NetGuard,
    env_without_credentials,
    modis_name,
    scan_for,
    tile_lonlat_bbox,
    write_modis_tile,
)
from nepflow import config as nconfig
from nepflow.errors import NepflowError
from nepflow.sources import download, earthdata, modis

N = 6  # pixels per tile edge in these tests (real 500 m tiles have 2400)
BBOX = [114.0, 38.0, 116.0, 41.0]


def S(cfg: dict) -> dict:
    """A ``sources`` section as a validated config holds it: ``cfg`` over the schema's defaults."""
    return nconfig.defaults("sources", cfg)


@pytest.fixture
def env(monkeypatch, tmp_path):
    env_without_credentials(monkeypatch, tmp_path / "home")
    return tmp_path


@pytest.fixture
def server(env, monkeypatch):
    with NetGuard() as guard, FakeEarthdata(env / "tls") as srv:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", srv.cafile)
        monkeypatch.setenv("EARTHDATA_TOKEN", srv.token)
        srv.guard = guard
        yield srv
    # only loopback was contacted; earthaccess's AWS metadata probe was refused before any packet left
    assert set(guard.blocked) <= {AWS_METADATA_PROBE}, guard.blocked


def make_cfg(srv, tiles=("h26v04", "h26v05"), **extra):
    return S(
        {
            "bbox": BBOX,
            "earthdata": {"cmr_url": srv.cmr_url, "edl_host": srv.host, "tiles": list(tiles), **extra},
            "download": {"tries": 3, "backoff": 0.01, "max_wait": 0.05, "read_timeout": 5},
        }
    )


def paths_for(root, product, year, cfg):
    return {k: root / "data" / "earthdata" / v for k, v in earthdata.outputs(product, year, cfg).items()}


def publish(srv, folder, short, date, tile, arrays, checksum_override=None):
    h, v = int(tile[1:3]), int(tile[4:6])
    d = dt.date.fromisoformat(date)
    name = modis_name(short, f"{d.year}{d.timetuple().tm_yday:03d}", h, v)
    path = write_modis_tile(folder / name, short, h, v, arrays)
    end = d + dt.timedelta(days=7 if short in ("MOD15A2H", "MOD16A2GF") else 364)
    srv.add_granule(path, short, "061", d.isoformat(), end.isoformat(), tile_lonlat_bbox(h, v), checksum_override)
    return path


def fpar_arrays(dn, qc=0):
    return {"Fpar_500m": np.full((N, N), dn, np.uint8), "FparLai_QC": np.full((N, N), qc, np.uint8)}


# ---------------------------------------------------------------- monthly FPAR (known answers)
def test_composite_weights():
    w = earthdata.composite_weights([dt.date(2001, 1, 25), dt.date(2001, 2, 26), dt.date(2001, 12, 27)], 2001)
    assert w[0, :2].tolist() == [7, 1] and w[1, 1:3].tolist() == [3, 5] and w[2].sum() == 5 and w[2, 11] == 5


def test_monthly_fpar_known_values(tmp_path):
    groups = []
    for doy in range(1, 366, 8):
        d = dt.date(2001, 1, 1) + dt.timedelta(doy - 1)
        dn = np.full((N, N), 50, np.uint8)
        qc = np.zeros((N, N), np.uint8)
        dn[:] = {1: 10, 9: 20, 17: 30, 25: 40}.get(doy, 50)
        if doy == 9:
            qc[0, 0] = 1  # back-up algorithm at pixel (0, 0): excluded from its January mean
        if d.month == 3 or (doy == 57):
            qc[0, 1] = 1  # pixel (0, 1): only back-up retrievals in March
            dn[0, 1] = 70
        if d.month == 4 or doy == 89:
            dn[0, 2] = 255  # pixel (0, 2): no retrieval in April -> interpolated
        dn[1, 0] = 254  # water
        path = write_modis_tile(
            tmp_path / modis_name("MOD15A2H", f"2001{doy:03d}", 26, 4),
            "MOD15A2H",
            26,
            4,
            {"Fpar_500m": dn, "FparLai_QC": qc},
        )
        groups.append((d, [path], 1.0))
    da, counts = earthdata.monthly_fpar(groups, 2001)
    f = da.values
    assert f[0, 3, 3] == pytest.approx((8 * 10 + 8 * 20 + 8 * 30 + 7 * 40) / 31 / 100)
    assert f[0, 0, 0] == pytest.approx((8 * 10 + 8 * 30 + 7 * 40) / 23 / 100)
    assert f[1, 3, 3] == pytest.approx((40 * 1 + 50 * 27) / 28 / 100)
    assert f[11, 3, 3] == pytest.approx(0.5)
    assert f[2, 0, 1] == pytest.approx(0.7)  # every March composite back-up only: their mean is used
    assert f[1, 0, 1] == pytest.approx((40 * 1 + 50 * 24) / 25 / 100)  # February: composite 57 (back-up) left out
    assert f[3, 0, 2] == pytest.approx(0.5)  # interpolated between March and May (both 0.5)
    assert np.isnan(f[:, 1, 0]).all()
    assert counts["interpolated"] == 1 and counts["missing"] == 12
    zero, _ = earthdata.monthly_fpar(groups, 2001, nonveg="zero")
    assert (zero.values[:, 1, 0] == 0).all()


# ---------------------------------------------------------------- retrieval
def test_fpar_2000_with_climatology_fill(server, env, caplog):
    caplog.set_level(logging.DEBUG)
    granules = env / "server"
    for doy in range(49, 366, 8):
        publish(
            server,
            granules,
            "MOD15A2H",
            (dt.date(2000, 1, 1) + dt.timedelta(doy - 1)).isoformat(),
            "h26v04",
            fpar_arrays(70),
        )
    for year, dn in ((2001, 30), (2002, 50)):
        for doy in range(1, 366, 8):
            publish(
                server,
                granules,
                "MOD15A2H",
                (dt.date(year, 1, 1) + dt.timedelta(doy - 1)).isoformat(),
                "h26v04",
                fpar_arrays(dn),
            )
    cfg = make_cfg(server, tiles=("h26v04",), fpar_fill_years=[2001, 2002])
    paths = paths_for(env, "fpar", 2000, cfg)
    earthdata.retrieve("fpar", 2000, cfg, paths)
    m = json.loads(paths["manifest"].read_text())
    assert m["short_name"] == "MOD15A2H" and m["versions"] == {"MOD15A2H": "061"} and m["data_year"] == 2000
    main = [f for f in m["files"] if "role" not in f]
    fill = [f for f in m["files"] if f.get("role") == "gap_fill"]
    assert len(main) == 40 and len(fill) == 12 and fill[0]["name"].startswith("../2001/")
    assert all(f["checksum"]["algorithm"] == "MD5" and len(f["sha256"]) == 64 for f in m["files"])
    assert download.is_complete(paths["manifest"])

    ds = earthdata.open_year("fpar", 2000, paths["manifest"], cfg)
    f = ds["fpar"].values
    assert ds.rio.crs.to_proj4().count("sinu") == 1
    assert f.shape[0] == 12 and f.size > 12 and np.allclose(f[0], 0.40)  # January 2000 = 2001-2002 climatology
    assert f[1, 0, 0] == pytest.approx((40 * 17 + 70 * 12) / 29 / 100)  # February: climatology 1-17, data 18-29
    assert f[5, 0, 0] == pytest.approx(0.70)
    assert "climatology" in ds["fpar"].attrs["comment"] and ds["fpar"].attrs["units"] == "1"

    n = len(server.requests)
    earthdata.retrieve("fpar", 2000, cfg, paths)  # complete: no login, no search, no download
    assert len(server.requests) == n
    assert server.token not in caplog.text


def test_landcover_and_npp_mosaic(server, env):
    granules = env / "server"
    for tile, lc, npp in (("h26v04", 12, 4000), ("h26v05", 10, 2500)):
        publish(server, granules, "MCD12Q1", "2001-01-01", tile, {"LC_Type1": np.full((N, N), lc, np.uint8)})
        arr = np.full((N, N), npp, np.int16)
        x, y = modis.lonlat_to_sinusoidal(115.0, 40.5)  # inside BBOX, in tile h26v04
        w, _, _, n = modis.tile_bounds(26, 4)
        if tile == "h26v04":
            arr[int((n - y) // (modis.TILE_WIDTH / N)), int((x - w) // (modis.TILE_WIDTH / N))] = 32765  # fill code
        publish(server, granules, "MOD17A3HGF", "2001-01-01", tile, {"Npp_500m": arr})
    cfg = make_cfg(server)
    lc_paths = paths_for(env, "landcover", 2000, cfg)  # MCD12Q1 starts 2001: 2000 uses 2001
    earthdata.retrieve("landcover", 2000, cfg, lc_paths)
    rules = {"12": [0, 0, 0, 0, 0, 0.6, 0.9, 0.9, 0.8, 0, 0, 0], "10": 0.15, "default": 0}
    lc = earthdata.open_year("landcover", 2000, lc_paths["manifest"], cfg, rules)
    c4 = lc["c4_frac"]
    assert c4.sizes["time"] == 12 and float(c4.isel(time=6, y=0, x=0)) == pytest.approx(0.9)
    assert float(c4.isel(time=0, y=-1, x=0)) == pytest.approx(0.15)
    assert "stands in for 2000" in c4.attrs["comment"]
    npp_paths = paths_for(env, "npp", 2001, cfg)
    earthdata.retrieve("npp", 2001, cfg, npp_paths)
    npp = earthdata.open_year("npp", 2001, npp_paths["manifest"], cfg)["npp_mod17"]
    assert npp.attrs["units"] == "g m-2 yr-1" and npp.dims == ("y", "x")
    assert float(npp.isel(y=-1, x=-1)) == pytest.approx(250.0)  # DN 2500 x 0.1
    assert float(npp.isel(y=0, x=-1)) == pytest.approx(400.0)
    # the tiles are stacked north (v04) over south (v05), on the sinusoidal grid
    assert np.isnan(npp.values).sum() == 1 and npp.y.values[0] > npp.y.values[-1]
    assert np.isnan(float(npp.sel(x=x, y=y, method="nearest")))
    with pytest.raises(NepflowError, match=r"MOD17A3HGF \(sources.npp\) starts in 2001.*carbon.npp: tec"):
        earthdata.retrieve("npp", 2000, cfg, paths_for(env, "npp", 2000, cfg))


def test_mod16_evap_monthly_totals_by_day_overlap(server, env):
    """MOD16A2GF: 8-day sums (DN x 0.1 mm; the last composite 5 days) split over months by their days;
    fill codes are NaN; a missing composite scales the month by its covered days. Expected values from a
    day-by-day sum, independent of the code's weights."""
    year, granules = 2001, env / "server"
    starts = [dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(0, 365, 8)]
    assert len(starts) == 46
    dn = {d: 100 + 3 * i for i, d in enumerate(starts)}  # 10.0, 10.3, ... mm per composite
    for d in starts:
        arr = np.full((N, N), dn[d], np.int16)
        arr[0, 0] = 32762  # urban: no ET all year
        if d == dt.date(year, 3, 6):
            arr[1, 1] = 32767  # fill in one composite (6-13 March)
        publish(
            server,
            granules,
            "MOD16A2GF",
            d.isoformat(),
            "h26v04",
            {"ET_500m": arr, "ET_QC_500m": np.zeros((N, N), np.uint8)},
        )
    cfg = make_cfg(server, tiles=("h26v04",))
    cfg["bbox"] = list(tile_lonlat_bbox(26, 4))  # the whole tile: mosaic pixels are the tile's
    paths = paths_for(env, "evap", year, cfg)
    assert paths["manifest"].parent.parent.name == "MOD16A2GF.061"
    earthdata.retrieve("evap", year, cfg, paths)
    evap = earthdata.open_year("evap", year, paths["manifest"], cfg)["evap"]
    assert evap.attrs["units"] == "mm month-1" and evap.dims == ("time", "y", "x") and evap.shape == (12, N, N)
    assert evap.attrs["pixel_months_scaled"] == 1
    days = [dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(365)]

    def rate(day, skip=None):  # mm per day of the composite holding ``day``
        c = max(d for d in starts if d <= day)
        length = min(8, (dt.date(year, 12, 31) - c).days + 1)
        return None if c == skip else dn[c] * 0.1 / length

    expected = np.array([sum(rate(x) for x in days if x.month == m) for m in range(1, 13)])
    np.testing.assert_allclose(evap.values[:, 3, 3], expected, rtol=1e-6)
    assert expected.sum() == pytest.approx(sum(dn.values()) * 0.1)  # the year's total is kept exactly
    assert np.isnan(evap.values[:, 0, 0]).all()
    march = [r for x in days if x.month == 3 and (r := rate(x, skip=dt.date(year, 3, 6))) is not None]
    np.testing.assert_allclose(evap.values[2, 1, 1], np.mean(march) * 31, rtol=1e-6)
    np.testing.assert_allclose(evap.values[3:, 1, 1], expected[3:], rtol=1e-6)


def test_download_faults_and_checksum(server, env):
    granules = env / "server"
    p1 = publish(server, granules, "MCD12Q1", "2001-01-01", "h26v04", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    p2 = publish(server, granules, "MCD12Q1", "2001-01-01", "h26v05", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    path1 = next(k for k in server.files if k.endswith(p1.name))
    path2 = next(k for k in server.files if k.endswith(p2.name))
    server.faults[path1].extend([{"status": 500}, {"status": 429, "retry_after": "0.01"}])
    server.faults[path2].extend([{"truncate": 100}])
    server.faults["/search/granules.umm_json"].append({"status": 503})
    cfg = make_cfg(server)
    paths = paths_for(env, "landcover", 2001, cfg)
    earthdata.retrieve("landcover", 2001, cfg, paths)
    assert download.is_complete(paths["manifest"])
    # a catalogue checksum that never matches: one-line error, nothing cached under the granule's name
    bad = publish(
        server,
        granules,
        "MOD17A3HGF",
        "2001-01-01",
        "h26v04",
        {"Npp_500m": np.zeros((N, N), np.int16)},
        checksum_override="0" * 32,
    )
    publish(server, granules, "MOD17A3HGF", "2001-01-01", "h26v05", {"Npp_500m": np.zeros((N, N), np.int16)})
    npp_paths = paths_for(env, "npp", 2001, cfg)
    with pytest.raises(NepflowError, match="MD5 checksum mismatch") as err:
        earthdata.retrieve("npp", 2001, cfg, npp_paths)
    assert "\n" not in str(err.value)
    folder = npp_paths["manifest"].parent
    assert not (folder / bad.name).exists() and not npp_paths["manifest"].exists()
    assert not any(p.name.startswith(".") for p in folder.iterdir())


def test_earthaccess_transfer_option(server, env):
    p = publish(server, env / "server", "MCD12Q1", "2001-01-01", "h26v04", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    cfg = make_cfg(server, tiles=("h26v04",), transfer="earthaccess")
    paths = paths_for(env, "landcover", 2001, cfg)
    earthdata.retrieve("landcover", 2001, cfg, paths)
    rec = json.loads(paths["manifest"].read_text())["files"][0]
    assert rec["name"] == p.name and rec["size"] == p.stat().st_size
    assert (paths["manifest"].parent / p.name).read_bytes() == p.read_bytes()


def test_missing_credentials_and_token_secrecy(server, env, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    publish(server, env / "server", "MCD12Q1", "2001-01-01", "h26v04", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    cfg = make_cfg(server, tiles=("h26v04",))
    paths = paths_for(env, "landcover", 2001, cfg)
    monkeypatch.delenv("EARTHDATA_TOKEN")
    with pytest.raises(NepflowError, match=r"EARTHDATA_TOKEN.*EARTHDATA_USERNAME.*EARTHDATA_PASSWORD.*netrc") as err:
        earthdata.retrieve("landcover", 2001, cfg, paths)
    assert "\n" not in str(err.value) and server.requests == []
    monkeypatch.setenv("EARTHDATA_TOKEN", "tok-wrong-0000")
    with pytest.raises(NepflowError, match="refused the credentials.*EARTHDATA_TOKEN.*60 days") as err:
        earthdata.retrieve("landcover", 2001, cfg, paths)
    assert "tok-wrong-0000" not in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv("EARTHDATA_TOKEN", server.token)
    earthdata.retrieve("landcover", 2001, cfg, paths)
    ds = earthdata.open_year("landcover", 2001, paths["manifest"], cfg, {"12": 0.5})
    ds.to_netcdf(env / "out.nc")
    out = capsys.readouterr()
    secrets = [server.token, "tok-wrong-0000"]
    text = caplog.text + out.out + out.err + json.dumps(cfg) + repr(ds.attrs)
    assert not any(s in text for s in secrets)
    assert scan_for(secrets, [env / "data", env / "out.nc"]) == []


@pytest.mark.parametrize("where", ["login", "cmr", "data_401", "login_page", "login_page_earthaccess"])
def test_refused_token_is_one_permanent_line(server, env, monkeypatch, where):
    """An expired token: CMR 401, data server 401, or the login page instead of the granule; no retry."""
    p = publish(server, env / "server", "MCD12Q1", "2001-01-01", "h26v04", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    cfg = make_cfg(server, tiles=("h26v04",), **({"transfer": "earthaccess"} if where.endswith("earthaccess") else {}))
    paths = paths_for(env, "landcover", 2001, cfg)
    expired = "tok-expired-0000"
    if where == "login":  # Earthdata Login's profile refuses it
        monkeypatch.setenv("EARTHDATA_TOKEN", expired)
    elif where == "cmr":  # expired after the login
        server.refuse.add("cmr")
    else:  # CMR accepts the token; the data server does not
        server.refuse.add("data")
        server.login_page = where.startswith("login_page")
    with pytest.raises(NepflowError) as err:
        earthdata.retrieve("landcover", 2001, cfg, paths)
    msg = str(err.value)
    assert "\n" not in msg and "EARTHDATA_TOKEN" in msg and "60 days" in msg, msg
    assert "size mismatch" not in msg and "tries" not in msg, msg
    named = {"login": "Earthdata login", "cmr": "CMR refused", "data_401": "HTTP 401"}.get(where, "HTML page")
    assert named in msg and (where in ("login", "cmr") or p.name in msg), msg
    searches = [r for r in server.requests if r["path"].startswith("/search/granules")]
    gets = [r for r in server.requests if r["path"].startswith("/lp-prod")]
    expect = {"login": (0, 0), "cmr": (1, 0)}.get(where, (len(searches), 1))  # one request refused, none repeated
    assert (len(searches), len(gets)) == expect, (searches, gets)
    assert not paths["manifest"].exists() and not (paths["manifest"].parent / p.name).exists()
    assert expired not in msg


@pytest.fixture
def server443(env, monkeypatch):
    """EDL password logins need the server on port 443 (earthaccess matches the EDL host by name only)."""
    try:
        srv = FakeEarthdata(env / "tls", port=443)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.1:443 for the EDL basic-auth flow ({exc})")
    with NetGuard() as guard, srv:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", srv.cafile)
        yield srv
    assert set(guard.blocked) <= {AWS_METADATA_PROBE}, guard.blocked


def test_password_logins(server443, env, monkeypatch, caplog, capsys):
    server = server443
    caplog.set_level(logging.DEBUG)
    publish(server, env / "server", "MCD12Q1", "2001-01-01", "h26v04", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    cfg = make_cfg(server, tiles=("h26v04",))
    assert cfg["earthdata"]["edl_host"] == "127.0.0.1"
    paths = paths_for(env, "landcover", 2001, cfg)
    # wrong password: EDL refuses, one line, no secret
    monkeypatch.setenv("EARTHDATA_USERNAME", server.username)
    monkeypatch.setenv("EARTHDATA_PASSWORD", "wrong-password-123")
    with pytest.raises(NepflowError, match="Earthdata login at 127.0.0.1 failed") as err:
        earthdata.retrieve("landcover", 2001, cfg, paths)
    assert "wrong-password-123" not in str(err.value) and "\n" not in str(err.value)
    # username/password from the environment, then from ~/.netrc
    monkeypatch.setenv("EARTHDATA_PASSWORD", server.password)
    earthdata.retrieve("landcover", 2001, cfg, paths)
    paths["manifest"].unlink()
    monkeypatch.delenv("EARTHDATA_USERNAME")
    monkeypatch.delenv("EARTHDATA_PASSWORD")
    netrc = env / "home" / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {server.username} password {server.password}\n")
    netrc.chmod(0o600)
    earthdata.retrieve("landcover", 2001, cfg, paths)
    logins = [r for r in server.requests if r["path"] == "/api/users/find_or_create_token"]
    assert len(logins) >= 3 and any("Authorization" in r["headers"] for r in logins)
    ds = earthdata.open_year("landcover", 2001, paths["manifest"], cfg, {"12": 0.5})
    ds.to_netcdf(env / "out.nc")
    out = capsys.readouterr()
    secrets = [server.password, server.token, "wrong-password-123"]
    text = caplog.text + out.out + out.err + json.dumps(cfg) + repr(ds.attrs)
    assert not any(s in text for s in secrets)
    assert scan_for(secrets, [env / "data", env / "out.nc"]) == []


def test_no_granules_and_missing_tile(server, env):
    publish(server, env / "server", "MCD12Q1", "2001-01-01", "h26v04", {"LC_Type1": np.full((N, N), 12, np.uint8)})
    cfg = make_cfg(server)
    with pytest.raises(NepflowError, match="no MCD12Q1 granule of 2001 for tile\\(s\\) h26v05"):
        earthdata.retrieve("landcover", 2001, cfg, paths_for(env, "landcover", 2001, cfg))
    with pytest.raises(NepflowError, match="CMR found no MCD12Q1.061 granules of 2005"):
        earthdata.retrieve("landcover", 2005, cfg, paths_for(env, "landcover", 2005, cfg))


def test_outputs_and_tiles():
    cfg = S({"bbox": [110.2, 34.3, 122.8, 42.7], "earthdata": {"tiles": ["h27v05", "h26v04"]}})
    assert earthdata.outputs("fpar", 2003, cfg) == {"manifest": "MOD15A2H.061/2003/fpar-h26v04_h27v05.json"}
    assert "h28v05" in earthdata.tiles(S({"bbox": [110.2, 34.3, 122.8, 42.7]}))
    with pytest.raises(NepflowError, match="sources.earthdata.tiles"):
        earthdata.tiles(S({"bbox": [0, 0, 1, 1], "earthdata": {"tiles": ["26-4"]}}))
    with pytest.raises(NepflowError, match="fpar_qc"):
        earthdata.settings(S({"earthdata": {"fpar_qc": "best"}}))
    assert modis.tiles_for_bbox(BBOX) == [(26, 4), (26, 5), (27, 5)]  # 116 E, 38 N is in h27v05


def test_local_source_tiles_and_geotiff(tmp_path):
    """sources.fpar/landcover: local read MODIS tiles or a GeoTIFF from <root>/<product>/."""
    import xarray as xr

    from nepflow.sources import local

    root = tmp_path / "mine"
    for doy in range(1, 366, 8):
        write_modis_tile(
            root / "fpar" / "2003" / modis_name("MOD15A2H", f"2003{doy:03d}", 26, 4), "MOD15A2H", 26, 4, fpar_arrays(60)
        )
    lc = xr.DataArray(
        np.full((4, 5), 12, np.uint8),
        dims=("y", "x"),
        coords={"y": [39.875, 39.625, 39.375, 39.125], "x": 115 + 0.25 * np.arange(5) + 0.125},
    )
    (root / "landcover").mkdir(parents=True)
    lc.rio.write_crs("EPSG:4326").rio.to_raster(root / "landcover" / "2003.tif")
    cfg = S({"local": {"root": str(root)}, "bbox": BBOX})
    out = {}
    for product in ("fpar", "landcover"):
        manifest = tmp_path / "data" / local.outputs(product, 2003, cfg)["manifest"]
        local.retrieve(product, 2003, cfg, {"manifest": manifest})
        out[product] = local.open_year(product, 2003, manifest, cfg, {"12": [0.1 * (m % 2) for m in range(12)]})
    assert np.allclose(out["fpar"]["fpar"].values, 0.6) and out["fpar"].rio.crs.to_proj4().count("sinu")
    c4 = out["landcover"]["c4_frac"]
    assert c4.shape == (12, 4, 5) and float(c4[1, 0, 0]) == pytest.approx(0.1) and c4.rio.crs.to_epsg() == 4326
    assert len(local.inputs("fpar", 2003, cfg)) == 46


def test_evap_source_choice():
    from nepflow import sources

    sources.check_choice("evap", "earthdata")
    with pytest.raises(NepflowError, match="config key sources.evap: source 'cds' does not provide evap"):
        sources.check_choice("evap", "cds")
    assert earthdata.outputs("evap", 2003, S({"bbox": BBOX, "earthdata": {"tiles": ["h26v04"]}})) == {
        "manifest": "MOD16A2GF.061/2003/evap-h26v04.json"
    }
