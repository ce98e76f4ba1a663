# Beyond the study: parameter uncertainty of NEP from seeded draws of the constants (uncertainty.draws).


rule uncertainty:
    """Per-pixel SD of mean NEP and of its trend; 5-95 % of regional mean NEP, total sink and trend."""
    input:
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        grid=run_path("grid.nc"),
    output:
        maps=run_path("uncertainty/nep.nc"),
        table=report(
            run_path("tables/uncertainty.csv"),
            caption="../report/uncertainty.rst",
            category="Tables",
            subcategory="Parameter uncertainty",
        ),
    params:
        **rule_params("uncertainty"),
    log:
        log_path("uncertainty"),
    benchmark:
        bench_path("uncertainty")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/geo.yaml"
    script:
        "../scripts/uncertainty.py"
