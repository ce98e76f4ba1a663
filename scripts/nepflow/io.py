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

from . import cf
from .errors import NepflowError
from .jobs import job_resources  # noqa: F401  (the entry scripts' nepflow.io.job_resources)

#: NetCDF chunk edge (pixels) for y/x; the time axis is kept whole in a chunk.
CHUNK = 256
#: Share of a job's ``mem_mb`` a job gives to the blocks it processes at once (the rest: Python,
#: libraries, whole-grid 2-D maps, the netCDF/HDF5 chunk caches).
BLOCK_MEM_SHARE = 0.4


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None, clean_stale: bool = True):
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    Errors writing to the folder (missing permission, disk full) become a
    one-line NepflowError naming ``path``. ``clean_stale`` first removes the
    temporary files of earlier attempts killed with SIGKILL; a shared download
    cache sets it False, since another job may be fetching the same file now.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # leftovers of an attempt killed with SIGKILL (no cleanup ran) go first
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*") if clean_stale else ():
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


@contextlib.contextmanager
def staged(paths):
    """Yield a hidden staging path beside each of ``paths``; move them all into place only if the
    block succeeds (a set of outputs appears together or not at all; earlier files stay untouched
    on failure). Write each staging path with :func:`atomic_path` (as :func:`write_netcdf` and
    :func:`write_cog` do); hidden files left by a SIGKILL are overwritten or removed by the next
    write of the same set."""
    paths = [Path(p) for p in paths]
    stage = [p.parent / f".{p.name}.staged{p.suffix}" for p in paths]
    try:
        yield stage
    except BaseException as exc:
        for s in stage:
            with contextlib.suppress(OSError):  # e.g. a folder that could not be made
                s.unlink(missing_ok=True)
        if isinstance(exc, NepflowError):  # name the output, not its staging file
            msg = str(exc)
            for s, p in zip(stage, paths):
                msg = msg.replace(str(s), str(p))
            raise NepflowError(msg) from exc
        raise
    for s, p in zip(stage, paths):
        os.replace(s, p)


def _why(exc: OSError, folder: Path) -> str:
    """The reason of a failed write; HDF5 reports a full disk as 'Permission denied'."""
    return "no space left on device" if _disk_full(folder) else (exc.strerror or str(exc))


def _disk_full(folder: Path, floor: int = 1 << 20) -> bool:
    """True if ``folder``'s file system has less than ``floor`` bytes free."""
    try:
        return shutil.disk_usage(folder).free < floor
    except OSError:
        return False


