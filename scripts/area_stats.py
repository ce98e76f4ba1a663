"""Area of every class per region, and the study's headline summary (rule `area_stats`).

Outputs: {run}/tables/area_stats.csv (DESIGN.md) and {run}/tables/summary.md.
"""
from nepflow import areastats, io, logs, summary


def main(smk):
    classes = io.open_dataset(smk.input["classes"]).load()
    stability = io.open_dataset(smk.input["stability"], ["nep_mean"]).load()
    grid = io.open_dataset(smk.input["grid"], ["region", "pixel_area"]).load()
    table = areastats.area_table(classes, grid["pixel_area"], grid["region"])
    with io.atomic_path(smk.output["table"]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    text = summary.summary_table(table, stability["nep_mean"], grid["pixel_area"], grid["region"],
                                 years=smk.params["years"])
    io.write_text(text, smk.output["summary"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
