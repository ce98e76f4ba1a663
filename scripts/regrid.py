"""One year's drivers on the target grid (rule `regrid`). Output: {run}/forcing/{year}.nc (DESIGN.md)."""
import logging

from nepflow import checks, forcing, io, logs, provenance, regrid, sources

log = logging.getLogger("nepflow.regrid")


def main(smk):
    year = int(smk.wildcards.year)
    params = smk.params
    target = io.open_dataset(smk.input["grid"], ["region"]).load()
    fields = {}
    for product, source in params["sources"].items():
        path = smk.input[product]
        native = sources.module(source).open_year(product, year, path, {}, params["landcover"].get("c4_fraction"))
        for name, da in native.data_vars.items():
            method = params["methods"].get(name, "bilinear")
            fields[name] = regrid.to_target(da, target, method)
            log.info("%s %s: %s from %s", year, name, method, path)
    ds = forcing.assemble(fields, target["region"], year, params["par_fraction"])
    inside = target["region"].values > 0
    for name in ds.data_vars:
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
