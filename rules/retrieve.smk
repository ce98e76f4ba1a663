# Per-year retrieval: one rule per retrieve job of a year, retrieve_<product> (retrieve_<p1>_<p2>...
# for the products a source generates in one job, e.g. the demo's), built from the configured
# source's contract (scripts/nepflow/sources/__init__.py): its outputs are the files the source
# module's outputs() names (data and/or manifest) under data_path(source, ...), its inputs
# the files the module reads (the user's files, the station file, the meteorology of the sunshine
# proxy). Every source, the demo included, runs the same script. Scripts take credentials from the
# environment or ~/.netrc / ~/.cdsapirc, never from params, and check them only when the job runs
# (a dry run needs none). `localrule: True`: compute nodes usually have no internet; a `downloads`
# resource throttles concurrency.
for _name, (_source, _products) in RETRIEVE_RULES.items():

    rule:
        name:
            _name
        input:
            unpack(source_inputs(_source, _products)),
        output:
            **job_outputs(_source, _products),
        params:
            **rule_params(_name),
        log:
            log_path(f"{_name}/{{year}}"),
        benchmark:
            bench_path(f"{_name}/{{year}}")
        localrule: True
        # 0, also over a profile's retries: a transient failure is retried inside the job
        # (sources.download.tries); a permanent one (bad path, missing column) would only repeat
        retries: 0
        threads: 1
        resources:
            downloads=1,
            mem_mb=per_year_mem_mb,
            block_rows=block_rows,
            runtime=per_year_runtime,
        conda:
            "../envs/retrieve.yaml"
        script:
            "../scripts/retrieve.py"
