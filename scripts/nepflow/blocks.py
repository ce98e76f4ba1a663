"""Memory: what each stage holds per pixel, how many rows it processes at once, how the grid is cut
into blocks of rows, and the dask-backed dataset that computes and writes them one at a time (memory
follows a block, not the grid; docs/architecture.md, "How memory is bounded").

Block sizes change no value: every stage's result is per pixel (or a sum over blocks), so the
outputs are the same whatever the block (tests/test_chunking.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the memory table is read at plan time too (light)
    import numpy as np
    import xarray as xr

#: Edge (pixels) of the stored NetCDF chunks in y and x (nepflow.netcdf), and the unit of block sizes:
#: a block of rows is a multiple of it where one fits, so blocks read and write whole chunks.
CHUNK = 256
#: Share of a job's ``mem_mb`` a job gives to the blocks it processes at once (the rest: Python,
#: libraries, whole-grid 2-D maps, the netCDF/HDF5 chunk caches).
BLOCK_MEM_SHARE = 0.4

# ---------------------------------------------------------------- what a stage holds per pixel
#: Bytes of a float32 and a float64 value.
F32, F64 = 4, 8
#: Months of a year: the forcing and the monthly fluxes have twelve fields per variable.
MONTHS = 12
#: Variables of the forcing contract (``nepflow.forcing.FORCING_VARS``; tests/test_chunking.py
#: checks the count).
FORCING_VARIABLES = 8
#: Maps a ``classes`` block reads from the four statistics' files: 36 (trend 12 with its q maps,
#: hurst 3, stability 3, correlation 18 with three factors), rounded up to 40.
ANALYSIS_MAPS = 40
#: Class maps of ``classes.nc``: 11 (trend, cv, hurst, future, future_sig, corr and pcorr per
#: factor), rounded up to 16.
CLASS_MAPS = 16

#: Bytes per pixel of one block of rows, by stage: everything the stage holds for a pixel of its
#: block, temporaries included; :func:`block_rows` fits a block of them into :data:`BLOCK_MEM_SHARE`
#: of the job's ``mem_mb``. A stage that holds every year adds :data:`BYTES_PER_PIXEL_YEAR` per year
#: (:func:`stage_bytes`).
BYTES_PER_PIXEL = {
    # regrid: every forcing variable's 12 months in float64 while regridded and assembled, the
    # assembled float32 forcing and the checks' copies: three copies at float64 size
    "regrid": 3 * FORCING_VARIABLES * MONTHS * F64,
    # carbon: the float32 forcing of the block, the checks' copy and the annual results (about one
    # copy more); the models' float64 monthly temporaries are bounded by INNER_PIXELS["carbon_models"]
    "carbon": 3 * FORCING_VARIABLES * MONTHS * F32,
    # carbon with carbon.monthly_output: the monthly fluxes and their merged copy besides (3 x carbon)
    "carbon_monthly": 3 * 3 * FORCING_VARIABLES * MONTHS * F32,
    # series: one year's monthly pr, tas and sund (float32) with their annual-climate copy
    "series": 2 * 3 * MONTHS * F32,
    # classes: every analysis map as read (float32) and compared (float64), and the class maps as
    # computed (float64) before they become int8
    "classes": ANALYSIS_MAPS * (F32 + F64) + CLASS_MAPS * F64,
    # area_stats: each class map's codes and comparison masks (4 bytes a map) and 8 float64 arrays
    # (the pixel areas, the region masks and the areas selected per class)
    "area_stats": CLASS_MAPS * F32 + 8 * F64,
}
#: Bytes per pixel and year of the stages that hold every year of a pixel.
BYTES_PER_PIXEL_YEAR = {
    # series: the 4 annual variables (nep, pr, tas, sund; float32) with the stacking copy
    "series": 2 * 4 * F32,
    # a statistic's dask chunk: up to 4 float32 variables (correlation: NEP and its three factors),
    # each held twice while a slab is assembled from its chunks, and half as much again as slack
    "statistic": 3 * 4 * F32,
}
#: Pixels an inner loop holds at once where a step's temporaries are many times its block's
#: pixels: the carbon models' float64 monthly temporaries (about 0.25 GB at 2**17 pixels), and the
#: sub-cells of conservative remapping's weights (per block of target rows).
INNER_PIXELS = {
    "carbon_models": 2**17,
    "conservative_subcells": 2_000_000,
}


def stage_bytes(stage: str, n_years: int = 0) -> int:
    """Bytes per pixel of a block of ``stage`` (a key of :data:`BYTES_PER_PIXEL` or
    :data:`BYTES_PER_PIXEL_YEAR`) holding ``n_years`` years."""
    if stage not in BYTES_PER_PIXEL and stage not in BYTES_PER_PIXEL_YEAR:
        raise KeyError(
            f"no memory row for stage {stage!r}; expected one of "
            f"{', '.join(sorted({*BYTES_PER_PIXEL, *BYTES_PER_PIXEL_YEAR}))}"
        )
    return BYTES_PER_PIXEL.get(stage, 0) + BYTES_PER_PIXEL_YEAR.get(stage, 0) * int(n_years)


def block_rows(
    nx: int,
    bytes_per_pixel: float,
    mem_mb: float | None = None,
    threads: int = 1,
    rows: int | None = None,
    ny: int | None = None,
) -> int:
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


def chunk_edge(n_years: int, mem_mb: float | None = None, threads: int = 1, chunk: int | None = None) -> int:
    """Edge (pixels) of the square dask chunks a statistic reads the annual series in.

    ``chunk`` (config ``analysis.chunk``) wins when set. Otherwise the edge whose
    chunk (all ``n_years``, ``BYTES_PER_PIXEL_YEAR["statistic"]``) fits in
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
    edge = int((budget / stage_bytes("statistic", n_years)) ** 0.5)
    if edge >= CHUNK:  # at most 2 stored chunks: a larger chunk outgrows the engine's slabs for nothing
        return min(edge // CHUNK, 2) * CHUNK
    return max(16, 1 << (max(1, edge).bit_length() - 1))


def row_slices(ny: int, rows: int | None) -> list[slice]:
    """Consecutive row blocks ``slice(i, i + rows)`` covering ``ny`` rows (the last may be shorter);
    ``rows`` None: one block of every row."""
    rows = max(1, int(rows)) if rows else max(1, ny)
    return [slice(i, min(i + rows, ny)) for i in range(0, ny, rows)]


def rows_for_pixels(nx: int, pixels: int) -> int:
    """Rows of ``nx`` pixels each that hold at most ``pixels`` pixels (at least 1): the rows of an
    inner block (:data:`INNER_PIXELS`)."""
    return max(1, int(pixels) // max(1, int(nx)))


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
    import numpy as np
    import xarray as xr

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
        data[name] = xr.Variable(var.dims, dsa.concatenate(parts, axis=axis), attrs=var.attrs, encoding=var.encoding)
    coords = {k: v for k, v in first.coords.items() if "y" not in v.dims}
    yc = (
        xr.DataArray(np.asarray(y.values if hasattr(y, "values") else y), dims="y", attrs=dict(first["y"].attrs))
        if "y" in first.coords
        else None
    )
    if yc is not None:
        coords["y"] = yc
    return xr.Dataset(data, coords=coords, attrs=first.attrs)


def _values(ds: xr.Dataset, name: str) -> np.ndarray:
    import numpy as np

    return np.asarray(ds[name].values)
