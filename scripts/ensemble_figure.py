"""The NPP models of an ensemble run in one figure (rule `ensemble_figure`). Output: {run}/ensemble/models.png."""

import pandas as pd

from nepflow import ensemble_plot, files, jobs, logs


def main(smk):
    table = pd.read_csv(smk.input["table"])
    series = pd.read_csv(smk.input["series"])
    years = sorted(series["year"].unique())
    by_model = {
        m: g.sort_values("year")["regional_mean_nep_g_m2_yr"].to_numpy() for m, g in series.groupby("model", sort=False)
    }
    with files.atomic_path(smk.output["figure"]) as tmp:
        ensemble_plot.figure(table, by_model, years, tmp)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
