"""The run's tables as HTML pages the report shows inline (rule `report_tables`).

Inputs: {run}/tables/area_stats.csv and {run}/tables/summary.md; outputs: {run}/tables/area_stats.html and
{run}/tables/summary.html (nepflow.report_tables).
"""

from pathlib import Path

import pandas as pd

from nepflow import files, jobs, logs, report_tables


def main(smk):
    table = pd.read_csv(smk.input["table"], keep_default_na=False, na_values=[""])
    files.write_text(report_tables.area_page(table, "Area of every class (km2 and percent)"), smk.output["table"])
    files.write_text(report_tables.summary_page(Path(smk.input["summary"]).read_text()), smk.output["summary"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
