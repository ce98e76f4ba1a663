"""One year's drivers on the target grid (rule `regrid`). Output: {run}/forcing/{year}.nc (docs/architecture.md).

Every product, demo or real, takes the same road (:mod:`nepflow.drivers`): opened by its source's
``open_year``, regridded in blocks of target rows sized from the job's mem_mb into a temporary file beside the
output, then checked, assembled and written block by block.
"""

import logging

from nepflow import drivers, jobs, logs, netcdf, provenance

log = logging.getLogger("nepflow.regrid")


def main(smk):
    year = int(smk.wildcards.year)
    params = dict(smk.params)
    target = netcdf.open_dataset(smk.input["grid"], ["region"]).load()
    inputs = {product: smk.input[product] for product in params["sources"]}
    mem_mb, rows = jobs.job_resources(smk)
    out = smk.output["forcing"]
    with drivers.year_forcing(year, inputs, target, params, out, mem_mb, rows) as (ds, rows, late_checks, warnings):

        def provenance_after_checks():
            late_checks()
            return provenance.attrs("regrid", jobs.all_paths(smk.input), {**params, "check_warnings": warnings})

        netcdf.write_netcdf(ds, out, chunk_rows=rows, late_attrs=provenance_after_checks)
    for w in warnings:
        log.warning("%s", w)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
