"""Every config default is stated once, in config/schema.yaml, and the config is validated once.

Library code receives the validated config (every key filled from the schema by
``nepflow.config.fill``); code that runs without one (tests, benchmarks) takes the schema's
defaults from ``nepflow.config.defaults``. The scan below reads scripts/ (entry scripts and the
library) with ``ast`` and fails on a second statement of a default: a ``DEFAULTS`` table, a
``.get(key, value)`` or ``.get(key) or value`` fallback on a key the schema gives a default, a
dict literal restating two or more schema defaults, and a function's keyword default equal to
a config default unless it is one of the few listed (those are held equal to the schema).
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import yaml

from nepflow import config as nconfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schema.yaml"

#: Keyword defaults of pure functions that equal a config default, (function, parameter) -> the config
#: key: the model constants and thresholds those functions are known by (tests call them bare). The
#: workflow always passes the config's value; the test below holds each equal to the schema, so they
#: cannot drift, and no new one may be added.
KEYWORD_DEFAULTS = {
    ("build", "include_inputs"): "archive.include_inputs",
    ("temperature_scalar", "tmin"): "carbon.temperature.c3.tmin",
    ("temperature_scalar", "topt"): "carbon.temperature.c3.topt",
    ("temperature_scalar", "tmax"): "carbon.temperature.c3.tmax",
    ("priestley_taylor_pet", "gamma"): "carbon.water.gamma",
    ("npp_from_gpp", "cue"): "carbon.cue",
    ("check_forcing", "strictness"): "checks.strictness",
    ("trend_classes", "alpha"): "classes.trend.alpha",
    ("trend_classes", "no_change_slope"): "classes.trend.no_change_slope",
    ("hurst_classes", "alpha"): "classes.hurst.alpha",
    ("hurst_classes", "require_significance"): "classes.hurst.require_significance",
    ("hurst_classes", "random_band"): "classes.hurst.random_band",
    ("future_classes", "alpha"): "classes.hurst.alpha",
    ("future_classes", "require_significance"): "classes.hurst.require_significance",
    ("future_classes", "random_band"): "classes.hurst.random_band",
    ("future_significant_classes", "alpha"): "classes.trend.alpha",
    ("future_significant_classes", "require_significance"): "classes.hurst.require_significance",
    ("future_significant_classes", "random_band"): "classes.hurst.random_band",
    ("corr_classes", "alpha"): "classes.correlation.alpha",
    ("future_classes", "no_change_slope"): "classes.trend.no_change_slope",
    ("future_significant_classes", "no_change_slope"): "classes.trend.no_change_slope",
    ("pixel_trend_classes", "mk_variant"): "analysis.mk_variant",
    ("compare", "mk_variant"): "analysis.mk_variant",
    ("map_continuous", "dpi"): "figures.dpi",
    ("map_classes", "dpi"): "figures.dpi",
    ("timeseries", "dpi"): "figures.dpi",
    ("timeseries_small_multiples", "dpi"): "figures.dpi",
    ("make_all", "dpi"): "figures.dpi",
    ("assemble", "par_fraction"): "carbon.par_fraction",
    ("file_ok", "verify"): "sources.download.verify",
    ("is_complete", "verify"): "sources.download.verify",
    ("sunshine_from_radiation", "a"): "sources.proxy.a",
    ("sunshine_from_radiation", "b"): "sources.proxy.b",
    ("monthly_totals", "min_days"): "sources.stations.min_days",
    ("interpolate", "method"): "sources.stations.method",
    ("interpolate", "smoothing"): "sources.stations.smoothing",
    ("trend", "mk_variant"): "analysis.mk_variant",
    ("trend", "alpha"): "classes.trend.alpha",
    ("hurst", "seed"): "analysis.seed",
    ("extract", "window"): "validation.window",
}
#: Model constants with their published sources that the schema's carbon defaults take (held equal).
MODEL_CONSTANTS = {
    "carbon.eps_c3": ("tec", "EPS_C3"),
    "carbon.eps_c4": ("tec", "EPS_C4"),
    "carbon.rh.a": ("rh", "A"),
    "carbon.rh.b": ("rh", "B"),
    "carbon.rh.c": ("rh", "C"),
    "carbon.rh.days_per_month": ("rh", "DAYS"),
    "carbon.rh.carbon_fraction": ("rh", "CARBON_FRACTION"),
}


def schema_defaults() -> dict[str, list[tuple[str, object]]]:
    """Key name -> [(dotted config key, its default)] of every schema property with a default."""
    out: dict[str, list] = {}

    def walk(node, path):
        for key, sub in (node.get("properties") or {}).items():
            if "default" in sub:
                out.setdefault(key, []).append((".".join([*path, key]), sub["default"]))
            walk(sub, [*path, key])

    walk(nconfig.load_schema(str(SCHEMA)), [])
    return out


def at(config: dict, dotted: str):
    for key in dotted.split("."):
        config = config[key]
    return config


def _literal(node):
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _something(value) -> bool:
    """A stated value (not None, not an empty container: ``or {}`` guards, it states no default)."""
    return value is not None and value != {} and value != [] and value != ()


def restatements(tree: ast.AST, defaults: dict) -> list[tuple[int, str]]:
    """(line, what) of every second statement of a config default in a module."""
    found = []

    def get_key(call):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "get"
            and call.args
        ):
            ok, key = _literal(call.args[0])
            if ok and isinstance(key, str) and key in defaults:
                return key
        return None

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(t, ast.Name) and t.id.endswith("DEFAULTS"):
                    found.append((node.lineno, f"a table {t.id}"))
        elif isinstance(node, ast.Call) and len(node.args) == 2 and (key := get_key(node)):
            ok, value = _literal(node.args[1])
            if ok and _something(value):
                found.append((node.lineno, f".get({key!r}, {value!r})"))
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and (key := get_key(node.values[0])):
            ok, value = _literal(node.values[-1])
            if ok and _something(value):
                found.append((node.lineno, f".get({key!r}) or {value!r}"))
        elif isinstance(node, ast.Dict):
            same = []
            for k, v in zip(node.keys, node.values):
                ok, key = _literal(k) if k is not None else (False, None)
                okv, value = _literal(v)
                if ok and isinstance(key, str) and okv and any(value == d for _, d in defaults.get(key, [])):
                    same.append(key)
            if len(same) >= 2:
                found.append((node.lineno, f"a dict restating the defaults of {', '.join(same)}"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pairs = list(zip(a.args[len(a.args) - len(a.defaults) :], a.defaults))
            pairs += [(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            for param, default in pairs:
                ok, value = _literal(default)
                if (
                    ok
                    and value is not None
                    and (node.name, param.arg) not in KEYWORD_DEFAULTS
                    and any(value == d for _, d in defaults.get(param.arg, []))
                ):
                    found.append((node.lineno, f"def {node.name}({param.arg}={value!r})"))
    return found


def test_no_default_is_stated_twice():
    defaults = schema_defaults()
    found = []
    for path in sorted((ROOT / "scripts").rglob("*.py")):
        if path.name == "jobs.py" and path.parent.name == "nepflow":
            continue  # its .get("chunk", 0) reads a job's resources (0: no chunk set), not the config
        for line, what in restatements(ast.parse(path.read_text(), str(path)), defaults):
            found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not found, "config defaults stated again beside config/schema.yaml:\n" + "\n".join(found)


def test_the_scan_finds_each_kind_of_restatement():
    code = """
