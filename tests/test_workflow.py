"""The whole DAG on the tiny demo (0.25°, 2000–2020) in a temporary directory."""

from __future__ import annotations

import os
import re
import shutil
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workflow import ROOT, scheduled_jobs, snakemake

pytestmark = pytest.mark.workflow
YEARS = list(range(2000, 2021))
RUN = "results/tiny"


def test_dry_run_has_one_job_per_year_and_per_aggregate(tmp_path):
    counts = scheduled_jobs(tmp_path)
    for rule in ("retrieve_meteo_fpar_landcover_sunshine", "regrid", "carbon"):
        assert counts[rule] == len(YEARS), rule
    for rule in ("grid", "series", "trend", "hurst", "stability", "correlation", "classes", "area_stats", "figures"):
        assert counts[rule] == 1, rule


def test_the_demo_is_a_source_like_any_other(tmp_path):
    """The default config's dry run lists the rules every source gets from the source contract:
    none of them, and no entry script, is the demo's own."""
    counts = scheduled_jobs(tmp_path)
    assert not [rule for rule in counts if "demo" in rule], counts
    assert [rule for rule in counts if rule.startswith("retrieve")] == ["retrieve_meteo_fpar_landcover_sunshine"]
    assert not (ROOT / "scripts" / "retrieve_demo.py").exists()
    # rules/validation.smk is left out: its synthetic flux towers take the demo's seed (a validation input)
    rules = [p for p in ROOT.glob("rules/*.smk") if p.name != "validation.smk"]
    for path in [*rules, ROOT / "scripts" / "regrid.py", ROOT / "scripts" / "retrieve.py"]:
        text = path.read_text()
        assert '"demo"' not in text and "demo_file" not in text and not re.search(r"nepflow_demo\b", text), path


def _open(wd, rel):
    return xr.open_dataset(wd / RUN / rel, decode_coords="all")


