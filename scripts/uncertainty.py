"""Parameter uncertainty of NEP from seeded draws of the constants (rule `uncertainty`).

Outputs: {run}/uncertainty/nep.nc (per pixel: SD over the draws of mean NEP and of its OLS trend) and
{run}/tables/uncertainty.csv (regional mean NEP, total sink, trend: central value, 5/50/95 % of the draws).
"""

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from nepflow import carbon, files, jobs, logs, netcdf, provenance, variables
from nepflow.carbon import uncertainty as unc


def main(smk):
    u, p = smk.params["uncertainty"], dict(smk.params["carbon"])
    carbon.validate(p)
    grid = netcdf.open_dataset(smk.input["grid"], ["region", "pixel_area"]).load()
    inside = grid["region"].values > 0
    acc = unc.Accumulator(smk.params["years"], grid["pixel_area"].values, inside)
    names = [f"unc_{k}" for k in unc.TERMS]
    for i, path in enumerate(smk.input["carbon"]):
        with netcdf.open_dataset(path, names) as ds:
            acc.add(i, np.stack([ds[n].values.astype("float64") for n in names]))
    draws = unc.draw_parameters(u["draws"], u["seed"], u["sd"], p)
    maps, table = unc.summarise(acc, unc.coefficients(draws, p), unc.coefficients(unc.central(p), p))
    like = grid["region"]
    comment = (
        f"{u['draws']} draws (seed {u['seed']}) of the constants, normal about the configured values with "
        f"SD {u['sd']} (casa_eps_max relative); docs/science.md"
    )
    out = xr.Dataset(
        {
            "nep_mean_sd": xr.DataArray(
                maps["nep_mean_sd"].astype("float32"),
                coords=like.coords,
                dims=like.dims,
                attrs=variables.attrs("nep_mean", long_name="SD of mean NEP over the draws", comment=comment),
            ),
            "nep_trend_sd": xr.DataArray(
                maps["nep_trend_sd"].astype("float32"),
                coords=like.coords,
                dims=like.dims,
                attrs=variables.attrs(
                    "ols_slope", long_name="SD of the OLS trend of NEP over the draws", comment=comment
                ),
            ),
        }
    ).rio.write_crs(grid.rio.crs)
    provenance.attach(out, "uncertainty", list(smk.input["carbon"]), dict(smk.params))
    netcdf.write_netcdf(out, smk.output["maps"])
    rows = [
        {"quantity": q, **v, "draws": u["draws"], "seed": u["seed"], "primary_model": p["npp"]}
        for q, v in table.items()
    ]
    with files.atomic_path(smk.output["table"]) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6f")


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
