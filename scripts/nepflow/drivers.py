"""One year's drivers on the target grid: the regrid job's road, the same for every source.

Per product, in the order of the config: the source's ``open_year`` gives the year's native
fields (CF units, the source's grid and CRS); each variable is regridded with its configured
method (``regrid.methods``, recorded in ``regrid_method``) in blocks of target rows, each block
from the source window it needs (:func:`nepflow.regrid.source_window`), into a float32 variable
of a temporary row-chunked NetCDF file beside the output (:mod:`nepflow.spill`), and the native
year is freed before the next product is opened. The coastal fill of a meteorological driver
works on it month by month (a 2-D field). Then block by block: each driver's rows read back, the
coverage checks, :func:`nepflow.forcing.assemble` and the contract checks; the blocks are written
as they are computed. Memory: the largest native product, a block (its regridding temporaries,
the assembled forcing) and a few whole-grid 2-D maps; the drivers of the whole grid are on disk.

Methods: ``conservative`` (lon/lat sources, accumulated meteorology) by
:func:`nepflow.regrid.conservative`; projected sources (MODIS sinusoidal) month by month by
:func:`nepflow.regrid.sinusoidal_to_target`; lon/lat sources otherwise by :func:`nepflow.regrid.to_target`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from . import blocks, checks, forcing, landcover, regrid, sources, spill
from .errors import NepflowError

log = logging.getLogger("nepflow.regrid")

#: Land products may be undefined inside the region (MODIS FPAR has no value over water, cities,
#: barren land): their coverage is checked as a fraction (``land_max_missing``), not per pixel.
LAND_VARS = ("fpar", "c4_frac", "npp_mod17", "landcover")


def describe(path) -> str:
    """The file behind a retrieve job's manifest when it lists one (for error messages), else ``path``."""
    from .sources import download

    p = Path(path)
    if p.suffix == ".json":
        files = (download.read_manifest(p) or {}).get("files") or []
        if len(files) == 1:
            name = Path(files[0]["name"])
            return str(name if name.is_absolute() else p.parent / name)
    return str(path)


def regrid_variable(da: xr.DataArray, target: xr.Dataset, method: str, what: str) -> xr.DataArray:
    """``da`` on the target grid (or a block of it) with ``method`` (see the module docstring)."""
    crs = da.rio.crs
    if crs is None:
        raise NepflowError(f"{what}: variable {da.name} has no CRS; expected a georeferenced field")
    regrid.check_method(da.name, method, not crs.is_geographic, what)
    if method == "conservative":
        return regrid.conservative(da, target)
    if not crs.is_geographic:
        return regrid.sinusoidal_to_target(da, target, method)
    return regrid.to_target(da, target, method)


class Spilled:
    """A driver regridded onto the whole grid and kept in the job's :class:`nepflow.spill.Spill`:
    its name, leading dimensions with their coordinates, attributes, the file it came from, and
    ``holes``: the leading indices (months; None for a 2-D driver) with region pixels left
    without a value (what the coastal fill reads back)."""

    def __init__(self, name, lead, coords, attrs, what):
        self.name, self.lead, self.coords, self.attrs, self.what = name, lead, coords, attrs, what
        self.holes = set()

    def block(self, store, t: xr.Dataset, s: slice) -> xr.DataArray:
        """Rows ``s`` of the driver, on ``t`` (the target grid's rows ``s``)."""
        da = xr.DataArray(
            store.read(self.name, s),
            coords={**self.coords, "y": t.y, "x": t.x},
            dims=(*self.lead, "y", "x"),
            name=self.name,
            attrs=self.attrs,
        )
        return da.rio.write_crs(t.rio.crs)


def regrid_spilled(da: xr.DataArray, target: xr.Dataset, method: str, what: str, rows: int, store) -> Spilled:
    """:func:`regrid_variable` onto the whole target grid as float32 rows of ``store`` (:class:`nepflow.spill.Spill`), in blocks of
    ``rows`` target rows, each regridded from the source window it needs."""
    field = None
    for s in blocks.row_slices(target.sizes["y"], rows):
        t = target.isel(y=s)
        part = regrid_variable(regrid.source_window(da, t), t, method, what)
        if field is None:
            lead = tuple(d for d in part.dims if d not in ("y", "x"))
            if len(lead) > 1:
                raise NepflowError(f"{what}: variable {da.name} has dims {part.dims}; expected (time, y, x) or (y, x)")
            field = Spilled(da.name, lead, {d: part[d].values for d in lead}, part.attrs, what)
            store.create(da.name, tuple(part.sizes[d] for d in lead))
        vals = part.transpose(*field.lead, "y", "x").values
        store.write(da.name, s, vals)
        holes = ~np.isfinite(vals[..., t["region"].values > 0])
        if field.lead:
            field.holes.update(np.flatnonzero(holes.any(axis=-1)).tolist())
        elif holes.any():
            field.holes.add(None)
        part = vals = None
    return field


