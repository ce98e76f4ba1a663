"""Bad input: a non-zero exit, one line naming the file or key, nothing partial, earlier results untouched.

Config cases run the real `snakemake` on a copy of a completed tiny run; file and data
cases run the entry scripts from the command line (as a user debugging a job would) and
the library on crafted files.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import yaml

from nepflow import io, provenance
from workflow import ROOT, TINY, env, snakemake

pytestmark = pytest.mark.workflow


def tree_state(root):
    return {p.relative_to(root).as_posix(): provenance.file_sha256(p)
            for p in sorted(root.rglob("*")) if p.is_file() and ".snakemake" not in p.parts}


@pytest.fixture(scope="module")
def done(tiny_run, tmp_path_factory):
    wd = tmp_path_factory.mktemp("bad") / "run"
    shutil.copytree(tiny_run, wd, symlinks=True)
    return wd


def error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("ERROR: ")]
    assert len(lines) == 1, text[-3000:]
    return lines[0]


CONFIG_CASES = [
    ("unknown key", {"colour": "red"}, "config key colour: unknown key"),
    ("unknown nested key", {"analysis": {"hurts_estimator": "rs"}}, "config key analysis.hurts_estimator: unknown key"),
    ("wrong type", {"years": {"start": "two thousand", "end": 2020}}, "config key years.start: expected integer"),
    ("years reversed", {"years": {"start": 2020, "end": 2000}}, "config key years: start 2020 is after end 2000"),
    ("year before any record", {"years": {"start": 1900, "end": 2020}}, "config key years.start"),
    ("empty region", {"region": {"provinces": []}}, "config key region.provinces: the region is empty"),
    ("unknown province", {"region": {"provinces": ["Hebei", "Narnia"]}}, "unknown province 'Narnia'"),
    ("zero resolution", {"grid": {"resolution": 0}}, "config key grid.resolution"),
    ("negative resolution", {"grid": {"resolution": -0.25}}, "config key grid.resolution"),
    ("CRS PROJ rejects", {"grid": {"crs": "EPSG:4326000"}}, "config key grid.crs: PROJ does not accept"),
    ("unknown source", {"sources": {"meteo": "myserver"}}, "config key sources.meteo"),
    ("source without the product", {"sources": {"fpar": "cds"}}, "config key sources.fpar"),
    ("results outside workdir", {"results_dir": "../../elsewhere"}, "config key results_dir"),
    ("data dir absolute", {"data_dir": "/var/tmp/nepflow"}, "config key data_dir"),
    ("bad min_valid_years", {"analysis": {"min_valid_years": 1}}, "config key analysis.min_valid_years"),
    ("bad strictness", {"checks": {"strictness": "lenient"}}, "config key checks.strictness"),
    ("bad C4 rule", {"landcover": {"c4_fraction": {"12": 1.5}}}, "config key landcover.c4_fraction"),
    ("bad regrid method", {"regrid": {"methods": {"tas": "spline"}}}, "config key regrid.methods.tas"),
    ("unknown NPP model", {"carbon": {"npp": "biome-bgc"}}, "config key carbon.npp"),
    ("unknown model in the ensemble", {"carbon": {"models": ["tec", "biome-bgc"]}}, "config key carbon.models.1"),
    ("empty ensemble", {"carbon": {"models": []}}, "config key carbon.models"),
    ("unknown class in the eps_max table", {"carbon": {"casa": {"eps_max": {"99": 0.5}}}},
     "config key carbon.casa.eps_max.99: not an IGBP class"),
    ("zero eps_max", {"carbon": {"casa": {"eps_max": {"4": 0}}}}, "config key carbon.casa.eps_max.4"),
    ("mod17 in the ensemble without an NPP source", {"carbon": {"models": ["tec", "mod17"]}}, "config key sources.npp"),
    ("negative draws", {"uncertainty": {"draws": -1}}, "config key uncertainty.draws"),
    ("negative draw SD", {"uncertainty": {"sd": {"cue": -0.1}}}, "config key uncertainty.sd.cue"),
    ("missing site file", {"validation": {"sites": [{"id": "CN-X", "lon": 116.0, "lat": 38.0, "file": "no.csv"}]}},
     "config key validation.sites (CN-X): no.csv: file not found"),
    ("site without a file", {"validation": {"sites": [{"id": "CN-X", "lon": 116.0, "lat": 38.0}]}},
     "config key validation.sites.0"),
    ("even validation window", {"validation": {"window": 2}}, "config key validation.window"),
]


@pytest.mark.parametrize("name, change, expected", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(done, tmp_path, name, change, expected):
    cfg = yaml.safe_load(TINY.read_text())
    for key, value in change.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) and isinstance(cfg.get(key), dict) else value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    before = tree_state(done)
    proc = snakemake(done, "--cores", "1", configfile=path, check=False)
    assert proc.returncode != 0
    line = error_line(proc.stdout + proc.stderr)
    assert expected in line, line
    assert tree_state(done) == before


# ------------------------------------------------------------------ files
def run_script(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args],
                          capture_output=True, text=True, env=env(), timeout=300)


@pytest.fixture()
def forcing_file(done, tmp_path):
    src = done / "results/tiny/forcing/2003.nc"
    dst = tmp_path / "forcing.nc"
    shutil.copy(src, dst)
    return dst


def carbon_job(forcing, out, params=None):
    out.parent.mkdir(parents=True, exist_ok=True)
    p = out.parent / "params.yaml"
    p.write_text(yaml.safe_dump({"carbon": (params or {}), "strictness": "default"}))
    return run_script("carbon.py", "--input", f"forcing={forcing}", "--output", f"carbon={out}", "--params", str(p))


def rewrite(path, fn):
    ds = xr.open_dataset(path, decode_coords="all").load()
    ds.close()
    ds = fn(ds)
    io.write_netcdf(ds, path)


def set_value(var, value, month=6):
    def fn(ds):
        arr = ds[var].values.copy()
        inside = np.isfinite(arr[month])
        arr[month][inside] = value
        ds[var].values = arr
        return ds
    return fn


def set_units(var, units):
    def fn(ds):
        ds[var].attrs["units"] = units
        return ds
    return fn


def drop_units(var):
    def fn(ds):
        ds[var].attrs.pop("units")
        return ds
    return fn


FILE_CASES = [
    ("FPAR above 1", set_value("fpar", 1.7), ["fpar"]),
    ("negative precipitation", set_value("pr", -25.0), ["pr"]),
    ("temperature out of range", set_value("tas", 75.0), ["tas"]),
    ("undeclared units", drop_units("pr"), ["pr", "units"]),
    ("wrong units", set_units("tas", "furlongs"), ["tas"]),
    ("a month missing", lambda ds: ds.isel(time=slice(0, 11)), ["12"]),
]


@pytest.mark.parametrize("name, fn, words", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_forcing_file(forcing_file, tmp_path, name, fn, words):
    rewrite(forcing_file, fn)
    out = tmp_path / "out" / "carbon.nc"
    proc = carbon_job(forcing_file, out)
    assert proc.returncode != 0
    line = error_line(proc.stderr)
    assert "forcing.nc" in line, line
    for w in words:
        assert w in line, line
    assert not out.exists() and not list(out.parent.glob(".*"))


def test_declared_convertible_units_are_converted(forcing_file, tmp_path):
    rewrite(forcing_file, lambda ds: ds.assign(pr=ds["pr"] / 1000).pipe(set_units("pr", "m month-1")))
    out = tmp_path / "out" / "carbon.nc"
    proc = carbon_job(forcing_file, out)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_missing_file(tmp_path):
    out = tmp_path / "carbon.nc"
    proc = carbon_job(tmp_path / "forcing" / "2011.nc", out)
    assert proc.returncode != 0
    assert "2011.nc: file not found" in error_line(proc.stderr)
    assert not out.exists()


def test_truncated_netcdf(forcing_file, tmp_path):
    forcing_file.write_bytes(forcing_file.read_bytes()[:5000])
    proc = carbon_job(forcing_file, tmp_path / "carbon.nc")
    assert proc.returncode != 0
    assert "forcing.nc: not a readable NetCDF file" in error_line(proc.stderr)


def test_year_with_a_different_grid(done, tmp_path):
    from nepflow import series

    run = done / "results/tiny"
    odd = tmp_path / "2001.nc"
    ds = xr.open_dataset(run / "carbon/2001.nc").load()
    io.write_netcdf(ds.isel(x=slice(1, None)), odd)
    carbon = [run / "carbon/2000.nc", odd]
    forcing = [run / "forcing/2000.nc", run / "forcing/2001.nc"]
    with pytest.raises(Exception, match="2001.nc: grid differs"):
        series.build(carbon, forcing, [2000, 2001])


def test_duplicated_years(done):
    from nepflow import series
    from nepflow.errors import NepflowError

    run = done / "results/tiny"
    with pytest.raises(NepflowError, match="duplicated years"):
        series.build([run / "carbon/2000.nc"] * 2, [run / "forcing/2000.nc"] * 2, [2000, 2000])


# ------------------------------------------------------------------ data
def test_all_nan_region(forcing_file, tmp_path):
    rewrite(forcing_file, lambda ds: ds.assign(fpar=ds["fpar"] * np.nan))
    out = tmp_path / "out" / "carbon.nc"
    proc = carbon_job(forcing_file, out)
    assert proc.returncode != 0
    line = error_line(proc.stderr)
    assert "forcing.nc" in line and "fpar" in line and "NaN everywhere" in line, line
    assert not out.exists() and not list(out.parent.glob(".*"))


def statistic_job(series_file, tmp_path, min_valid):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    params = {"statistic": "stability", "analysis": {"min_valid_years": min_valid, "cv_ddof": 1, "chunk": 512}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run_script("statistic.py", "--input", f"series={series_file}", "--output",
                      f"analysis={out / 'stability.nc'}", "--params", str(tmp_path / "params.yaml"))
    return proc, out


def test_fewer_valid_years_than_the_configured_minimum(done, tmp_path):
    series_file = tmp_path / "annual.nc"
    ds = xr.open_dataset(done / "results/tiny/series/annual.nc", decode_coords="all").load()
    nep = ds["nep"].values.copy()
    nep[::2] = np.nan  # 10 of 21 years left in every pixel
    ds["nep"].values = nep
    io.write_netcdf(ds, series_file)
    proc, out = statistic_job(series_file, tmp_path, 15)
    assert proc.returncode != 0
    line = error_line(proc.stderr)
    assert "annual.nc" in line and "no pixel has 15 valid years" in line and "min_valid_years" in line, line
    assert not list(out.rglob("*.nc")) and not list(out.rglob("*.tif"))


def test_disk_full_is_one_line_and_leaves_nothing(forcing_file, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(full)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        (full / "out").mkdir()
        (full / "out" / "earlier.txt").write_bytes(b"kept")
        out = full / "out" / "carbon.nc"
        proc = carbon_job(forcing_file, out)
        assert proc.returncode != 0
        line = error_line(proc.stderr)
        assert "carbon.nc" in line and "no space left on device" in line.lower(), line
        left = sorted(p.name for p in (full / "out").iterdir())
        assert left == ["earlier.txt", "params.yaml"] or left == ["earlier.txt"], left
        assert (full / "out" / "earlier.txt").read_bytes() == b"kept"
    finally:
        subprocess.run(["umount", str(full)], check=True)


# ------------------------------------------------------------------ real-data inputs (issue 5)
BBOX = [115.0, 39.0, 118.0, 41.5]


def local_manifest(tmp_path, root, product, year=2001):
    """Run the local source's retrieval (it records the user's files) and return its manifest."""
    from nepflow.sources import local

    cfg = {"local": {"root": str(root)}, "bbox": BBOX}
    manifest = tmp_path / "data" / "local" / local.outputs(product, year, cfg)["manifest"]
    local.retrieve(product, year, cfg, {"manifest": manifest})
    return cfg, manifest


def one_line_error(fn, *words):
    from nepflow.errors import NepflowError

    with pytest.raises(NepflowError) as err:
        fn()
    msg = str(err.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_hdf4_file_that_is_not_hdf4(tmp_path):
    from fakeservers import modis_name
    from nepflow.sources import local

    root = tmp_path / "mine"
    bad = root / "fpar" / "2001" / modis_name("MOD15A2H", "2001001", 26, 4)
    bad.parent.mkdir(parents=True)
    bad.write_text("<html>Earthdata Login</html>\n")  # what a failed login page saved as .hdf looks like
    cfg, manifest = local_manifest(tmp_path, root, "fpar")
    one_line_error(lambda: local.open_year("fpar", 2001, manifest, cfg), str(bad), "not a readable HDF4 file",
                   "expected a MODIS HDF4-EOS tile")
    assert bad.read_text().startswith("<html>")  # the user's file is left as it was


def _geotiff(path, crs, lon0=115.5, lat0=40.5):
    import rasterio
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=8, height=6, count=1, dtype="uint8", crs=crs,
                       transform=from_origin(lon0, lat0, 0.25, 0.25)) as dst:
        dst.write(np.full((1, 6, 8), 12, np.uint8))
    return path


def test_geotiff_without_crs(tmp_path):
    from nepflow.sources import local

    root = tmp_path / "mine"
    tif = _geotiff(root / "landcover" / "2001.tif", None)
    cfg, manifest = local_manifest(tmp_path, root, "landcover")
    one_line_error(lambda: local.open_year("landcover", 2001, manifest, cfg, {"12": 0.5}), str(tif),
                   "GeoTIFF without a CRS", "expected a georeferenced raster")


def test_geotiff_with_the_wrong_crs(tmp_path):
    """Lon/lat degrees labelled Web Mercator (metres): the raster lands off West Africa, not on the region."""
    from nepflow.sources import local

    root = tmp_path / "mine"
    tif = _geotiff(root / "landcover" / "2001.tif", "EPSG:3857")
    cfg, manifest = local_manifest(tmp_path, root, "landcover")
    one_line_error(lambda: local.open_year("landcover", 2001, manifest, cfg, {"12": 0.5}), str(tif),
                   "EPSG:3857", "outside the request box", "expected a raster over the region")
    good = _geotiff(tmp_path / "ok" / "landcover" / "2001.tif", "EPSG:4326")
    cfg, manifest = local_manifest(tmp_path / "ok-data", good.parents[1], "landcover")
    assert local.open_year("landcover", 2001, manifest, cfg, {"12": 0.5})["c4_frac"].notnull().any()


def retrieve_job(tmp_path, source, product, settings, outputs, extra_env):
    """scripts/retrieve.py from the command line, credentials from an empty home (and ``extra_env``)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    e = env()
    for k in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN", "CDSAPI_URL", "CDSAPI_KEY", "NETRC",
              "CDSAPI_RC"):
        e.pop(k, None)
    e.update(HOME=str(home), **extra_env)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"source": source, "product": product, "settings": settings,
                                      "download": {"tries": 1, "connect_timeout": 1, "read_timeout": 1}}))
    args = [sys.executable, str(ROOT / "scripts" / "retrieve.py"), "--params", str(params), "--wildcard", "year=2001",
            "--log", str(tmp_path / "logs" / "retrieve.log")]
    for name, path in outputs.items():
        args += ["--output", f"{name}={path}"]
    return subprocess.run(args, capture_output=True, text=True, env=e, timeout=300)


