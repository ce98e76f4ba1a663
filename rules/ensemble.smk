# Beyond the study: the NPP models of an ensemble run compared (carbon.models).


rule ensemble:
    """Each NPP model's regional mean NEP, total sink, trend with its p and trend-class shares."""
    input:
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        grid=run_path("grid.nc"),
    output:
        table=report(
            run_path("tables/ensemble.csv"),
            caption="../report/ensemble.rst",
            category="Tables",
            subcategory="NPP model ensemble",
        ),
        series=run_path("tables/ensemble_series.csv"),
    params:
        **rule_params("ensemble"),
    log:
        log_path("ensemble"),
    benchmark:
        bench_path("ensemble")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/stats.yaml"
    script:
        "../scripts/ensemble.py"


rule ensemble_figure:
    """The models' regional mean NEP series and trend-class shares."""
    input:
        table=run_path("tables/ensemble.csv"),
        series=run_path("tables/ensemble_series.csv"),
    output:
        figure=report(
            run_path("ensemble/models.png"),
            caption="../report/ensemble.rst",
            category="Figures",
            subcategory="NPP model ensemble",
        ),
    params:
        **rule_params("ensemble_figure"),
    log:
        log_path("ensemble_figure"),
    benchmark:
        bench_path("ensemble_figure")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/ensemble_figure.py"
