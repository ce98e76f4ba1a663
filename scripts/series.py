"""Annual NEP and climate of every year, stacked (rule `series`). Output: {run}/series/annual.nc."""
from nepflow import io, logs, provenance, series


def main(smk):
    cube = series.build(list(smk.input["carbon"]), list(smk.input["forcing"]), smk.params["years"])
    provenance.attach(cube, "series", list(smk.input["carbon"]) + list(smk.input["forcing"]), dict(smk.params))
    io.write_netcdf(cube, smk.output["series"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