@pytest.mark.parametrize("source, product, expected", [
    ("earthdata", "landcover", ["Earthdata credentials missing", "EARTHDATA_TOKEN", "~/.netrc"]),
    ("cds", "meteo", ["CDS credentials missing", "CDSAPI_KEY", "~/.cdsapirc"]),
], ids=["earthdata", "cds"])
def test_missing_credentials(tmp_path, source, product, expected):
    """One line naming what to set; a half-set secret (a password without its user) never printed;
    no request sent (nothing listens on port 9) and nothing written but the log."""
    decoy = "decoy-secret-8f7e6d5c"
    settings = {"bbox": BBOX, "earthdata": {"cmr_url": "https://127.0.0.1:9/search/", "edl_host": "127.0.0.1:9",
                                            "tiles": ["h26v04"]},
                "cds": {"url": "http://127.0.0.1:9/api"}}
    data = tmp_path / "data"
    outputs = {"manifest": data / "x" / "2001.json"} if source == "earthdata" else \
        {"data": data / "x" / "2001.nc", "manifest": data / "x" / "2001.json"}
    proc = retrieve_job(tmp_path, source, product, settings, outputs, {"EARTHDATA_PASSWORD": decoy})
    assert proc.returncode != 0
    line = error_line(proc.stderr)
    for w in expected:
        assert w in line, line
    log = (tmp_path / "logs" / "retrieve.log").read_text()
    assert decoy not in proc.stdout + proc.stderr + log
    assert not data.exists() or not any(p.is_file() for p in data.rglob("*"))


