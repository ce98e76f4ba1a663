"""One year's drivers on the target grid (rule `regrid`). Output: {run}/forcing/{year}.nc (DESIGN.md).

Each variable is regridded with its configured method (``regrid.methods``), recorded in its
``regrid_method`` attribute: ``conservative`` (lon/lat sources, accumulated meteorology) by
:func:`nepflow.regrid.conservative`; projected sources (MODIS sinusoidal) month by month by
:func:`nepflow.regrid.sinusoidal_to_target`; lon/lat sources otherwise by
:func:`nepflow.regrid.to_target`. Memory: a real product's native year is regridded onto the
whole grid as float32 and freed before the next one is opened; the demo's lazily opened products
are read and regridded block by block (blocks of target rows, sized from the job's mem_mb), and
every block is assembled, checked and written on its own.
"""
import gc
import logging
from pathlib import Path

from nepflow import checks, forcing, io, landcover, logs, provenance, regrid, sources
from nepflow.errors import NepflowError
from nepflow.sources import download

log = logging.getLogger("nepflow.regrid")


def describe(path) -> str:
    """The file behind a retrieve job's manifest when it lists one (for error messages), else ``path``."""
    p = Path(path)
    if p.suffix == ".json":
        files = (download.read_manifest(p) or {}).get("files") or []
        if len(files) == 1:
            name = Path(files[0]["name"])
            return str(name if name.is_absolute() else p.parent / name)
    return str(path)


def regrid_variable(da, target, method, what):
    """``da`` on the target grid with ``method`` (see the module docstring)."""
    crs = da.rio.crs
    if crs is None:
        raise NepflowError(f"{what}: variable {da.name} has no CRS; expected a georeferenced field")
    if method == "conservative":
        if not crs.is_geographic:
            raise NepflowError(f"config key regrid.methods.{da.name}: conservative needs a lon/lat source grid, "
                               f"{what} is projected; expected average, bilinear, nearest or mode")
        return regrid.conservative(da, target)
    if not crs.is_geographic:
        return regrid.sinusoidal_to_target(da, target, method)
    return regrid.to_target(da, target, method)


#: Land products may be undefined inside the region (MODIS FPAR has no value over water, cities,
#: barren land): their coverage is checked as a fraction (``land_max_missing``), not per pixel.
LAND_VARS = ("fpar", "c4_frac", "npp_mod17", "landcover")


def land_missing(da, inside) -> tuple[int, int]:
    """(NaN, all) counts of the region's pixel-months of ``da`` (a block or the whole grid)."""
    import numpy as np

    vals = np.asarray(da.values)
    vals = vals[None] if vals.ndim == 2 else vals
    cells = vals[:, inside]
    return int((~np.isfinite(cells)).sum()), int(cells.size)


def check_land_coverage(name, missing, total, what, max_missing):
    """One-line error if more than ``max_missing`` of the region's pixel-months of ``name`` are NaN."""
    frac = missing / total if total else 0.0
    if frac > max_missing:
        raise NepflowError(f"{what}: variable {name} does not cover the region on the target grid "
                           f"({frac:.1%} of region pixel-months missing); expected at most {max_missing:.0%} "
                           f"(regrid.land_max_missing) and the source to cover sources.bbox")
    if frac:
        log.info("%s: %s undefined in %.2f%% of the region's pixel-months (no vegetation retrieval)",
                 what, name, 100 * frac)


def main(smk):
    year = int(smk.wildcards.year)
    params = smk.params
    real = "source_settings" in params.keys()
    settings = params["source_settings"] if real else {}
    target = io.open_dataset(smk.input["grid"], ["region"]).load()
    target = target.rio.write_transform(target.rio.transform(recalc=True))  # a block of one row keeps its pixel size
    natives, regridded = [], {}
    methods = {**params["methods"], "landcover": "mode"}  # the dominant class, never a mean of codes
    opened = []
    for product, source in params["sources"].items():
        opened.append((product, source, params["landcover"].get("c4_fraction"), None))
        if product == "landcover" and params.get("landcover_class"):
            # CASA's eps_max is per class: the class map comes through the same reader, encoded as a
            # "C4 fraction" (nepflow.landcover.class_code_rules), one month of it
            opened.append((product, source, landcover.class_code_rules(), "landcover"))
    for product, source, rules, rename in opened:
        path = smk.input[product]
        native = sources.module(source).open_year(product, year, path, settings, rules)
        if rename:
            native = native[["c4_frac"]].isel(time=0, drop=True).rename({"c4_frac": rename})
        for name, da in native.data_vars.items():
            method = methods.get(name, "bilinear")
            log.info("%s %s: %s from %s", year, name, method, path)
            if source != "demo":
                # a real product is read whole (MODIS mosaics, reanalysis): regridded onto the whole
                # grid as float32 at once, and its native year freed before the next product is opened
                regridded[name] = (regrid_variable(da, target, method, describe(path)).astype("float32"), path)
        if source == "demo":
            natives.append((source, path, native))  # lazy: each block reads the window it needs
        native = da = None
        gc.collect()
    warnings, valued, land = [], {}, {}  # land: name -> [NaN, all] region pixel-months, what

    def block(rows):  # one block of target rows: every driver regridded, assembled and checked
        t = target.isel(y=rows)
        inside = t["region"].values > 0
        fields = {}
        for source, path, native in natives:  # the demo keeps its float64 path (and so its checksums)
            for name, da in native.data_vars.items():
                fields[name] = regrid_variable(regrid.source_window(da, t), t, methods.get(name, "bilinear"),
                                               describe(path))
        for name, (whole, path) in regridded.items():
            out = whole.isel(y=rows)
            if name in LAND_VARS:
                nan, cells = land_missing(out, inside)
                counts = land.setdefault(name, [0, 0, describe(path)])
                counts[0] += nan
                counts[1] += cells
            else:
                regrid.check_coverage(out, inside, describe(path))
            fields[name] = out
        if "landcover" in fields:
            fields["landcover"] = landcover.decode_classes(fields["landcover"])
        ds = forcing.assemble(fields, t["region"], year, params["par_fraction"])
        for name in ds.data_vars:
            if not (real and name in LAND_VARS):
                regrid.check_coverage(ds[name], inside, f"forcing {year}")
        ds, found = checks.check_forcing(ds, f"forcing/{year}.nc", params["strictness"], valued=valued)
        warnings.extend(w for w in found if w not in warnings)
        return ds

    def whole_grid_checks_and_provenance():  # every block is computed: the checks of the whole year
        for name, (nan, cells, what) in land.items():
            check_land_coverage(name, nan, cells, what, params["land_max_missing"])
        checks.require_values(valued, f"forcing/{year}.nc")
        return provenance.attrs("regrid", io.all_paths(smk.input), {**dict(params), "check_warnings": warnings})

    mem_mb, rows = io.job_resources(smk)
    rows = io.block_rows(target.sizes["x"], regrid.BYTES_PER_PIXEL, mem_mb, rows=rows, ny=target.sizes["y"])
    ds = io.blocked(block, target["y"], rows)
    io.write_netcdf(ds, smk.output["forcing"], chunk_rows=rows, late_attrs=whole_grid_checks_and_provenance)
    for w in warnings:
        log.warning("%s", w)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