def fill_spilled(field: Spilled, store, target: xr.Dataset, max_km: float) -> int:
    """:func:`nepflow.regrid.fill_coastal` of a spilled driver, month by month on the whole grid
    (a 2-D field at a time: a hole's nearest land pixel may lie in another block of rows); sets the
    driver's fill attributes and returns the count of region pixels filled in any month."""
    inside = target["region"].values > 0
    filled = np.zeros(inside.size, bool)
    search, searched = None, {}
    for i in sorted(field.holes, key=lambda i: -1 if i is None else i) if max_km > 0 else ():
        v = store.read(field.name) if i is None else store.read_at(field.name, i)
        if search is None:
            search = regrid.coastal_search(target["x"].values, target["y"].values, target.rio.crs, max_km)
        done = regrid.fill_holes(v, inside, search, searched)
        if done.size:
            filled[done] = True
            store.write(field.name, slice(None), v) if i is None else store.write_at(field.name, i, v)
    n = int(filled.sum())
    field.attrs = regrid.coastal_attrs(field.attrs, max_km, n)
    return n


def land_missing(da: xr.DataArray, inside: np.ndarray) -> tuple[int, int]:
    """(NaN, all) counts of the region's pixel-months of ``da`` (a block or the whole grid)."""
    vals = np.asarray(da.values)
    vals = vals[None] if vals.ndim == 2 else vals
    cells = vals[:, inside]
    return int((~np.isfinite(cells)).sum()), int(cells.size)


def check_land_coverage(name: str, missing: int, total: int, what: str, max_missing: float) -> None:
    """One-line error if more than ``max_missing`` of the region's pixel-months of ``name`` are NaN."""
    frac = missing / total if total else 0.0
    if frac > max_missing:
        raise NepflowError(
            f"{what}: variable {name} does not cover the region on the target grid "
            f"({frac:.1%} of region pixel-months missing); expected at most {max_missing:.0%} "
            f"(regrid.land_max_missing) and the source to cover sources.bbox"
        )
    if frac:
        log.info(
            "%s: %s undefined in %.2f%% of the region's pixel-months (no vegetation retrieval)", what, name, 100 * frac
        )


def land_vars(params: dict) -> tuple[str, ...]:
    """The variables checked as land products: evap too when it has its own source (MOD16A2GF has
    no value over water or cities, like FPAR)."""
    return LAND_VARS + (("evap",) if "evap" in params["sources"] else ())


def regridded_products(year: int, inputs: dict, target: xr.Dataset, params: dict, rows: int, store) -> dict:
    """{variable: :class:`Spilled`} of every product, regridded into ``store`` (:class:`nepflow.spill.Spill`).

    Region pixels of a meteorological variable left without a value by the source's sea mask
    (ERA5-Land has none where the land-sea mask is below 0.5, and the proxy sunshine follows it)
    take the nearest value within ``coast_fill_km`` (:func:`fill_spilled`).
    """
    out = {}
    land = land_vars(params)
    methods = {**params["methods"], **regrid.FIXED_METHODS}  # the class map: the dominant class
    opened = []
    for product, source in params["sources"].items():
        opened.append((product, source, params["landcover"]["c4_fraction"], None))
        if product == "landcover" and params.get("landcover_class"):
            # CASA's eps_max is per class: the class map comes through the same reader, encoded as a
            # "C4 fraction" (nepflow.landcover.class_code_rules), one month of it
            opened.append((product, source, landcover.class_code_rules(), "landcover"))
    for product, source, rules, rename in opened:
        path = inputs[product]
        native = sources.module(source).open_year(product, year, path, params["source_settings"], rules)
        if rename:
            native = native[["c4_frac"]].isel(time=0, drop=True).rename({"c4_frac": rename})
        if product == "meteo" and "evap" in params["sources"]:
            native = native.drop_vars("evap")  # evap from its own source replaces the meteo source's
        for name, da in native.data_vars.items():
            method = methods.get(name, "bilinear")
            log.info("%s %s: %s from %s", year, name, method, path)
            field = regrid_spilled(da, target, method, describe(path), rows, store)
            if name not in land:
                n = fill_spilled(field, store, target, params["coast_fill_km"])
                if n:
                    log.info(
                        "%s %s: %d coastal region pixels filled from land within %g km (regrid.coast_fill_km)",
                        year,
                        name,
                        n,
                        params["coast_fill_km"],
                    )
            out[name] = field
        big = sum(v.nbytes for v in native.data_vars.values()) > 2**27
        native = da = None
        if big:  # a MODIS mosaic: freed now, before the next product is opened
            gc.collect()
    return out


