# Helpers: path builders, the year list, input functions and resource estimates.
import math

from nepflow import ruleparams as nepflow_ruleparams
from nepflow import sources as nepflow_sources, variables as nepflow_variables

RUN = config["run_name"]
YEARS = nepflow_ruleparams.years(config)
FACTORS = list(nepflow_variables.FACTORS)  # the variables table's factors of the correlations


wildcard_constraints:
    year=r"\d{4}",


def rule_params(rule):
    """The params of ``rule`` from the config: nepflow.ruleparams' table, which the command line
    (scripts/<x>.py --configfile) reads too, so a script run from a shell gets its rule's params."""
    return nepflow_ruleparams.rule_params(rule, config, workflow.basedir)


def run_path(path):
    """A path inside this run's results folder."""
    return nepflow_ruleparams.run_path(config, path)


def data_path(source, path):
    """A path inside the shared download cache of one source."""
    return f"{config['data_dir']}/{source}/{path}"


def log_path(name):
    return run_path(f"logs/{name}.log")


def bench_path(name):
    return run_path(f"benchmarks/{name}.tsv")


# ---------------------------------------------------------------- sources
# Every source module declares the source contract (scripts/nepflow/sources/__init__.py): the
# products it delivers, the config sections it reads, the files one retrieve job writes, retrieve
# and open_year. The retrieve rules (rules/retrieve.smk) and the regrid params are built from it.
RUN_PRODUCTS = nepflow_config.products(config)
SOURCE_OF = nepflow_ruleparams.source_of(config)
SOURCE_CFG = nepflow_sources.source_config(config)
#: The retrieve rules of a year, name -> (source, products): one per product, or one for all the products a
#: source generates together (its module's ONE_JOB, e.g. the demo: its products share the fields; the
#: job makes all of them whichever the config takes, so runs sharing the cache share the job).
RETRIEVE_RULES = nepflow_ruleparams.retrieve_rules(config)


def source_outputs(product, year="{year}", source=None):
    """The files (name -> path) the retrieve job of (product, year) writes, by ``source`` (default:
    the configured one)."""
    source = source or SOURCE_OF[product]
    rel = nepflow_sources.module(source).outputs(product, year, SOURCE_CFG)
    return {name: data_path(source, path) for name, path in rel.items()}


def job_outputs(source, products):
    """The outputs of one retrieve job: its product's files, or ``<product>_<name>`` of each product."""
    if len(products) == 1:
        return source_outputs(products[0], source=source)
    return {f"{p}_{name}": path for p in products for name, path in source_outputs(p, source=source).items()}


def retrieved(product, year):
    """The file a retrieve job hands to regrid for (product, year): its manifest, else its data."""
    return nepflow_sources.delivered(source_outputs(product, year))


def source_inputs(source, products):
    """Input function: what the retrieve job of ``products`` reads (the module's NEEDS and inputs)."""
    mod = nepflow_sources.module(source)

    def files(wildcards):
        out = {}
        for name, other in getattr(mod, "NEEDS", {}).items():
            if name in products:
                out[other] = retrieved(other, wildcards.year)
        if hasattr(mod, "inputs"):
            found = []
            for product in products:
                try:
                    found += mod.inputs(product, int(wildcards.year), SOURCE_CFG)
                except NepflowError:  # none there: the job itself stops with one line saying what it looked for
                    pass
            out["files"] = found
        return out

    return files


def retrieved_products(wildcards):
    """Every product regrid needs for one year, by name."""
    return {product: retrieved(product, wildcards.year) for product in RUN_PRODUCTS}


def monthly_carbon_output():
    """The optional monthly carbon file (carbon.monthly_output)."""
    if config["carbon"]["monthly_output"]:
        return {"monthly": run_path("carbon/monthly/{year}.nc")}
    return {}


def carbon_models():
    """The NPP models the carbon jobs compute: carbon.npp (the primary one) first, then carbon.models."""
    return nepflow_ruleparams.carbon_models(config)


# ---------------------------------------------------------------- aggregates
ANALYSIS_VARS = {
    "trend": [
        "ols_slope",
        "ols_intercept",
        "ols_p",
        "ols_q",
        "sen_slope",
        "sen_intercept",
        "mk_s",
        "mk_z",
        "mk_p",
        "mk_q",
        "mk_tau",
        "valid_years",
    ],
    "hurst": ["hurst", "hurst_p", "hurst_q"],
    "stability": ["nep_mean", "nep_std", "cv"],
    "correlation": [f"{kind}_{f}" for f in FACTORS for kind in ("r", "p_r", "q_r", "pr", "p_pr", "q_pr")],
}


#: The statistics: one rule each (rules/analysis.smk), named as they are -> what the rule computes.
STATISTICS = {
    "trend": "OLS and Theil–Sen trends of NEP with the Mann–Kendall test.",
    "hurst": "Hurst exponent of NEP (rescaled range) with its white-noise p-value.",
    "stability": "Mean, standard deviation and coefficient of variation of annual NEP.",
    "correlation": "Pearson and second-order partial correlation of NEP with "
    + ", ".join(nepflow_variables.FACTORS.values())
    + ".",
}
assert tuple(STATISTICS) == tuple(ANALYSIS_VARS) == nepflow_ruleparams.STATISTICS


def analysis_tifs(name):
    return [run_path(f"analysis/tif/{v}.tif") for v in ANALYSIS_VARS[name]]


