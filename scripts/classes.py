"""Class maps of trend, stability, persistence, future trend and correlation (rule `classes`).

Output: {run}/analysis/classes.nc (int8 with flag_values/flag_meanings) and analysis/tif/{class}.tif.
"""

from pathlib import Path

import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from nepflow import blocks, cf, classify, cog, jobs, logs, netcdf, provenance


def main(smk):
    ds = {k: netcdf.open_dataset(smk.input[k]) for k in ("trend", "hurst", "stability", "correlation")}  # lazy
    crs = ds["trend"].rio.crs

    def block(rows):  # classes are per pixel: a block of rows at a time
        part = {k: v.isel(y=rows).load() for k, v in ds.items()}
        classes = classify.all_classes(
            part["trend"], part["hurst"], part["stability"], part["correlation"], smk.params["classes"]
        )
        classes = classes.rio.write_crs(crs)
        for name in classes.data_vars:
            classes[name].attrs["grid_mapping"] = "spatial_ref"
        return classes

    mem_mb, rows = jobs.job_resources(smk)
    t = ds["trend"]
    rows = blocks.block_rows(t.sizes["x"], blocks.stage_bytes("classes"), mem_mb, rows=rows, ny=t.sizes["y"])
    classes = cf.copy_time(t, blocks.blocked(block, t["y"], rows))  # the period of the statistics
    provenance.attach(classes, "classes", jobs.all_paths(smk.input), dict(smk.params))
    netcdf.write_netcdf(classes, smk.output["classes"], chunk_rows=rows)
    tif_dir = Path(smk.output["classes"]).parent / "tif"
    # int8 maps, small even for the whole grid; undecoded, so they stay int8 with missing_value -1
    with xr.open_dataset(smk.output["classes"], engine="netcdf4", mask_and_scale=False, decode_coords="all") as written:
        for name in written.data_vars:
            da = written[name].load().rio.write_crs(crs)
            n = len(da.attrs["flag_meanings"].split())
            cog.write_cog(da, tif_dir / f"{name}.tif", colours=classify.colours(name, n))


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
