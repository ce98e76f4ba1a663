# Beyond the study: modelled GPP and NEP against flux towers (validation.sites, validation.demo_sites).


rule demo_sites:
    """The demo's synthetic flux-tower records: its own GPP and NEP at each site, with planted offsets and noise."""
    input:
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        grid=run_path("grid.nc"),
    output:
        sites=demo_site_files(),
    params:
        **rule_params("demo_sites"),
    log:
        log_path("demo_sites"),
    benchmark:
        bench_path("demo_sites")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/geo.yaml"
    script:
        "../scripts/demo_sites.py"


rule validate:
    """Observed against modelled GPP and NEP (-NEE) per site and year, with bias, RMSE, r and n."""
    input:
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        grid=run_path("grid.nc"),
        forcing=run_path(f"forcing/{YEARS[0]}.nc"),
        sites=[s["file"] for s in validation_sites()],
    output:
        table=report(
            run_path("tables/validation.csv"),
            caption="../report/validation.rst",
            category="Tables",
            subcategory="Validation against flux towers",
        ),
        figure=report(
            run_path("validation/validation.png"),
            caption="../report/validation.rst",
            category="Figures",
            subcategory="Validation against flux towers",
        ),
    params:
        **rule_params("validate"),
    log:
        log_path("validate"),
    benchmark:
        bench_path("validate")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/validate.py"