#: The class maps of classes.nc (nepflow.classify.all_classes), each also a COG with its category names
#: in a PAM sidecar: declared, so a deleted one is rebuilt (tests/test_workflow.py checks the list).
CLASS_VARS = ["trend_class", "cv_class", "hurst_class", "future_class", "future_sig_class"] + [
    f"{kind}_{f}_class" for f in FACTORS for kind in ("corr", "pcorr")
]


def class_tifs():
    return [run_path(f"analysis/tif/{v}.tif{ext}") for v in CLASS_VARS for ext in ("", ".aux.xml")]


def all_outputs():
    """Every file of the README's Outputs table: a deleted or interrupted one is rebuilt by the next run."""
    monthly = [p.format(year=y) for y in YEARS for p in monthly_carbon_output().values()]
    return (
        [run_path("grid.nc"), run_path("series/annual.nc")]
        + expand(run_path("forcing/{year}.nc"), year=YEARS)
        + expand(run_path("carbon/{year}.nc"), year=YEARS)
        + monthly
        + [run_path(f"analysis/{name}.nc") for name in ANALYSIS_VARS]
        + [tif for name in ANALYSIS_VARS for tif in analysis_tifs(name)]
        + [
            run_path("analysis/classes.nc"),
            *class_tifs(),
            run_path("tables/area_stats.csv"),
            run_path("tables/summary.md"),
            run_path("tables/area_stats.html"),
            run_path("tables/summary.html"),
            run_path("figures"),
        ]
        + extra_outputs()
    )


def extra_outputs():
    """Outputs beyond the study's, each when its config asks for it (carbon.models, uncertainty.draws, validation)."""
    out = []
    if len(carbon_models()) > 1:
        out += [
            run_path("tables/ensemble.csv"),
            run_path("tables/ensemble_series.csv"),
            run_path("ensemble/models.png"),
        ]
    if config["uncertainty"]["draws"] > 0:
        out += [run_path("uncertainty/nep.nc"), run_path("tables/uncertainty.csv")]
    if validation_sites():
        out += [run_path("tables/validation.csv"), run_path("validation/validation.png")]
    return out


def summary_extra_inputs(wildcards=None):
    """Input function of area_stats: tables/uncertainty.csv when the run makes uncertainty draws (its
    intervals go into the summary)."""
    if config["uncertainty"]["draws"] > 0:
        return {"uncertainty": run_path("tables/uncertainty.csv")}
    return {}


def demo_site_files():
    return nepflow_ruleparams.demo_site_files(config)


def validation_sites():
    """The flux-tower sites to validate against: validation.sites, then the demo's synthetic ones if asked for."""
    return nepflow_ruleparams.validation_sites(config)


# ---------------------------------------------------------------- resources
# Every job works in blocks of rows (per-year jobs, series, classes, area tables) or dask chunks
# (statistics) sized from its mem_mb (nepflow.blocks.block_rows; config resources.block_rows and
# analysis.chunk override), so mem_mb grows with the grid only by the whole-grid 2-D maps a job holds.
GRID_PIXELS = PLAN["grid_pixels"]  # from the Snakefile's validation (nepflow.config.check_semantics)
#: The years resources.runtime_min_per_mpixel is stated for (the study's 2000-2020): an aggregate's
#: runtime scales with the years it reads.
RUNTIME_REFERENCE_YEARS = 21


def _mem(per_mpixel, attempt):
    return nepflow_config.job_mem_mb(config["resources"], per_mpixel, GRID_PIXELS, attempt)


def per_year_mem_mb(wildcards=None, attempt=1):
    """Memory of a per-year job (retrieve, regrid, carbon): the process, its blocks of rows
    (sized from this value) and the whole-grid 2-D maps (resources.mem_mb_per_mpixel); times
    the attempt number on a retry."""
    return _mem(config["resources"]["mem_mb_per_mpixel"], attempt)


def per_year_runtime(wildcards=None, attempt=1):
    """Minutes of a per-year job: resources.runtime_min_per_mpixel per million grid pixels."""
    r = config["resources"]
    return int(max(5, math.ceil(r["runtime_min_per_mpixel"] * GRID_PIXELS / 1e6)) * attempt)


def aggregate_mem_mb(wildcards=None, attempt=1):
    """Memory of an aggregate job: the process, its chunks (sized from this value) and the 2-D
    result maps of the whole grid (resources.aggregate_mem_mb_per_mpixel)."""
    return _mem(config["resources"]["aggregate_mem_mb_per_mpixel"], attempt)


def aggregate_runtime(wildcards=None, attempt=1):
    """Minutes of an aggregate job: resources.runtime_min_per_mpixel per million pixels and
    RUNTIME_REFERENCE_YEARS years."""
    r = config["resources"]
    years = len(YEARS) / RUNTIME_REFERENCE_YEARS
    return int(max(5, math.ceil(r["runtime_min_per_mpixel"] * GRID_PIXELS / 1e6 * years)) * attempt)


def block_rows(wildcards=None):
    """Rows per block of the jobs that work in blocks of rows (0: derived from the job's mem_mb).
    A resource, not a param: block sizes change no output, so changing them reruns nothing."""
    return int(config["resources"]["block_rows"] or 0)


def analysis_chunk(wildcards=None):
    """Edge of the statistics' dask chunks (config analysis.chunk; 0: derived from mem_mb). A resource,
    not a param, like block_rows."""
    return int(config["analysis"]["chunk"] or 0)
