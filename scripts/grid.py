"""The target grid with region codes and pixel areas (rule `grid`). Output: {run}/grid.nc."""

from nepflow import grid, jobs, logs, netcdf, provenance, regions


def main(smk):
    g = smk.params["grid"]
    shapes = regions.shapes_from_config(smk.params["region"])
    target = grid.target_grid(g["crs"], g["resolution"], g.get("bounds"), shapes)
    ds = grid.grid_dataset(target, shapes)
    provenance.attach(ds, "grid", [], dict(smk.params))
    netcdf.write_netcdf(ds, smk.output["grid"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
