# Aggregates: the annual series, one rule per statistic, classes and area tables.


rule series:
    """Annual NEP and climate (precipitation, temperature, sunshine) of every year, stacked."""
    input:
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        forcing=expand(run_path("forcing/{year}.nc"), year=YEARS),
    output:
        series=run_path("series/annual.nc"),
    params:
        years=YEARS,
        code=code_hash("series.py"),
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


rule trend:
    """OLS and Theil–Sen trends of NEP with the Mann–Kendall test."""
    input:
        series=run_path("series/annual.nc"),
    output:
        analysis=run_path("analysis/trend.nc"),
        tifs=analysis_tifs("trend"),
    params:
        statistic="trend",
        analysis=analysis_params(),
        code=code_hash("statistic.py"),
    log:
        log_path("trend"),
    benchmark:
        bench_path("trend")
    threads: 2
    resources:
        mem_mb=aggregate_mem_mb,
        chunk=analysis_chunk,
        runtime=aggregate_runtime,
    conda:
        "../envs/stats.yaml"
    script:
        "../scripts/statistic.py"


rule hurst:
    """Hurst exponent of NEP (rescaled range) with its white-noise p-value."""
    input:
        series=run_path("series/annual.nc"),
    output:
        analysis=run_path("analysis/hurst.nc"),
        tifs=analysis_tifs("hurst"),
    params:
        statistic="hurst",
        analysis=analysis_params(),
        code=code_hash("statistic.py"),
    log:
        log_path("hurst"),
    benchmark:
        bench_path("hurst")
    threads: 2
    resources:
        mem_mb=aggregate_mem_mb,
        chunk=analysis_chunk,
        runtime=aggregate_runtime,
    conda:
        "../envs/stats.yaml"
    script:
        "../scripts/statistic.py"


rule stability:
    """Mean, standard deviation and coefficient of variation of annual NEP."""
    input:
        series=run_path("series/annual.nc"),
    output:
        analysis=run_path("analysis/stability.nc"),
        tifs=analysis_tifs("stability"),
    params:
        statistic="stability",
        analysis=analysis_params(),
        code=code_hash("statistic.py"),
    log:
        log_path("stability"),
    benchmark:
        bench_path("stability")
    threads: 2
    resources:
        mem_mb=aggregate_mem_mb,
        chunk=analysis_chunk,
        runtime=aggregate_runtime,
    conda:
        "../envs/stats.yaml"
    script:
        "../scripts/statistic.py"


rule correlation:
    """Pearson and second-order partial correlation of NEP with precipitation, temperature, sunshine."""
    input:
        series=run_path("series/annual.nc"),
    output:
        analysis=run_path("analysis/correlation.nc"),
        tifs=analysis_tifs("correlation"),
    params:
        statistic="correlation",
        analysis=analysis_params(),
        code=code_hash("statistic.py"),
    log:
        log_path("correlation"),
    benchmark:
        bench_path("correlation")
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
    params:
        classes=conf("classes"),
        code=code_hash("classes.py"),
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
        years=YEARS,
        code=code_hash("area_stats.py"),
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
