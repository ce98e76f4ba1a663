"""Modelled GPP and NEP against flux-tower records (rule `validate`).

Outputs: {run}/tables/validation.csv (per site and year: observed, modelled; per site and overall: bias, RMSE,
r, n) and {run}/validation/validation.png.
"""

import numpy as np
import pandas as pd

import rioxarray  # noqa: F401  (registers the .rio accessor)

from nepflow import files, jobs, logs, netcdf, validation


def main(smk):
    sites, window, years = smk.params["sites"], smk.params["window"], smk.params["years"]
    grid = netcdf.open_dataset(smk.input["grid"], ["region"]).load()
    maps = [netcdf.open_dataset(p, ["gpp", "nep"]).load() for p in smk.input["carbon"]]
    with netcdf.open_dataset(smk.input["forcing"]) as f:  # the grid's dominant class, where it is there (CASA runs)
        classes = f["landcover"].load() if "landcover" in f else None
    rows = []
    for site in sites:
        obs = validation.read_site(site["file"], site["id"])
        row, col = validation.site_pixel(site, grid.x.values, grid.y.values, grid.rio.crs)
        grid_class = validation.extract(classes, row, col) if classes is not None else np.nan
        for year, ds in zip(years, maps):
            o = obs.loc[year] if year in obs.index else None
            rows.append(
                {
                    "site": site["id"],
                    "year": year,
                    "landcover": site.get("landcover"),
                    "grid_landcover": grid_class,
                    "landcover_match": validation.landcover_match(site, grid_class),
                    "window": window,
                    "gpp_obs": np.nan if o is None else o["GPP_NT_VUT_REF"],
                    "gpp_mod": validation.extract(ds["gpp"], row, col, window),
                    "nep_obs": np.nan if o is None else -o["NEE_VUT_REF"],
                    "nep_mod": validation.extract(ds["nep"], row, col, window),
                }
            )
    pairs = pd.DataFrame(rows)
    with files.atomic_path(smk.output["table"]) as tmp:
        validation.table(pairs).to_csv(tmp, index=False, float_format="%.6f")
    with files.atomic_path(smk.output["figure"]) as tmp:
        validation.figure(pairs, tmp)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
