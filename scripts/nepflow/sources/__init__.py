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

Every source module has the same small interface:

``outputs(product, year, cfg) -> dict[str, str]``
    The files one retrieve job writes for (product, year), relative to the
    source's cache folder. The retrieve rule declares them as outputs, so a
    changed file reruns that year's chain.
``retrieve(product, year, cfg, paths: dict[str, Path]) -> None``
    Fetch (or generate) the files. Writes are atomic; a manifest JSON (granule
    names, URLs, sizes, sha256, product versions) is written beside the data.
``open_year(product, year, paths, cfg) -> xarray.Dataset``
    Monthly (``time`` = 12) fields in CF units on the source's native grid,
    with a rioxarray CRS. Per-dataset quirks (scale factors, fill values,
    accumulation conventions) are handled here, not in the science.

``regrid.to_target`` then puts every product on the target grid.
"""
from __future__ import annotations

import importlib

from ..errors import NepflowError

PRODUCTS = {
    "meteo": ("tas", "pr", "ssrd", "rn", "evap"),
    "fpar": ("fpar",),
    "landcover": ("c4_frac",),
    "sunshine": ("sund",),
    "npp": ("npp_mod17",),
    "evap": ("evap",),
}

SOURCES = {
    "demo": {"meteo", "fpar", "landcover", "sunshine"},
    "cds": {"meteo"},
    "earthdata": {"fpar", "landcover", "npp", "evap"},
    "stations": {"sunshine"},
    "proxy": {"sunshine"},
    "local": {"meteo", "fpar", "landcover", "sunshine", "npp"},
}


#: Sources the workflow's retrieve rules are wired for (rules/retrieve.smk). A library module
#: alone does not make a source usable from config.
WIRED = {"demo", "cds", "earthdata", "stations", "proxy", "local"}


def module(source: str):
    """The module implementing ``source`` (``nepflow.sources.<source>``)."""
    if source not in SOURCES:
        raise NepflowError(f"config key sources: unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return importlib.import_module(f"{__name__}.{source}")


def check_choice(product: str, source: str) -> None:
    """Raise a one-line error if ``source`` cannot deliver ``product``."""
    if source not in SOURCES:
        raise NepflowError(f"config key sources.{product}: unknown source {source!r}; expected one of "
                           f"{', '.join(s for s, p in SOURCES.items() if product in p)}")
    if product not in SOURCES[source]:
        raise NepflowError(f"config key sources.{product}: source {source!r} does not provide {product}; expected one of "
                           f"{', '.join(s for s, p in SOURCES.items() if product in p)}")
    if source not in WIRED:
        available = [s for s, p in SOURCES.items() if product in p and s in WIRED]
        raise NepflowError(f"config key sources.{product}: source {source!r} is not available in this version of "
                           f"nepflow; expected one of {', '.join(available)}")
