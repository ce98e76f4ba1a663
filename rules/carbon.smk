# Per-year carbon fluxes: TEC GPP and NPP, soil heterotrophic respiration, NEP.


rule carbon:
    """Annual GPP, NPP, Rh and NEP of one year from its regridded drivers."""
    input:
        forcing=run_path("forcing/{year}.nc"),
        grid=run_path("grid.nc"),
    output:
        carbon=run_path("carbon/{year}.nc"),
        **monthly_carbon_output(),
    params:
        carbon=conf("carbon"),
        strictness=conf("checks", "strictness"),
        code=code_hash("carbon.py"),
        **uncertainty_param(),
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
