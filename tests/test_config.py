"""Config validation: one line naming the key, before any job runs."""
import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from nepflow import config as nconfig
from nepflow.errors import NepflowError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schema.yaml"


def filled(cfg):
    cfg = copy.deepcopy(cfg)
    validate(cfg, str(SCHEMA), set_default=True)
    return cfg


def default():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_fill_in():
    cfg = default()
    nconfig.check(cfg, SCHEMA)
    cfg = filled(cfg)
    nconfig.check_semantics(cfg)
    assert cfg["analysis"]["cv_ddof"] == 1
    assert cfg["results_dir"] == "results"
    assert cfg["demo"]["greening"]["hotspot"] > cfg["demo"]["greening"]["background"]


def test_every_schema_property_has_a_description():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{'.'.join(path + [name])} has no description"
            walk(sub, path + [name])

    walk(schema, [])


@pytest.mark.parametrize(
    "change, key",
    [
        ({"foo": 1}, "config key foo: unknown key"),
        ({"years": {"start": "2000"}}, "config key years.start: expected integer"),
        ({"grid": {"resolution": "fine"}}, "config key grid.resolution"),
        ({"sources": {"meteo": "ftp"}}, "config key sources.meteo"),
        ({"analysis": {"mk_variant": "magic"}}, "config key analysis.mk_variant"),
        ({"demo": {"sed": 1}}, "config key demo.sed: unknown key"),
    ],
)
def test_schema_errors_name_the_key(change, key):
    cfg = default()
    for k, v in change.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    with pytest.raises(NepflowError) as err:
        nconfig.check(cfg, SCHEMA)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "change, key",
    [
        ({"years": {"start": 2020, "end": 2000}}, "config key years: start 2020 is after end 2000"),
        ({"region": {"provinces": []}}, "config key region.provinces: the region is empty"),
        ({"region": {"provinces": ["Atlantis"]}}, "unknown province 'Atlantis'"),
        ({"grid": {"crs": "EPSG:999999"}}, "config key grid.crs"),
        ({"grid": {"resolution": -1}}, "config key grid.resolution"),
        ({"results_dir": "../elsewhere"}, "config key results_dir"),
        ({"data_dir": "/tmp/cache"}, "config key data_dir"),
    ],
)
def test_semantic_errors_name_the_key(change, key):
    cfg = default()
    for k, v in change.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    cfg = filled(cfg)
    with pytest.raises(NepflowError, match=key.replace("(", r"\(").replace(")", r"\)")):
        nconfig.check_semantics(cfg)


def test_outside_paths_allowed_when_asked():
    cfg = filled({**default(), "data_dir": "/tmp/cache", "allow_outside_paths": True})
    nconfig.check_semantics(cfg)
