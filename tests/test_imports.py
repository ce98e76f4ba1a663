"""A job imports what it uses: start-up is most of a small job's time (benchmarks/results/demo.md).

Two habits keep rasterio and rioxarray (about 0.3 CPU-s on top of xarray and dask) out of the jobs that never
touch a GeoTIFF or reproject: a module that uses the ``.rio`` accessor imports rioxarray itself (no module gets it
as a side effect of another's import), and every ``xr.open_dataset`` names its engine (without one, xarray loads
every installed backend plugin to guess, rioxarray's among them).
"""

from __future__ import annotations

import ast
import subprocess
import sys

from workflow import ROOT, env

SCRIPTS = ROOT / "scripts"
PY_FILES = sorted(p for p in SCRIPTS.rglob("*.py") if "__pycache__" not in p.parts)


def _calls(tree: ast.AST, names: set[str]):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names:
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "xr":
                yield node


def test_every_open_dataset_names_its_engine():
    unnamed = [
        f"{path.relative_to(ROOT)}:{call.lineno}"
        for path in PY_FILES
        for call in _calls(ast.parse(path.read_text()), {"open_dataset", "open_dataarray", "load_dataset"})
        if not any(k.arg == "engine" for k in call.keywords)
    ]
    assert not unnamed, f"xr.open_dataset without engine= (loads every backend plugin): {unnamed}"


def test_a_module_using_the_rio_accessor_imports_rioxarray():
    missing = [
        str(path.relative_to(ROOT))
        for path in PY_FILES
        if ".rio." in path.read_text() and "import rioxarray" not in path.read_text()
    ]
    assert not missing, f"use .rio without importing rioxarray (they rely on another module's import): {missing}"


def test_the_carbon_job_does_not_import_rasterio(tmp_path):
    """The carbon job's imports, then the reading and writing it does, leave rasterio unloaded."""
    code = f"""
import runpy, sys
sys.argv = ["carbon.py", "--help"]
sys.path.insert(0, {str(SCRIPTS)!r})
try:
    runpy.run_path({str(SCRIPTS / "carbon.py")!r}, run_name="__main__")
except SystemExit:
    pass
import numpy as np, xarray as xr
from nepflow import netcdf
ds = xr.Dataset({{"nep": (("y", "x"), np.ones((2, 2), "float32"))}}, coords={{"y": [1.0, 0.0], "x": [0.0, 1.0]}})
netcdf.write_netcdf(ds, {str(tmp_path / "a.nc")!r})
netcdf.open_dataset({str(tmp_path / "a.nc")!r}, ["nep"]).load()
print(sorted(m for m in ("rasterio", "rioxarray") if m in sys.modules))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
