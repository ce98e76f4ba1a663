"""The params of every rule that runs a script, from the validated config: one table, read by the rules
(``rules/*.smk``: ``params: **rule_params("carbon")``) and by the command line (``scripts/<x>.py --configfile
config/config.yaml``, :mod:`nepflow.cli`), so that a script run from the shell gets exactly the params its rule
gives it (tests/test_cli.py compares them rule by rule).

Config reaches jobs only through params, and Snakemake reruns a job whose params changed (their ``repr``),
so every config section is handed over with its mappings' keys sorted (:func:`sorted_config`): the same
settings in another key order rerun nothing.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from .errors import NepflowError

#: The repository (the workflow's base directory: Snakefile, scripts/, config/).
ROOT = Path(__file__).resolve().parents[2]

#: The statistics' rules (rules/analysis.smk defines them in one loop over these; scripts/statistic.py).
STATISTICS = ("trend", "hurst", "stability", "correlation")

_OMIT = object()  # a param a rule has only under some config (e.g. carbon's `uncertainty`)


def sorted_config(value):
    """A config value with every mapping's keys sorted (lists keep their order)."""
    if isinstance(value, dict):
        return {k: sorted_config(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_config(v) for v in value]
    return value


def config_value(config: dict, key: str):
    """The config value at a dotted ``key`` (``"checks.strictness"``), its mappings' keys sorted."""
    value = config
    for k in key.split("."):
        value = value[k]
    return sorted_config(value)


# ---------------------------------------------------------------- what several rules and the plan use
def years(config: dict) -> list[int]:
    """The run's years, ``years.start`` to ``years.end``."""
    return list(range(config["years"]["start"], config["years"]["end"] + 1))


def run_path(config: dict, path: str) -> str:
    """A path inside the run's results folder, ``{results_dir}/{run_name}/path``."""
    return f"{config['results_dir']}/{config['run_name']}/{path}"


def carbon_models(config: dict) -> list[str]:
    """The NPP models the carbon jobs compute: carbon.npp (the primary one) first, then carbon.models."""
    c = config["carbon"]
    return [c["npp"]] + [m for m in c["models"] if m != c["npp"]]


def demo_site_files(config: dict) -> list[str]:
    """The demo's synthetic flux-tower records (validation.demo_sites), one CSV per site."""
    from . import demo_sites

    return [run_path(config, f"validation/sites/{s['id']}.csv") for s in demo_sites.SITES]


def validation_sites(config: dict) -> list[dict]:
    """The flux-tower sites to validate against: validation.sites, then the demo's synthetic ones if asked for."""
    from . import demo_sites

    sites = [dict(s) for s in config["validation"]["sites"]]
    if config["validation"]["demo_sites"]:
        sites += [
            {"id": s["id"], "lon": s["lon"], "lat": s["lat"], "landcover": s["landcover"], "file": f}
            for s, f in zip(demo_sites.SITES, demo_site_files(config))
        ]
    return sites


def source_of(config: dict) -> dict[str, str]:
    """{product: source} of the products the run retrieves (nepflow.config.products), in retrieval order."""
    from .config import products

    return {product: config["sources"][product] for product in products(config)}


def retrieve_rules(config: dict) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The retrieve rules of the run, ``retrieve_<product>`` (``retrieve_<p1>_<p2>…`` for a source that
    delivers its products in one job) -> (source, products) (nepflow.sources.retrieve_jobs)."""
    from . import sources

    return {"retrieve_" + "_".join(p): (s, p) for s, p in sources.retrieve_jobs(source_of(config))}


# ---------------------------------------------------------------- params computed from more than one key
def _source_settings(config: dict, source: str) -> dict:
    """The settings of one source a retrieve job uses: the request box and the sections its module's
    SETTINGS name. sources.download (tries, timeouts) is left out on purpose: retry settings must not
    re-download."""
    from . import sources

    cfg = sources.source_config(config)
    keys = sources.module(source).SETTINGS
    return sorted_config({"bbox": cfg["bbox"], **{k: cfg.get(k) for k in keys}})


def _open_settings(run) -> dict:
    """What regrid's open_year reads of the products' sources (their OPEN_SETTINGS)."""
    from . import sources

    used = source_of(run.config).values()
    cfg = sources.source_config(run.config)
    keys = sorted({k for source in used for k in sources.module(source).OPEN_SETTINGS})
    return sorted_config({k: cfg.get(k) for k in keys})


def _cv_bounds(run):
    from . import classify

    return classify.CV_SCHEMES[run.config["classes"]["cv_scheme"]]


def _analysis(run) -> dict:
    """The analysis section without its chunk size (a resource: it changes no value)."""
    return {k: v for k, v in config_value(run.config, "analysis").items() if k != "chunk"}


def _if(condition, value):
    """A param the rule has only when ``condition(config)`` holds."""
    return lambda run: value(run) if condition(run.config) else _OMIT


_draws = lambda c: c["uncertainty"]["draws"] > 0  # noqa: E731
_years = lambda run: years(run.config)  # noqa: E731

#: rule -> (its entry script in scripts/, {param: what it holds}). A string is a config key (dotted), a
#: callable computes the value from ``run`` (``run.config``, ``run.rule``, ``run.basedir``). Every rule but
#: retrieval also gets ``code``, the hash of its script and the library modules it imports (nepflow.codehash).
TABLE = {
    "grid": ("grid.py", {"grid": "grid", "region": "region"}),
    "regrid": (
        "regrid.py",
        {
            "sources": lambda run: source_of(run.config),
            "source_settings": _open_settings,
            "land_max_missing": "regrid.land_max_missing",
            "coast_fill_km": "regrid.coast_fill_km",
            # the dominant land-cover class, for CASA's eps_max per class
            "landcover_class": _if(lambda c: "casa" in carbon_models(c), lambda run: True),
            "methods": "regrid.methods",
            "landcover": "landcover",
            "par_fraction": "carbon.par_fraction",
            "strictness": "checks.strictness",
        },
    ),
    "carbon": (
        "carbon.py",
        {
            # the sums the uncertainty draws are evaluated from, written only with draws
            "uncertainty": _if(_draws, lambda run: config_value(run.config, "uncertainty")),
            "carbon": "carbon",
            "strictness": "checks.strictness",
        },
    ),
    "series": ("series.py", {"years": _years}),
    **{name: ("statistic.py", {"statistic": lambda run: run.rule, "analysis": _analysis}) for name in STATISTICS},
    "classes": ("classes.py", {"classes": "classes"}),
    "area_stats": ("area_stats.py", {"years": _years}),
    "figures": (
        "figures.py",
        {"figures": "figures", "classes": "classes", "cv_bounds": _cv_bounds, "years": _years},
    ),
    "report_tables": ("report_tables.py", {}),
    "archive": (
        "archive.py",
        {
            "run": "run_name",
            "data_dir": "data_dir",
            "code_root": lambda run: run.basedir,
            "config": lambda run: sorted_config(run.config),
            "include_inputs": "archive.include_inputs",
        },
    ),
    "ensemble": (
        "ensemble.py",
        {
            "models": lambda run: carbon_models(run.config),
            "years": _years,
            "trend_classes": "classes.trend",
            "mk_variant": "analysis.mk_variant",
            "min_valid_years": "analysis.min_valid_years",
        },
    ),
    "ensemble_figure": ("ensemble_figure.py", {}),
    "uncertainty": ("uncertainty.py", {"uncertainty": "uncertainty", "carbon": "carbon", "years": _years}),
    "demo_sites": ("demo_sites.py", {"years": _years, "seed": "demo.seed"}),
    "validate": (
        "validate.py",
        {"sites": lambda run: validation_sites(run.config), "window": "validation.window", "years": _years},
    ),
}


def scripts(config: dict) -> dict[str, str]:
    """Every rule that runs a script -> its script (``scripts/<name>``), the run's retrieve rules included."""
    return {**{name: "retrieve.py" for name in retrieve_rules(config)}, **{r: s for r, (s, _) in TABLE.items()}}


def rule_params(rule: str, config: dict, basedir=ROOT) -> dict:
    """The params of ``rule`` under ``config`` (validated, defaults filled in), as the rule declares them;
    ``basedir``: the workflow's base directory (where ``scripts/`` is)."""
    retrieve = retrieve_rules(config)
    if rule in retrieve:  # not code-triggered: a download is defined by its request
        source, products = retrieve[rule]
        return {"source": source, "products": list(products), "settings": _source_settings(config, source)}
    if rule not in TABLE:
        raise NepflowError(f"rule {rule!r}: no such rule; expected one of {', '.join(scripts(config))}")
    script, spec = TABLE[rule]
    run = SimpleNamespace(config=config, rule=rule, basedir=str(basedir))
    params = {}
    for name, what in spec.items():
        value = config_value(config, what) if isinstance(what, str) else what(run)
        if value is not _OMIT:
            params[name] = value
    from . import codehash

    params["code"] = codehash.script_hash(Path(basedir) / "scripts" / script)
    return params
