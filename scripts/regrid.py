"""One year's drivers on the target grid (rule `regrid`). Output: {run}/forcing/{year}.nc (DESIGN.md)."""
import logging

from nepflow import checks, forcing, io, logs, provenance, regrid, sources

log = logging.getLogger("nepflow.regrid")


def main(smk):
    year = int(smk.wildcards.year)
    params = smk.params
    target = io.open_dataset(smk.input["grid"], ["region"]).load()
    target = target.rio.write_transform(target.rio.transform(recalc=True))  # a block of one row keeps its pixel size
    natives = {}
    for product, source in params["sources"].items():
        path = smk.input[product]
        natives[path] = sources.module(source).open_year(product, year, path, {}, params["landcover"].get("c4_fraction"))
        for name in natives[path].data_vars:
            log.info("%s %s: %s from %s", year, name, params["methods"].get(name, "bilinear"), path)
    warnings = []

    def block(rows):  # one block of target rows: every driver regridded, assembled and checked
        t = target.isel(y=rows)
        fields = {name: regrid.to_target_block(da, t, params["methods"].get(name, "bilinear"))
                  for native in natives.values() for name, da in native.data_vars.items()}
        ds = forcing.assemble(fields, t["region"], year, params["par_fraction"])
        inside = t["region"].values > 0
        for name in ds.data_vars:
            regrid.check_coverage(ds[name], inside, f"forcing {year}")
        ds, found = checks.check_forcing(ds, f"forcing/{year}.nc", params["strictness"])
        warnings.extend(w for w in found if w not in warnings)
        return ds

    mem_mb, rows = io.job_resources(smk)
    rows = io.block_rows(target.sizes["x"], regrid.BYTES_PER_PIXEL, mem_mb, rows=rows, ny=target.sizes["y"])
    ds = io.blocked(block, target["y"], rows)
    io.write_netcdf(ds, smk.output["forcing"], chunk_rows=rows, late_attrs=lambda: provenance.attrs(
        "regrid", io.all_paths(smk.input), {**dict(params), "check_warnings": warnings}))
    for w in warnings:
        log.warning("%s", w)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
