"""Class maps of trend, stability, persistence, future trend and correlation (rule `classes`).

Output: {run}/analysis/classes.nc (int8 with flag_values/flag_meanings) and analysis/tif/{class}.tif.
"""
from pathlib import Path

from nepflow import classify, io, logs, provenance


def main(smk):
    ds = {k: io.open_dataset(smk.input[k]).load() for k in ("trend", "hurst", "stability", "correlation")}
    classes = classify.all_classes(ds["trend"], ds["hurst"], ds["stability"], ds["correlation"], smk.params["classes"])
    crs = ds["trend"].rio.crs
    classes = classes.rio.write_crs(crs)
    for name in classes.data_vars:
        classes[name].attrs["grid_mapping"] = "spatial_ref"
    provenance.attach(classes, "classes", io.all_paths(smk.input), dict(smk.params))
    io.write_netcdf(classes, smk.output["classes"])
    tif_dir = Path(smk.output["classes"]).parent / "tif"
    for name in classes.data_vars:
        io.write_cog(classes[name].rio.write_crs(crs), tif_dir / f"{name}.tif")


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
