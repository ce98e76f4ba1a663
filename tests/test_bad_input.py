"""Bad input: a non-zero exit, one line naming the file or key, nothing partial, earlier results untouched.

Config cases run the real `snakemake` on a copy of a completed tiny run; file and data
cases run the entry scripts from the command line (as a user debugging a job would) and
the library on crafted files.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from nepflow import config as nconfig, netcdf, provenance
from workflow import ROOT, TINY, env, snakemake

pytestmark = pytest.mark.workflow


def tree_state(root):
    return {
        p.relative_to(root).as_posix(): provenance.file_sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".snakemake" not in p.parts
    }


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
    (
        "conservative FPAR from the sinusoidal grid",
        {"regrid": {"methods": {"fpar": "conservative"}}},
        "config key regrid.methods.fpar: conservative needs a lon/lat source grid and fpar from demo (sources.fpar) is on "
        "a projected grid",
    ),
    (
        "conservative C4 fraction from the sinusoidal grid",
        {"regrid": {"methods": {"c4_frac": "conservative"}}},
        "config key regrid.methods.c4_frac: conservative needs a lon/lat source grid and landcover from demo",
    ),
    (
        "conservative MODIS ET",
        {"sources": {"evap": "earthdata"}, "regrid": {"methods": {"evap": "conservative"}}},
        "config key regrid.methods.evap: conservative needs a lon/lat source grid and evap from earthdata",
    ),
    (
        "land cover classes averaged",
        {"regrid": {"methods": {"landcover": "average"}}},
        "config key regrid.methods.landcover: average; expected mode or no entry",
    ),
    (
        "regrid method of no variable",
        {"regrid": {"methods": {"fapr": "average"}}},
        "config key regrid.methods.fapr: not a variable; expected one of tas, pr",
    ),
    # what a job would reject, checked before any job runs
    ("run name with a slash", {"run_name": "my run/1"}, "config key run_name"),
    ("year after any record", {"years": {"end": 2101}}, "config key years.end"),
    (
        "one year",
        {"years": {"start": 2010, "end": 2010}},
        "config key years: 2010 to 2010: 1 year; expected at least 3",
    ),
    (
        "min_valid_years above the years",
        {"analysis": {"min_valid_years": 100}},
        "config key analysis.min_valid_years: 100; expected 3 to the number of years (21)",
    ),
    (
        "grid bounds west > east",
        {"grid": {"bounds": [123, 34, 110, 43]}},
        "config key grid.bounds: expected west < east",
    ),
    ("grid bounds of 3 numbers", {"grid": {"bounds": [110, 34, 123]}}, "config key grid.bounds"),
    (
        "resolution above the bounds",
        {"grid": {"bounds": [110, 34, 111, 35], "resolution": 5}},
        "config key grid.resolution: 5 is larger than the bounds",
    ),
    (
        "grid beside the region",
        {"grid": {"bounds": [0, 0, 10, 10]}},
        "config key grid: the grid does not cover the region (no pixel centre inside it)",
    ),
    (
        "grid coarser than the region",
        {"region": {"provinces": ["Beijing"]}, "grid": {"resolution": 2}},
        "config key grid: the grid does not cover the region",
    ),
    ("grid of petabytes", {"grid": {"resolution": 0.000001}}, "config key resources.max_mem_mb: the grid of"),
    (
        "degrees for a CRS in metres",
        {"grid": {"crs": "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m", "resolution": 0.05}},
        "raise resources.max_mem_mb",
    ),
    (
        "ceiling below the biggest job",
        {"resources": {"max_mem_mb": 1000, "base_mem_mb": 2000}},
        "config key resources.max_mem_mb: the grid of",
    ),
    ("ceiling below its minimum", {"resources": {"max_mem_mb": 10}}, "config key resources.max_mem_mb"),
    ("landcover source not delivering it", {"sources": {"landcover": "stations"}}, "config key sources.landcover"),
    ("sunshine source not delivering it", {"sources": {"sunshine": "cds"}}, "config key sources.sunshine"),
    ("npp source unknown", {"sources": {"npp": "cds"}}, "config key sources.npp"),
    ("bbox west > east", {"sources": {"bbox": [120, 34, 110, 43]}}, "config key sources.bbox: expected west < east"),
    ("negative pad", {"sources": {"pad": -1}}, "config key sources.pad"),
    ("zero tries", {"sources": {"download": {"tries": 0}}}, "config key sources.download.tries"),
    ("negative backoff", {"sources": {"download": {"backoff": -1}}}, "config key sources.download.backoff"),
    ("negative max_wait", {"sources": {"download": {"max_wait": -1}}}, "config key sources.download.max_wait"),
    (
        "zero connect timeout",
        {"sources": {"download": {"connect_timeout": 0}}},
        "config key sources.download.connect_timeout",
    ),
    ("zero read timeout", {"sources": {"download": {"read_timeout": 0}}}, "config key sources.download.read_timeout"),
    ("unknown verify", {"sources": {"download": {"verify": "md5"}}}, "config key sources.download.verify"),
    ("bad tile name", {"sources": {"earthdata": {"tiles": ["h26"]}}}, "config key sources.earthdata.tiles"),
    ("unknown transfer", {"sources": {"earthdata": {"transfer": "ftp"}}}, "config key sources.earthdata.transfer"),
    ("unknown fpar_qc", {"sources": {"earthdata": {"fpar_qc": "best"}}}, "config key sources.earthdata.fpar_qc"),
    (
        "unknown fpar_nonveg",
        {"sources": {"earthdata": {"fpar_nonveg": "one"}}},
        "config key sources.earthdata.fpar_nonveg",
    ),
    (
        "fill years of one year",
        {"sources": {"earthdata": {"fpar_fill_years": [2001]}}},
        "config key sources.earthdata.fpar_fill_years",
    ),
    ("unknown station method", {"sources": {"stations": {"method": "kriging"}}}, "config key sources.stations.method"),
    ("negative smoothing", {"sources": {"stations": {"smoothing": -1}}}, "config key sources.stations.smoothing"),
    ("zero station resolution", {"sources": {"stations": {"resolution": 0}}}, "config key sources.stations.resolution"),
    ("min_days above 1", {"sources": {"stations": {"min_days": 1.5}}}, "config key sources.stations.min_days"),
    ("zero min_stations", {"sources": {"stations": {"min_stations": 0}}}, "config key sources.stations.min_stations"),
    ("proxy a above 1", {"sources": {"proxy": {"a": 2}}}, "config key sources.proxy.a"),
    ("negative proxy b", {"sources": {"proxy": {"b": -0.1}}}, "config key sources.proxy.b"),
    (
        "proxy a + b above 1",
        {"sources": {"sunshine": "proxy", "proxy": {"a": 0.6, "b": 0.6}}},
        "config key sources.proxy: a=0.6, b=0.6; expected 0 <= a < 1, 0 < b <= 1, a + b <= 1",
    ),
    ("zero demo meteo resolution", {"demo": {"meteo_resolution": 0}}, "config key demo.meteo_resolution"),
    ("negative demo land resolution", {"demo": {"land_resolution": -1}}, "config key demo.land_resolution"),
    (
        "demo bounds south > north",
        {"demo": {"bounds": [110, 43, 123, 34]}},
        "config key demo.bounds: expected west < east",
    ),
    ("demo persistence above 0.95", {"demo": {"persistence": {"west": 1.2}}}, "config key demo.persistence.west"),
    ("demo persistence below -0.95", {"demo": {"persistence": {"east": -1}}}, "config key demo.persistence.east"),
    ("land_max_missing above 1", {"regrid": {"land_max_missing": 1.5}}, "config key regrid.land_max_missing"),
    ("C4 rule not a class", {"landcover": {"c4_fraction": {"crops": 0.5}}}, "config key landcover.c4_fraction"),
    (
        "mod17 without a source",
        {"carbon": {"npp": "mod17"}},
        "config key sources.npp: carbon.npp or carbon.models has mod17",
    ),
    ("zero par fraction", {"carbon": {"par_fraction": 0}}, "config key carbon.par_fraction"),
    ("zero eps_c3", {"carbon": {"eps_c3": 0}}, "config key carbon.eps_c3"),
    ("negative eps_c4", {"carbon": {"eps_c4": -1}}, "config key carbon.eps_c4"),
    ("cue above 1", {"carbon": {"cue": 1.5}}, "config key carbon.cue"),
    (
        "C3 temperatures reversed",
        {"carbon": {"temperature": {"c3": {"tmin": 40, "topt": 20, "tmax": 0}}}},
        "config key carbon.temperature.c3: tmin 40, topt 20, tmax 0; expected tmin < topt < tmax",
    ),
    (
        "C4 optimum at the minimum",
        {"carbon": {"temperature": {"c4": {"tmin": 30}}}},
        "config key carbon.temperature.c4",
    ),
    (
        "carbon fraction in percent",
        {"carbon": {"rh": {"carbon_fraction": 46.5}}},
        "config key carbon.rh.carbon_fraction: 46.5; expected a number in (0, 1]",
    ),
    ("negative Rh scale", {"carbon": {"rh": {"a": -0.22}}}, "config key carbon.rh.a"),
    ("zero Priestley-Taylor alpha", {"carbon": {"water": {"pt_alpha": 0}}}, "config key carbon.water.pt_alpha"),
    ("unknown MK variant", {"analysis": {"mk_variant": "sen"}}, "config key analysis.mk_variant"),
    ("unknown Hurst estimator", {"analysis": {"hurst_estimator": "dfa"}}, "config key analysis.hurst_estimator"),
    ("too few surrogates", {"analysis": {"hurst_surrogates": 10}}, "config key analysis.hurst_surrogates"),
    ("ddof 2", {"analysis": {"cv_ddof": 2}}, "config key analysis.cv_ddof"),
    ("zero chunk", {"analysis": {"chunk": 0}}, "config key analysis.chunk"),
    ("unknown trend basis", {"classes": {"trend": {"basis": "theil"}}}, "config key classes.trend.basis"),
    ("unknown trend p", {"classes": {"trend": {"p": "r"}}}, "config key classes.trend.p"),
    ("trend alpha 1", {"classes": {"trend": {"alpha": 1}}}, "config key classes.trend.alpha"),
    ("unknown CV scheme", {"classes": {"cv_scheme": "coarse"}}, "config key classes.cv_scheme"),
    (
        "Hurst thresholds reversed",
        {"classes": {"hurst": {"thresholds": [0.65, 0.5, 0.35]}}},
        "config key classes.hurst.thresholds: [0.65, 0.5, 0.35]; expected three increasing values",
    ),
    ("two Hurst thresholds", {"classes": {"hurst": {"thresholds": [0.4, 0.6]}}}, "config key classes.hurst.thresholds"),
    ("unknown Hurst p", {"classes": {"hurst": {"p": "r"}}}, "config key classes.hurst.p"),
    ("Hurst alpha 0", {"classes": {"hurst": {"alpha": 0}}}, "config key classes.hurst.alpha"),
    ("unknown correlation p", {"classes": {"correlation": {"p": "x"}}}, "config key classes.correlation.p"),
    ("correlation alpha above 1", {"classes": {"correlation": {"alpha": 1.5}}}, "config key classes.correlation.alpha"),
    ("dpi 10", {"figures": {"dpi": 10}}, "config key figures.dpi"),
    ("base memory 10 MB", {"resources": {"base_mem_mb": 10}}, "config key resources.base_mem_mb"),
    ("negative memory per pixel", {"resources": {"mem_mb_per_mpixel": -1}}, "config key resources.mem_mb_per_mpixel"),
    (
        "negative aggregate memory",
        {"resources": {"aggregate_mem_mb_per_mpixel": -1}},
        "config key resources.aggregate_mem_mb_per_mpixel",
    ),
    ("zero block rows", {"resources": {"block_rows": 0}}, "config key resources.block_rows"),
    # real-data configs: what the retrieve jobs would reject, said by the dry run
    (
        "FPAR before MOD15A2H",
        {"sources": {"fpar": "earthdata"}, "years": {"start": 1995, "end": 2005}},
        "config key years.start: MOD15A2H (sources.fpar) starts in 2000, the run asks for 1995",
    ),
    (
        "NPP before MOD17A3HGF",
        {"carbon": {"npp": "mod17"}, "sources": {"npp": "earthdata"}},
        (
            "config key years.start: MOD17A3HGF (sources.npp) starts in 2001, the run asks for 2000; expected years from "
            "2001 (or carbon.npp: tec)"
        ),
    ),
    (
        "NPP of the ensemble before MOD17A3HGF",
        {"carbon": {"models": ["tec", "mod17"]}, "sources": {"npp": "earthdata"}},
        "config key years.start: MOD17A3HGF (sources.npp) starts in 2001, the run asks for 2000",
    ),
    (
        "ET before MOD16A2GF",
        {"sources": {"evap": "earthdata"}, "years": {"start": 1999, "end": 2005}},
        "config key years.start: MOD16A2GF (sources.evap) starts in 2000, the run asks for 1999",
    ),
    ("no station file", {"sources": {"sunshine": "stations"}}, "config key sources.stations.file: no station file set"),
    (
        "station file missing",
        {"sources": {"sunshine": "stations", "stations": {"file": "nowhere.csv"}}},
        "config key sources.stations.file: nowhere.csv not found",
    ),
    (
        "station file without hours",
        {"sources": {"sunshine": "stations", "stations": {"file": "no_hours.csv"}}},
        "no_hours.csv: missing column(s) hours; expected header station_id,lon,lat,date,hours",
    ),
    (
        "CMA daily file missing",
        {"sources": {"sunshine": "stations", "stations": {"file": "nowhere.txt", "format": "cma_daily"}}},
        "config key sources.stations.file: nowhere.txt not found; expected the CMA daily sunshine file",
    ),
    # the region's vector file: named, with the geometry problem
    (
        "vector file missing",
        {"region": {"vector_file": "nowhere.gpkg"}},
        "config key region.vector_file: nowhere.gpkg not found",
    ),
    (
        "vector file of a point",
        {"region": {"vector_file": "point.geojson"}},
        "point.geojson: feature 0 is a Point; expected polygons of the region",
    ),
    ("vector file without a CRS", {"region": {"vector_file": "no_crs.shp"}}, "no_crs.shp: vector file has no CRS"),
    (
        "vector file not a vector file",
        {"region": {"vector_file": "garbage.gpkg"}},
        "garbage.gpkg: not a readable vector file",
    ),
    (
        "vector file without features",
        {"region": {"vector_file": "empty.geojson"}},
        "empty.geojson: vector file has no features",
    ),
    (
        "vector name field absent",
        {"region": {"vector_file": "box.geojson", "name_field": "NAME"}},
        "config key region.name_field: 'NAME' is not a field of box.geojson",
    ),
    # the statistics' options
    ("bad mk_variant", {"analysis": {"mk_variant": "yue_wang_all_lags"}}, "config key analysis.mk_variant"),
    ("bad hurst_series", {"analysis": {"hurst_series": "returns"}}, "config key analysis.hurst_series"),
    (
        "bad detrend_correlation",
        {"analysis": {"detrend_correlation": "yes"}},
        "config key analysis.detrend_correlation",
    ),
    (
        "negative no_change_slope",
        {"classes": {"trend": {"no_change_slope": -1}}},
        "config key classes.trend.no_change_slope",
    ),
    ("bad random_band", {"classes": {"hurst": {"random_band": 0.7}}}, "config key classes.hurst.random_band"),
    # real sources' settings
    ("unknown evap source", {"sources": {"evap": "cds"}}, "config key sources.evap"),
    ("zero CDS poll interval", {"sources": {"cds": {"poll_interval": 0}}}, "config key sources.cds.poll_interval"),
    ("zero CDS client retries", {"sources": {"cds": {"retry_max": 0}}}, "config key sources.cds.retry_max"),
    ("unknown station format", {"sources": {"stations": {"format": "wmo"}}}, "config key sources.stations.format"),
    ("negative coastal fill", {"regrid": {"coast_fill_km": -1}}, "config key regrid.coast_fill_km"),
    ("negative uncertainty seed", {"uncertainty": {"seed": -1}}, "config key uncertainty.seed"),
    ("negative eps_c3 SD", {"uncertainty": {"sd": {"eps_c3": -0.1}}}, "config key uncertainty.sd.eps_c3"),
    ("negative eps_c4 SD", {"uncertainty": {"sd": {"eps_c4": -0.1}}}, "config key uncertainty.sd.eps_c4"),
    (
        "negative CASA eps_max SD",
        {"uncertainty": {"sd": {"casa_eps_max": -0.1}}},
        "config key uncertainty.sd.casa_eps_max",
    ),
    ("negative Rh a SD", {"uncertainty": {"sd": {"rh_a": -0.1}}}, "config key uncertainty.sd.rh_a"),
    ("negative Rh b SD", {"uncertainty": {"sd": {"rh_b": -0.1}}}, "config key uncertainty.sd.rh_b"),
    ("negative Rh c SD", {"uncertainty": {"sd": {"rh_c": -0.1}}}, "config key uncertainty.sd.rh_c"),
    # CASA, the ensemble, uncertainty and validation
    ("unknown NPP model", {"carbon": {"npp": "biome-bgc"}}, "config key carbon.npp"),
    ("unknown model in the ensemble", {"carbon": {"models": ["tec", "biome-bgc"]}}, "config key carbon.models.1"),
    ("empty ensemble", {"carbon": {"models": []}}, "config key carbon.models"),
    (
        "unknown class in the eps_max table",
        {"carbon": {"casa": {"eps_max": {"99": 0.5}}}},
        "config key carbon.casa.eps_max.99: not an IGBP class",
    ),
    ("zero eps_max", {"carbon": {"casa": {"eps_max": {"4": 0}}}}, "config key carbon.casa.eps_max.4"),
    ("mod17 in the ensemble without an NPP source", {"carbon": {"models": ["tec", "mod17"]}}, "config key sources.npp"),
    ("negative draws", {"uncertainty": {"draws": -1}}, "config key uncertainty.draws"),
    ("negative draw SD", {"uncertainty": {"sd": {"cue": -0.1}}}, "config key uncertainty.sd.cue"),
    (
        "missing site file",
        {"validation": {"sites": [{"id": "CN-X", "lon": 116.0, "lat": 38.0, "file": "no.csv"}]}},
        "config key validation.sites (CN-X): no.csv: file not found",
    ),
    (
        "site without a file",
        {"validation": {"sites": [{"id": "CN-X", "lon": 116.0, "lat": 38.0}]}},
        "config key validation.sites.0",
    ),
    ("even validation window", {"validation": {"window": 2}}, "config key validation.window"),
    (
        "site outside the grid",
        {"validation": {"sites": [{"id": "CN-X", "lon": 0.0, "lat": 0.0, "file": "no_hours.csv"}]}},
        "config key validation.sites (CN-X): lon 0.0, lat 0.0 is outside the grid",
    ),
    (
        "demo sites outside the region",
        {"region": {"provinces": ["Beijing"]}, "validation": {"demo_sites": True}},
        "config key validation.demo_sites (DEMO-CRO): lon 116.57, lat 36.83 is outside the grid",
    ),
    (
        "site CSV without NEE",
        {"validation": {"sites": [{"id": "CN-Nn", "lon": 116.4, "lat": 39.9, "file": "site_no_nee.csv"}]}},
        "site CN-Nn: site_no_nee.csv: missing column(s) NEE_VUT_REF",
    ),
    (
        "site land cover not IGBP",
        {
            "validation": {
                "sites": [{"id": "CN-Lc", "lon": 116.4, "lat": 39.9, "landcover": "forest", "file": "site_no_nee.csv"}]
            }
        },
        "config key validation.sites (CN-Lc).landcover: 'forest'; expected an IGBP class",
    ),
    (
        "site CSV all -9999",
        {"validation": {"sites": [{"id": "CN-Mv", "lon": 116.4, "lat": 39.9, "file": "site_missing.csv"}]}},
        "site CN-Mv: site_missing.csv: GPP_NT_VUT_REF and NEE_VUT_REF are all missing (-9999)",
    ),
]


def merged(cfg: dict, change: dict) -> dict:
    """``cfg`` with ``change`` merged in, mapping by mapping (as Snakemake merges a --configfile); a copy."""
    out = copy.deepcopy(cfg)
    change = copy.deepcopy(change)
    for key, value in change.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory):
    """The files the cases name."""
    import geopandas as gpd
    from shapely.geometry import Point, box

    tmp_path = tmp_path_factory.mktemp("cases")
    os.chdir(tmp_path)
    gpd.GeoDataFrame(geometry=[Point(116, 40)], crs="EPSG:4326").to_file("point.geojson")
    gpd.GeoDataFrame(geometry=[box(115, 39, 118, 41)], crs="EPSG:4326").to_file("box.geojson")
    gpd.GeoDataFrame(geometry=[box(115, 39, 118, 41)]).to_file("no_crs.shp")
    Path("empty.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    Path("garbage.gpkg").write_text("not a vector file\n")
    Path("no_hours.csv").write_text("station_id,lon,lat,date\n54511,116.47,39.8,2001-01-01\n")
    Path("site_no_nee.csv").write_text("TIMESTAMP,GPP_NT_VUT_REF\n2001,900\n")
    Path("site_missing.csv").write_text("TIMESTAMP,GPP_NT_VUT_REF,NEE_VUT_REF\n2001,-9999,-9999\n2002,-9999,-9999\n")
    os.chdir(ROOT)
    return tmp_path


@pytest.fixture()
def case_files(case_folder, monkeypatch):
    """A working directory with the files the cases name."""
    monkeypatch.chdir(case_folder)
    return case_folder


def troubleshooting_patterns() -> list:
    """The messages of the README's Troubleshooting table as patterns: `…` and a placeholder (X, Y, N, M) stand for
    any text; a message matches a row when it starts with one of the row's messages."""
    import re

    text = (ROOT / "README.md").read_text().split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    out = []
    for row in text.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split(" | ")[0]
        for msg in re.findall(r"`([^`]+)`", first):
            parts = re.split(r"( ?… ?|\b[XYNM]\b)", msg)
            out.append(
                re.compile("".join(".*?" if p.strip() in ("…", "X", "Y", "N", "M") else re.escape(p) for p in parts))
            )
    assert not any(p.match("ERROR: config key zzz: qqq") for p in out)  # no row matches any message
    return out


