"""ERA5-Land through cdsapi against a local CDS stand-in: request, retries, cache, units, secrets."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fakeservers import FakeCDS, NetGuard, cds_delivery, env_without_credentials, scan_for
from nepflow import config as nconfig
from nepflow.errors import NepflowError
from nepflow.provenance import file_sha256
from nepflow.sources import cds, download

KEY = "0f1e2d3c-fake-cds-key-4b5a69788796"
BBOX = [115.0, 38.0, 116.0, 39.0]


def S(cfg: dict) -> dict:
    """A ``sources`` section as a validated config holds it: ``cfg`` over the schema's defaults."""
    return nconfig.defaults("sources", cfg)


@pytest.fixture
def env(monkeypatch, tmp_path):
    env_without_credentials(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("CDSAPI_KEY", KEY)
    return tmp_path


def make_cfg(srv, **download_cfg):
    return S(
        {
            "bbox": BBOX,
            "cds": {"url": srv.url, "poll_interval": 0.01},
            "download": {"tries": 3, "backoff": 0.01, "max_wait": 0.05, "read_timeout": 5, **download_cfg},
        }
    )


def paths_for(tmp_path, cfg, year=2001):
    rel = cds.outputs("meteo", year, cfg)
    return {k: tmp_path / "data" / "cds" / v for k, v in rel.items()}


def delivered(paths):
    """The delivered file the manifest names (<year>.zip or <year>.nc)."""
    return paths["manifest"].parent / json.loads(paths["manifest"].read_text())["files"][0]["name"]


@pytest.fixture
def cds_server(env):
    with NetGuard() as guard, FakeCDS(KEY, cds_delivery()) as srv:
        yield srv
    assert guard.blocked == []


def test_request_is_what_the_cds_expects():
    req = cds.request(2003, [110, 34, 123, 43], S({}))
    assert req["area"] == [43.0, 110.0, 34.0, 123.0]  # N, W, S, E
    assert req["product_type"] == ["monthly_averaged_reanalysis"] and req["year"] == ["2003"]
    assert req["month"] == [f"{m:02d}" for m in range(1, 13)] and req["data_format"] == "netcdf"
    assert set(req["variable"]) == {
        "2m_temperature",
        "total_precipitation",
        "surface_solar_radiation_downwards",
        "surface_net_solar_radiation",
        "surface_net_thermal_radiation",
        "total_evaporation",
    }
    out = cds.outputs("meteo", 2003, S({"bbox": [110, 34, 123, 43]}))
    assert list(out) == ["manifest"]  # the delivered file's name follows its content
    assert out["manifest"].startswith("reanalysis-era5-land-monthly-means/110_34_123_43-")
    assert out["manifest"].endswith("/2003.json")


def test_retrieve_open_and_skip(cds_server, env, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = make_cfg(cds_server)
    paths = paths_for(env, cfg)
    cds.retrieve("meteo", 2001, cfg, paths)
    posted = [json.loads(r["body"])["inputs"] for r in cds_server.requests if r["method"] == "POST"]
    assert posted == [cds.request(2001, BBOX, cfg)]
    m = json.loads(paths["manifest"].read_text())
    rec = m["files"][0]
    paths["data"] = delivered(paths)
    assert rec["name"] == "2001.zip" and rec["size"] == paths["data"].stat().st_size  # a zip is named .zip
    assert rec["sha256"] == file_sha256(paths["data"])
    assert (
        m["request"] == cds.request(2001, BBOX, cfg)
        and m["versions"]["dataset"] == "reanalysis-era5-land-monthly-means"
    )
    assert "time" not in json.dumps(m).replace('"time": ["00:00"]', "")  # no retrieval time recorded

    ds = cds.open_year("meteo", 2001, paths["manifest"])
    assert set(ds.data_vars) == {"tas", "pr", "ssrd", "rn", "evap"} and ds.sizes["time"] == 12
    assert ds.rio.crs.to_epsg() == 4326 and ds.y.values[0] > ds.y.values[-1]
    assert ds["pr"].attrs["units"] == "mm month-1" and ds["tas"].attrs["units"] == "degC"
    # the same numbers as the delivered file, converted by hand
    raw = cds.open_raw(paths["data"])
    d = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], float)[:, None, None]
    np.testing.assert_allclose(ds["tas"].values, raw["t2m"].values.astype(float) - 273.15, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds["pr"].values, raw["tp"].values.astype(float) * d * 1000, rtol=1e-14)
    np.testing.assert_allclose(
        ds["rn"].values, (raw["ssr"].values.astype(float) + raw["str"].values) * d / 1e6, rtol=1e-14
    )
    np.testing.assert_allclose(ds["evap"].values, -raw["e"].values.astype(float) * d * 1000, rtol=1e-14)

    n = len(cds_server.requests)
    cds.retrieve("meteo", 2001, cfg, paths)  # complete in the cache: no traffic
    assert len(cds_server.requests) == n
    paths["data"].write_bytes(paths["data"].read_bytes()[:-10] + b"0123456789")  # damaged cache entry
    cds.retrieve("meteo", 2001, cfg, paths)
    assert len(cds_server.requests) > n
    assert download.is_complete(paths["manifest"])
    assert KEY not in caplog.text


