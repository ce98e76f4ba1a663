"""Input checks of a forcing dataset, with strictness levels (like ESMValCore's CMOR checks).

Checked before any computation (contract: docs/architecture.md, ``forcing/{Y}.nc``):

- every contract variable is present, numeric, and on the shared grid: dims
  (time, y, x) (``c4_frac`` may be (y, x), ``npp_mod17`` is (y, x)); the y and x
  coordinates are 1-D, finite and strictly monotonic;
- 12 monthly time steps, January to December of one year when time is a date;
- the ``units`` attribute equals the contract's; a declared unit that converts
  exactly is converted (see :data:`CONVERSIONS`); a missing, empty or unknown
  units attribute is always an error;
- values within the physical range of :data:`LIMITS` (no infinities), and
  some valid (finite) value in the region: an all-NaN variable is an error.

Strictness (config ``checks.strictness``):

``strict``
    any deviation is an error: no unit conversion, no tolerance at all.
``default``
    declared convertible units are converted; excesses at rounding level
    (at most 1e-6 of the variable's range, e.g. FPAR 1.0000001 after float32
    regridding) are clipped; each is reported as a warning. Anything else is an
    error.
``relaxed``
    additionally clips small range violations (at most the variable's
    ``small`` tolerance, e.g. FPAR up to 1.05, precipitation down to −1 mm),
    each reported as a warning.

Warnings are one line each; the caller logs them and records them in the
output's provenance. Errors are a one-line :class:`NepflowError` naming the file
and the variable, and what was expected.

Known trap: ERA5(-Land) *monthly means* of accumulated variables declare ``m``
(or ``J m-2``) but hold means per day. Checks cannot tell; the sources modules
convert them (× days in month) before the forcing file is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import variables
from .errors import NepflowError
from .forcing import FORCING_VARS

LEVELS = ("strict", "default", "relaxed")
#: Fraction of a variable's range treated as rounding noise (clipped unless strict).
TINY = 1e-6


@dataclass(frozen=True)
class Limit:
    """Physical range [lo, hi] in contract units; ``small``: what relaxed checks clip; ``why``: the basis."""

    lo: float
    hi: float
    small: float = 0.0
    why: str = ""

    @property
    def tiny(self) -> float:
        return TINY * (self.hi - self.lo)


#: Plausible ranges per forcing variable (contract units).
LIMITS = {
    "fpar": Limit(0.0, 1.0, 0.05, "a fraction"),
    "c4_frac": Limit(0.0, 1.0, 0.05, "a fraction"),
    "par": Limit(0.0, 1500.0, 1.0, "monthly top-of-atmosphere radiation never exceeds ~1,450 MJ m-2"),
    "tas": Limit(-60.0, 60.0, 0.0, "monthly mean air temperature"),
    "pr": Limit(0.0, 10000.0, 1.0, "the wettest month on record is ~9,300 mm"),
    "sund": Limit(0.0, 744.0, 7.44, "at most 24 h x 31 days"),
    "rn": Limit(-400.0, 1000.0, 0.0, "monthly net radiation"),
    "evap": Limit(-50.0, 600.0, 5.0, "positive upward; ERA5 counts evaporation as negative"),
    "npp_mod17": Limit(-3000.0, 3270.0, 0.0, "MOD17A3HGF valid range x 0.1"),
}


@dataclass(frozen=True)
class Conversion:
    """value_contract = value × scale × (days or seconds in the month, if ``per``) + offset."""

    scale: float
    offset: float = 0.0
    per: str | None = None  # None, "day" (× days in month) or "second" (× seconds in month)


_DEPTH = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "kg m-2": 1.0}  # -> mm (1 kg m-2 of water = 1 mm)
_ENERGY = {"MJ m-2": 1.0, "kJ m-2": 1e-3, "J m-2": 1e-6, "GJ m-2": 1e3}  # -> MJ m-2


def _totals(base: dict[str, float], target: str) -> dict[str, Conversion]:
    out = {}
    for unit, scale in base.items():
        for suffix, per in (("", None), (" month-1", None), (" day-1", "day"), (" s-1", "second")):
            name = unit + suffix
            if name != target:
                out[name] = Conversion(scale, per=per)
    return out


#: Declared units that convert exactly to the contract's, per contract unit.
CONVERSIONS: dict[str, dict[str, Conversion]] = {
    "mm month-1": _totals(_DEPTH, "mm month-1"),
    "MJ m-2 month-1": {**_totals(_ENERGY, "MJ m-2 month-1"), "W m-2": Conversion(1e-6, per="second")},
    "degC": {"K": Conversion(1.0, -273.15), "kelvin": Conversion(1.0, -273.15),
             **{u: Conversion(1.0) for u in ("deg_C", "degree_C", "degrees_C", "degree_Celsius", "degrees_Celsius",
                                             "Celsius", "celsius", "°C")}},
    "1": {"%": Conversion(0.01), "percent": Conversion(0.01), "fraction": Conversion(1.0),
          "dimensionless": Conversion(1.0)},
    "h month-1": {"h": Conversion(1.0), "hours": Conversion(1.0), "hour month-1": Conversion(1.0),
                  "hours month-1": Conversion(1.0), "h day-1": Conversion(1.0, per="day"),
                  "min month-1": Conversion(1 / 60), "s month-1": Conversion(1 / 3600), "s": Conversion(1 / 3600)},
    "g C m-2 yr-1": {"kg C m-2 yr-1": Conversion(1000.0), "g C m-2 year-1": Conversion(1.0),
                     "gC m-2 yr-1": Conversion(1.0), "kg C m-2 year-1": Conversion(1000.0)},
}


def normalise_units(units: str) -> str:
    """A units string in nepflow's spelling: ``mm/month`` -> ``mm month-1``, ``W/m^2`` -> ``W m-2``."""
    u = " ".join(str(units).replace("·", " ").split())
    u = re.sub(r"\^|\*\*", "", u)
    u = re.sub(r"\s*/\s*(month|mon)\b", " month-1", u)
    u = re.sub(r"\s*/\s*(day|d)\b", " day-1", u)
    u = re.sub(r"\s*/\s*(yr|year|a)\b", " yr-1", u)
    u = re.sub(r"\s*/\s*s\b", " s-1", u)
    u = re.sub(r"\s*/\s*m2\b", " m-2", u)
    u = re.sub(r"(?<= )m2\b", "m-2", u)
    u = re.sub(r"\bmon-1\b", "month-1", u)
    u = re.sub(r"\bd-1\b", "day-1", u)
    return u