@pytest.mark.parametrize("name, change, expected", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_stops_the_plan(case_files, name, change, expected):
    """Every case stops the Snakefile's validation (the one function it calls), with one line, and the
    README's Troubleshooting table lists the message."""
    from nepflow import config as nconfig
    from nepflow.errors import NepflowError

    cfg = merged(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()), yaml.safe_load(TINY.read_text()))
    with pytest.raises(NepflowError) as err:
        nconfig.validate(merged(cfg, change), ROOT / "config" / "schema.yaml")
    line = f"ERROR: {err.value}"
    assert "\n" not in line and expected in line, line
    assert any(p.match(line) for p in troubleshooting_patterns()), f"not in README's Troubleshooting: {line}"


#: Cases run through the real `snakemake` on a finished run: the error comes before any job
#: (no log written, every file byte-identical). Each of these once cost a finished result.
WORKFLOW_CASES = [
    "min_valid_years above the years",
    "C3 temperatures reversed",
    "carbon fraction in percent",
    "grid bounds west > east",
    "one year",
    "grid of petabytes",
    "Hurst thresholds reversed",
    "grid beside the region",
]


@pytest.mark.parametrize("name", WORKFLOW_CASES)
def test_bad_config_leaves_a_finished_run_untouched(done, tmp_path, name):
    change, expected = next((c[1], c[2]) for c in CONFIG_CASES if c[0] == name)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(merged(yaml.safe_load(TINY.read_text()), change)))
    before = tree_state(done)
    proc = snakemake(done, "--cores", "1", configfile=path, check=False)
    assert proc.returncode != 0
    line = error_line(proc.stdout + proc.stderr)
    assert expected in line, line
    assert tree_state(done) == before  # no log, no new demo cache, every file as it was


