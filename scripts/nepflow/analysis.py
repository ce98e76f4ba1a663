"""Running one per-pixel statistic over the annual series and writing it.

Each aggregate rule (trend, hurst, stability, correlation) runs
:func:`compute` with its name: the statistic reads the dask-backed cube slab by
slab (whole ``analysis.chunk`` chunks; memory bounded by a slab plus the output
maps) and runs the numba kernels on the job's ``threads``; Benjamini–Hochberg
q-values are added over the whole (2-D) p maps, and :func:`write` stores the
NetCDF plus one Cloud-Optimized GeoTIFF per variable.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import numba
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from . import cog, files, netcdf, stats

STATISTICS = ("trend", "hurst", "stability", "correlation")


def compute(name: str, cube: xr.Dataset, a: dict, threads: int = 1) -> xr.Dataset:
    """Statistic ``name`` of the annual series ``cube`` with the config's ``analysis`` section ``a``.

    The result includes ``valid_years`` (the per-pixel count of finite years) and
    the q maps; :func:`outputs` selects what the rule stores.
    """
    nep = cube["nep"]
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    with dask.config.set(scheduler="threads", num_workers=threads):
        if name == "trend":
            ds = stats.trend(nep, min_valid=a["min_valid_years"], mk_variant=a["mk_variant"])
        elif name == "hurst":
            ds = stats.hurst(
                nep,
                estimator=a["hurst_estimator"],
                n_surrogates=a["hurst_surrogates"],
                seed=a["seed"],
                min_valid=a["min_valid_years"],
                series=a["hurst_series"],
            )
        elif name == "stability":
            ds = stats.stability(nep, ddof=a["cv_ddof"], min_valid=a["min_valid_years"])
        elif name == "correlation":
            factors = {f: cube[f] for f in stats.FACTORS}
            ds = stats.correlation(nep, factors, min_valid=a["min_valid_years"], detrended=a["detrend_correlation"])
        else:
            raise ValueError(f"unknown statistic {name!r}; expected one of {STATISTICS}")
        ds = ds.load()
    if name == "stability":
        ds["cv"].attrs["cv_undefined_nonpositive_mean"] = stats.count_nonpositive_mean(ds)
    else:
        ds = stats.add_qvalues(ds)
    return ds


def counted_years(name: str) -> str:
    """What statistic ``name``'s ``valid_years`` counts: the years NEP is finite (correlation: NEP and all
    of its factors), for the check that some pixel has enough of them."""
    return "nep and all of " + ", ".join(stats.FACTORS) if name == "correlation" else "nep"


def outputs(name: str, ds: xr.Dataset) -> xr.Dataset:
    """The variables rule ``name`` stores, as stored: ``valid_years`` is kept by ``trend`` only, and
    float maps become float32 (what the NetCDF and the COGs hold: the same values, half the memory;
    the write then needs no float32 copy of every map: 1.1 GB less at 500 m for correlation)."""
    ds = ds if name == "trend" else ds.drop_vars("valid_years", errors="ignore")
    return ds.map(lambda v: v.astype("float32") if v.dtype.kind == "f" else v, keep_attrs=True)


def write(ds: xr.Dataset, nc_path, tif_paths, crs, threads: int = 1) -> None:
    """Write ``ds`` to ``nc_path`` and each variable to the tif of the same stem in ``tif_paths``.

    The NetCDF and the GeoTIFFs are written concurrently on ``threads`` threads
    (netCDF4 and GDAL compress without the GIL). The files appear together or,
    on any failure, not at all (:func:`nepflow.files.staged`).
    """
    ds = ds.rio.write_crs(crs)
    for name in ds.data_vars:
        if {"y", "x"} <= set(ds[name].dims):
            ds[name].attrs["grid_mapping"] = "spatial_ref"
    by_stem = {Path(p).stem: p for p in tif_paths}
    missing = sorted(set(by_stem) - set(ds.data_vars))
    if missing:
        raise KeyError(f"analysis lacks variables {missing} declared as outputs")
    paths = [nc_path, *by_stem.values()]
    with files.staged(paths) as stage, ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        futures = [pool.submit(netcdf.write_netcdf, ds, stage[0])]
        futures += [pool.submit(cog.write_cog, ds[name], tmp) for name, tmp in zip(by_stem, stage[1:])]
        for f in futures:
            f.result()  # the first failure propagates: no file of the set is moved into place
