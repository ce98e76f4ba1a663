"""Area statistics of class maps from true pixel areas.

percent = Σ area of the pixels in the class / Σ area of the pixels with a defined
class, per classification and region (``all`` and each province);
percent_of_region = the same area / the region's whole area, and a row ``undefined``
per classification and region holds the area without a class (e.g. CV where mean
NEP ≤ 0) with its percent_of_region (its ``percent`` is empty).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import blocks
from .grid import region_masks


#: The class of the area table's row for the pixels of a region without a class.
UNDEFINED = "undefined"
COLUMNS = ["classification", "class", "region", "area_km2", "percent", "percent_of_region"]


def area_table(
    classes: xr.Dataset, pixel_area: xr.DataArray, region: xr.DataArray, rows: int | None = None
) -> pd.DataFrame:
    """One row per (classification, class, region): ``area_km2``, ``percent`` (of the area with a defined
    class) and ``percent_of_region`` (of the region's whole area), plus one ``undefined`` row per
    (classification, region).

    Parameters
    ----------
    classes : int8 class maps with flag_values / flag_meanings (−1 undefined).
    pixel_area : km2 per pixel.
    region : province codes (0 outside), with flag_meanings.
    rows : None: the whole grid at once; a number: blocks of that many rows,
        read one at a time from lazily opened inputs (memory bounded by the
        block), the areas summed over the blocks (equal to the whole-grid sums
        to float rounding, about 1e-15 relative).
    """
    ny = classes.sizes["y"]
    slices = blocks.row_slices(ny, rows)  # rows None: one block
    meta = {
        name: (np.atleast_1d(da.attrs["flag_values"]), da.attrs["flag_meanings"].split())
        for name, da in classes.data_vars.items()
    }
    names = list(region_masks(region.isel(y=slice(0, 1))))
    sums: dict = {}
    for s in slices:
        area = np.asarray(pixel_area.isel(y=s).values, dtype="float64")
        masks = region_masks(region.isel(y=s))
        for rname, mask in masks.items():
            sums[rname] = sums.get(rname, 0.0) + area[mask].sum()
        for name, da in classes.data_vars.items():
            codes = np.asarray(da.isel(y=s).values)
            values, _ = meta[name]
            for rname, mask in masks.items():
                defined = mask & (codes >= 1)
                key = (name, rname)
                sums[key] = sums.get(key, 0.0) + area[defined].sum()
                key = (name, rname, UNDEFINED)
                sums[key] = sums.get(key, 0.0) + area[mask & ~defined].sum()
                for value in values:
                    k = (name, rname, int(value))
                    sums[k] = sums.get(k, 0.0) + area[mask & (codes == int(value))].sum()
    out = []
    for name in classes.data_vars:
        values, meanings = meta[name]
        for rname in names:
            total, whole = sums[(name, rname)], sums.get(rname, 0.0)
            areas = [(meaning, sums[(name, rname, int(value))]) for value, meaning in zip(values, meanings)]
            for meaning, a in areas + [(UNDEFINED, sums[(name, rname, UNDEFINED)])]:
                out.append(
                    {
                        "classification": name,
                        "class": meaning,
                        "region": rname,
                        "area_km2": a,
                        "percent": np.nan if meaning == UNDEFINED else 100.0 * a / total if total > 0 else np.nan,
                        "percent_of_region": 100.0 * a / whole if whole > 0 else np.nan,
                    }
                )
    return pd.DataFrame(out, columns=COLUMNS)
