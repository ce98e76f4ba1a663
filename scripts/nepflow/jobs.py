"""The job an entry script runs: Snakemake's ``snakemake`` object, or the same built from the command
line (:func:`cli_args`), and what its resources say about its work (light: no numerical imports, for
every entry script)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import yaml

from .errors import NepflowError


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


_REPO = Path(__file__).resolve().parents[2]
#: Where --help sends a reader: documents inside the repository.
CLI_DOCS = f"""documentation:
  {_REPO / "README.md"} (Running the workflow yourself; Outputs)
  {_REPO / "config" / "README.md"} and {_REPO / "config" / "schema.yaml"} (every config key)
  {_REPO / "docs" / "science.md"} (equations, defaults, checks)"""


#: Params named like a config section that are not that section: the regrid rule's ``sources`` is
#: its products' sources ({product: source}); completing it with the section's defaults would add
#: the section's other keys (``npp``, ``bbox``, ``download``...) as products.
NOT_SECTIONS = frozenset({"sources"})


def cli_args(doc: str, argv=None) -> SimpleNamespace:
    """Build a Snakemake-like job object from the command line, for debugging.

    ``script.py --input forcing=results/demo/forcing/2000.nc
    --output carbon=/tmp/2000.nc --params params.yaml --wildcard year=2000``
    gives an object with ``input``, ``output``, ``params``, ``wildcards``,
    ``log`` and ``threads`` attributes, as Snakemake's ``snakemake`` object has.
    ``--params`` takes a YAML file of the rule's params (``snakemake -n -p``
    and the job's log show them); ``--param key=YAML`` sets one. A name given
    more than once (``--input carbon=2000.nc --input carbon=2001.nc``) is a
    list of files, as a rule's ``expand()`` input.
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CLI_DOCS)
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--output", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--params", metavar="YAML", help="YAML file with the rule's params")
    p.add_argument("--param", action="append", default=[], metavar="NAME=YAML")
    p.add_argument("--wildcard", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--log", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mem-mb", type=int, default=2000, help="the job's memory (sizes its blocks)")
    p.add_argument("--block-rows", type=int, default=0, help="rows per block (0: from --mem-mb)")
    p.add_argument("--chunk", type=int, default=0, help="statistics' chunk edge (0: from --mem-mb)")
    a = p.parse_args(argv)

    def pairs(items, parse=lambda v: v, repeat=False):
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                p.error(f"expected NAME=VALUE, got {item!r}")
            if repeat and key in out:  # a repeated name is a list of files (e.g. 21 years' carbon)
                out[key] = [*(out[key] if isinstance(out[key], list) else [out[key]]), parse(value)]
            else:
                out[key] = parse(value)
        return out

    params = {}
    if a.params:
        params.update(yaml.safe_load(Path(a.params).read_text()) or {})
    params.update(pairs(a.param, yaml.safe_load))
    # a config section given on the command line is completed with the schema's defaults, as the workflow's
    # validated config is (`--param carbon={}`: the default carbon model)
    from .schema import defaults, load_schema, SCHEMA

    sections = load_schema(str(SCHEMA))["properties"]
    for key, value in params.items():
        if key in NOT_SECTIONS:
            continue
        if isinstance(value, dict) and sections.get(key, {}).get("type") == "object":
            params[key] = defaults(key, value)
    return SimpleNamespace(
        resources=_Named({"mem_mb": a.mem_mb, "block_rows": a.block_rows, "chunk": a.chunk}),
        input=_Named(pairs(a.input, repeat=True)),
        output=_Named(pairs(a.output, repeat=True)),
        params=_Params(params),
        wildcards=_Named(pairs(a.wildcard)),
        log=[a.log] if a.log else [],
        threads=a.threads,
    )


class _Named(dict):
    """A dict whose keys are also attributes, like Snakemake's named lists."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class _Params(_Named):
    """The command line's params: a missing one is a one-line error saying how to give it."""

    def __getitem__(self, key):
        try:
            return dict.__getitem__(self, key)
        except KeyError:
            raise NepflowError(
                f"missing param {key!r}: give it with --param {key}=YAML or in a --params YAML "
                "file (the rule's params: snakemake -n -p, or the job's log)"
            ) from None

    def __getattr__(self, key):
        return self[key]


def all_paths(files) -> list[str]:
    """Every path of a Snakemake input/output object (a named list) or of the CLI's dict."""
    if isinstance(files, dict):
        out = []
        for v in files.values():
            out.extend(v if isinstance(v, (list, tuple)) else [v])
        return [str(p) for p in out]
    return [str(p) for p in files]