def test_contract_files(tiny_run):
    wd = tiny_run
    grid = _open(wd, "grid.nc")
    inside = grid["region"].values > 0
    assert inside.any() and (~inside).any()

    f = _open(wd, "forcing/2005.nc")
    units = {
        "fpar": "1",
        "par": "MJ m-2 month-1",
        "tas": "degC",
        "pr": "mm month-1",
        "sund": "h month-1",
        "rn": "MJ m-2 month-1",
        "evap": "mm month-1",
        "c4_frac": "1",
    }
    for name, u in units.items():
        assert f[name].dims == ("time", "y", "x"), name
        assert f.sizes["time"] == 12
        assert f[name].attrs["units"] == u, name
        assert f[name].dtype == np.float32
        vals = f[name].values
        assert np.isfinite(vals[:, inside]).all(), f"{name} has NaN inside the region"
        assert np.isnan(vals[:, ~inside]).all(), f"{name} has values outside the region"
    assert f.rio.crs.to_epsg() == 4326
    assert "spatial_ref" in f.variables
    assert f.attrs["Conventions"] == "CF-1.8"

    c = _open(wd, "carbon/2005.nc")
    for name in ("gpp", "npp", "rh", "nep"):
        assert c[name].dims == ("y", "x")
        assert c[name].attrs["units"] == "g m-2 yr-1"
        assert np.isfinite(c[name].values[inside]).all()
        assert np.isnan(c[name].values[~inside]).all()
    np.testing.assert_allclose(c["nep"].values[inside], (c["npp"] - c["rh"]).values[inside], rtol=1e-5, atol=1e-3)
    assert "nepflow_params_sha256" in c.attrs and "nepflow_software" in c.attrs

    s = _open(wd, "series/annual.nc")
    assert s["nep"].dims == ("year", "y", "x")
    assert list(s["year"].values) == YEARS
    assert {s[v].attrs["units"] for v in ("nep", "pr", "tas", "sund")} == {"g m-2 yr-1", "mm yr-1", "degC", "h yr-1"}

    expected = {
        "trend": {"ols_slope": "g m-2 yr-2", "ols_p": "1", "sen_slope": "g m-2 yr-2", "mk_z": "1", "mk_p": "1"},
        "hurst": {"hurst": "1"},
        "stability": {"nep_mean": "g m-2 yr-1", "nep_std": "g m-2 yr-1", "cv": "1"},
        "correlation": {f"{k}_{f}": "1" for f in ("pr", "tas", "sund") for k in ("r", "p_r", "pr", "p_pr")},
    }
    for name, variables in expected.items():
        a = _open(wd, f"analysis/{name}.nc")
        assert a.rio.crs is not None
        for v, u in variables.items():
            assert a[v].dims == ("y", "x"), v
            assert a[v].attrs["units"] == u, v
            assert "long_name" in a[v].attrs, v
            assert np.isnan(a[v].values[~inside]).all(), v
            assert (wd / RUN / "analysis" / "tif" / f"{v}.tif").exists(), v
        if name in ("trend", "correlation"):
            for v in variables:
                if v in ("ols_slope", "sen_slope", "r_pr", "pr_pr", "mk_z"):
                    assert np.isfinite(a[v].values[inside]).all(), v

    cl = xr.open_dataset(wd / RUN / "analysis/classes.nc", mask_and_scale=False, decode_coords="all")
    for v in ("trend_class", "cv_class", "hurst_class", "future_class", "corr_pr_class"):
        assert cl[v].dtype == np.int8, v  # on disk; -1 (missing_value) means undefined
        assert set(np.unique(cl[v].values[~inside])) == {-1}, v
        assert set(np.unique(cl[v].values[inside])) <= {-1, *cl[v].attrs["flag_values"]}, v
    # defined everywhere inside, except CV where mean NEP <= 0 (undefined by definition)
    assert (cl["trend_class"].values[inside] >= 1).all()
    nep_mean = _open(wd, "analysis/stability.nc")["nep_mean"].values
    assert ((cl["cv_class"].values >= 1) == (inside & (nep_mean > 0))).all()
    for v in cl.data_vars:
        assert "flag_values" in cl[v].attrs and "flag_meanings" in cl[v].attrs, v

    table = pd.read_csv(wd / RUN / "tables" / "area_stats.csv")
    assert {"classification", "class", "region", "area_km2", "percent"} <= set(table.columns)
    assert set(table["region"]) == {"all", "Beijing", "Tianjin", "Hebei", "Shanxi", "Shandong"}
    sums = table.groupby(["classification", "region"])["percent"].sum()
    np.testing.assert_allclose(sums.values, 100.0, atol=1e-6)
    assert (wd / RUN / "tables" / "summary.md").stat().st_size > 0
    assert any((wd / RUN / "figures").glob("*.png"))


def test_cog_is_georeferenced(tiny_run):
    import rasterio

    with rasterio.open(tiny_run / RUN / "analysis" / "tif" / "ols_slope.tif") as src:
        assert src.crs.to_epsg() == 4326
        assert src.driver == "GTiff"
        assert src.tags().get("units") == "g m-2 yr-2"
        assert src.profile.get("tiled") or src.block_shapes[0][0] < src.height


def test_nothing_to_do_after_a_complete_run(tiny_run):
    assert scheduled_jobs(tiny_run) == {}


def test_every_file_of_the_run_is_a_target_of_all(tiny_run):
    """Every file a run writes (README, Outputs) but its logs and benchmarks is in the DAG of `all` (figures/ as a
    directory output), so a deleted or interrupted one is rebuilt by the next run."""
    proc = snakemake(tiny_run, "--summary")
    targets = {line.split("\t")[0] for line in (proc.stdout + proc.stderr).splitlines() if "\t" in line}
    assert f"{RUN}/series/annual.nc" in targets and f"{RUN}/grid.nc" in targets, sorted(targets)[:20]
    run = tiny_run / RUN
    written = {
        f"{RUN}/{p.relative_to(run).as_posix()}"
        for p in run.rglob("*")
        if p.is_file() and p.relative_to(run).parts[0] not in ("logs", "benchmarks", "figures")
    }
    missing = sorted(written - targets)
    assert missing == []


