"""The variables table: canonical name -> CF attributes (units, long_name, ...).

The table lives in ``variables.yml`` beside this module, with the meteorological factors NEP is
correlated with (:data:`FACTORS`: name -> label); templated entries such as ``r_{f}`` expand
for each factor.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from .errors import NepflowError


@functools.lru_cache(maxsize=1)
def _raw() -> dict:
    return yaml.safe_load((Path(__file__).with_name("variables.yml")).read_text())


#: The factors of the correlations, in order: name -> label (variables.yml ``factors``).
FACTORS: dict[str, str] = dict(_raw()["factors"])


@functools.lru_cache(maxsize=1)
def table() -> dict[str, dict[str, str]]:
    """Return the expanded variables table (name -> attribute dict)."""
    out: dict[str, dict[str, str]] = {}
    for name, attrs in _raw().items():
        if name == "factors":
            continue
        if "{f}" in name:
            for f, factor in FACTORS.items():
                out[name.format(f=f)] = {k: str(v).format(factor=factor) for k, v in attrs.items()}
        else:
            out[name] = {k: str(v) for k, v in attrs.items()}
    return out


def attrs(name: str, **extra) -> dict[str, str]:
    """CF attributes of variable ``name`` from the table, updated with ``extra``.

    Raises NepflowError for a name the table does not know, so no output can
    leave without units.
    """
    try:
        base = dict(table()[name])
    except KeyError:
        raise NepflowError(f"variable {name!r} is not in nepflow's variables table (variables.yml)") from None
    base.update({k: v for k, v in extra.items() if v is not None})
    return base


def units(name: str) -> str:
    """Canonical units of variable ``name``."""
    return table()[name]["units"]


def shown_units(name: str) -> str:
    """Units of variable ``name`` as figures and tables show them: a carbon mass as ``g C`` (the
    table keeps carbon in the standard name: in units, "g C" would read as gram coulomb). Carbon:
    a standard name of carbon, or NEP's statistics (``nep_*``, OLS and Theil-Sen)."""
    u, attrs = units(name), table()[name]
    carbon = "carbon" in attrs.get("standard_name", "") or name.startswith(("nep_", "ols_", "sen_"))
    return u.replace("g ", "g C ", 1) if carbon and u.startswith("g ") else u


def annotate(ds, **extra_per_var):
    """Set table attributes on every data variable of ``ds`` (in place), return it.

    ``extra_per_var`` maps a variable name to a dict of further attributes
    (method, parameters, comment).
    """
    for name in ds.data_vars:
        if name in table():
            keep = {k: v for k, v in ds[name].attrs.items() if k not in ("units", "long_name", "standard_name")}
            ds[name].attrs = {**attrs(name), **keep, **extra_per_var.get(name, {})}
    return ds
