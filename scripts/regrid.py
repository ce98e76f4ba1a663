"""One year's drivers on the target grid (rule `regrid`). Output: {run}/forcing/{year}.nc (DESIGN.md).

Each variable is regridded with its configured method (``regrid.methods``), recorded in its
``regrid_method`` attribute: ``conservative`` (lon/lat sources, accumulated meteorology) by
:func:`nepflow.regrid.conservative`; projected sources (MODIS sinusoidal) month by month by
:func:`nepflow.regrid.sinusoidal_to_target`; lon/lat sources otherwise by
:func:`nepflow.regrid.to_target`. Memory: one product's native year at a time, and every
regridded field is kept as float32.
"""
import gc
import logging
from pathlib import Path

from nepflow import checks, forcing, io, logs, provenance, regrid, sources
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
LAND_VARS = ("fpar", "c4_frac", "npp_mod17")


def check_land_coverage(da, inside, what, max_missing):
    """One-line error if more than ``max_missing`` of the region's pixel-months of ``da`` are NaN."""
    import numpy as np

    vals = np.asarray(da.values)
    vals = vals[None] if vals.ndim == 2 else vals
    frac = float((~np.isfinite(vals[:, inside])).mean())
    if frac > max_missing:
        raise NepflowError(f"{what}: variable {da.name} does not cover the region on the target grid "
                           f"({frac:.1%} of region pixel-months missing); expected at most {max_missing:.0%} "
                           f"(regrid.land_max_missing) and the source to cover sources.bbox")
    if frac:
        log.info("%s: %s undefined in %.2f%% of the region's pixel-months (no vegetation retrieval)",
                 what, da.name, 100 * frac)


def main(smk):
    year = int(smk.wildcards.year)
    params = smk.params
    real = "source_settings" in params.keys()
    settings = params["source_settings"] if real else {}
    target = io.open_dataset(smk.input["grid"], ["region"]).load()
    inside = target["region"].values > 0
    fields = {}
    for product, source in params["sources"].items():
        path = smk.input[product]
        native = sources.module(source).open_year(product, year, path, settings,
                                                  params["landcover"].get("c4_fraction"))
        for name, da in native.data_vars.items():
            method = params["methods"].get(name, "bilinear")
            out = regrid_variable(da, target, method, describe(path))
            if source != "demo":  # the demo keeps its float64 path (and so its checksums)
                out = out.astype("float32")
                if name in LAND_VARS:
                    check_land_coverage(out, inside, describe(path), params["land_max_missing"])
                else:
                    regrid.check_coverage(out, inside, describe(path))
            fields[name] = out
            log.info("%s %s: %s from %s", year, name, method, path)
        native = da = None  # free the native year before opening the next product
        gc.collect()
    ds = forcing.assemble(fields, target["region"], year, params["par_fraction"])
    fields = None  # the regridded fields now live in ds: free them before checking and writing
    gc.collect()
    for name in ds.data_vars:
        if not (real and name in LAND_VARS):
            regrid.check_coverage(ds[name], inside, f"forcing {year}")
    ds, warnings = checks.check_forcing(ds, f"forcing/{year}.nc", params["strictness"])
    for w in warnings:
        log.warning("%s", w)
    provenance.attach(ds, "regrid", io.all_paths(smk.input),
                      {**dict(params), "check_warnings": warnings})
    io.write_netcdf(ds, smk.output["forcing"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