CONSTRAINTS = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "enum",
    "pattern",
    "minItems",
    "maxItems",
    "oneOf",
}


def constrained_keys(node=None, path=()):
    """Every config key whose schema constrains its value beyond a type (a range, a choice, a length, a pattern)."""
    node = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text()) if node is None else node

    def constrained(n):
        return isinstance(n, dict) and (
            bool(CONSTRAINTS & set(n)) or any(constrained(n.get(k)) for k in ("items", "additionalProperties"))
        )

    out = []
    for name, sub in (node.get("properties") or {}).items():
        if "properties" in sub:
            out += constrained_keys(sub, (*path, name))
        elif constrained(sub):
            out.append(".".join((*path, name)))
    return out


def leaf_paths(change, path=()):
    for k, v in change.items():
        if isinstance(v, dict):
            yield from leaf_paths(v, (*path, k))
        yield ".".join((*path, k))


def test_every_constrained_schema_key_has_a_bad_value_case():
    """The suite grows with the schema: a new constrained key needs a case in CONFIG_CASES."""
    covered = set()
    for _, change, expected in CONFIG_CASES:
        for key in leaf_paths(change):
            if f"config key {key}" in expected:
                covered.add(key)
    keys = constrained_keys()
    assert len(keys) > 50
    uncovered = [k for k in keys if not any(c == k or c.startswith(k + ".") for c in covered)]
    assert not uncovered, f"config keys with a constraint but no case in CONFIG_CASES: {', '.join(uncovered)}"


