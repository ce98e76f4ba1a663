"""The NPP models of an ensemble run compared (rule `ensemble`).

Outputs: {run}/tables/ensemble.csv (per model: regional mean NEP, total sink, trend and p, trend-class
area shares) and {run}/tables/ensemble_series.csv (per model and year: the regional mean NEP).
"""

import pandas as pd
import xarray as xr

from nepflow import ensemble, files, jobs, logs, netcdf


def main(smk):
    models, years = smk.params["models"], smk.params["years"]
    names = [f"nep_{m}" for m in models]
    grid = netcdf.open_dataset(smk.input["grid"], ["region", "pixel_area"]).load()
    maps = {m: [] for m in models}
    for path in smk.input["carbon"]:
        with netcdf.open_dataset(path, names) as ds:
            for m in models:
                maps[m].append(ds[f"nep_{m}"].load())
    neps = {m: xr.concat(v, dim="year").assign_coords(year=years) for m, v in maps.items()}
    table = ensemble.compare(
        neps,
        grid["pixel_area"],
        grid["region"],
        trend_cfg=smk.params["trend_classes"],
        mk_variant=smk.params["mk_variant"],
        min_valid=smk.params["min_valid_years"],
    )
    with files.atomic_path(smk.output["table"]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    inside = grid["region"].values > 0
    series = pd.DataFrame(
        [
            {"model": m, "year": y, "regional_mean_nep_g_m2_yr": v}
            for m, n in neps.items()
            for y, v in zip(years, ensemble.regional_series(n, grid["pixel_area"], inside))
        ]
    )
    with files.atomic_path(smk.output["series"]) as tmp:
        series.to_csv(tmp, index=False, float_format="%.6f")


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