def test_single_netcdf_delivery(env):
    with NetGuard(), FakeCDS(KEY, cds_delivery(zipped=False)) as srv:
        cfg = make_cfg(srv)
        paths = paths_for(env, cfg, 2004)
        cds.retrieve("meteo", 2004, cfg, paths)
    assert delivered(paths).name == "2004.nc" and not (paths["manifest"].parent / "2004.zip").exists()
    ds = cds.open_year("meteo", 2004, delivered(paths))
    assert ds.sizes == {"time": 12, "y": 11, "x": 11}


def test_faults_api_500_download_429_and_truncation(env):
    with NetGuard() as guard, FakeCDS(KEY, cds_delivery(), polls_before_success=1) as srv:
        srv.faults["/api/retrieve/v1/processes/reanalysis-era5-land-monthly-means/execution"].append({"status": 500})
        cfg = make_cfg(srv)
        paths = paths_for(env, cfg)
        # the download path is only known once the job exists: fail its first two transfers
        original = srv.make_file

        def make(pid, inputs):
            name, data, ctype = original(pid, inputs)
            jid = next(iter(srv.jobs))
            srv.faults[f"/download/{jid}/{name}"].extend([{"status": 429, "retry_after": "0.01"}, {"truncate": 50}])
            return name, data, ctype

        srv.make_file = make
        cds.retrieve("meteo", 2001, cfg, paths)
        statuses = [r["method"] + " " + r["path"].rsplit("/", 1)[-1] for r in srv.requests]
    assert statuses.count("POST execution") == 2  # 500, then accepted
    assert sum(1 for s in statuses if s.startswith("GET ") and s.endswith(".zip")) == 3  # 429, truncated, whole
    assert download.is_complete(paths["manifest"]) and guard.blocked == []
    cds.open_year("meteo", 2001, paths["manifest"])


def test_download_failing_every_time_is_one_line(env):
    with NetGuard(), FakeCDS(KEY, cds_delivery()) as srv:
        cfg = make_cfg(srv)
        paths = paths_for(env, cfg)
        original = srv.make_file

        def make(pid, inputs):
            name, data, ctype = original(pid, inputs)
            srv.faults[f"/download/{next(iter(srv.jobs))}/{name}"].extend([{"truncate": 50}] * 3)
            return name, data, ctype

        srv.make_file = make
        with pytest.raises(NepflowError) as err:
            cds.retrieve("meteo", 2001, cfg, paths)
    assert "\n" not in str(err.value) and "after 3 tries" in str(err.value)
    assert not paths["manifest"].exists() and not list(paths["manifest"].parent.glob("2001.*"))
    assert not any(p.name.startswith(".") for p in paths["manifest"].parent.iterdir())


def test_failed_job_is_one_line(env):
    with NetGuard(), FakeCDS(KEY, cds_delivery(), fail_job="MARS returned no data") as srv:
        cfg = make_cfg(srv)
        with pytest.raises(NepflowError, match="CDS request reanalysis-era5-land-monthly-means 2001 failed") as err:
            cds.retrieve("meteo", 2001, cfg, paths_for(env, cfg))
    assert "\n" not in str(err.value) and "MARS returned no data" in str(err.value)


def test_missing_and_wrong_credentials(env, monkeypatch):
    monkeypatch.delenv("CDSAPI_KEY")
    with NetGuard(), FakeCDS(KEY, cds_delivery()) as srv:
        cfg = make_cfg(srv)
        with pytest.raises(NepflowError, match=r"CDSAPI_KEY.*\.cdsapirc") as err:
            cds.retrieve("meteo", 2001, cfg, paths_for(env, cfg))
        assert "\n" not in str(err.value)
        assert srv.requests == []
        monkeypatch.setenv("CDSAPI_KEY", "wrong-key-00000000")
        with pytest.raises(NepflowError, match="HTTP 401.*CDSAPI_KEY") as err:
            cds.retrieve("meteo", 2001, cfg, paths_for(env, cfg))
    assert "wrong-key-00000000" not in str(err.value)


