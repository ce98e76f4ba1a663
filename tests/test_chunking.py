"""Blocks and chunks change no output: every rule's entry script, run in awkward blocks of rows
(7 rows, not a divisor of the grid's 36 rows; single rows) or dask chunks (5 pixels), gives
the outputs of the same entry run on the whole grid at once.

Each stage reads the whole-grid run's inputs, so a stage is compared on its own. Values are
compared exactly, except regrid (GDAL's coordinate transforms of a block's window round
differently: 1e-6 relative) and the area table (sums over blocks: 1e-12 relative).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
YEARS = list(range(2000, 2004))
DEMO_PRODUCTS = ["meteo", "fpar", "landcover", "sunshine"]
STATS = {
    "trend": [
        "ols_slope",
        "ols_intercept",
        "ols_p",
        "ols_q",
        "sen_slope",
        "sen_intercept",
        "mk_s",
        "mk_z",
        "mk_p",
        "mk_q",
        "mk_tau",
        "valid_years",
    ],
    "hurst": ["hurst", "hurst_p", "hurst_q"],
    "stability": ["nep_mean", "nep_std", "cv"],
    "correlation": [f"{k}_{f}" for f in ("pr", "tas", "sund") for k in ("r", "p_r", "q_r", "pr", "p_pr", "q_pr")],
}
WHOLE = 10**6  # rows per block larger than any test grid: one block


def _entry(name):
    spec = importlib.util.spec_from_file_location(f"entry_{name}", ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value


def _config():
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(grid={"resolution": 0.25}, years={"start": YEARS[0], "end": YEARS[-1]})
    cfg["demo"].update(meteo_resolution=0.25, land_resolution=0.125)
    cfg.setdefault("regrid", {})["coast_fill_km"] = (
        50  # as tests/configs/tiny.yaml: the 0.25° meteorology's coastal cells
    )
    validate(cfg, str(ROOT / "config" / "schema.yaml"), set_default=True)
    cfg["analysis"]["hurst_surrogates"] = 200
    from nepflow.sources import download

    cfg["bbox"] = download.request_bbox(cfg)
    return _sorted(cfg)


def _names(product):
    """The names of the files the demo's retrieve job writes for ``product`` (data, manifest)."""
    from nepflow.sources import demo

    return list(demo.outputs(product, 2000, {"demo": {"bounds": None}, "bbox": [0.0, 0.0, 1.0, 1.0]}))


def _delivered(year, product, name):
    """The file name of a demo product's delivery (its data in the real format, or its manifest)."""
    from nepflow.sources import demo

    return f"{year}_{product}" + (".json" if name == "manifest" else Path(demo.FILES[product]).suffix)


def _regrid_params(cfg):
    """The regrid job's params for the demo's products, as the rules give them."""
    return {
        "sources": {p: "demo" for p in DEMO_PRODUCTS},
        "source_settings": {"demo": cfg["demo"]},
        "land_max_missing": cfg["regrid"]["land_max_missing"],
        "coast_fill_km": cfg["regrid"]["coast_fill_km"],
        "methods": cfg["regrid"]["methods"],
        "landcover": cfg["landcover"],
        "par_fraction": cfg["carbon"]["par_fraction"],
        "strictness": cfg["checks"]["strictness"],
    }


def _job(rows=WHOLE, threads=1, **kw):
    return SimpleNamespace(resources=SimpleNamespace(mem_mb=1000, block_rows=rows), threads=threads, log=[], **kw)


