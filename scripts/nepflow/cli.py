"""An entry script run from a shell: the object Snakemake would hand it, built from the command line.

``python scripts/carbon.py --configfile config/config.yaml --input forcing=… --output carbon=…`` reads the
config as the workflow does (config/config.yaml first, then each ``--configfile``, later wins, then
``--config key=value`` parsed as Snakemake parses it and typed by the schema; checked by
:func:`nepflow.config.validate`, defaults filled in) and gives the script the params its rule would give
(:func:`nepflow.ruleparams.rule_params`, the table the rules read). ``--params`` (a YAML file) and
``--param key=YAML`` set params by hand, over those.

No job runs this module (a job gets Snakemake's object): :mod:`nepflow.codehash` does not follow it, so the
config checks it calls are in no rule's code hash or environment.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import yaml

from .errors import NepflowError

_REPO = Path(__file__).resolve().parents[2]
#: The config the workflow reads first (the Snakefile's ``configfile:``).
DEFAULT_CONFIG = _REPO / "config" / "config.yaml"
#: Where --help sends a reader: documents inside the repository.
CLI_DOCS = f"""documentation:
  {_REPO / "README.md"} (Running the workflow yourself; Outputs)
  {_REPO / "config" / "README.md"} and {_REPO / "config" / "schema.yaml"} (every config key)
  {_REPO / "docs" / "science.md"} (equations, defaults, checks)
  {_REPO / "docs" / "architecture.md"} (rules, params, the command line)"""


def update_config(config: dict, new: Mapping) -> dict:
    """Merge ``new`` into ``config`` in place, as Snakemake merges config files and ``--config``: mappings
    key by key, recursively; any other value (a list too) replaces."""
    for key, value in new.items():
        if isinstance(value, Mapping):
            sub = config.get(key)
            config[key] = update_config(sub if isinstance(sub, dict) else {}, value)
        else:
            config[key] = value
    return config


def _bool(value: str) -> bool:
    if value in ("True", "False"):
        return value == "True"
    raise ValueError(value)


def parse_config_entries(entries) -> dict:
    """``--config`` entries (``key=value``) as Snakemake reads them (``snakemake.cli.parse_config``): the
    first of int, float, ``True``/``False``, YAML with every scalar a string, str that parses; nested
    values stay strings (:func:`nepflow.config.coerce` then types them by the schema)."""
    parsers = (int, float, _bool, lambda s: yaml.load(s, Loader=yaml.BaseLoader), str)
    config: dict = {}
    for entry in entries or ():
        key, sep, value = entry.partition("=")
        if not sep or not re.match(r"[a-zA-Z_][\w-]*\w$", key):
            raise NepflowError(
                f"--config {entry!r}: expected key=value with a config key (e.g. 'years={{start: 2005}}')"
            )
        parsed = None
        if value != "":
            for parse in parsers:
                try:
                    parsed = parse(value)
                except Exception:  # noqa: BLE001 (Snakemake tries each parser in turn the same way)
                    continue
                if not callable(parsed):
                    break
        update_config(config, {key: parsed})
    return config


def job_config(configfiles=(), entries=(), default=DEFAULT_CONFIG) -> dict:
    """The validated config of a run with ``--configfile``s and ``--config`` entries, as the Snakefile
    builds it (nepflow.config.validate: overrides typed by the schema, schema, defaults, plan-time checks)."""
    from . import config as nconfig

    config = nconfig.load_yaml(default)
    overrides: dict = {}
    for path in configfiles:
        update_config(overrides, nconfig.load_yaml(path))
    update_config(overrides, parse_config_entries(entries))
    update_config(config, copy.deepcopy(overrides))
    nconfig.validate(config, nconfig.SCHEMA, overrides)
    return config


def _rule_of(config: dict, script: str, rule: str | None) -> str:
    """The rule a script runs for: ``--rule``, else the one rule that runs ``script``."""
    from . import ruleparams

    runs = ruleparams.scripts(config)
    if rule is not None:
        if rule not in runs:
            raise NepflowError(f"--rule {rule}: no such rule; expected one of {', '.join(runs)}")
        if runs[rule] != script:
            raise NepflowError(f"--rule {rule}: runs scripts/{runs[rule]}, not scripts/{script}")
        return rule
    candidates = [r for r, s in runs.items() if s == script]
    if len(candidates) != 1:
        raise NepflowError(
            f"scripts/{script} runs "
            + (f"rules {', '.join(candidates)}: give one with --rule" if candidates else "no rule of this config")
        )
    return candidates[0]


#: Params named like a config section that are not that section: the regrid rule's ``sources`` is
#: its products' sources ({product: source}); completing it with the section's defaults would add
#: the section's other keys (``npp``, ``bbox``, ``download``...) as products.
NOT_SECTIONS = frozenset({"sources"})


def cli_args(doc: str, argv=None, script: str | None = None) -> SimpleNamespace:
    """Build a Snakemake-like job object from the command line (see the module's doc).

    ``script.py --configfile config/config.yaml --input forcing=results/demo/forcing/2000.nc
    --output carbon=/tmp/2000.nc --wildcard year=2000`` gives an object with ``input``, ``output``,
    ``params``, ``wildcards``, ``log``, ``threads``, ``resources`` (and ``config`` with a config) attributes,
    as Snakemake's ``snakemake`` object has. ``--params`` takes a YAML file of the rule's params;
    ``--param key=YAML`` sets one. A name given more than once (``--input carbon=2000.nc --input
    carbon=2001.nc``) is a list of files, as a rule's ``expand()`` input. ``script``: the entry script's
    file name (default: the program's), which says the rule.
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CLI_DOCS)
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--output", action="append", default=[], metavar="NAME=PATH")
    p.add_argument(
        "--configfile",
        action="extend",
        nargs="+",
        default=[],
        metavar="YAML",
        help="the workflow's config: the rule's params from it, as the workflow gives them "
        "(config/config.yaml first, then these in order, later wins)",
    )
    p.add_argument(
        "--config",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, as snakemake --config (e.g. 'years={start: 2005, end: 2010}')",
    )
    p.add_argument("--rule", help="the rule whose params to build (needed where a script runs several rules)")
    p.add_argument("--params", metavar="YAML", help="YAML file with the rule's params (over the config's)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=YAML", help="one param (over all others)")
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

    extra, params, hand = {}, {}, {}
    try:
        if a.configfile or a.config:
            from . import ruleparams

            config = job_config(a.configfile, a.config)
            rule = _rule_of(config, script or Path(sys.argv[0]).name, a.rule)
            params.update(ruleparams.rule_params(rule, config))
            extra["config"] = config
        elif a.rule:
            raise NepflowError("--rule needs --configfile or --config (the params are built from a config)")
        if a.params:
            hand.update(_params_file(a.params))
    except NepflowError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(1)
    hand.update(pairs(a.param, yaml.safe_load))
    # a config section given by hand is completed with the schema's defaults, as the workflow's validated
    # config is (`--param carbon={}`: the default carbon model)
    from .schema import SCHEMA, defaults, load_schema

    sections = load_schema(str(SCHEMA))["properties"]
    for key, value in hand.items():
        if key in NOT_SECTIONS:
            continue
        if isinstance(value, dict) and sections.get(key, {}).get("type") == "object":
            hand[key] = defaults(key, value)
    params.update(hand)
    return SimpleNamespace(
        resources=_Named({"mem_mb": a.mem_mb, "block_rows": a.block_rows, "chunk": a.chunk}),
        input=_Named(pairs(a.input, repeat=True)),
        output=_Named(pairs(a.output, repeat=True)),
        params=_Params(params),
        wildcards=_Named(pairs(a.wildcard)),
        log=[a.log] if a.log else [],
        threads=a.threads,
        **extra,
    )


def _params_file(path) -> dict:
    """A --params YAML file: a mapping of param names to values."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise NepflowError(
            f"--params {path}: {' '.join(str(exc).split())}; expected a YAML file of the rule's params"
        ) from None
    if not isinstance(data, (dict, type(None))):
        raise NepflowError(f"--params {path}: a {type(data).__name__}; expected a mapping of param names to values")
    return data or {}


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
                f"missing param {key!r}: give it with --configfile config/config.yaml (the rule's params from "
                f"the config), --param {key}=YAML or in a --params YAML file"
            ) from None

    def __getattr__(self, key):
        return self[key]
