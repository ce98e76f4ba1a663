"""Land cover to C4 fraction: config rules per IGBP class and month.

Croplands of the North China Plain rotate winter wheat (C3, October–June) and
summer maize (C4, June–September), so the C4 fraction of a class is given per
month. A rule is a constant or a list of 12 monthly values in [0, 1].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import variables
from .errors import NepflowError

#: IGBP (MCD12Q1 LC_Type1) class names.
IGBP = {
    1: "evergreen needleleaf forest",
    2: "evergreen broadleaf forest",
    3: "deciduous needleleaf forest",
    4: "deciduous broadleaf forest",
    5: "mixed forest",
    6: "closed shrubland",
    7: "open shrubland",
    8: "woody savanna",
    9: "savanna",
    10: "grassland",
    11: "permanent wetland",
    12: "cropland",
    13: "urban and built-up",
    14: "cropland/natural vegetation mosaic",
    15: "permanent snow and ice",
    16: "barren",
    17: "water",
}


def monthly_rules(rules: dict) -> dict[int, np.ndarray]:
    """Parse ``{class: value | [12 values], "default": value}`` into class -> 12 fractions.

    Raises a one-line error naming ``landcover.c4_fraction`` for a bad rule.
    """
    out: dict[int, np.ndarray] = {}
    for key, value in rules.items():
        arr = np.asarray(value, dtype="float64")
        if arr.ndim == 0:
            arr = np.full(12, float(arr))
        if arr.shape != (12,) or np.any(arr < 0) or np.any(arr > 1) or np.any(~np.isfinite(arr)):
            raise NepflowError(
                f"config key landcover.c4_fraction.{key}: expected a fraction in [0, 1] or 12 of them, got {value!r}"
            )
        if str(key) == "default":
            out[-1] = arr
        else:
            try:
                out[int(key)] = arr
            except ValueError:
                raise NepflowError(f"config key landcover.c4_fraction: {key!r} is not an IGBP class number") from None
    out.setdefault(-1, np.zeros(12))
    return out


def c4_fraction(lc: xr.DataArray, rules: dict, year: int) -> xr.DataArray:
    """Monthly C4 fraction (1) from an IGBP land-cover map.

    Parameters
    ----------
    lc : IGBP class codes (y, x); 0, 255 or NaN mean no data.
    rules : ``landcover.c4_fraction`` from config.
    year : the calendar year (for the time coordinate).

    Returns
    -------
    DataArray (time=12, y, x), fraction 0–1; NaN where ``lc`` has no data.
    """
    table = monthly_rules(rules)
    codes = np.nan_to_num(np.asarray(lc.values, dtype="float64"), nan=0).astype("int64")
    lut = np.tile(table[-1], (256, 1))
    for k, arr in table.items():
        if 0 <= k < 256:
            lut[k] = arr
    frac = lut[np.clip(codes, 0, 255)]  # (y, x, 12)
    frac = np.moveaxis(frac, -1, 0)
    nodata = (codes <= 0) | (codes >= 255)
    frac[:, nodata] = np.nan
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    da = xr.DataArray(frac, coords={"time": time, "y": lc.y, "x": lc.x}, dims=("time", "y", "x"), name="c4_frac")
    da.attrs = variables.attrs(
        "c4_frac", comment="C4 fraction per IGBP class and month from config landcover.c4_fraction"
    )
    return da


#: Scale of the class-code encoding below: class k travels as the "fraction" k / CLASS_SCALE.
CLASS_SCALE = 100.0


def class_code_rules() -> dict:
    """``c4_fraction`` rules that encode the IGBP class itself, k -> k / 100 (0 elsewhere).

    Every land-cover source already turns its class map into a C4 fraction through
    these rules (:func:`c4_fraction`), so the regrid step gets the class map on the
    target grid from the same reader with these rules instead, without a reader of
    its own per source; :func:`decode_classes` undoes the encoding.
    """
    return {**{str(k): k / CLASS_SCALE for k in IGBP}, "default": 0.0}


def decode_classes(encoded: xr.DataArray) -> xr.DataArray:
    """IGBP class codes (float, NaN for no data or no class) from :func:`class_code_rules`' fractions.

    Regridded with ``mode`` (the dominant class of the target pixel) or
    ``nearest``, the encoded values stay exact class codes / 100.
    """
    codes = np.rint(encoded * CLASS_SCALE)
    codes = codes.where(codes > 0)
    codes.name = "landcover"
    codes.attrs = variables.attrs(
        "landcover", comment="dominant IGBP class (MCD12Q1 LC_Type1 values) of the pixel, regridded with mode"
    )
    return codes
