"""Area of every class per region, and the study's headline summary (rule `area_stats`).

Outputs: {run}/tables/area_stats.csv (docs/architecture.md) and {run}/tables/summary.md (with the
parameter uncertainty of tables/uncertainty.csv when the run makes uncertainty draws).
"""

import pandas as pd
import xarray as xr

from nepflow import areastats, blocks, files, jobs, logs, netcdf, summary


def main(smk):
    classes = xr.open_dataset(
        smk.input["classes"], engine="netcdf4", mask_and_scale=False, decode_coords="all"
    )  # lazy, int8
    stability = netcdf.open_dataset(smk.input["stability"], ["nep_mean"]).load()  # 2-D maps of the whole grid
    grid = netcdf.open_dataset(smk.input["grid"], ["region", "pixel_area"]).load()
    mem_mb, rows = jobs.job_resources(smk)
    rows = blocks.block_rows(
        classes.sizes["x"], blocks.stage_bytes("area_stats"), mem_mb, rows=rows, ny=classes.sizes["y"]
    )
    table = areastats.area_table(classes, grid["pixel_area"], grid["region"], rows=rows)
    with files.atomic_path(smk.output["table"]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    unc = pd.read_csv(smk.input["uncertainty"]) if "uncertainty" in smk.input.keys() else None
    text = summary.summary_table(
        table, stability["nep_mean"], grid["pixel_area"], grid["region"], years=smk.params["years"], uncertainty=unc
    )
    files.write_text(text, smk.output["summary"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
