"""Annual NEP and climate of every year, stacked (rule `series`). Output: {run}/series/annual.nc."""

from nepflow import jobs, logs, netcdf, provenance, series


def main(smk):
    mem_mb, rows = jobs.job_resources(smk)
    cube = series.build(
        list(smk.input["carbon"]), list(smk.input["forcing"]), smk.params["years"], rows=rows, mem_mb=mem_mb
    )
    provenance.attach(cube, "series", list(smk.input["carbon"]) + list(smk.input["forcing"]), dict(smk.params))
    netcdf.write_netcdf(cube, smk.output["series"], chunk_rows=series.block_rows_of(cube))


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
