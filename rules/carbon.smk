# Per-year carbon fluxes: TEC GPP and NPP, soil heterotrophic respiration, NEP.


rule carbon:
    """Annual GPP, NPP, Rh and NEP of one year from its regridded drivers."""
    input:
        forcing=run_path("forcing/{year}.nc"),
        grid=run_path("grid.nc"),
    output:
        **monthly_carbon_output(),
        carbon=run_path("carbon/{year}.nc"),
    params:
        **rule_params("carbon"),
    log:
        log_path("carbon/{year}"),
    benchmark:
        bench_path("carbon/{year}")
    threads: 1
    resources:
        mem_mb=per_year_mem_mb,
        block_rows=block_rows,
        runtime=per_year_runtime,
    conda:
        "../envs/geo.yaml"
    script:
        "../scripts/carbon.py"
