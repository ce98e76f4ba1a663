"""What a job's resources say about its work (light: no numerical imports, for every entry script)."""
from __future__ import annotations


def job_resources(smk) -> tuple[float | None, int | None]:
    """(mem_mb, block_rows) of a Snakemake job (or the command line's object): what sizes its blocks.

    ``block_rows`` is the job's ``block_rows`` resource (config ``resources.block_rows``; 0 or
    missing: derive the rows from ``mem_mb``). Block sizes change no output value, so they are
    resources, not params: changing them reruns nothing.
    """
    res = getattr(smk, "resources", None)
    get = (res.get if isinstance(res, dict) else lambda k, d=None: getattr(res, k, d)) if res is not None \
        else (lambda k, d=None: d)
    mem = get("mem_mb", None)
    rows = get("block_rows", 0)
    return (float(mem) if mem else None), (int(rows) if rows else None)
