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


SOURCES_DIR = ROOT / "scripts" / "nepflow" / "sources"


def test_every_source_module_is_registered():
    """A module of nepflow/sources that declares DELIVERS is a source: it is in SOURCES."""
    declaring = sorted(
        p.stem
        for p in SOURCES_DIR.glob("*.py")
        if any(line.startswith("DELIVERS = ") for line in p.read_text().splitlines())
    )
    assert declaring == sorted(sources.SOURCES), "add the module's name to nepflow.sources.SOURCES"


@pytest.mark.parametrize("product", sorted(sources.PRODUCT_VARIABLES))
def test_the_schema_offers_exactly_the_sources_that_deliver_a_product(product):
    enum = SCHEMA["properties"]["sources"]["properties"][product]["enum"]
    assert sorted(e for e in enum if e is not None) == sorted(sources.delivering(product)), (
        f"config/schema.yaml sources.{product}.enum must list the sources whose DELIVERS has {product}"
    )


@pytest.mark.parametrize("name", sources.SOURCES)
def test_every_setting_a_source_reads_is_in_the_schema(name):
    mod = sources.module(name)
    in_sources = set(SCHEMA["properties"]["sources"]["properties"])
    top = set(SCHEMA["properties"])
    for section in (*mod.SETTINGS, *mod.OPEN_SETTINGS):
        assert section in in_sources or section in top, (
            f"{name}: config section {section!r} is not in config/schema.yaml"
        )


def test_a_source_gets_the_top_level_sections_it_names_and_no_other():
    from nepflow import config as nconfig
    from nepflow import schema

    def load(*names):
        cfg = {}
        for name in names:  # as Snakemake merges --configfile over the Snakefile's configfile
            cfg.update(nconfig.load_yaml(ROOT / "config" / name))
        return schema.defaults("", cfg)

    demo = sources.source_config(load("config.yaml"))
    assert demo["demo"] == load("config.yaml")["demo"] and demo["bbox"]
    real = sources.source_config(load("config.yaml", "north_china.yaml"))
    assert "demo" not in real and real["cds"] and real["bbox"]
