"""Input checks of a forcing dataset, with strictness levels (like ESMValCore's CMOR checks).

Checked before any computation: the units attribute of every variable, its
physical range, 12 months present, one grid for all variables.

Strictness (config ``checks.strictness``):

- ``strict``: any deviation is an error (no unit conversion, no tolerance);
- ``default``: a declared unit that converts exactly to the contract's (e.g.
  precipitation in ``m month-1``, temperature in ``K``) is converted and
  reported as a warning; an undeclared or unknown unit and any range violation
  is an error;
- ``relaxed``: additionally, values outside the range by at most the
  variable's tolerance (e.g. FPAR up to 1.05) are clipped, each reported as a
  warning that the caller logs and records in provenance.

Errors are one line naming the file and the variable, and what was expected.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from . import variables
from .errors import NepflowError

#: Physical range per forcing variable (contract units) and the tolerance relaxed mode clips.
RANGES = {
    "fpar": (0.0, 1.0, 0.05),
    "par": (0.0, 1500.0, 0.0),
    "tas": (-60.0, 60.0, 0.0),
    "pr": (0.0, 3000.0, 0.5),
    "sund": (0.0, 744.0, 1.0),
    "rn": (-600.0, 1200.0, 0.0),
    "evap": (-50.0, 1000.0, 0.0),
    "c4_frac": (0.0, 1.0, 0.01),
    "npp_mod17": (-3000.0, 3270.0, 0.0),
}

#: Declared units that convert exactly to the contract's: unit -> (scale, offset).
CONVERSIONS = {
    "mm month-1": {"m month-1": (1000.0, 0.0), "m": (1000.0, 0.0), "cm month-1": (10.0, 0.0),
                   "mm": (1.0, 0.0), "kg m-2 month-1": (1.0, 0.0), "kg m-2": (1.0, 0.0)},
    "degC": {"K": (1.0, -273.15), "degree_Celsius": (1.0, 0.0), "celsius": (1.0, 0.0), "°C": (1.0, 0.0)},
    "MJ m-2 month-1": {"J m-2 month-1": (1e-6, 0.0), "MJ m-2": (1.0, 0.0), "GJ m-2 month-1": (1000.0, 0.0)},
    "1": {"%": (0.01, 0.0), "percent": (0.01, 0.0), "": (1.0, 0.0)},
    "h month-1": {"h": (1.0, 0.0), "hours month-1": (1.0, 0.0), "min month-1": (1 / 60, 0.0)},
    "g C m-2 yr-1": {"kg C m-2 yr-1": (1000.0, 0.0)},
}

LEVELS = ("strict", "default", "relaxed")


def check_forcing(ds: xr.Dataset, path, strictness: str = "default") -> tuple[xr.Dataset, list[str]]:
    """Check (and where allowed, convert) a forcing dataset.

    Parameters
    ----------
    ds : forcing dataset (time=12, y, x).
    path : the file it came from, named in every message.
    strictness : ``strict``, ``default`` or ``relaxed``.

    Returns
    -------
    (dataset, warnings): the checked dataset (units converted, relaxed
    violations clipped) and the list of warnings (one line each).
    """
    if strictness not in LEVELS:
        raise NepflowError(f"config key checks.strictness: {strictness!r}; expected one of {', '.join(LEVELS)}")
    warnings: list[str] = []
    if "time" in ds.dims and ds.sizes["time"] != 12:
        raise NepflowError(f"{path}: {ds.sizes['time']} months; expected 12 monthly time steps")
    shape = None
    out = {}
    for name, da in ds.data_vars.items():
        if name not in RANGES:
            out[name] = da
            continue
        spatial = (da.sizes.get("y"), da.sizes.get("x"))
        if shape is None:
            shape = spatial
        elif spatial != shape:
            raise NepflowError(f"{path}: variable {name} is on a {spatial} grid; expected {shape} like the others")
        da = _units(da, name, path, strictness, warnings)
        da = _range(da, name, path, strictness, warnings)
        out[name] = da
    return ds.assign(out), warnings


def _units(da, name, path, strictness, warnings):
    expected = variables.units(name)
    declared = da.attrs.get("units")
    if declared is None:
        raise NepflowError(f"{path}: variable {name} has no units attribute; expected {expected!r}")
    if declared == expected:
        return da
    conv = CONVERSIONS.get(expected, {}).get(declared)
    if conv is None or strictness == "strict":
        raise NepflowError(f"{path}: variable {name} has units {declared!r}; expected {expected!r}"
                           + ("" if conv is None else " (strict checks convert nothing)"))
    scale, offset = conv
    attrs = {**da.attrs, "units": expected}
    da = da * scale + offset
    da.attrs = attrs
    warnings.append(f"{path}: variable {name} converted from {declared!r} to {expected!r}")
    return da


def _range(da, name, path, strictness, warnings):
    lo, hi, tol = RANGES[name]
    vals = np.asarray(da.values)
    finite = np.isfinite(vals)
    if not finite.any():
        return da
    vmin, vmax = float(vals[finite].min()), float(vals[finite].max())
    if lo <= vmin and vmax <= hi:
        return da
    units = variables.units(name)
    span = f"[{lo:g}, {hi:g}] {units}"
    if strictness == "relaxed" and lo - tol <= vmin and vmax <= hi + tol:
        n = int(((vals < lo) | (vals > hi)).sum())
        warnings.append(f"{path}: variable {name}: {n} values within {tol:g} outside {span} clipped (relaxed checks)")
        attrs = dict(da.attrs)
        da = da.clip(lo, hi)
        da.attrs = attrs
        return da
    bad = vmin if vmin < lo else vmax
    raise NepflowError(f"{path}: variable {name} has values out of range (e.g. {bad:g}); expected {span}")