DEFAULTS = {"tries": 5}
def f(cfg, dpi=300):
    a = cfg.get("pad", 0.5)
    b = cfg.get("npp") or "tec"
    c = {"tries": 5, "backoff": 2.0}
    d = cfg.get("pad") or {}  # a guard, not a default
"""
    kinds = [what for _, what in restatements(ast.parse(code), schema_defaults())]
    assert kinds == [
        "a table DEFAULTS",
        "def f(dpi=300)",
        ".get('pad', 0.5)",
        ".get('npp') or 'tec'",
        "a dict restating the defaults of tries, backoff",
    ]


def test_listed_keyword_defaults_and_model_constants_equal_the_schema():
    import importlib

    full = nconfig.defaults()
    for (func, param), key in KEYWORD_DEFAULTS.items():
        found = []
        for path in sorted((ROOT / "scripts" / "nepflow").rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef) and node.name == func:
                    a = node.args
                    pairs = list(zip(a.args[len(a.args) - len(a.defaults) :], a.defaults))
                    pairs += [(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
                    found += [ast.literal_eval(d) for p, d in pairs if p.arg == param]
        assert found, f"{func}({param}=...) is listed but no longer exists: drop it from KEYWORD_DEFAULTS"
        assert set(found) == {at(full, key)}, f"{func}({param}={found}) differs from {key} = {at(full, key)}"
    for key, (module, name) in MODEL_CONSTANTS.items():
        value = getattr(importlib.import_module(f"nepflow.carbon.{module}"), name)
        assert at(full, key) == value, f"{key} = {at(full, key)} in the schema, {module}.{name} = {value}"


def test_fill_is_what_snakemake_set_default_gives():
    """nepflow.config.fill (no second validation) fills exactly what snakemake.utils.validate did."""
    from snakemake.utils import validate

    configs = [{}, yaml.safe_load((ROOT / "config" / "config.yaml").read_text())]
    configs += [yaml.safe_load(p.read_text()) or {} for p in sorted((ROOT / "tests" / "configs").glob("*.yaml"))]
    configs += [
        {
            "validation": {"sites": [{"id": "X", "lon": 1, "lat": 2, "file": "x.csv"}]},
            "sources": {"earthdata": {"products": {"fpar": {"short_name": "A", "version": "1"}}}},
        }
    ]
    for cfg in configs:
        ours, theirs = copy.deepcopy(cfg), copy.deepcopy(cfg)
        nconfig.fill(ours, nconfig.load_schema(str(SCHEMA)))
        validate(theirs, str(SCHEMA), set_default=True)
        assert ours == theirs


def test_defaults_are_valid_and_overrides_fill_like_a_config():
    full = nconfig.defaults()
    nconfig.check(full, SCHEMA)
    assert nconfig.defaults("carbon") == full["carbon"]
    p = nconfig.defaults("carbon", {"rh": {"b": 0.0913}})
    assert p["rh"]["b"] == 0.0913 and p["rh"]["a"] == full["carbon"]["rh"]["a"] and p["cue"] == full["carbon"]["cue"]
    p["rh"]["a"] = -1  # a copy: the cached defaults are not changed
    assert nconfig.defaults("carbon")["rh"]["a"] == full["carbon"]["rh"]["a"]


def test_the_config_is_validated_by_jsonschema_once(monkeypatch):
    import jsonschema

    made, real = [], jsonschema.Draft202012Validator

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(jsonschema, "Draft202012Validator", counting)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    nconfig.validate(cfg, SCHEMA)
    assert len(made) == 1
    assert cfg["analysis"]["cv_ddof"] == 1 and cfg["sources"]["download"]["tries"] == 5  # filled
