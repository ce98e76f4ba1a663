"""Data sources: where each driver comes from, one module per source.

A *product* is a group of drivers that one source delivers together:

=========  ==========================================  =================================
product    variables (CF units after ``open_year``)     sources
=========  ==========================================  =================================
meteo      tas (degC), pr (mm month-1),                 demo, cds, local
           ssrd, rn (MJ m-2 month-1), evap (mm month-1)
fpar       fpar (1)                                     demo, earthdata, local
landcover  c4_frac (1; per month)                       demo, earthdata, local
sunshine   sund (h month-1)                             demo, stations, proxy, local
npp        npp_mod17 (g C m-2 yr-1)                     earthdata, local  (only if carbon.npp: mod17)
evap       evap (mm month-1)                            earthdata  (optional: replaces meteo's evap)
=========  ==========================================  =================================

The source contract. Every source module (listed in :data:`SOURCES`) declares, in one place:

``DELIVERS``
    The products it delivers (names of :data:`PRODUCT_VARIABLES`).
``PROJECTED``
    Those of them it delivers on a projected (not lon/lat) grid, e.g. MODIS sinusoidal; ``()``
    when its grids are lon/lat or depend on the user's files (local). The plan rejects
    ``regrid.methods.<variable>: conservative`` for them (conservative needs a lon/lat source;
    :func:`nepflow.regrid.check_method`, which the regrid job applies to each opened field's CRS).
``SETTINGS``
    The config sections its retrieval reads (``sources.<name>`` or a top-level section such
    as ``demo``); their defaults are in config/schema.yaml. They are the retrieve job's params,
    so a change re-retrieves. ``OPEN_SETTINGS``: the sections ``open_year`` reads (the regrid
    job's params).
``ONE_JOB`` (optional, default False)
    True: one retrieve job per year delivers every product the config takes from this source
    (a generator whose products share their fields); else one job per product.
``NEEDS`` (optional)
    ``{product: other product}`` whose delivered file the retrieval reads (the sunshine proxy
    reads the year's meteorology).
``inputs(product, year, cfg) -> list[str]`` (optional)
    The user's files a retrieve job reads (a changed file reruns its year).
``outputs(product, year, cfg) -> dict[str, str]``
    The files one retrieve job writes for (product, year), relative to the
    source's cache folder ``{data_dir}/<source>/``: ``data`` and/or ``manifest``.
    The retrieve rule declares them as outputs, so a changed file reruns that year's chain.
``retrieve(product, year, cfg, paths: dict[str, Path]) -> None``
    Fetch (or generate) the files (``paths``: the names of ``outputs``; ``cfg["job"]``: the
    job's ``mem_mb`` and ``block_rows``, for sources that work in blocks). Writes are atomic; a manifest JSON (granule
    names, URLs, sizes, sha256, product versions) is written beside the data.
``open_year(product, year, path, cfg, landcover_rules) -> xarray.Dataset``
    Monthly (``time`` = 12) fields in CF units on the source's native grid,
    with a rioxarray CRS; ``path`` is what :func:`delivered` names. Per-dataset quirks
    (scale factors, fill values, accumulation conventions) are handled here, not in the science.

``cfg`` is the config's ``sources`` section with ``bbox`` (the request box,
:func:`nepflow.sources.download.source_config`) and the top-level sections the source's
``SETTINGS`` name. rules/retrieve.smk builds one rule per configured product,
``retrieve_<product>`` (``retrieve_<p1>_<p2>…`` for a ``ONE_JOB`` source), from this contract; :func:`nepflow.regrid.forcing_year` then puts
every product on the target grid. Adding a source: one module with the names above, its name in
:data:`SOURCES`, its settings and its name among each product's choices in config/schema.yaml (the
one place of every default and allowed value, for the plan's checks and the docs), and its tests;
tests/test_sources_contract.py names whichever of these is missing.
"""

from __future__ import annotations

import importlib