def _run_stage(stage, d: Path, src: Path, cfg, rows=WHOLE, chunk=None):
    """Run one stage's entry with inputs from ``src`` and outputs into ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    if stage == "grid":
        _entry("grid").main(
            _job(
                rows,
                params={"grid": cfg["grid"], "region": cfg["region"]},
                input={},
                output={"grid": str(d / "grid.nc")},
            )
        )
    elif stage == "retrieve":  # the demo source's retrieval (one job for its four products)
        for y in YEARS[:1] if rows != WHOLE else YEARS:
            _entry("retrieve").main(
                _job(
                    rows,
                    wildcards=SimpleNamespace(year=str(y)),
                    input={},
                    params={
                        "source": "demo",
                        "products": DEMO_PRODUCTS,
                        "settings": {"bbox": cfg["bbox"], "demo": cfg["demo"]},
                    },
                    output={
                        f"{p}_{name}": str(d / _delivered(y, p, name)) for p in DEMO_PRODUCTS for name in _names(p)
                    },
                )
            )
    elif stage in ("regrid", "carbon"):
        for y in YEARS[:1] if rows != WHOLE else YEARS:
            if stage == "regrid":
                inputs = {p: str(src / _delivered(y, p, "data" if p == "meteo" else "manifest")) for p in DEMO_PRODUCTS}
                inputs["grid"] = str(src / "grid.nc")
                params = _regrid_params(cfg)
                out = {"forcing": str(d / f"forcing_{y}.nc")}
            else:
                inputs = {"forcing": str(src / f"forcing_{y}.nc")}
                params = {"carbon": cfg["carbon"], "strictness": cfg["checks"]["strictness"]}
                out = {"carbon": str(d / f"carbon_{y}.nc")}
            _entry(stage).main(
                _job(rows, wildcards=SimpleNamespace(year=str(y)), params=params, input=inputs, output=out)
            )
    elif stage == "series":
        _entry("series").main(
            _job(
                rows,
                params={"years": YEARS},
                input={
                    "carbon": [str(src / f"carbon_{y}.nc") for y in YEARS],
                    "forcing": [str(src / f"forcing_{y}.nc") for y in YEARS],
                },
                output={"series": str(d / "series.nc")},
            )
        )
    elif stage in STATS:
        a = {k: v for k, v in cfg["analysis"].items() if k != "chunk"}  # chunk: a resource
        job = _job(
            rows,
            threads=2,
            params={"statistic": stage, "analysis": a},
            input={"series": str(src / "series.nc")},
            output={"analysis": str(d / f"{stage}.nc"), "tifs": [str(d / "tif" / f"{v}.tif") for v in STATS[stage]]},
        )
        job.resources.chunk = chunk
        _entry("statistic").main(job)
    elif stage == "classes":
        _entry("classes").main(
            _job(
                rows,
                params={"classes": cfg["classes"]},
                input={k: str(src / f"{k}.nc") for k in STATS},
                output={"classes": str(d / "classes.nc")},
            )
        )
    elif stage == "area_stats":
        _entry("area_stats").main(
            _job(
                rows,
                params={"years": YEARS},
                input={
                    "classes": str(src / "classes.nc"),
                    "stability": str(src / "stability.nc"),
                    "grid": str(src / "grid.nc"),
                },
                output={"table": str(d / "area_stats.csv"), "summary": str(d / "summary.md")},
            )
        )


ORDER = ["grid", "retrieve", "regrid", "carbon", "series", *STATS, "classes", "area_stats"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """Every stage on the whole grid at once (one block, one dask chunk)."""
    cfg = _config()
    d = tmp_path_factory.mktemp("whole")
    for stage in ORDER:
        _run_stage(stage, d, d, cfg, chunk=WHOLE)
    return cfg, d


def _assert_nc_equal(a: Path, b: Path, rtol=0.0):
    x = xr.open_dataset(a, decode_cf=False)
    y = xr.open_dataset(b, decode_cf=False)
    assert set(x.variables) == set(y.variables), a.name
    for v in x.variables:
        assert x[v].dtype == y[v].dtype and x[v].dims == y[v].dims, (a.name, v)
        if rtol:
            np.testing.assert_allclose(y[v].values, x[v].values, rtol=rtol, atol=1e-6, err_msg=f"{a.name} {v}")
        else:
            np.testing.assert_array_equal(y[v].values, x[v].values, err_msg=f"{a.name} {v}")
        keep = lambda attrs: {k: str(val) for k, val in attrs.items()}  # noqa: E731
        assert keep(x[v].attrs) == keep(y[v].attrs), (a.name, v)
    assert {k: str(v) for k, v in x.attrs.items()} == {k: str(v) for k, v in y.attrs.items()}, a.name


def _compare(stage, d: Path, ref: Path):
    files = sorted(p.name for p in d.glob("*.nc"))
    assert files or stage == "area_stats", stage
    for name in files:
        _assert_nc_equal(ref / name, d / name, rtol=1e-6 if stage == "regrid" else 0.0)
    for tif in sorted((d / "tif").glob("*.tif")):
        with rasterio.open(tif) as a, rasterio.open(ref / "tif" / tif.name) as b:
            assert a.dtypes == b.dtypes and a.profile["blockxsize"] == b.profile["blockxsize"]
            np.testing.assert_array_equal(a.read(), b.read(), err_msg=tif.name)
    if stage == "area_stats":
        x, y = pd.read_csv(ref / "area_stats.csv"), pd.read_csv(d / "area_stats.csv")
        pd.testing.assert_frame_equal(x, y, rtol=1e-12)
        assert (ref / "summary.md").read_text() == (d / "summary.md").read_text()


@pytest.mark.parametrize(
    "stage,rows",
    [
        *[(s, 7) for s in ("regrid", "carbon", "series", "classes", "area_stats")],
        *[(s, 1) for s in ("regrid", "classes", "area_stats")],
    ],
)
def test_blocks_of_rows_give_the_whole_grid_outputs(whole, tmp_path, stage, rows):
    cfg, ref = whole
    _run_stage(stage, tmp_path, ref, cfg, rows=rows)
    _compare(stage, tmp_path, ref)


@pytest.mark.parametrize("stage,chunk", [(s, 5) for s in STATS])
def test_dask_chunks_give_the_whole_grid_statistics(whole, tmp_path, stage, chunk):
    cfg, ref = whole
    _run_stage(stage, tmp_path, ref, cfg, chunk=chunk)
    _compare(stage, tmp_path, ref)


def test_memory_table_counts_what_the_stages_hold(whole):
    """The counts behind nepflow.blocks' bytes per pixel are at least what the stages hold."""
    from nepflow import blocks, forcing

    _, d = whole
    assert blocks.FORCING_VARIABLES == len(forcing.FORCING_VARS)
    with xr.open_dataset(d / "forcing_2000.nc") as f:
        assert len(f.data_vars) == blocks.FORCING_VARIABLES
    maps = 0
    for stage in STATS:
        with xr.open_dataset(d / f"{stage}.nc") as ds:
            maps += len(ds.data_vars)
    assert maps <= blocks.ANALYSIS_MAPS
    with xr.open_dataset(d / "classes.nc") as ds:
        assert len(ds.data_vars) <= blocks.CLASS_MAPS
    # every stage that sizes blocks from memory has its row; a year-holding stage grows with the years
    for stage in ("regrid", "carbon", "carbon_monthly", "series", "classes", "area_stats"):
        assert blocks.stage_bytes(stage) > 0
    assert blocks.stage_bytes("series", 21) > blocks.stage_bytes("series", 4)
    with pytest.raises(KeyError, match="no memory row"):
        blocks.stage_bytes("figures")


def test_block_rows_from_memory():
    from nepflow import blocks

    assert blocks.block_rows(1300, 1000, mem_mb=1000) == 256  # 400 MB / 1.3 MB per row: whole NetCDF chunks
    assert blocks.block_rows(1300, 1000, mem_mb=100) == 16
    assert blocks.block_rows(1300, 1000, mem_mb=1, ny=10) == 1
    assert blocks.block_rows(1300, 1000, mem_mb=1000, rows=7) == 7
    assert blocks.block_rows(1300, 1000, mem_mb=10**6, ny=900) == 900
    assert blocks.chunk_edge(21, 1000, 2) == 256 and blocks.chunk_edge(21, 1000, 2, chunk=5) == 5
    assert blocks.chunk_edge(21, 200, 2) == 128 and blocks.chunk_edge(21, 10, 1) == 32  # divisors of the stored 256
    assert blocks.chunk_edge(21, 10**5, 2) == 512  # at most two stored chunks
    assert blocks.row_slices(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert blocks.row_slices(10, None) == [slice(0, 10)]
    assert (
        blocks.rows_for_pixels(7, 10) == 1 and blocks.rows_for_pixels(7, 3) == 1 and blocks.rows_for_pixels(5, 20) == 4
    )