@contextlib.contextmanager
def year_forcing(
    year: int,
    inputs: dict,
    target: xr.Dataset,
    params: dict,
    output,
    mem_mb: float | None = None,
    rows: int | None = None,
):
    """The forcing of ``year`` as row blocks computed when written, and what to add once all are
    (a context: the regridded drivers wait in a temporary file beside ``output``, removed when the
    context ends, on success or failure).

    Parameters
    ----------
    inputs : {product: delivered file (data or manifest)} for every product of ``params["sources"]``.
    target : the grid (``region``), loaded.
    params : the regrid job's params: ``sources`` ({product: source}), ``source_settings``,
        ``methods``, ``landcover``, ``par_fraction``, ``strictness``, ``land_max_missing``,
        ``coast_fill_km``.
    output : the forcing file the blocks are written to (the temporary file goes beside it).
    mem_mb, rows : the job's memory and the configured rows per block (None: from ``mem_mb``).

    Yields
    ------
    (ds, rows, late_checks, warnings): the dask-backed forcing (:func:`nepflow.blocks.blocked`), its rows
    per block, a function running the whole-year checks once every block is computed (returns
    nothing, raises a one-line error), and the list the checks' warnings are collected into. The
    blocks read the temporary file: write ``ds`` inside the context.
    """
    target = target.rio.write_transform(target.rio.transform(recalc=True))  # a block of one row keeps its pixel size
    rows = blocks.block_rows(target.sizes["x"], blocks.stage_bytes("regrid"), mem_mb, rows=rows, ny=target.sizes["y"])
    with spill.spill_beside(output, target.sizes["y"], target.sizes["x"], rows) as spilled:
        yield _forcing_blocks(
            year, target, params, rows, spilled, regridded_products(year, inputs, target, params, rows, spilled)
        )


def _forcing_blocks(year: int, target: xr.Dataset, params: dict, rows: int, spilled, regridded: dict):
    """:func:`year_forcing`'s (ds, rows, late_checks, warnings) from the drivers in ``spilled``."""
    land_names = land_vars(params)
    warnings, valued, land = [], {}, {}  # land: name -> [NaN, all] region pixel-months, file
    what_forcing = f"forcing/{year}.nc"
    several = len(blocks.row_slices(target.sizes["y"], rows)) > 1

    def block(s):  # one block of target rows: every driver assembled and checked
        t = target.isel(y=s)
        inside = t["region"].values > 0
        fields = {}
        for name, field in regridded.items():
            part = field.block(spilled, t, s)
            if name in land_names:
                nan, cells = land_missing(part, inside)
                counts = land.setdefault(name, [0, 0, field.what])
                counts[0] += nan
                counts[1] += cells
            else:
                regrid.check_coverage(part, inside, field.what)
            fields[name] = part
        if "landcover" in fields:
            fields["landcover"] = landcover.decode_classes(fields["landcover"])
        ds = forcing.assemble(fields, t["region"], year, params["par_fraction"])
        for name in ds.data_vars:
            if name not in land_names:
                regrid.check_coverage(ds[name], inside, f"forcing {year}")
        ds, found = checks.check_forcing(ds, what_forcing, params["strictness"], valued=valued)
        warnings.extend(w for w in found if w not in warnings)
        if several:  # the block's intermediate fields are cyclic garbage (an xarray accessor refers
            gc.collect()  # back to its object): freed now, else they pile up (0.15 GB a million pixels)
        return ds

    def late_checks():  # every block is computed: the checks of the whole year
        for name, (nan, cells, what) in land.items():
            check_land_coverage(name, nan, cells, what, params["land_max_missing"])
        checks.require_values(valued, what_forcing)

    return blocks.blocked(block, target["y"], rows), rows, late_checks, warnings