def check_forcing(ds: xr.Dataset, path, strictness: str = "default",
                  required=FORCING_VARS, valued: dict | None = None) -> tuple[xr.Dataset, list[str]]:
    """Check (and where allowed, convert or clip) a forcing dataset.

    Parameters
    ----------
    ds : forcing dataset (time=12, y, x), the contract of docs/architecture.md.
    path : the file it came from, named in every message.
    strictness : ``strict``, ``default`` or ``relaxed`` (module docstring).
    required : variables that must be present (the forcing contract's).
    valued : for a caller that checks a file block by block: a dict that
        collects, per variable, whether any block had a finite value; the
        caller then calls :func:`require_values` once. None (a whole file): an
        all-NaN variable is an error at once.

    Returns
    -------
    (dataset, warnings): the checked dataset (units converted, rounding-level
    or, when relaxed, small range violations clipped; variables in contract dim
    order) and the list of warnings, one line each.

    Raises
    ------
    NepflowError : one line naming ``path``, the variable and the expectation.
    """
    if strictness not in LEVELS:
        raise NepflowError(f"config key checks.strictness: {strictness!r}; expected one of {', '.join(LEVELS)}")
    missing = [v for v in required if v not in ds.data_vars]
    if missing:
        raise NepflowError(f"{path}: missing variable(s) {', '.join(missing)}; expected the forcing contract's "
                           f"{', '.join(required)}")
    _check_time(ds, path)
    _check_coords(ds, path)
    warnings: list[str] = []
    out = {}
    for name, da in ds.data_vars.items():
        if name not in LIMITS:
            continue
        da = _dims(da, name, path)
        if not np.issubdtype(da.dtype, np.number):
            raise NepflowError(f"{path}: variable {name} has dtype {da.dtype}; expected numbers")
        da = _units(da, ds, name, path, strictness, warnings)
        out[name] = _range(da, name, path, strictness, warnings, valued)
    return ds.assign(out), warnings


def _check_time(ds, path):
    if "time" not in ds.dims:
        raise NepflowError(f"{path}: no time dimension; expected 12 monthly time steps")
    if ds.sizes["time"] != 12:
        raise NepflowError(f"{path}: {ds.sizes['time']} months; expected 12 monthly time steps")
    if "time" in ds.coords and np.issubdtype(ds["time"].dtype, np.datetime64):
        months = ds["time"].dt.month.values.tolist()
        years = set(ds["time"].dt.year.values.tolist())
        if months != list(range(1, 13)) or len(years) != 1:
            raise NepflowError(f"{path}: time steps are months {months} of years {sorted(years)}; "
                               "expected January to December of one year")


def _check_coords(ds, path):
    for axis in ("y", "x"):
        if axis not in ds.coords:
            raise NepflowError(f"{path}: no coordinate {axis}; expected 1-D y and x coordinates of the target grid")
        c = np.asarray(ds[axis].values, dtype="float64")
        if c.ndim != 1 or not np.isfinite(c).all():
            raise NepflowError(f"{path}: coordinate {axis} is not 1-D and finite; expected the target grid's")
        if c.size > 1 and not ((np.diff(c) > 0).all() or (np.diff(c) < 0).all()):
            raise NepflowError(f"{path}: coordinate {axis} is not strictly monotonic; expected the target grid's")


