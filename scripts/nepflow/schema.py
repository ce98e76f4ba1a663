"""config/schema.yaml, the one place of every config default: read, and its defaults filled in.

No validation here (``nepflow.config`` validates, with jsonschema, once per process), so that
jobs whose environment has no jsonschema (retrieval) can take the schema's defaults too.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

#: config/schema.yaml: every config key, its meaning and its default.
SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


@functools.lru_cache(maxsize=4)
def load_schema(schema_path) -> dict:
    """config/schema.yaml, parsed once per process (libyaml's parser where installed: planning is timed)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(schema_path, encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


def fill(value, schema: dict):
    """``value`` with the defaults of ``schema`` filled in where keys are absent, recursively (into
    objects' properties and arrays' items), as ``snakemake.utils.validate(set_default=True)`` does,
    without validating again."""
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if key in value:
                value[key] = fill(value[key], sub)
            elif "default" in sub:
                value[key] = fill(copy.deepcopy(sub["default"]), sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [fill(v, schema["items"]) for v in value]
    return value


@functools.lru_cache(maxsize=None)
def _defaults(section: str) -> dict:
    schema = load_schema(str(SCHEMA))
    for key in filter(None, section.split(".")):
        schema = schema["properties"][key]
    return fill({}, schema)


def defaults(section: str = "", overrides: dict | None = None) -> dict:
    """The defaults of config section ``section`` (dotted, e.g. ``"carbon"``, ``"sources.stations"``;
    ``""`` the whole config) from the schema, with ``overrides`` (a partial section) filled as a
    validated config holds it: what library code receives, for callers without a config."""
    if overrides is None:
        return copy.deepcopy(_defaults(section))
    schema = load_schema(str(SCHEMA))
    for key in filter(None, section.split(".")):
        schema = schema["properties"][key]
    return fill(copy.deepcopy(overrides), schema)
