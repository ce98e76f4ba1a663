"""Blocks of rows: how many rows a job processes at once, how the grid is cut into them, and the
dask-backed dataset that computes and writes them one at a time (memory follows a block, not the grid).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .netcdf import CHUNK

#: Share of a job's ``mem_mb`` a job gives to the blocks it processes at once (the rest: Python,
#: libraries, whole-grid 2-D maps, the netCDF/HDF5 chunk caches).
BLOCK_MEM_SHARE = 0.4


def block_rows(nx: int, bytes_per_pixel: float, mem_mb: float | None = None, threads: int = 1,
               rows: int | None = None, ny: int | None = None) -> int:
    """Rows of the grid a job processes at once.

    ``rows`` (a config value) wins when set. Otherwise the rows whose pixels
    (``bytes_per_pixel`` each, every temporary of the job's computation
    included) fit in :data:`BLOCK_MEM_SHARE` of ``mem_mb`` per thread; a
    multiple of :data:`CHUNK` when at least that many fit (blocks then read
    and write whole HDF5 chunks), else a multiple of 16; at least 1, at most
    ``ny``.
    """
    if rows:
        r = int(rows)
    else:
        budget = BLOCK_MEM_SHARE * (mem_mb or 1000) * 1e6 / max(1, threads)
        r = int(budget // (max(1, nx) * bytes_per_pixel))
        r = (r // CHUNK) * CHUNK if r >= CHUNK else max(1, (r // 16) * 16)
    r = max(1, r)
    return min(r, ny) if ny else r


#: Bytes per pixel and year of a statistic's chunk: up to 4 float32 variables (correlation: NEP and
#: its three factors), each held twice while a slab is assembled from its chunks, with slack.
CHUNK_BYTES_PER_PIXEL_YEAR = 4 * 4 * 3


def chunk_edge(n_years: int, mem_mb: float | None = None, threads: int = 1, chunk: int | None = None) -> int:
    """Edge (pixels) of the square dask chunks a statistic reads the annual series in.

    ``chunk`` (config ``analysis.chunk``) wins when set. Otherwise the edge whose
    chunk (all ``n_years``, :data:`CHUNK_BYTES_PER_PIXEL_YEAR`) fits in
    :data:`BLOCK_MEM_SHARE` of ``mem_mb`` per thread, aligned with the stored
    NetCDF chunks (:data:`CHUNK`): one or two of them, or a power-of-two divisor
    of it (at least 16) when memory is short. Misaligned chunks make HDF5
    decompress a stored chunk once per dask chunk touching it (measured at 1 km:
    stability 0.71 s with 128-pixel chunks of the 256-pixel stored chunks,
    0.28 s with 256).
    """
    if chunk:
        return int(chunk)
    budget = BLOCK_MEM_SHARE * (mem_mb or 1000) * 1e6 / max(1, threads)
    edge = int((budget / (n_years * CHUNK_BYTES_PER_PIXEL_YEAR)) ** 0.5)
    if edge >= CHUNK:  # at most 2 stored chunks: a larger chunk outgrows the engine's slabs for nothing
        return min(edge // CHUNK, 2) * CHUNK
    return max(16, 1 << (max(1, edge).bit_length() - 1))


def row_slices(ny: int, rows: int) -> list[slice]:
    """Consecutive row blocks ``slice(i, i + rows)`` covering ``ny`` rows (the last may be shorter)."""
    rows = max(1, int(rows))
    return [slice(i, min(i + rows, ny)) for i in range(0, ny, rows)]


def blocked(func, y: xr.DataArray, rows: int) -> xr.Dataset:
    """A dask-backed Dataset made of row blocks ``func(slice)``, each computed only when written.

    ``func(s)`` returns the Dataset of rows ``s`` of the grid (the same
    variables, dims, dtypes and attributes for every block; ``y`` the row
    dimension); ``y`` is the grid's whole row coordinate. The first block is
    computed now (it gives the structure); the others when
    :func:`nepflow.netcdf.write_netcdf` stores them, one block at a time per thread.
    Variables without a ``y`` dimension, the other coordinates and the
    attributes come from the first block.
    """
    import dask
    import dask.array as dsa

    ny = y.sizes["y"] if isinstance(y, xr.DataArray) else len(y)
    slices = row_slices(ny, rows)
    first = func(slices[0])
    if len(slices) == 1:
        return first
    later = [dask.delayed(func, pure=True, traverse=False)(s) for s in slices[1:]]
    take = dask.delayed(_values, pure=True)
    data = {}
    for name, var in first.data_vars.items():
        if "y" not in var.dims:
            data[name] = var.variable
            continue
        axis = var.dims.index("y")
        parts = [dsa.from_array(var.values, chunks=var.shape)]
        for d, s in zip(later, slices[1:]):
            shape = list(var.shape)
            shape[axis] = s.stop - s.start
            parts.append(dsa.from_delayed(take(d, name), shape=tuple(shape), dtype=var.dtype))
        data[name] = xr.Variable(var.dims, dsa.concatenate(parts, axis=axis), attrs=var.attrs,
                                 encoding=var.encoding)
    coords = {k: v for k, v in first.coords.items() if "y" not in v.dims}
    yc = xr.DataArray(np.asarray(y.values if hasattr(y, "values") else y), dims="y",
                      attrs=dict(first["y"].attrs)) if "y" in first.coords else None
    if yc is not None:
        coords["y"] = yc
    return xr.Dataset(data, coords=coords, attrs=first.attrs)


def _values(ds: xr.Dataset, name: str) -> np.ndarray:
    return np.asarray(ds[name].values)
