"""Slab scheduling shared by every statistic: from DataArrays to kernel calls and back to named maps.

A statistic's kernel takes (n, m) blocks — n years, m pixels, float32 or float64 as
stored — and returns (k, m) float64, one row per output map, in the order of the
statistic's layout (a tuple of output names, e.g. ``_trend.TREND_OUT``). :func:`map_pixels`
runs it over a whole grid and returns the maps by name:

- a numpy-backed cube is one kernel call;
- a dask-backed cube is read slab by slab (whole dask chunks, merged up to about
  ``SLAB_PIXELS`` pixels so that tiny chunks cost no per-chunk overhead), one kernel
  call per slab, the next slab read while the kernel runs on this one; memory is
  bounded by two slabs plus the output maps. Pixels are independent, so the result
  does not depend on the chunking (tests/test_stats_kernels.py).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

import dask
import numba
import numpy as np
import xarray as xr

from .. import variables
from ..errors import NepflowError

log = logging.getLogger(__name__)

#: pixels per kernel call when reading a dask-backed cube: whole chunks are grouped into slabs of at
#: most this many pixels (a single chunk larger than this is a slab of its own)
SLAB_PIXELS = 1 << 18


#: pixel-block ranges per thread in :func:`over_blocks`: more than one, so that a thread whose blocks are
#: quick (missing or constant pixels) takes another range while the others finish
TASKS_PER_THREAD = 4


def over_blocks(kernel, m: int, block: int, *args) -> None:
    """Run ``kernel(*args, b0, b1)`` (a serial, GIL-free numba kernel over its pixel blocks b0 … b1 − 1
    of ``block`` pixels) over all ``m`` pixels, on ``numba.get_num_threads()`` threads.

    The kernels are compiled serial (``nogil=True``, no ``parallel=True``) and run on Python threads:
    the same numbers and speed as a ``prange`` over the blocks (benchmarks/bench_stats.py), but
    numba's parallel-loop compilation is skipped: compiling the trend kernel in a fresh process
    takes 9.0 CPU-s instead of 15.4, the correlation kernel 4.3 instead of 10.4 (with their
    callees; benchmarks/bench_compile.py measures whole jobs). Pixels are independent, so the
    split changes no number.
    """
    nblocks = (m + block - 1) // block
    threads = max(1, min(numba.get_num_threads(), nblocks))
    if threads == 1:
        kernel(*args, 0, nblocks)
        return
    cuts = np.unique(np.linspace(0, nblocks, threads * TASKS_PER_THREAD + 1).round().astype(int)).tolist()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(kernel, *args, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]:
            done.result()


def rows(names: tuple[str, ...]) -> dict[str, int]:
    """Row of each output name in a kernel's ``out`` (k, m): its position in the layout ``names``."""
    if len(set(names)) != len(names):
        raise ValueError(f"duplicated output names in layout {names}")
    return {name: i for i, name in enumerate(names)}


def years_of(da: xr.DataArray) -> np.ndarray:
    """The calendar years of ``da`` as float64, checked: present, distinct, increasing."""
    if "year" not in da.dims:
        raise NepflowError(f"variable {da.name}: no 'year' dimension; expected an annual series")
    years = np.asarray(da["year"].values, dtype="float64")
    if len(np.unique(years)) != len(years):
        raise NepflowError(f"variable {da.name}: duplicated years {sorted(years.tolist())}")
    if np.any(np.diff(years) <= 0):
        raise NepflowError(f"variable {da.name}: years not in increasing order")
    return years


def _groups(sizes, unit: int, limit: int):
    """Consecutive ranges of ``sizes`` (chunk lengths), each at most ``limit`` // ``unit`` long in total
    (a chunk longer than that alone): [(lo, hi), ...] covering the axis."""
    bounds = np.cumsum((0,) + tuple(sizes)).tolist()
    out, start = [], 0
    for e_prev, e in zip(bounds[1:-1], bounds[2:]):
        if (e - start) * unit > limit:  # adding the next chunk would make the group too large
            out.append((start, e_prev))
            start = e_prev
    out.append((start, bounds[-1]))
    return out


