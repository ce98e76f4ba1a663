"""The source contract (nepflow.sources): every source module declares it, in one place (its defaults
are the schema's alone: tests/test_defaults.py)."""

from pathlib import Path

import pytest
import yaml

from nepflow import sources

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())


def schema_defaults(node: dict) -> dict:
    """{key: default} of an object node of the schema; an object without a default of its own
    gives its properties' defaults."""
    out = {}
    for key, prop in (node.get("properties") or {}).items():
        if "default" in prop and prop["default"] != {}:
            out[key] = prop["default"]
        elif "properties" in prop:
            out[key] = schema_defaults(prop)
        elif "default" in prop:
            out[key] = prop["default"]
    return out


@pytest.mark.parametrize("name", sources.SOURCES)
def test_every_source_declares_the_contract(name):
    mod = sources.module(name)
    assert mod.DELIVERS and set(mod.DELIVERS) <= set(sources.PRODUCT_VARIABLES), name
    assert isinstance(mod.PROJECTED, tuple) and set(mod.PROJECTED) <= set(mod.DELIVERS), name
    for attr in ("SETTINGS", "OPEN_SETTINGS"):
        assert isinstance(getattr(mod, attr), (tuple, list)), (name, attr)
    for fn in ("outputs", "retrieve", "open_year"):
        assert callable(getattr(mod, fn)), (name, fn)
    for product in mod.DELIVERS:
        assert name in sources.delivering(product)
