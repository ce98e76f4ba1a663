# Per-year retrieval: one job per (source, year). Local rules: cluster compute
# nodes usually have no internet; a `downloads` resource throttles concurrency.

localrules:
    retrieve_demo,


rule retrieve_demo:
    """Generate one year of the offline demo's four products (as a real source would deliver them)."""
    output:
        meteo=data_path("demo", DEMO_KEY + "/{year}/meteo.nc"),
        sunshine=data_path("demo", DEMO_KEY + "/{year}/sunshine.nc"),
        fpar=data_path("demo", DEMO_KEY + "/{year}/fpar.nc"),
        landcover=data_path("demo", DEMO_KEY + "/{year}/landcover.nc"),
    params:
        demo=config["demo"],
        grid=config["grid"],
        region=config["region"],
    log:
        log_path("retrieve_demo/{year}"),
    retries: 2
    threads: 1
    resources:
        downloads=1,
        mem_mb=per_year_mem_mb,
    conda:
        "../envs/retrieve.yaml"
    script:
        "../scripts/retrieve_demo.py"