# ------------------------------------------------------------------ files
def run_script(script, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True, env=env(), timeout=300
    )


@pytest.fixture()
def forcing_file(done, tmp_path):
    src = done / "results/tiny/forcing/2003.nc"
    dst = tmp_path / "forcing.nc"
    shutil.copy(src, dst)
    return dst


def carbon_job(forcing, out, params=None):
    out.parent.mkdir(parents=True, exist_ok=True)
    p = out.parent / "params.yaml"
    p.write_text(yaml.safe_dump({"carbon": nconfig.defaults("carbon", params or {}), "strictness": "default"}))
    return run_script("carbon.py", "--input", f"forcing={forcing}", "--output", f"carbon={out}", "--params", str(p))


def rewrite(path, fn):
    ds = xr.open_dataset(path, decode_coords="all").load()
    ds.close()
    ds = fn(ds)
    netcdf.write_netcdf(ds, path)


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


def test_forcing_on_another_grid_is_named_by_carbon(done, forcing_file, tmp_path):
    """The first job reading a forcing file on another grid names that file (not, later, carbon/{year}.nc)."""
    rewrite(forcing_file, lambda ds: ds.isel(x=slice(1, None)))
    out = tmp_path / "out" / "carbon.nc"
    out.parent.mkdir()
    (out.parent / "params.yaml").write_text(
        yaml.safe_dump({"carbon": nconfig.defaults("carbon"), "strictness": "default"})
    )
    proc = run_script(
        "carbon.py",
        "--input",
        f"forcing={forcing_file}",
        "--input",
        f"grid={done / 'results/tiny/grid.nc'}",
        "--output",
        f"carbon={out}",
        "--params",
        str(out.parent / "params.yaml"),
    )
    assert proc.returncode != 0
    line = error_line(proc.stderr)
    assert "forcing.nc: grid differs from the run's target grid (grid.nc)" in line, line
    assert not out.exists()


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
    netcdf.write_netcdf(ds.isel(x=slice(1, None)), odd)
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
    proc = run_script(
        "statistic.py",
        "--input",
        f"series={series_file}",
        "--output",
        f"analysis={out / 'stability.nc'}",
        "--params",
        str(tmp_path / "params.yaml"),
    )
    return proc, out


