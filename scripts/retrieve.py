"""Retrieve one product-year from a real source (rules `retrieve_<source>[_<product>]`).

Outputs: the files the source module's ``outputs()`` names (data and/or a manifest) in the
shared cache, ``{data_dir}/<source>/...`` (scripts/nepflow/sources/__init__.py). Credentials
come from the environment or ``~/.netrc`` / ``~/.cdsapirc`` and are checked here, when the job
runs: a missing one stops the job with one line naming what to set, never the secret.
"""
from nepflow import io, logs, sources


def main(smk):
    year = int(smk.wildcards.year)
    params = smk.params
    cfg = dict(params["settings"])
    # Retry/timeout settings are read from the config, not params: changing them must not rerun
    # (and so re-download) finished years. From the command line they may come as a param.
    config = getattr(smk, "config", None) or {}
    cfg["download"] = (config.get("sources") or {}).get("download") or params.get("download") or {}
    paths = dict(smk.output)
    if "meteo" in smk.input.keys():
        paths["meteo"] = smk.input["meteo"]
    sources.module(params["source"]).retrieve(params["product"], year, cfg, paths)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
