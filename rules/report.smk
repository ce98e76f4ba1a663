# Figures, the report and the publication archive.


rule figures:
    """Every map and time-series figure (PNG and PDF)."""
    input:
        trend=run_path("analysis/trend.nc"),
        hurst=run_path("analysis/hurst.nc"),
        stability=run_path("analysis/stability.nc"),
        correlation=run_path("analysis/correlation.nc"),
        classes=run_path("analysis/classes.nc"),
        series=run_path("series/annual.nc"),
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        grid=run_path("grid.nc"),
    output:
        figures=directory(run_path("figures")),
    params:
        figures=config["figures"],
        years=YEARS,
    log:
        log_path("figures"),
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figures.py"