def _encoding(ds: xr.Dataset, chunk_rows: int | None = None) -> dict:
    enc = {}
    edge = {"y": min(CHUNK, chunk_rows or CHUNK), "x": CHUNK}
    for name, var in ds.data_vars.items():
        e: dict = {"zlib": True, "complevel": 1, "shuffle": True}
        if var.ndim:
            e["chunksizes"] = tuple(
                min(n, edge[d]) if d in edge else n for d, n in zip(var.dims, var.shape)
            )
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


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike, chunk_rows: int | None = None,
                 threads: int = 1, late_attrs=None) -> Path:
    """Write ``ds`` as CF-1.8 NetCDF4 to ``path`` atomically (coordinates made CF by :func:`nepflow.cf.conform`).

    Float variables are stored as float32 with NaN fill; y/x chunks of
    ``CHUNK`` pixels (``chunk_rows`` rows when that is smaller, so blocks of
    rows write whole HDF5 chunks) with the other axes whole; light zlib
    compression. A dask-backed ``ds`` (e.g. from :func:`blocked`) is computed
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
    with atomic_path(path, suffix=".nc") as tmp, _dask_threads(threads):
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds, chunk_rows))
        if late_attrs is not None:
            import netCDF4

            with netCDF4.Dataset(tmp, "a") as nc:
                for key, value in late_attrs().items():
                    nc.setncattr(key, value)
    return Path(path)


# ---------------------------------------------------------------- blocks of rows
def _dask_threads(threads: int):
    import dask

    if threads <= 1:
        return dask.config.set(scheduler="synchronous")
    return dask.config.set(scheduler="threads", num_workers=int(threads))


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


def job_chunk(smk) -> int | None:
    """The statistics' dask chunk edge of a job: its ``chunk`` resource (config ``analysis.chunk``;
    0 or missing: None, derive it from mem_mb with :func:`chunk_edge`)."""
    res = getattr(smk, "resources", None)
    value = (res.get("chunk", 0) if isinstance(res, dict) else getattr(res, "chunk", 0)) if res is not None else 0
    return int(value) if value else None


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
    :func:`write_netcdf` stores them, one block at a time per thread.
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


#: GeoTIFF creation options of the COGs: DEFLATE level 1 with the floating-point/horizontal predictor
#: (a 1 km correlation map: 1.6 MB against 2.5 MB without it, at the same speed), 256-pixel tiles,
#: overviews as GDAL's COG driver makes them.
COG_OPTIONS = {"COMPRESS": "DEFLATE", "LEVEL": "1", "PREDICTOR": "YES", "BLOCKSIZE": "256"}


def write_cog(da: xr.DataArray, path: str | os.PathLike, colours=None) -> Path:
    """Write a 2-D (y, x) DataArray with a CRS as a Cloud-Optimized GeoTIFF.

    Integer maps keep their dtype (nodata -1 for signed, 0 for unsigned
    integers); floats are float32 with NaN nodata. A class map (``flag_values``
    and ``flag_meanings`` from 1) with ``colours`` (hex, in flag order) is uint8
    with nodata 0 (undefined), a colour table (GeoTIFF palette) and GDAL category
    names (the flag meanings, in the PAM sidecar ``{path}.aux.xml``), so GIS show
    the classes as the figures do. Attributes (units,
    long_name, ...) go into the GeoTIFF tags; ``long_name`` is also the band
    description and ``units`` the band unit. The raster is assembled in memory
    and copied by GDAL's COG driver (``rasterio.shutil.copy``, which releases the
    GIL, so :func:`nepflow.analysis.write` writes several at once).
    """
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile

    da = da.squeeze(drop=True)
    if da.ndim != 2:
        raise ValueError(f"write_cog: {da.name} has dims {da.dims}; expected (y, x)")
    classes = _class_table(da, colours)
    if classes is not None:
        codes = np.asarray(da.values)
        data, nodata = np.where(codes >= 1, codes, 0).astype("uint8"), 0
    elif np.issubdtype(da.dtype, np.floating):
        data, nodata = np.asarray(da.values, dtype="float32"), np.nan
    else:
        data, nodata = np.asarray(da.values), (-1 if da.dtype.kind == "i" else 0)
    tags = {k: str(v) for k, v in da.attrs.items() if k not in ("_FillValue", "grid_mapping", "missing_value")}
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": data.dtype.name, "crs": da.rio.crs, "transform": da.rio.transform(recalc=True),
               "nodata": nodata}
    with atomic_path(path, suffix=".tif") as tmp, MemoryFile() as mem:
        with mem.open(**profile) as dst:
            if classes is not None:  # the palette before the pixels: TIFF fixes its photometry at the first write
                dst.write_colormap(1, classes[0])
            dst.write(data, 1)
            dst.update_tags(**tags)
            if "long_name" in tags:
                dst.set_band_description(1, tags["long_name"])
            if "units" in tags:
                dst.set_band_unit(1, tags["units"])
        with mem.open() as src:
            rasterio.shutil.copy(src, tmp, driver="COG", **COG_OPTIONS)
    if classes is not None:
        write_text(_pam_categories(classes[1]), f"{path}.aux.xml")
    return Path(path)


#: Category name of code 0 (nodata) of a class GeoTIFF: -1 of the NetCDF's class maps.
UNDEFINED_CLASS = "undefined"


def _class_table(da: xr.DataArray, colours):
    """(colour table {code: RGBA}, category names by code from 0) of a class map, or None."""
    if colours is None or "flag_values" not in da.attrs or "flag_meanings" not in da.attrs:
        return None
    values = [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
    names = str(da.attrs["flag_meanings"]).split()
    if min(values) < 1 or max(values) > 254 or len(colours) < len(values) or len(names) != len(values):
        return None
    rgba = {0: (255, 255, 255, 0)}
    categories = [UNDEFINED_CLASS] + [""] * max(values)
    for v, name, c in zip(values, names, colours):
        h = c.lstrip("#")
        rgba[v] = (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 255)
        categories[v] = name
    return rgba, categories


def _pam_categories(categories: list[str]) -> str:
    """GDAL's PAM sidecar (.aux.xml) with the band's category names (index = pixel value)."""
    from xml.sax.saxutils import escape

    items = "".join(f"      <Category>{escape(c)}</Category>\n" for c in categories)
    return ('<PAMDataset>\n  <PAMRasterBand band="1">\n    <CategoryNames>\n' + items +
            "    </CategoryNames>\n  </PAMRasterBand>\n</PAMDataset>\n")


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


_REPO = Path(__file__).resolve().parents[2]
#: Where --help sends a reader: documents inside the repository.
CLI_DOCS = f"""documentation:
  {_REPO / 'README.md'} (Running the workflow yourself; Outputs)
  {_REPO / 'config' / 'README.md'} and {_REPO / 'config' / 'schema.yaml'} (every config key)
  {_REPO / 'docs' / 'science.md'} (equations, defaults, checks)"""


def cli_args(doc: str, argv=None) -> SimpleNamespace:
    """Build a Snakemake-like job object from the command line, for debugging.

    ``script.py --input forcing=results/demo/forcing/2000.nc
    --output carbon=/tmp/2000.nc --params params.yaml --wildcard year=2000``
    gives an object with ``input``, ``output``, ``params``, ``wildcards``,
    ``log`` and ``threads`` attributes, as Snakemake's ``snakemake`` object has.
    ``--params`` takes a YAML file of the rule's params (``snakemake -n -p``
    and the job's log show them); ``--param key=YAML`` sets one. A name given
    more than once (``--input carbon=2000.nc --input carbon=2001.nc``) is a
    list of files, as a rule's ``expand()`` input.
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=CLI_DOCS)
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--output", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--params", metavar="YAML", help="YAML file with the rule's params")
    p.add_argument("--param", action="append", default=[], metavar="NAME=YAML")
    p.add_argument("--wildcard", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--log", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mem-mb", type=int, default=2000, help="the job's memory (sizes its blocks)")
    p.add_argument("--block-rows", type=int, default=0, help="rows per block (0: from --mem-mb)")
    p.add_argument("--chunk", type=int, default=0, help="statistics' chunk edge (0: from --mem-mb)")
    a = p.parse_args(argv)

    def pairs(items, parse=lambda v: v, repeat=False):
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                p.error(f"expected NAME=VALUE, got {item!r}")
            if repeat and key in out:  # a repeated name is a list of files (e.g. 21 years' carbon)
                out[key] = [*(out[key] if isinstance(out[key], list) else [out[key]]), parse(value)]
            else:
                out[key] = parse(value)
        return out

    params = {}
    if a.params:
        params.update(yaml.safe_load(Path(a.params).read_text()) or {})
    params.update(pairs(a.param, yaml.safe_load))
    return SimpleNamespace(
        resources=_Named({"mem_mb": a.mem_mb, "block_rows": a.block_rows, "chunk": a.chunk}),
        input=_Named(pairs(a.input, repeat=True)),
        output=_Named(pairs(a.output, repeat=True)),
        params=_Params(params),
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


class _Params(_Named):
    """The command line's params: a missing one is a one-line error saying how to give it."""

    def __getitem__(self, key):
        try:
            return dict.__getitem__(self, key)
        except KeyError:
            raise NepflowError(f"missing param {key!r}: give it with --param {key}=YAML or in a --params YAML "
                               "file (the rule's params: snakemake -n -p, or the job's log)") from None

    def __getattr__(self, key):
        return self[key]


def all_paths(files) -> list[str]:
    """Every path of a Snakemake input/output object (a named list) or of the CLI's dict."""
    if isinstance(files, dict):
        out = []
        for v in files.values():
            out.extend(v if isinstance(v, (list, tuple)) else [v])
        return [str(p) for p in out]
    return [str(p) for p in files]
