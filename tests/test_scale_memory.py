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
spec = importlib.util.spec_from_file_location("entry_statistic", {entry!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
peaks = []
for series, chunk, out in {jobs!r}:
    job = SimpleNamespace(
        input={{"series": series}}, output={{"analysis": out + ".nc", "tifs": [out + v + ".tif" for v in ("nep_mean", "nep_std", "cv")]}},
        params={{"statistic": "stability", "analysis": {{"cv_ddof": 1, "min_valid_years": None}}}},
        resources=SimpleNamespace(mem_mb=1000, chunk=chunk), threads=1, log=[])
    mod.main(job)
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(peaks))
"""


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
    jobs = [(str(tiny), 0, str(tmp / f"tiny{chunk}") + "/"), (str(mid), chunk, str(tmp / f"mid{chunk}") + "/")]
    code = RUN.format(scripts=str(ROOT / "scripts"), entry=str(ROOT / "scripts" / "statistic.py"), jobs=jobs)
    # through a shell that forks: Linux keeps a process's peak RSS across exec, so a child exec'd
    # straight from this (large) pytest process would report pytest's peak as its own
    proc = subprocess.run(
        ["sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, code], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tuple(json.loads(proc.stdout.strip().splitlines()[-1]))


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
