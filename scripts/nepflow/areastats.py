"""Area statistics of class maps from true pixel areas.

percent = Σ area of the pixels in the class / Σ area of the pixels with a defined
class, per classification and region (``all`` and each province).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def region_masks(region: xr.DataArray) -> dict[str, np.ndarray]:
    """``all`` plus one boolean mask per province code of ``region`` (flag_meanings)."""
    codes = np.asarray(region.values)
    names = region.attrs.get("flag_meanings", "").split()
    values = np.atleast_1d(region.attrs.get("flag_values", np.arange(1, len(names) + 1)))
    masks = {"all": codes > 0}
    for code, name in zip(values, names):
        masks[name.replace("_", " ")] = codes == int(code)
    return masks


def area_table(classes: xr.Dataset, pixel_area: xr.DataArray, region: xr.DataArray) -> pd.DataFrame:
    """One row per (classification, class, region): ``area_km2`` and ``percent``.

    Parameters
    ----------
    classes : int8 class maps with flag_values / flag_meanings (−1 undefined).
    pixel_area : km2 per pixel.
    region : province codes (0 outside), with flag_meanings.
    """
    area = np.asarray(pixel_area.values, dtype="float64")
    rows = []
    masks = region_masks(region)
    for name, da in classes.data_vars.items():
        codes = np.asarray(da.values)
        values = np.atleast_1d(da.attrs["flag_values"])
        meanings = da.attrs["flag_meanings"].split()
        for rname, mask in masks.items():
            defined = mask & (codes >= 1)
            total = area[defined].sum()
            for value, meaning in zip(values, meanings):
                a = area[mask & (codes == int(value))].sum()
                rows.append({"classification": name, "class": meaning, "region": rname, "area_km2": a,
                             "percent": 100.0 * a / total if total > 0 else np.nan})
    return pd.DataFrame(rows, columns=["classification", "class", "region", "area_km2", "percent"])
