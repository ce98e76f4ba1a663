"""Every map and time-series figure, PNG and PDF (rule `figures`). Output: {run}/figures/."""

from nepflow import figures, grid as nepgrid, jobs, logs, netcdf, regions, series


def main(smk):
    """Draw every figure; returns figure name -> what was drawn (data, colour limits, labels), for tests."""
    # lazily (dask, nothing cached): each map reads its variable when drawn, one at a time
    analysis = {k: netcdf.open_dataset(smk.input[k], chunks={}) for k in ("trend", "hurst", "stability", "correlation")}
    classes = netcdf.open_dataset(smk.input["classes"], chunks={})
    grid = netcdf.open_dataset(smk.input["grid"], ["region", "pixel_area"]).load()
    names = nepgrid.region_names(grid["region"])
    outlines = regions.province_shapes(names) if names != ["region"] else {}
    series_df = series.regional_means(list(smk.input["carbon"]), smk.params["years"], grid)
    try:
        return figures.make_all(
            analysis,
            classes,
            series_df,
            outlines,
            smk.output["figures"],
            smk.params["years"],
            dpi=smk.params["figures"]["dpi"],
            inside=grid["region"].values > 0,
            classes_cfg=smk.params["classes"],
            pixel_area=grid["pixel_area"].values,
        )
    finally:
        for ds in (*analysis.values(), classes):
            ds.close()


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
