"""One per-pixel statistic of annual NEP (rules `trend`, `hurst`, `stability`, `correlation`).

Output: {run}/analysis/{statistic}.nc and analysis/tif/{variable}.tif (docs/architecture.md).
The statistic is the rule's `statistic` param.
"""

import rioxarray  # noqa: F401  (registers the .rio accessor)

from nepflow import analysis, blocks, cf, checks, jobs, logs, netcdf, provenance, series


def main(smk):
    name, a = smk.params["statistic"], smk.params["analysis"]
    mem_mb, _ = jobs.job_resources(smk)
    with logs.phase("open"):
        with netcdf.open_dataset(smk.input["series"], ["nep"]) as probe:
            n_years = probe.sizes["year"]
        chunk = blocks.chunk_edge(n_years, mem_mb, smk.threads, jobs.job_chunk(smk))  # a resource: changes no value
        cube = series.open_cube(smk.input["series"], chunk)
    with logs.phase("statistic"):  # reads the cube slab by slab: its time includes the reading
        ds = analysis.compute(name, cube, a, threads=smk.threads)
    checks.check_series(
        ds["valid_years"], n_years, a["min_valid_years"], smk.input["series"], analysis.counted_years(name)
    )
    years = cube["year"].values
    ds = cf.with_period(analysis.outputs(name, ds), years.min(), years.max())
    provenance.attach(ds, name, [smk.input["series"]], a)
    with logs.phase("write"):
        analysis.write(ds, smk.output["analysis"], smk.output["tifs"], cube.rio.crs, threads=smk.threads)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