def test_fewer_valid_years_than_the_configured_minimum(done, tmp_path):
    series_file = tmp_path / "annual.nc"
    ds = xr.open_dataset(done / "results/tiny/series/annual.nc", decode_coords="all").load()
    nep = ds["nep"].values.copy()
    nep[::2] = np.nan  # 10 of 21 years left in every pixel
    ds["nep"].values = nep
    netcdf.write_netcdf(ds, series_file)
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


# ------------------------------------------------------------------ real-data inputs
BBOX = [115.0, 39.0, 118.0, 41.5]


def local_manifest(tmp_path, root, product, year=2001):
    """Run the local source's retrieval (it records the user's files) and return its manifest."""
    from nepflow.sources import local

    cfg = nconfig.defaults("sources", {"local": {"root": str(root)}, "bbox": BBOX})
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
    one_line_error(
        lambda: local.open_year("fpar", 2001, manifest, cfg),
        str(bad),
        "not a readable HDF4 file",
        "expected a MODIS HDF4-EOS tile",
    )
    assert bad.read_text().startswith("<html>")  # the user's file is left as it was


def _geotiff(path, crs, lon0=115.5, lat0=40.5):
    import rasterio
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=8,
        height=6,
        count=1,
        dtype="uint8",
        crs=crs,
        transform=from_origin(lon0, lat0, 0.25, 0.25),
    ) as dst:
        dst.write(np.full((1, 6, 8), 12, np.uint8))
    return path