def test_changing_one_year_reruns_that_year_and_the_aggregates(tiny_run, tmp_path):
    """A reprocessed product for one year (new content) reruns that year's chain and the aggregates.

    Snakemake 9 compares the recorded checksum of a changed input, so a bare `touch` (same
    content) does not rerun anything; a changed file does.
    """
    import zipfile

    wd = tmp_path / "copy"
    shutil.copytree(tiny_run, wd, symlinks=True)
    meteo = next((wd / "data" / "demo").glob("*/2007/meteo.zip"))  # the ERA5-Land zip of the demo
    with zipfile.ZipFile(meteo, "a") as z:
        z.writestr("README.txt", "reprocessed")
    later = time.time() + 5
    os.utime(meteo, (later, later))
    counts = scheduled_jobs(wd)
    assert counts.get("regrid") == 1 and counts.get("carbon") == 1
    assert "retrieve_meteo_fpar_landcover_sunshine" not in counts
    for rule in ("series", "trend", "hurst", "stability", "correlation", "classes", "area_stats", "figures"):
        assert counts.get(rule) == 1, rule


def test_lint_reports_nothing(tmp_path):
    proc = snakemake(tmp_path, "--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out


def test_demo_carbon_is_plausible_every_year(tiny_run):
    from nepflow import series

    wd = tiny_run / RUN
    grid = xr.open_dataset(wd / "grid.nc")
    df = series.regional_means([wd / f"carbon/{y}.nc" for y in YEARS], YEARS, grid)
    region = df[df.region == "all"]
    assert region.nep.between(150, 300).all(), region.nep.tolist()
    assert region.npp.between(200, 700).all(), region.npp.tolist()
    assert region.rh.between(150, 400).all(), region.rh.tolist()
    for y in (2000, 2010, 2020):
        c = xr.open_dataset(wd / f"carbon/{y}.nc")
        assert float(c.npp.min()) >= 0 and float(c.npp.max()) <= 1500
        assert float(c.rh.min()) >= 100 and float(c.rh.max()) <= 900
        assert float(c.nep.min()) >= -400 and float(c.nep.max()) <= 800


def test_demo_planted_signals_are_recovered(tiny_run):
    """The analyses find what the demo generator planted (scripts/nepflow/sources/demo.py)."""
    from nepflow.sources import demo

    wd = tiny_run / RUN
    t = xr.open_dataset(wd / "analysis/trend.nc")
    h = xr.open_dataset(wd / "analysis/hurst.nc")
    c = xr.open_dataset(wd / "analysis/correlation.nc")
    inside = xr.open_dataset(wd / "grid.nc")["region"] > 0
    # 1. trends: every greening hotspot significantly increasing, the urban decline decreasing
    for name, (lon, lat, _) in demo.HOTSPOTS.items():
        px = dict(x=lon, y=lat, method="nearest")
        assert float(t.ols_slope.sel(**px)) > 5 and float(t.ols_p.sel(**px)) < 0.05, name
    assert float(t.ols_slope.sel(x=116.9, y=39.5, method="nearest")) < 0
    # 2. persistence: H on levels (the default) follows NEP's trends, so a west-east difference in it shows no
    # planted persistence (docs/science.md); tests/test_demo.py recovers the planted AR(1) against a phi = 0
    # control with H on the detrended series. Here: the run reports which series H was computed on, and
    # hurst_p is a Monte Carlo p-value, never 0.
    assert h.hurst.attrs["hurst_series"] == "levels"
    assert float(h.hurst_p.min()) >= 1 / (h.hurst.attrs["n_surrogates"] + 1) - 1e-7
    # 3. drivers: precipitation-dominated north; in the humid south-east light-limited (NEP follows sunshine
    # with precipitation held fixed; wet years are cloudy, so precipitation's own r is lower than in the north)
    se = inside & (c.y < 36.5) & (c.x > 117)
    north = c.r_pr.where(inside & (c.y > 39.5)).mean()
    south = c.r_pr.where(se).mean()
    assert float(north) > 0.5 and float(south) < float(north) - 0.2
    assert float(c.pr_sund.where(se).mean()) > 0.5
