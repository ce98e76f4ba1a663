"""Reading and writing nepflow's files: NetCDF (CF-1.8) and Cloud-Optimized GeoTIFF.

Writes are atomic: a file is written under a temporary name in the same folder
and moved into place only when complete, so a killed job never leaves a file
that looks finished. Read errors are one line naming the file.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
import yaml

from .errors import NepflowError

#: NetCDF chunk edge (pixels) for y/x; the time axis is kept whole in a chunk.
CHUNK = 256


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    Errors writing to the folder (missing permission, disk full) become a
    one-line NepflowError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # leftovers of an attempt killed with SIGKILL (no cleanup ran) go first
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*"):
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise NepflowError(f"cannot write {path}: {_why(exc, path.parent)}") from exc
    tmp = Path(tmp)
    try:
        # mkstemp makes 0600 files; outputs get the usual permissions (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise NepflowError(f"cannot write {path}: {_why(exc, path.parent)}") from exc
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        # netCDF4 ("NetCDF: HDF error") and GDAL report a full disk without errno: say what it is
        if isinstance(exc, Exception) and _disk_full(path.parent):
            raise NepflowError(f"cannot write {path}: no space left on device") from exc
        raise


def _why(exc: OSError, folder: Path) -> str:
    """The reason of a failed write; HDF5 reports a full disk as 'Permission denied'."""
    return "no space left on device" if _disk_full(folder) else (exc.strerror or str(exc))


def _disk_full(folder: Path, floor: int = 1 << 20) -> bool:
    """True if ``folder``'s file system has less than ``floor`` bytes free."""
    try:
        return shutil.disk_usage(folder).free < floor
    except OSError:
        return False


def _encoding(ds: xr.Dataset) -> dict:
    enc = {}
    for name, var in ds.data_vars.items():
        e: dict = {"zlib": True, "complevel": 1, "shuffle": True}
        if var.ndim:
            e["chunksizes"] = tuple(
                min(n, CHUNK) if d in ("y", "x") else n for d, n in zip(var.dims, var.shape)
            )
        if np.issubdtype(var.dtype, np.floating):
            e.update(dtype="float32", _FillValue=np.float32(np.nan))
        elif np.issubdtype(var.dtype, np.integer):
            e["_FillValue"] = None
        enc[name] = e
    for name in ds.coords:
        enc[name] = {"_FillValue": None}
    return enc


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as CF-1.8 NetCDF4 to ``path`` atomically.

    Float variables are stored as float32 with NaN fill; y/x chunks of
    ``CHUNK`` pixels with the other axes whole; light zlib compression.
    """
    ds = ds.copy()
    ds.attrs.setdefault("Conventions", "CF-1.8")
    if "spatial_ref" in ds.coords:
        for name, var in ds.data_vars.items():
            if {"y", "x"} <= set(var.dims):
                var.attrs["grid_mapping"] = "spatial_ref"
                var.encoding.pop("grid_mapping", None)
    with atomic_path(path, suffix=".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds))
    return Path(path)


def open_dataset(path: str | os.PathLike, variables=None, chunks=None) -> xr.Dataset:
    """Open a NetCDF file, checking it exists, is readable and has ``variables``.

    Returns the dataset with the CRS of its ``spatial_ref`` decoded. Raises a
    one-line NepflowError naming the file and what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise NepflowError(f"{path}: file not found")
    try:
        ds = xr.open_dataset(path, engine="netcdf4", chunks=chunks, decode_coords="all")
    except Exception as exc:  # netCDF4 raises OSError/RuntimeError/ValueError
        raise NepflowError(f"{path}: not a readable NetCDF file ({type(exc).__name__}: {exc})") from exc
    missing = [v for v in (variables or []) if v not in ds.variables]
    if missing:
        ds.close()
        raise NepflowError(f"{path}: missing variable(s) {', '.join(missing)}; expected {', '.join(variables)}")
    return ds


def write_cog(da: xr.DataArray, path: str | os.PathLike) -> Path:
    """Write a 2-D (y, x) DataArray with a CRS as a Cloud-Optimized GeoTIFF.

    Integer class maps keep their dtype (nodata -1 for int8); floats are
    float32 with NaN nodata. Attributes (units, long_name, ...) go into the
    GeoTIFF tags.
    """
    da = da.squeeze(drop=True)
    if np.issubdtype(da.dtype, np.floating):
        da = da.astype("float32").rio.write_nodata(np.nan, encoded=False)
    else:
        da = da.rio.write_nodata(-1 if da.dtype.kind == "i" else 0)
    tags = {k: str(v) for k, v in da.attrs.items() if k not in ("_FillValue", "grid_mapping")}
    with atomic_path(path, suffix=".tif") as tmp:
        da.rio.to_raster(tmp, driver="COG", compress="DEFLATE", tags=tags, BLOCKSIZE=256)
    return Path(path)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def copy_file(src, dst) -> Path:
    """Copy ``src`` to ``dst`` atomically."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)


def cli_args(doc: str, argv=None) -> SimpleNamespace:
    """Build a Snakemake-like job object from the command line, for debugging.

    ``script.py --input forcing=results/demo/forcing/2000.nc
    --output carbon=/tmp/2000.nc --params params.yaml --wildcard year=2000``
    gives an object with ``input``, ``output``, ``params``, ``wildcards``,
    ``log`` and ``threads`` attributes, as Snakemake's ``snakemake`` object has.
    ``--params`` takes a YAML file of the rule's params (``snakemake -n -p``
    and the job's log show them); ``--param key=YAML`` sets one.
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--output", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--params", metavar="YAML", help="YAML file with the rule's params")
    p.add_argument("--param", action="append", default=[], metavar="NAME=YAML")
    p.add_argument("--wildcard", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--log", default=None)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)

    def pairs(items, parse=lambda v: v):
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                p.error(f"expected NAME=VALUE, got {item!r}")
            out[key] = parse(value)
        return out

    def listish(d):
        ns = _Named(d)
        return ns

    params = {}
    if a.params:
        params.update(yaml.safe_load(Path(a.params).read_text()) or {})
    params.update(pairs(a.param, yaml.safe_load))
    return SimpleNamespace(
        input=listish(pairs(a.input)),
        output=listish(pairs(a.output)),
        params=_Named(params),
        wildcards=_Named(pairs(a.wildcard)),
        log=[a.log] if a.log else [],
        threads=a.threads,
    )


class _Named(dict):
    """A dict whose keys are also attributes, like Snakemake's named lists."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def all_paths(files) -> list[str]:
    """Every path of a Snakemake input/output object (a named list) or of the CLI's dict."""
    if isinstance(files, dict):
        out = []
        for v in files.values():
            out.extend(v if isinstance(v, (list, tuple)) else [v])
        return [str(p) for p in out]
    return [str(p) for p in files]
