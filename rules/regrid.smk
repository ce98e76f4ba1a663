# Per-year regridding of every driver onto the one target grid.


rule grid:
    """The target grid: region codes (province per pixel) and true pixel areas."""
    output:
        grid=run_path("grid.nc"),
    params:
        **rule_params("grid"),
    log:
        log_path("grid"),
    benchmark:
        bench_path("grid")
    threads: 1
    resources:
        mem_mb=per_year_mem_mb,
        runtime=per_year_runtime,
    conda:
        "../envs/geo.yaml"
    script:
        "../scripts/grid.py"


rule regrid:
    """One year's monthly drivers on the target grid, checked, in the forcing contract's units."""
    input:
        unpack(retrieved_products),
        grid=run_path("grid.nc"),
    output:
        forcing=run_path("forcing/{year}.nc"),
    params:
        **rule_params("regrid"),
    log:
        log_path("regrid/{year}"),
    benchmark:
        bench_path("regrid/{year}")
    threads: 1
    resources:
        mem_mb=per_year_mem_mb,
        block_rows=block_rows,
        runtime=per_year_runtime,
    conda:
        "../envs/geo.yaml"
    script:
        "../scripts/regrid.py"