def slabs(chunks):
    """Slices over the spatial dims covering the grid with whole chunks, grouped into slabs of at most
    SLAB_PIXELS pixels: full-width bands of chunk rows where a band fits, else runs of chunks along
    the last dim. Whole chunks keep every stored (HDF5) chunk decompressed once when the dask chunks
    are aligned with them (:func:`nepflow.blocks.chunk_edge`)."""
    if not chunks:
        yield ()
        return
    *lead, last = chunks
    width = sum(last)
    if len(lead) == 1:  # 2-D: full-width bands of chunk rows while they fit
        lead_ranges = [_groups(lead[0], width, SLAB_PIXELS)]
    else:
        lead_ranges = [_groups(c, 1, 0) for c in lead]  # every chunk on its own
    for combo in itertools.product(*lead_ranges):
        size = math.prod(hi - lo for lo, hi in combo)
        for lo, hi in _groups(last, size, SLAB_PIXELS):
            yield tuple(slice(a, b) for a, b in combo) + (slice(lo, hi),)


def _as_2d(block, n: int) -> np.ndarray:
    """(n, ...) block -> (n, m) C-contiguous float32/float64: a view of a contiguous block, else a copy of it."""
    a = np.asarray(block)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    return np.ascontiguousarray(a.reshape(n, -1))


def map_pixels(kernel, arrays, names: tuple[str, ...]) -> dict[str, xr.DataArray]:
    """Run ``kernel(list of (n, m) blocks) -> (len(names), m) float64`` over all pixels of ``arrays``.

    ``arrays``: DataArrays with a ``year`` dim and the same spatial dims. Returns the maps
    over the spatial dims (numpy-backed) by name: row i of the kernel's output is ``names[i]``.
    """
    n_out = len(names)
    arrays = list(xr.align(*arrays, join="exact"))
    space = [d for d in arrays[0].dims if d != "year"]
    arrays = [a.transpose("year", *space) for a in arrays]
    n = arrays[0].sizes["year"]
    shape = tuple(arrays[0].sizes[d] for d in space)
    datas = [a.data for a in arrays]
    if not any(dask.is_dask_collection(d) for d in datas):
        blocks = [_as_2d(d, n) for d in datas]
        dtype = np.result_type(*blocks)
        out = kernel([b.astype(dtype, copy=False) for b in blocks]).reshape((n_out,) + shape)
    else:
        if len(datas) > 1:
            datas = [a.data for a in xr.unify_chunks(*arrays)]
        chunks = next(d for d in datas if dask.is_dask_collection(d)).chunks[1:]
        out = np.empty((n_out,) + shape)
        todo = list(slabs(chunks))

        def read(sl):
            return [_as_2d(b, n) for b in dask.compute(*[d[(slice(None),) + sl] for d in datas])]

        # the next slab is read (HDF5 decompresses without the GIL) while the kernel runs on this one
        wait_s = kernel_s = 0.0
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(read, todo[0])
            for k, sl in enumerate(todo):
                t0 = time.perf_counter()
                blocks = pending.result()
                if k + 1 < len(todo):
                    pending = reader.submit(read, todo[k + 1])
                t1 = time.perf_counter()
                dtype = np.result_type(*blocks)
                sub = tuple(s.stop - s.start for s in sl)
                out[(slice(None),) + sl] = kernel([b.astype(dtype, copy=False) for b in blocks]).reshape((n_out,) + sub)
                del blocks
                wait_s, kernel_s = wait_s + t1 - t0, kernel_s + time.perf_counter() - t1
        log.info("%d slabs: waiting for reads %.3f s, kernels %.3f s", len(todo), wait_s, kernel_s)
    coords = {k: c for k, c in arrays[0].coords.items() if "year" not in c.dims}
    return {name: xr.DataArray(out[i], dims=space, coords=coords) for i, name in enumerate(names)}


def dataset(arrays: dict, extra: dict | None = None) -> xr.Dataset:
    """Dataset of the maps ``arrays`` (name -> DataArray), each with its attributes from the variables
    table updated with ``extra[name]``."""
    ds = xr.Dataset(arrays)
    for name in ds.data_vars:
        ds[name].attrs = variables.attrs(name, **(extra or {}).get(name, {}))
    return ds
