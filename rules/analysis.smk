# Aggregates: the annual series, the four statistics (one rule each, one definition), classes and area tables.


rule series:
    """Annual NEP and climate (precipitation, temperature, sunshine) of every year, stacked."""
    input:
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        forcing=expand(run_path("forcing/{year}.nc"), year=YEARS),
    output:
        series=run_path("series/annual.nc"),
    params:
        **rule_params("series"),
    log:
        log_path("series"),
    benchmark:
        bench_path("series")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        block_rows=block_rows,
        runtime=aggregate_runtime,
    conda:
        "../envs/geo.yaml"
    script:
        "../scripts/series.py"


# One definition, one rule per statistic (trend, hurst, stability, correlation): rule names, jobs,
# logs, benchmarks and outputs are the statistic's. Not a {statistic} wildcard: each statistic
# writes its own set of tifs (analysis/tif/{variable}.tif), and Snakemake takes output files
# only as patterns, never from a function of the wildcards.
for statistic in STATISTICS:

    rule:
        f"""{STATISTICS[statistic]}"""
        name:
            statistic
        input:
            series=run_path("series/annual.nc"),
        output:
            analysis=run_path(f"analysis/{statistic}.nc"),
            tifs=analysis_tifs(statistic),
        params:
            **rule_params(statistic),
        log:
            log_path(statistic),
        benchmark:
            bench_path(statistic)
        threads: 2
        resources:
            mem_mb=aggregate_mem_mb,
            chunk=analysis_chunk,
            runtime=aggregate_runtime,
        conda:
            "../envs/stats.yaml"
        script:
            "../scripts/statistic.py"


rule classes:
    """Class maps: trend, stability, persistence, future trend and correlation classes."""
    input:
        trend=run_path("analysis/trend.nc"),
        hurst=run_path("analysis/hurst.nc"),
        stability=run_path("analysis/stability.nc"),
        correlation=run_path("analysis/correlation.nc"),
    output:
        classes=run_path("analysis/classes.nc"),
        tifs=class_tifs(),
    params:
        **rule_params("classes"),
    log:
        log_path("classes"),
    benchmark:
        bench_path("classes")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        block_rows=block_rows,
        runtime=aggregate_runtime,
    conda:
        "../envs/stats.yaml"
    script:
        "../scripts/classes.py"


rule area_stats:
    """Area of every class per region from true pixel areas, and the study's headline summary."""
    input:
        unpack(summary_extra_inputs),
        classes=run_path("analysis/classes.nc"),
        stability=run_path("analysis/stability.nc"),
        grid=run_path("grid.nc"),
    output:
        table=report(
            run_path("tables/area_stats.csv"),
            caption="../report/area_stats.rst",
            category="Tables",
            subcategory="Area of every class",
        ),
        summary=report(
            run_path("tables/summary.md"), caption="../report/summary.rst", category="Tables", subcategory="Summary"
        ),
    params:
        **rule_params("area_stats"),
    log:
        log_path("area_stats"),
    benchmark:
        bench_path("area_stats")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        block_rows=block_rows,
        runtime=aggregate_runtime,
    conda:
        "../envs/stats.yaml"
    script:
        "../scripts/area_stats.py"
