"""Reading and writing nepflow's NetCDF files (CF-1.8, float32, NaN fill, chunks aligned with the
blocks of rows that write them). Writes are atomic (:mod:`nepflow.files`); read errors are one line
naming the file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import xarray as xr

from . import cf
from .blocks import CHUNK  # y/x chunk edge; the time axis is kept whole in a chunk
from .errors import NepflowError
from .files import atomic_path


def _encoding(ds: xr.Dataset, chunk_rows: int | None = None) -> dict:
    enc = {}
    edge = {"y": min(CHUNK, chunk_rows or CHUNK), "x": CHUNK}
    for name, var in ds.data_vars.items():
        e: dict = {"zlib": True, "complevel": 1, "shuffle": True}
        if var.ndim:
            e["chunksizes"] = tuple(min(n, edge[d]) if d in edge else n for d, n in zip(var.dims, var.shape))
        if var.dtype.kind == "M":
            e.update(cf.time_encoding())
        elif np.issubdtype(var.dtype, np.floating):
            e.update(dtype="float32", _FillValue=np.float32(np.nan))
        elif np.issubdtype(var.dtype, np.integer):
            e["_FillValue"] = None
        enc[name] = e
    for name, var in ds.coords.items():
        enc[name] = cf.time_encoding() if var.dtype.kind == "M" else {"_FillValue": None}
    return enc


def write_netcdf(
    ds: xr.Dataset, path: str | os.PathLike, chunk_rows: int | None = None, threads: int = 1, late_attrs=None
) -> Path:
    """Write ``ds`` as CF-1.8 NetCDF4 to ``path`` atomically (coordinates made CF by :func:`nepflow.cf.conform`).

    Float variables are stored as float32 with NaN fill; y/x chunks of
    ``CHUNK`` pixels (``chunk_rows`` rows when that is smaller, so blocks of
    rows write whole HDF5 chunks) with the other axes whole; light zlib
    compression. A dask-backed ``ds`` (e.g. from :func:`nepflow.blocks.blocked`) is computed
    and written block by block with ``threads`` threads, so memory stays
    bounded by a few blocks. ``late_attrs``: a function giving global
    attributes known only once every block is computed (e.g. provenance with
    the checks' warnings); they are added before the file is moved into place.
    """
    ds = cf.conform(ds.copy())
    ds.attrs.setdefault("Conventions", "CF-1.8")
    if "spatial_ref" in ds.coords:
        for name, var in ds.data_vars.items():
            if {"y", "x"} <= set(var.dims):
                var.attrs["grid_mapping"] = "spatial_ref"
                var.encoding.pop("grid_mapping", None)
    with atomic_path(path, suffix=".nc") as tmp, _dask_threads(threads), _no_chunk_cache():
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds, chunk_rows))
        if late_attrs is not None:
            import netCDF4

            with netCDF4.Dataset(tmp, "a") as nc:
                for key, value in late_attrs().items():
                    nc.setncattr(key, value)
    return Path(path)


@contextlib.contextmanager
def _no_chunk_cache():
    """Files created or opened meanwhile get no HDF5 chunk cache: the library's default (64 MB a
    variable) keeps the chunks written until the file is closed, so a file of 9 variables held up to
    0.6 GB of its data in memory. A written block covers whole chunks (``chunk_rows``), which then
    go straight to the file."""
    import netCDF4

    before = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(0, 0, 1.0)
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*before)


def _dask_threads(threads: int):
    import dask

    if threads <= 1:
        return dask.config.set(scheduler="synchronous")
    return dask.config.set(scheduler="threads", num_workers=int(threads))


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
