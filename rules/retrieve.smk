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
    retries: 0  # deterministic: a rerun gives the same error
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


# ---------------------------------------------------------------- real sources (issue 5)
# One per-year rule per real source and product it delivers: retrieve_cds (meteo),
# retrieve_earthdata_{fpar,landcover,npp}, retrieve_stations, retrieve_proxy (sunshine),
# retrieve_local_{product}. Only the sources the config uses get a rule. Outputs are the files
# each source module's outputs() names (data and/or manifest) under data_path(source, ...);
# the scripts take credentials from the environment or ~/.netrc / ~/.cdsapirc, never from
# params, and check them only when the job runs (a dry run needs none). `localrule: True` is the
# per-rule form of `localrules:` (compute nodes usually have no internet).
for _product, _source in REAL_PRODUCTS.items():

    rule:
        name:
            f"retrieve_{_source}" if _source in ("cds", "stations", "proxy") else f"retrieve_{_source}_{_product}"
        input:
            **({"meteo": proxy_meteo} if _source == "proxy" else {}),
            **({"files": local_inputs(_product)} if _source == "local" else {}),
            **({"stations": station_file()} if _source == "stations" else {}),
        output:
            **source_outputs(_product),
        params:
            source=_source,
            product=_product,
            settings=source_params(_source),
        log:
            log_path(f"retrieve_{_source}_{_product}/{{year}}"),
        localrule: True
        # 0, also over a profile's retries: a transient failure is retried inside the job
        # (sources.download.tries); a permanent one (bad path, missing column) would only repeat
        retries: 0
        threads: 1
        resources:
            downloads=1,
            mem_mb=per_year_mem_mb,
        conda:
            "../envs/retrieve.yaml"
        script:
            "../scripts/retrieve.py"