def test_meteo_grid_that_does_not_cover_the_region(done, tmp_path):
    """Workflow level: local meteorology covering only the west of the region stops the regrid job with
    one line naming the file; no forcing file, and the earlier run's files are untouched."""
    import pandas as pd

    wd = done
    root = wd / "mine_bad_meteo"
    lat = np.arange(42.875, 33.9, -0.25)
    lon = np.arange(110.125, 116.0, 0.25)  # the region reaches 122.8 E
    time = pd.date_range("2001-01-01", periods=12, freq="MS")
    shape = (12, len(lat), len(lon))
    units = {"tas": "degC", "pr": "mm month-1", "ssrd": "MJ m-2 month-1", "rn": "MJ m-2 month-1",
             "evap": "mm month-1"}
    values = {"tas": 10.0, "pr": 40.0, "ssrd": 450.0, "rn": 250.0, "evap": 30.0}
    ds = xr.Dataset({k: (("time", "lat", "lon"), np.full(shape, values[k]), {"units": u}) for k, u in units.items()},
                    coords={"time": time, "lat": lat, "lon": lon})
    (root / "meteo").mkdir(parents=True)
    ds.to_netcdf(root / "meteo" / "2001.nc")
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(run_name="badmeteo", years={"start": 2001, "end": 2003},
               sources={"meteo": "local", "local": {"root": "mine_bad_meteo"}})
    path = tmp_path / "badmeteo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    before = tree_state(wd)
    proc = snakemake(wd, "--cores", "1", "results/badmeteo/forcing/2001.nc", configfile=path, check=False)
    assert proc.returncode != 0
    line = error_line(proc.stdout + proc.stderr)
    assert "mine_bad_meteo/meteo/2001.nc" in line and "does not cover the region" in line, line
    assert "expected" in line, line
    after = tree_state(wd)
    assert {k: after.get(k) for k in before} == before  # earlier results untouched
    forcing = wd / "results" / "badmeteo" / "forcing"
    assert not forcing.exists() or not any(forcing.iterdir())
