"""Retrieve one product-year from its configured source (rules `retrieve_<product>`).

Outputs: the files the source module's ``outputs()`` names (data and/or a manifest) in the
shared cache, ``{data_dir}/<source>/...`` (the source contract: scripts/nepflow/sources/__init__.py).
Credentials come from the environment or ``~/.netrc`` / ``~/.cdsapirc`` and are checked here, when
the job runs: a missing one stops the job with one line naming what to set, never the secret.
Imports only the source's module.
"""

from nepflow import jobs, logs, schema, sources


def main(smk):
    year = int(smk.wildcards.year)
    params = smk.params
    cfg = dict(params["settings"])
    # Retry/timeout settings are read from the config, not params: changing them must not rerun
    # (and so re-download) finished years. From the command line they may come as a param (the
    # schema's defaults fill what it leaves out).
    config = getattr(smk, "config", None)
    cfg["download"] = (
        config["sources"]["download"] if config else schema.defaults("sources.download", params.get("download") or {})
    )
    mem_mb, rows = jobs.job_resources(smk)
    cfg["job"] = {"mem_mb": mem_mb, "block_rows": rows}  # block sizes of a generating source (a resource)
    mod = sources.module(params["source"])
    products = params.get("products") or [params["product"]]  # one product, from the command line
    out = dict(smk.output)
    for product in products:  # one job may deliver several products: outputs <product>_<name>
        paths = (
            out
            if len(products) == 1
            else {k[len(product) + 1 :]: v for k, v in out.items() if k.startswith(product + "_")}
        )
        if product in getattr(mod, "NEEDS", {}):
            paths[mod.NEEDS[product]] = smk.input[mod.NEEDS[product]]
        mod.retrieve(product, year, cfg, paths)


if __name__ == "__main__":
    if "snakemake" in globals():
        smk = snakemake  # noqa: F821
    else:
        from nepflow import jobs

        smk = jobs.cli_args(__doc__)
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