def test_geotiff_without_crs(tmp_path):
    from nepflow.sources import local

    root = tmp_path / "mine"
    tif = _geotiff(root / "landcover" / "2001.tif", None)
    cfg, manifest = local_manifest(tmp_path, root, "landcover")
    one_line_error(
        lambda: local.open_year("landcover", 2001, manifest, cfg, {"12": 0.5}),
        str(tif),
        "GeoTIFF without a CRS",
        "expected a georeferenced raster",
    )


def test_geotiff_with_the_wrong_crs(tmp_path):
    """Lon/lat degrees labelled Web Mercator (metres): the raster lands off West Africa, not on the region."""
    from nepflow.sources import local

    root = tmp_path / "mine"
    tif = _geotiff(root / "landcover" / "2001.tif", "EPSG:3857")
    cfg, manifest = local_manifest(tmp_path, root, "landcover")
    one_line_error(
        lambda: local.open_year("landcover", 2001, manifest, cfg, {"12": 0.5}),
        str(tif),
        "EPSG:3857",
        "outside the request box",
        "expected a raster over the region",
    )
    good = _geotiff(tmp_path / "ok" / "landcover" / "2001.tif", "EPSG:4326")
    cfg, manifest = local_manifest(tmp_path / "ok-data", good.parents[1], "landcover")
    assert local.open_year("landcover", 2001, manifest, cfg, {"12": 0.5})["c4_frac"].notnull().any()