def _dims(da, name, path):
    expected = ("y", "x") if name == "npp_mod17" else ("time", "y", "x")
    allowed = [set(expected)] + ([{"y", "x"}] if name == "c4_frac" else [])
    if set(da.dims) not in allowed or len(da.dims) != len(set(da.dims)):
        raise NepflowError(f"{path}: variable {name} has dims ({', '.join(map(str, da.dims))}); "
                           f"expected ({', '.join(expected)}) on the grid shared by all variables")
    return da.transpose(*[d for d in expected if d in da.dims])


def _units(da, ds, name, path, strictness, warnings):
    expected = variables.units(name)
    declared = da.attrs.get("units")
    if declared is None or not str(declared).strip():
        raise NepflowError(f"{path}: variable {name} has no units attribute; expected {expected!r}")
    if declared == expected:
        return da
    conv = CONVERSIONS.get(expected, {}).get(normalise_units(declared))
    if conv is None and normalise_units(declared) == expected:
        conv = Conversion(1.0)
    if conv is None or strictness == "strict":
        raise NepflowError(f"{path}: variable {name} has units {declared!r}; expected {expected!r}"
                           + ("" if conv is None else " (strict checks convert nothing)"))
    factor = conv.scale
    if conv.per is not None:
        if "time" not in da.dims or not np.issubdtype(ds["time"].dtype, np.datetime64):
            raise NepflowError(f"{path}: variable {name} has units {declared!r}, a rate per {conv.per}; expected "
                               f"{expected!r} (converting needs a date time coordinate)")
        days = ds["time"].dt.days_in_month.astype("float64")
        factor = conv.scale * (days if conv.per == "day" else days * 86400.0)
    attrs = {**da.attrs, "units": expected, "units_converted_from": str(declared)}
    dtype = da.dtype if np.issubdtype(da.dtype, np.floating) else np.float64
    converted = (da * factor + conv.offset).transpose(*da.dims).astype(dtype)
    converted.attrs = attrs
    warnings.append(f"{path}: variable {name} converted from {declared!r} to {expected!r}")
    return converted


def _range(da, name, path, strictness, warnings, valued=None):
    lim = LIMITS[name]
    vals = np.asarray(da.values)
    if np.isinf(vals).any():
        raise NepflowError(f"{path}: variable {name} has infinite values; expected finite numbers (NaN outside the "
                           "region)")
    finite = np.isfinite(vals)
    if valued is not None:
        valued[name] = valued.get(name, False) or bool(finite.any())
    elif not finite.any():
        require_values({name: False}, path)
    if not finite.any():
        return da
    vmin, vmax = float(vals[finite].min()), float(vals[finite].max())
    if lim.lo <= vmin and vmax <= lim.hi:
        return da
    units = variables.units(name)
    span = f"[{lim.lo:g}, {lim.hi:g}] {units}" + (f" ({lim.why})" if lim.why else "")
    excess = max(lim.lo - vmin, vmax - lim.hi)
    bad = vmin if vmin < lim.lo else vmax
    n = int(((vals < lim.lo) | (vals > lim.hi)).sum())
    if strictness != "strict" and excess <= lim.tiny:
        why = "rounding-level"
    elif strictness == "relaxed" and excess <= lim.small:
        why = "relaxed checks"
    else:
        hint = ""
        if strictness != "relaxed" and excess <= lim.small:
            hint = f"; checks.strictness relaxed would clip excesses up to {lim.small:g}"
        raise NepflowError(f"{path}: variable {name} has values out of range (e.g. {bad:g}); expected {span}{hint}")
    warnings.append(f"{path}: variable {name}: {n} values outside [{lim.lo:g}, {lim.hi:g}] {units} by at most "
                    f"{excess:.3g} clipped ({why})")
    attrs = dict(da.attrs)
    da = da.clip(lim.lo, lim.hi)
    da.attrs = attrs
    return da


def require_values(valued: dict, path) -> None:
    """Raise a one-line error naming the first variable of ``valued`` (name -> had a finite value) that had none."""
    for name, ok in valued.items():
        if not ok:
            raise NepflowError(f"{path}: variable {name} is NaN everywhere (all-NaN region); expected valid values "
                               "inside the region")


def check_series(valid_years, n_years: int, min_valid, path, what: str = "nep") -> None:
    """Raise a one-line error if no pixel of the annual series has ``min_valid`` valid years.

    ``valid_years``: the per-pixel count of finite years (every statistic's
    ``valid_years`` layer, so the cube is not read a second time for the check).
    Pixels below the minimum are NaN in every statistic; a region where *every*
    pixel is below it has no result at all, which is bad input (e.g. a product
    missing for most years), not a map of NaN. ``min_valid`` None means all years.
    """
    need = int(n_years) if min_valid is None else int(min_valid)
    counts = np.asarray(valid_years)
    most = int(np.nanmax(counts)) if counts.size and np.isfinite(counts).any() else 0
    if most < need:
        raise NepflowError(f"{path}: no pixel has {need} valid years of {what} (at most {most} of {n_years}); "
                           f"expected at least analysis.min_valid_years = {need} valid years somewhere in the region")
