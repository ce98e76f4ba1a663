"""Synthetic flux-tower records of the demo (rule `demo_sites`). Outputs: {run}/validation/sites/{id}.csv."""

from nepflow import demo_sites, jobs, logs, netcdf


def main(smk):
    grid = netcdf.open_dataset(smk.input["grid"], ["region"]).load()
    maps = [netcdf.open_dataset(p, ["gpp", "nep"]).load() for p in smk.input["carbon"]]
    demo_sites.write(demo_sites.SITES, smk.params["years"], maps, grid, smk.params["seed"], list(smk.output["sites"]))


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