def retrieve_job(tmp_path, source, product, settings, outputs, extra_env):
    """scripts/retrieve.py from the command line, credentials from an empty home (and ``extra_env``)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    e = env()
    for k in (
        "EARTHDATA_USERNAME",
        "EARTHDATA_PASSWORD",
        "EARTHDATA_TOKEN",
        "CDSAPI_URL",
        "CDSAPI_KEY",
        "NETRC",
        "CDSAPI_RC",
    ):
        e.pop(k, None)
    e.update(HOME=str(home), **extra_env)
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "source": source,
                "product": product,
                "settings": settings,
                "download": {"tries": 1, "connect_timeout": 1, "read_timeout": 1},
            }
        )
    )
    args = [
        sys.executable,
        str(ROOT / "scripts" / "retrieve.py"),
        "--params",
        str(params),
        "--wildcard",
        "year=2001",
        "--log",
        str(tmp_path / "logs" / "retrieve.log"),
    ]
    for name, path in outputs.items():
        args += ["--output", f"{name}={path}"]
    return subprocess.run(args, capture_output=True, text=True, env=e, timeout=300)


@pytest.mark.parametrize(
    "source, product, expected",
    [
        ("earthdata", "landcover", ["Earthdata credentials missing", "EARTHDATA_TOKEN", "~/.netrc"]),
        ("cds", "meteo", ["CDS credentials missing", "CDSAPI_KEY", "~/.cdsapirc"]),
    ],
    ids=["earthdata", "cds"],
)
def test_missing_credentials(tmp_path, source, product, expected):
    """One line naming what to set; a half-set secret (a password without its user) never printed;
    no request sent (nothing listens on port 9) and nothing written but the log."""
    decoy = "decoy-secret-8f7e6d5c"
    settings = nconfig.defaults(
        "sources",
        {
            "bbox": BBOX,
            "earthdata": {"cmr_url": "https://127.0.0.1:9/search/", "edl_host": "127.0.0.1:9", "tiles": ["h26v04"]},
            "cds": {"url": "http://127.0.0.1:9/api"},
        },
    )
    data = tmp_path / "data"
    outputs = {"manifest": data / "x" / "2001.json"}
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
    units = {"tas": "degC", "pr": "mm month-1", "ssrd": "MJ m-2 month-1", "rn": "MJ m-2 month-1", "evap": "mm month-1"}
    values = {"tas": 10.0, "pr": 40.0, "ssrd": 450.0, "rn": 250.0, "evap": 30.0}
    ds = xr.Dataset(
        {k: (("time", "lat", "lon"), np.full(shape, values[k]), {"units": u}) for k, u in units.items()},
        coords={"time": time, "lat": lat, "lon": lon},
    )
    (root / "meteo").mkdir(parents=True)
    ds.to_netcdf(root / "meteo" / "2001.nc")
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(
        run_name="badmeteo",
        years={"start": 2001, "end": 2003},
        sources={"meteo": "local", "local": {"root": "mine_bad_meteo"}},
        data_dir="data_badmeteo",
    )  # its own cache: a demo job of other products may rewrite shared files
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


def test_permanent_retrieve_error_is_not_retried(done, tmp_path):
    """A local file that is not there: the retrieve job stops once, with one ERROR line (a retry, even a
    profile's `retries:`, would only print it again); the earlier run is untouched."""
    cfg = merged(
        yaml.safe_load(TINY.read_text()),
        {
            "run_name": "nolocal",
            "years": {"start": 2001, "end": 2003},
            "sources": {"meteo": "local", "local": {"root": "no_such_folder"}},
        },
    )
    path = tmp_path / "nolocal.yaml"
    path.write_text(yaml.safe_dump(cfg))
    before = tree_state(done)
    proc = snakemake(
        done, "--cores", "1", "--retries", "2", "results/nolocal/forcing/2001.nc", configfile=path, check=False
    )
    assert proc.returncode != 0
    line = error_line(proc.stdout + proc.stderr)  # exactly one
    assert "local meteo 2001: none of" in line and "no_such_folder" in line, line
    after = tree_state(done)
    assert {k: after.get(k) for k in before} == before


def test_nested_config_override_is_typed_by_the_schema(done):
    """`--config 'years={start: 2005, end: 2008}'`: Snakemake hands the years over as strings; the plan
    gets integers (four years of carbon, the aggregates rerun over them)."""
    from workflow import scheduled_jobs

    counts = scheduled_jobs(done, config=["years={start: 2005, end: 2008}"])
    assert counts.get("series") == 1 and "carbon" not in counts, counts
    proc = snakemake(done, "-n", config=["grid.resolution=0.1"], check=False)
    assert proc.returncode != 0  # Snakemake's own message; README's Troubleshooting says how to write it
    assert "valid identifier" in proc.stdout + proc.stderr
