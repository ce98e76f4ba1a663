"""Memory of an aggregate rule is bounded by its chunk, not by the grid.

The `stability` entry runs in a subprocess (peak RSS from ``resource.getrusage``) on a mid-size
annual cube (80 years x 1000 x 1000 pixels: NEP alone is 320 MB in float32; with 21 years the cube
would be smaller than the job's 2-D result maps, and the test could not tell a loaded cube apart)
after the same job on a tiny one (the process's own footprint: Python, libraries, the compiled
kernels). Chunked by its memory resource, the job's peak RSS grows by less than BOUND_MB; the same
job with one chunk for the whole grid grows by more, so the bound does catch a loaded cube.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
YEARS = list(range(1941, 2021))
#: Allowed growth of peak RSS over the tiny run (MB): the 2-D result maps of the million pixels
#: (the engine's float64 outputs and their copies, the NetCDF and GeoTIFF writes: about 300 MB
#: measured) and the slab the engine reads at a time (chunks merged to >= 262,144 pixels: 84 MB at
#: 80 years): 423 MB measured; loading the whole cube measured 710 MB.
BOUND_MB = 560

RUN = """
import json, resource, sys
from types import SimpleNamespace
sys.path.insert(0, {scripts!r})
import importlib.util
spec = importlib.util.spec_from_file_location("entry", {entry!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
peaks = []
for job in {jobs!r}:
    named = {{k: SimpleNamespace(**v) for k, v in job.items() if k in ("resources", "wildcards")}}
    mod.main(SimpleNamespace(**{{**job, **named}}, threads=1, log=[]))
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(peaks))
"""


def _peaks(entry: str, jobs: list[dict]) -> list[float]:
    """Peak RSS (MB) of one process after each of ``jobs`` (the Snakemake job's fields as dicts) of
    the entry script ``entry``, run one after the other."""
    code = RUN.format(scripts=str(ROOT / "scripts"), entry=str(ROOT / "scripts" / f"{entry}.py"), jobs=jobs)
    # through a shell that forks: Linux keeps a process's peak RSS across exec, so a child exec'd
    # straight from this (large) pytest process would report pytest's peak as its own
    proc = subprocess.run(
        ["sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, code], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cube(path: Path, n: int) -> Path:
    rng = np.random.default_rng(1)
    y = 43.0 - (np.arange(n) + 0.5) * 0.01
    x = 110.0 + (np.arange(n) + 0.5) * 0.01
    shape = (len(YEARS), n, n)
    nep = (200 + 50 * rng.standard_normal(shape, dtype="float32")).astype("float32")
    climate = {v: ("year", np.ones(len(YEARS), "float32")) for v in ("pr", "tas", "sund")}  # unread by stability
    ds = xr.Dataset(
        {"nep": (("year", "y", "x"), nep), **climate}, coords={"year": YEARS, "y": y, "x": x}
    ).rio.write_crs("EPSG:4326")
    from nepflow import netcdf

    netcdf.write_netcdf(ds, path)
    return path


def _peak_rss(tmp: Path, tiny: Path, mid: Path, chunk: int) -> tuple[float, float]:
    """Peak RSS (MB) of one process after the job on ``tiny`` (its footprint, the kernels compiled)
    and after the job on ``mid`` with chunk edge ``chunk`` (0: from mem_mb)."""
    jobs = []
    for series, edge, out in ((tiny, 0, str(tmp / f"tiny{chunk}") + "/"), (mid, chunk, str(tmp / f"mid{chunk}") + "/")):
        jobs.append(
            {
                "input": {"series": str(series)},
                "output": {"analysis": out + ".nc", "tifs": [out + v + ".tif" for v in ("nep_mean", "nep_std", "cv")]},
                "params": {"statistic": "stability", "analysis": {"cv_ddof": 1, "min_valid_years": None}},
                "resources": {"mem_mb": 1000, "chunk": edge},
            }
        )
    return tuple(_peaks("statistic", jobs))


@pytest.fixture(scope="module")
def cubes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("memory")
    return tmp, _cube(tmp / "tiny.nc", 20), _cube(tmp / "mid.nc", 1000)


def test_aggregate_peak_rss_bounded_by_the_chunk(cubes):
    tmp, tiny, mid = cubes
    base, chunked = _peak_rss(tmp, tiny, mid, 0)  # chunk edge from mem_mb=1000, 1 thread (blocks.chunk_edge)
    base_whole, whole = _peak_rss(tmp, tiny, mid, 1000)  # one chunk: the whole cube in memory
    assert chunked - base < BOUND_MB, (base, chunked, base_whole, whole)
    assert whole - base_whole > BOUND_MB, (base, chunked, base_whole, whole)


# ---------------------------------------------------------------- the regrid job
def test_regrid_peak_rss_grows_with_the_block_not_the_grid(tmp_path):
    """One demo year regridded onto a coarse grid (0.1 deg, 10 k pixels: the process's footprint)
    then a finer one (0.02 deg, 0.26 M pixels), in blocks of about the same pixels (84 rows of 126, 17 of
    625): the peak grows by less than one float32 copy of the drivers of the added pixels (192
    bytes a pixel). Keeping every regridded driver on the whole grid until the forcing is assembled
    grew it by about 900 bytes a pixel (measured); the drivers wait on disk instead
    (nepflow.spill), and what grows is the whole-grid 2-D maps (about 110 bytes a pixel)."""
    import test_chunking as tc

    from nepflow import blocks

    cfg = tc._config()  # the demo at 0.25/0.125 deg native resolution: quick to generate
    # at 0.02 deg the Miaodao islands are region pixels, over 50 km from a 0.25 deg cell that is mostly land
    cfg["regrid"]["coast_fill_km"] = 100
    tc._run_stage("retrieve", tmp_path, tmp_path, cfg, rows=64)  # one year (rows != WHOLE)
    pixels = []
    for res in (0.1, 0.02):
        cfg["grid"]["resolution"] = res
        tc._run_stage("grid", tmp_path / str(res), tmp_path, cfg)
        with xr.open_dataset(tmp_path / str(res) / "grid.nc") as g:
            pixels.append(g.sizes["y"] * g.sizes["x"])
    inputs = {
        p: str(tmp_path / tc._delivered(2000, p, "manifest" if p != "meteo" else "data")) for p in tc.DEMO_PRODUCTS
    }
    jobs = [
        {
            "input": {**inputs, "grid": str(tmp_path / str(res) / "grid.nc")},
            "output": {"forcing": str(tmp_path / f"forcing_{res}.nc")},
            "params": tc._regrid_params(cfg),
            "wildcards": {"year": "2000"},
            "resources": {"mem_mb": 1000, "block_rows": rows},
        }
        for res, rows in ((0.1, 84), (0.02, 17))
    ]
    coarse, fine = _peaks("regrid", jobs)
    drivers_mb = (pixels[1] - pixels[0]) * blocks.FORCING_VARIABLES * blocks.MONTHS * blocks.F32 / 2**20
    assert fine - coarse < drivers_mb, (coarse, fine, pixels, drivers_mb)
    assert not list(tmp_path.glob(".forcing_*.spill-*")), "the temporary drivers file is left behind"