@pytest.mark.parametrize("where", ["env_key", "rc_key", "env_url", "rc_url", "config_url"])
def test_credentials_of_the_retired_cds_are_one_line(env, monkeypatch, where):
    """A key '<UID>:<API key>' or an /api/v2 URL: the retired CDS; one line on the personal access token."""
    old_key, old_url = "123456:0f1e2d3c-aaaa-bbbb-cccc-4b5a69788796", "https://cds.climate.copernicus.eu/api/v2"
    rc = env / "home" / ".cdsapirc"
    cfg = S({"bbox": BBOX})
    if where == "env_key":
        monkeypatch.setenv("CDSAPI_KEY", old_key)
    elif where == "rc_key":
        monkeypatch.delenv("CDSAPI_KEY")
        rc.write_text(f"url: https://cds.climate.copernicus.eu/api\nkey: {old_key}\n")
    elif where == "env_url":
        monkeypatch.setenv("CDSAPI_URL", old_url)
    elif where == "rc_url":
        rc.write_text(f"url: {old_url}/\nkey: {KEY}\n")
    else:
        cfg["cds"]["url"] = old_url
    with NetGuard() as guard, pytest.raises(NepflowError) as err:
        cds.retrieve("meteo", 2001, cfg, paths_for(env, cfg))
    msg = str(err.value)
    assert "\n" not in msg and "retired in September 2024" in msg and "personal access token" in msg
    assert "https://cds.climate.copernicus.eu/api " in msg and cds.PROFILE_URL in msg
    named = {
        "env_key": "CDSAPI_KEY:",
        "rc_key": ".cdsapirc (key:)",
        "env_url": "CDSAPI_URL:",
        "rc_url": ".cdsapirc (url:)",
        "config_url": "config key sources.cds.url:",
    }[where]
    assert msg.startswith(named) or named in msg.split(";")[0], msg
    assert old_key.split(":")[1] not in msg and KEY not in msg  # the secret part is never shown
    assert guard.blocked == []  # the retired API was not contacted


def test_a_failed_poll_is_repeated_by_the_client_not_resubmitted(env, monkeypatch):
    """Polls wait up to sources.cds.poll_interval (default 60 s); a failed poll waits one interval and is
    repeated; the request is posted once. Sleeps are recorded, not slept."""
    import time as time_module

    slept = []
    monkeypatch.setattr(time_module, "sleep", lambda s: slept.append(s))
    with NetGuard(), FakeCDS(KEY, cds_delivery(), polls_before_success=12, poll_faults=[500, 502]) as srv:
        cfg = make_cfg(srv)
        cfg["cds"]["poll_interval"] = nconfig.defaults("sources.cds")["poll_interval"]  # the default
        paths = paths_for(env, cfg)
        cds.retrieve("meteo", 2001, cfg, paths)
        calls = [
            r["method"] + " " + r["path"].split("/")[4] for r in srv.requests if r["path"].startswith("/api/retrieve")
        ]
    assert calls.count("POST processes") == 1  # submitted once
    assert download.is_complete(paths["manifest"])
    polls = [s for s in slept if s != 60]
    assert slept.count(60) >= 2 + 1  # the two failed polls, then the polls at the full interval
    assert polls == sorted(polls) and polls[0] == 1.0 and max(polls) < 60  # 1, 1.5, 2.25, ... up to the interval
    assert max(slept) == 60


def test_cdsapirc_file(env, monkeypatch):
    monkeypatch.delenv("CDSAPI_KEY")
    with NetGuard(), FakeCDS(KEY, cds_delivery()) as srv:
        (env / "home" / ".cdsapirc").write_text(f"url: {srv.url}\nkey: {KEY}\n")
        cfg = make_cfg(srv)
        cfg["cds"] = nconfig.defaults("sources.cds")  # the URL comes from the rc file too
        cds.retrieve("meteo", 2001, cfg, paths_for(env, cfg))
        assert srv.requests


