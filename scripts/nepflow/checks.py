"""Input checks of a forcing dataset, with strictness levels (like ESMValCore's CMOR checks).

Checked before any computation (contract: docs/architecture.md, ``forcing/{Y}.nc``):

- every contract variable is present, numeric, and on the shared grid: dims
  (time, y, x) (``c4_frac`` may be (y, x), ``npp_mod17`` is (y, x)); the y and x
  coordinates are 1-D, finite and strictly monotonic;
- 12 monthly time steps, January to December of one year when time is a date;
- the ``units`` attribute equals the contract's; a declared unit that UDUNITS-2
  (cf_units) converts to it is converted (:func:`converter`: the library's scale
  and offset, plus the domain steps it cannot know: the days of each calendar
  month, the density of water); a missing, empty, unreadable or non-convertible
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


#: Variables that are depths of water: a mass per area (kg m-2, kg m-2 s-1) converts to a depth with
#: the density of water (1 kg m-2 = 1 mm), which no units library can know.
WATER = ("pr", "evap")
WATER_DENSITY = "1000 kg m-3"
#: Variables of carbon mass: "g C m-2 yr-1", "kgC m-2 yr-1" name the element carbon, not a coulomb.
CARBON = ("npp_mod17",)
_CARBON_MASS = re.compile(r"\b([kmµu]?g)\s*C\b")
#: A time unit in a spelling: a dimensionless declared unit (e.g. "h day-1") is a rate only if it names one.
_TIME = re.compile(r"\b(s|sec|seconds?|min|minutes?|h|hr|hours?|d|days?|mon|months?)\b")
_MONTH = re.compile(r"\bmon(th)?s?\b")


def parse_units(text, name: str | None = None):
    """The cf_units (UDUNITS-2) Unit of a units attribute, or None if UDUNITS cannot read it.

    For a carbon variable (:data:`CARBON`) the element's symbol is dropped first (``g C m-2`` ->
    ``g m-2``)."""
    import cf_units

    text = " ".join(str(text).split())
    if name in CARBON:
        text = _CARBON_MASS.sub(r"\1", text)
    try:
        unit = cf_units.Unit(text)
    except ValueError:
        return None
    return None if unit.is_unknown() or unit.is_no_unit() else unit


def converter(declared: str, expected: str, name: str | None = None):
    """How values in ``declared`` units become values in the ``expected`` (contract) units, or None.

    Returns ``(convert, per_second)``: ``convert(values)`` converts with cf_units (scale and offset),
    and ``per_second`` True means the result is a rate per second still to be multiplied by the
    seconds of each calendar month. A contract unit per month (``mm month-1``) is the month's total:
    a declared amount (``m``, ``J m-2``, ``h``) is that total, a declared rate (``mm h-1``,
    ``W m-2``, ``kg m-2 s-1``) is multiplied by the month's length (days in the month: the calendar,
    not UDUNITS' mean month), and a declared rate per month converts directly. Depths of water
    (:data:`WATER`) also accept a mass per area.
    """
    import cf_units

    unit = parse_units(declared, name)
    if unit is None:
        return None
    target = cf_units.Unit(expected)
    candidates = [unit]
    if name in WATER:
        candidates.append(unit / cf_units.Unit(WATER_DENSITY))
    per_month = bool(_MONTH.search(expected))
    amount = cf_units.Unit(re.sub(r"\s*\bmon(th)?s?-1\b", "", expected).strip() or "1") if per_month else None
    for u in candidates:
        if not per_month:
            if u.is_convertible(target):
                return (lambda v, u=u: u.convert(v, target)), False
            continue
        if _MONTH.search(str(declared)) and u.is_convertible(target):
            return (lambda v, u=u: u.convert(v, target)), False
        if u.is_convertible(amount):
            return (lambda v, u=u: u.convert(v, amount)), False
        rate = amount / cf_units.Unit("s")
        if u.is_convertible(rate) and (not u.is_dimensionless() or _TIME.search(str(declared))):
            return (lambda v, u=u: u.convert(v, rate)), True
    return None


def check_forcing(
    ds: xr.Dataset, path, strictness: str = "default", required=FORCING_VARS, valued: dict | None = None
) -> tuple[xr.Dataset, list[str]]:
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
        raise NepflowError(
            f"{path}: missing variable(s) {', '.join(missing)}; expected the forcing contract's {', '.join(required)}"
        )
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
            raise NepflowError(
                f"{path}: time steps are months {months} of years {sorted(years)}; "
                "expected January to December of one year"
            )


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
        raise NepflowError(
            f"{path}: variable {name} has dims ({', '.join(map(str, da.dims))}); "
            f"expected ({', '.join(expected)}) on the grid shared by all variables"
        )
    return da.transpose(*[d for d in expected if d in da.dims])


def _units(da, ds, name, path, strictness, warnings):
    expected = variables.units(name)
    declared = da.attrs.get("units")
    if declared is None or not str(declared).strip():
        raise NepflowError(f"{path}: variable {name} has no units attribute; expected {expected!r}")
    if declared == expected:
        return da
    conv = converter(str(declared), expected, name)
    if conv is None or strictness == "strict":
        raise NepflowError(
            f"{path}: variable {name} has units {declared!r}; expected {expected!r}"
            + (" or units convertible to it" if conv is None else " (strict checks convert nothing)")
        )
    convert, per_second = conv
    values = convert(np.asarray(da.values, dtype="float64"))
    if per_second:
        if "time" not in da.dims or not np.issubdtype(ds["time"].dtype, np.datetime64):
            raise NepflowError(
                f"{path}: variable {name} has units {declared!r}, a rate; expected {expected!r} "
                "(converting needs a date time coordinate)"
            )
        seconds = ds["time"].dt.days_in_month.values.astype("float64") * 86400.0
        values = values * seconds.reshape((-1,) + (1,) * (da.ndim - 1))
    attrs = {**da.attrs, "units": expected, "units_converted_from": str(declared)}
    dtype = da.dtype if np.issubdtype(da.dtype, np.floating) else np.float64
    converted = da.copy(data=values.astype(dtype))
    converted.attrs = attrs
    warnings.append(f"{path}: variable {name} converted from {declared!r} to {expected!r}")
    return converted


def _range(da, name, path, strictness, warnings, valued=None):
    lim = LIMITS[name]
    vals = np.asarray(da.values)
    if np.isinf(vals).any():
        raise NepflowError(
            f"{path}: variable {name} has infinite values; expected finite numbers (NaN outside the region)"
        )
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
    warnings.append(
        f"{path}: variable {name}: {n} values outside [{lim.lo:g}, {lim.hi:g}] {units} by at most "
        f"{excess:.3g} clipped ({why})"
    )
    attrs = dict(da.attrs)
    da = da.clip(lim.lo, lim.hi)
    da.attrs = attrs
    return da


def require_values(valued: dict, path) -> None:
    """Raise a one-line error naming the first variable of ``valued`` (name -> had a finite value) that had none."""
    for name, ok in valued.items():
        if not ok:
            raise NepflowError(
                f"{path}: variable {name} is NaN everywhere (all-NaN region); expected valid values inside the region"
            )


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
        raise NepflowError(
            f"{path}: no pixel has {need} valid years of {what} (at most {most} of {n_years}); "
            f"expected at least analysis.min_valid_years = {need} valid years somewhere in the region"
        )
