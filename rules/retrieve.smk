# Per-year retrieval: one job per (source, year). Local rules: cluster compute
# nodes usually have no internet; a `downloads` resource throttles concurrency.

localrules:
    retrieve_demo,


rule retrieve_demo:
    """Generate one year of the offline demo's four products (as a real source would deliver them)."""
    output:
        meteo=demo_file("meteo"),
        sunshine=demo_file("sunshine"),
        fpar=demo_file("fpar"),
        landcover=demo_file("landcover"),
    params:
        demo=conf("demo"),
        grid=conf("grid"),
        region=conf("region"),
    log:
        log_path("retrieve_demo/{year}"),
    benchmark:
        bench_path("retrieve_demo/{year}")
    retries: 2
    threads: 1
    resources:
        downloads=1,
        mem_mb=per_year_mem_mb,
        block_rows=block_rows,
        runtime=per_year_runtime,
    conda:
        "../envs/retrieve.yaml"
    script:
        "../scripts/retrieve_demo.py"
