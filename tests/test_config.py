"""Config validation: one line naming the key, before any job runs."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from nepflow import config as nconfig, grid, regions
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
        (
            {"grid": {"resolution:0.1": None}},
            "config key grid.resolution:0.1: unknown key; expected one of crs, "
            "resolution, bounds; a key: value pair needs a space after the colon (--config 'grid={resolution: 0.1}')",
        ),
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


@pytest.mark.parametrize(
    "text, words",
    [
        ("years:\n  start: 2000\n end: 2020\n", ["bad.yaml: line 3, column 2: not valid YAML", "indent with spaces"]),
        ("grid: {resolution: 0.1\n", ["bad.yaml: line 2", "not valid YAML"]),
        ("- years\n- grid\n", ["bad.yaml: the config is a list, not a mapping"]),
    ],
)
def test_broken_config_file_names_the_file_and_line(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(NepflowError) as err:
        nconfig.load_yaml(path)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_config_overrides_get_the_schema_types():
    """Snakemake reads nested --config values as strings (YAML BaseLoader); they reach the schema typed."""
    cfg = filled(default())
    overrides = {
        "years": {"start": "2005", "end": "2008"},
        "grid": {"bounds": ["110", "34", "123", "43"]},
        "analysis": {"min_valid_years": "null", "mk_variant": "hamed_rao"},
        "run_name": 2024,
        "carbon": {"monthly_output": "true"},
        "sources": {"earthdata": {"tiles": ["h26v04"]}},
    }
    nconfig.apply_overrides(cfg, overrides, SCHEMA)
    assert cfg["years"] == {"start": 2005, "end": 2008}
    assert cfg["grid"]["bounds"] == [110, 34, 123, 43] and cfg["grid"]["resolution"] == 0.05  # merged, not replaced
    assert cfg["analysis"]["min_valid_years"] is None and cfg["analysis"]["mk_variant"] == "hamed_rao"
    assert cfg["run_name"] == "2024" and cfg["carbon"]["monthly_output"] is True
    assert cfg["sources"]["earthdata"]["tiles"] == ["h26v04"]
    nconfig.check(cfg, SCHEMA)
    nconfig.check_semantics(cfg)
    # a string the schema does not accept stays a string, and the schema names the key
    nconfig.apply_overrides(cfg, {"years": {"start": "twenty"}}, SCHEMA)
    with pytest.raises(NepflowError, match="config key years.start: expected integer"):
        nconfig.check(cfg, SCHEMA)


def test_grid_size_error_names_the_size_and_the_key():
    cfg = filled({**default(), "grid": {"resolution": 0.000001}})
    with pytest.raises(NepflowError) as err:
        nconfig.check_semantics(cfg)
    msg = str(err.value)
    assert msg.startswith("config key resources.max_mem_mb: the grid of ") and " PB per job" in msg, msg
    # the same grid passes with the ceiling raised, and the plan carries its pixel count
    cfg = filled({**default(), "grid": {"resolution": 0.01}})
    plan = nconfig.check_semantics(cfg)
    shapes = regions.shapes_from_config(cfg["region"])
    built = grid.target_grid(cfg["grid"]["crs"], 0.01, None, shapes)
    assert plan["grid_pixels"] == built.sizes["x"] * built.sizes["y"] == 1250 * 825


def test_cma_daily_station_file_passes_the_plan(tmp_path):
    """The CMA daily layout has no header: the plan checks that the file is there, the job reads it."""
    from test_sources_stations import CMA_STATIONS, cma_lines

    path = tmp_path / "SURF_CLI_CHN_MUL_DAY-SSD-14032-2001.TXT"
    path.write_text(cma_lines(CMA_STATIONS))
    cfg = default()
    cfg["sources"].update(sunshine="stations", stations={"file": str(path), "format": "cma_daily"})
    nconfig.validate(cfg, SCHEMA)
    cfg["sources"]["stations"]["file"] = str(tmp_path / "none.TXT")
    with pytest.raises(NepflowError, match="config key sources.stations.file: .*none.TXT not found"):
        nconfig.validate(cfg, SCHEMA)