def test_credentials_never_written(env, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with NetGuard(), FakeCDS(KEY, cds_delivery()) as srv:
        cfg = make_cfg(srv)
        paths = paths_for(env, cfg)
        srv.faults["/api/retrieve/v1/processes/reanalysis-era5-land-monthly-means"].append({"status": 503})
        cds.retrieve("meteo", 2001, cfg, paths)
        ds = cds.open_year("meteo", 2001, paths["manifest"])
    ds.to_netcdf(env / "out.nc")
    out = capsys.readouterr()
    assert KEY not in caplog.text + out.out + out.err + json.dumps(cfg) + repr(ds.attrs)
    assert scan_for([KEY], [env / "data", env / "out.nc"]) == []


# ---------------------------------------------------------------- conversions
def raw_dataset(year=2000, lon=(115.0, 115.1), dims=("valid_time", "latitude", "longitude"), **values):
    t = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    lat = np.array([39.0, 38.9])
    base = {"t2m": 300.0, "tp": 0.001, "ssrd": 1e7, "ssr": 1.2e7, "str": -4e6, "e": -0.002}
    base.update(values)
    units = {"t2m": "K", "tp": "m", "ssrd": "J m**-2", "ssr": "J m**-2", "str": "J m**-2", "e": "m of water equivalent"}
    data = {k: (dims, np.full((12, 2, len(lon)), v), {"units": units[k]}) for k, v in base.items()}
    return xr.Dataset(data, coords={dims[0]: t, dims[1]: lat, dims[2]: np.array(lon)})


def test_unit_conversions_exact():
    ds = cds.to_cf(raw_dataset(2000))
    days = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], float)  # 2000 is a leap year
    np.testing.assert_array_equal(ds["tas"].values[:, 0, 0], np.full(12, 300.0 - 273.15))
    np.testing.assert_array_equal(ds["pr"].values[:, 0, 0], 0.001 * days * 1000.0)
    np.testing.assert_array_equal(ds["ssrd"].values[:, 0, 0], 1e7 * days / 1e6)
    np.testing.assert_array_equal(ds["rn"].values[:, 0, 0], (1.2e7 - 4e6) * days / 1e6)
    np.testing.assert_array_equal(ds["evap"].values[:, 0, 0], 0.002 * days * 1000.0)
    assert ds["pr"].values[1, 0, 0] == pytest.approx(29.0, rel=1e-15)  # Feb 2000: 29 days
    assert ds["ssrd"].values[0, 0, 0] == pytest.approx(310.0, rel=1e-15)
    assert ds["rn"].values[3, 0, 0] == pytest.approx(240.0, rel=1e-15)
    assert ds["evap"].values[6, 0, 0] == pytest.approx(62.0, rel=1e-15)
    assert cds.to_cf(raw_dataset(2001))["pr"].values[1, 0, 0] == pytest.approx(28.0, rel=1e-15)


def test_old_format_longitude_wrap_and_expver():
    raw = raw_dataset(2001, lon=(359.9, 0.0, 0.1), dims=("time", "latitude", "longitude"))
    raw["t2m"][:, :, 0] = 280.0
    ds = cds.to_cf(raw)
    np.testing.assert_allclose(ds.x.values, [-0.1, 0.0, 0.1], atol=1e-9)
    assert ds["tas"].values[0, 0, 0] == pytest.approx(280 - 273.15)
    final = raw_dataset(2001)
    ds2 = xr.concat([final, final.map(lambda v: v * np.nan if v.ndim == 3 else v)], dim="expver")
    ds2 = ds2.assign_coords(expver=[1, 5])
    ds2["t2m"][0, 11] = np.nan  # December only in ERA5T
    ds2["t2m"][1, 11] = 290.0
    out = cds.to_cf(ds2)
    assert out["tas"].values[0, 0, 0] == pytest.approx(300 - 273.15) and out["tas"].values[11, 0, 0] == pytest.approx(
        290 - 273.15
    )


def test_bad_units_and_missing_variable():
    raw = raw_dataset()
    raw["tp"].attrs["units"] = "mm"
    with pytest.raises(NepflowError, match="tp has units 'mm'; expected m"):
        cds.to_cf(raw)
    with pytest.raises(NepflowError, match="variable e"):
        cds.to_cf(raw_dataset().drop_vars("e"))


def test_open_year_checks_the_months(tmp_path):
    raw_dataset(2001).to_netcdf(tmp_path / "x.nc")
    with pytest.raises(NepflowError, match="expected the 12 months of 2002"):
        cds.open_year("meteo", 2002, tmp_path / "x.nc")


def test_local_source_meteo_layout(tmp_path):
    """sources.meteo: local reads <root>/meteo/<year>.nc: ERA5-Land as delivered, or CF variables."""
    from nepflow.sources import local

    root = tmp_path / "mine"
    (root / "meteo").mkdir(parents=True)
    raw_dataset(2001).to_netcdf(root / "meteo" / "2001.nc")
    cfg = S({"local": {"root": str(root)}, "bbox": BBOX})
    with pytest.raises(NepflowError, match="local meteo 2002: none of .*2002.nc"):
        local.inputs("meteo", 2002, cfg)
    manifest = tmp_path / "data" / "local" / local.outputs("meteo", 2001, cfg)["manifest"]
    local.retrieve("meteo", 2001, cfg, {"manifest": manifest})
    assert json.loads(manifest.read_text())["kind"] == "netcdf"
    ds = local.open_year("meteo", 2001, manifest, cfg)
    assert ds["pr"].values[1, 0, 0] == pytest.approx(28.0) and ds["tas"].attrs["units"] == "degC"
    cf = ds.copy()
    cf.to_netcdf(root / "meteo" / "2001.nc")  # a CF file of the user's own
    local.retrieve("meteo", 2001, cfg, {"manifest": manifest})
    again = local.open_year("meteo", 2001, manifest, cfg)
    np.testing.assert_allclose(again["evap"].values, ds["evap"].values)
