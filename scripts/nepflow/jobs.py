"""The job an entry script runs: Snakemake's ``snakemake`` object, or the same built from the command
line (:func:`cli_args`), and what its resources say about its work (light: no numerical imports, for
every entry script)."""

from __future__ import annotations


def job_resources(smk) -> tuple[float | None, int | None]:
    """(mem_mb, block_rows) of a Snakemake job (or the command line's object): what sizes its blocks.

    ``block_rows`` is the job's ``block_rows`` resource (config ``resources.block_rows``; 0 or
    missing: derive the rows from ``mem_mb``). Block sizes change no output value, so they are
    resources, not params: changing them reruns nothing.
    """
    res = getattr(smk, "resources", None)
    get = (
        (res.get if isinstance(res, dict) else lambda k, d=None: getattr(res, k, d))
        if res is not None
        else (lambda k, d=None: d)
    )
    mem = get("mem_mb", None)
    rows = get("block_rows", 0)
    return (float(mem) if mem else None), (int(rows) if rows else None)


def job_chunk(smk) -> int | None:
    """The statistics' dask chunk edge of a job: its ``chunk`` resource (config ``analysis.chunk``;
    0 or missing: None, derive it from mem_mb with :func:`nepflow.blocks.chunk_edge`)."""
    res = getattr(smk, "resources", None)
    value = (res.get("chunk", 0) if isinstance(res, dict) else getattr(res, "chunk", 0)) if res is not None else 0
    return int(value) if value else None


def cli_args(doc: str, argv=None, script: str | None = None):
    """The job object of an entry script run from a shell (``--configfile config/config.yaml``: its rule's
    params from the config; ``--params``/``--param``: by hand): :func:`nepflow.cli.cli_args`."""
    from .cli import cli_args as from_command_line  # no job runs it (nepflow.codehash does not follow it)

    return from_command_line(doc, argv, script)


def all_paths(files) -> list[str]:
    """Every path of a Snakemake input/output object (a named list) or of the CLI's dict."""
    if isinstance(files, dict):
        out = []
        for v in files.values():
            out.extend(v if isinstance(v, (list, tuple)) else [v])
        return [str(p) for p in out]
    return [str(p) for p in files]