from ..errors import NepflowError

#: The products and the variables each delivers (CF names after ``open_year``), in retrieval order.
PRODUCT_VARIABLES = {
    "meteo": ("tas", "pr", "ssrd", "rn", "evap"),
    "fpar": ("fpar",),
    "landcover": ("c4_frac",),
    "sunshine": ("sund",),
    "npp": ("npp_mod17",),
    "evap": ("evap",),
}

#: The source modules (``nepflow.sources.<name>``).
SOURCES = ("demo", "cds", "earthdata", "stations", "proxy", "local")


def module(source: str):
    """The module implementing ``source`` (``nepflow.sources.<source>``); only it is imported."""
    if source not in SOURCES:
        raise NepflowError(f"config key sources: unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return importlib.import_module(f"{__name__}.{source}")


def delivering(product: str) -> list[str]:
    """The sources that deliver ``product``."""
    return [s for s in SOURCES if product in module(s).DELIVERS]


def projected(product: str, source: str) -> bool:
    """True if ``source`` is known to deliver ``product`` on a projected (not lon/lat) grid (its
    ``PROJECTED``); a source whose grid depends on the user's files (local) declares nothing."""
    return product in module(source).PROJECTED


def variables(product: str, source_of: dict[str, str]) -> tuple[str, ...]:
    """The variables ``product`` brings to the forcing when the config takes products from
    ``source_of`` ({product: source}): meteo's evap gives way to an evap product of its own."""
    names = PRODUCT_VARIABLES[product]
    if product == "meteo" and source_of.get("evap"):
        names = tuple(n for n in names if n != "evap")
    return names + (("landcover",) if product == "landcover" else ())


def check_choice(product: str, source: str) -> None:
    """Raise a one-line error if ``source`` cannot deliver ``product``."""
    if source not in SOURCES:
        raise NepflowError(
            f"config key sources.{product}: unknown source {source!r}; expected one of {', '.join(delivering(product))}"
        )
    if product not in module(source).DELIVERS:
        raise NepflowError(
            f"config key sources.{product}: source {source!r} does not provide {product}; expected one of "
            f"{', '.join(delivering(product))}"
        )


def source_config(config: dict) -> dict:
    """What every source takes as ``cfg``: the config's ``sources`` section with ``bbox`` (the
    request box; :func:`nepflow.sources.download.source_config`), plus the top-level sections that
    the sources the config chooses name in their ``SETTINGS`` or ``OPEN_SETTINGS`` (the demo's ``demo``)."""
    from .download import source_config as sources_section

    cfg = sources_section(config)
    chosen = sorted({v for v in config["sources"].values() if isinstance(v, str) and v in SOURCES})
    for source in chosen:
        mod = module(source)
        for name in (*mod.SETTINGS, *mod.OPEN_SETTINGS):
            if name not in cfg and name in config:
                cfg[name] = config[name]
    return cfg


def retrieve_jobs(source_of: dict[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    """The retrieve jobs of one year, [(source, products)], from ``{product: source}``.

    A ``ONE_JOB`` source's job delivers every product the source has (in the order of
    :data:`PRODUCT_VARIABLES`), whichever of them the config takes from it: the job, its outputs and its
    params are then the same for every run sharing the cache, so a run that takes one product
    elsewhere neither reruns the job nor rewrites files another run has read."""
    jobs, seen = [], set()
    for product, source in source_of.items():
        if getattr(module(source), "ONE_JOB", False):
            if source not in seen:
                seen.add(source)
                jobs.append((source, tuple(p for p in PRODUCT_VARIABLES if p in module(source).DELIVERS)))
        else:
            jobs.append((source, (product,)))
    return jobs


def delivered(outputs: dict) -> str:
    """The file a retrieve job's outputs hand to ``open_year``: the manifest when there is one
    (the data files sit beside it), else the data file."""
    return outputs["manifest"] if "manifest" in outputs else outputs["data"]
