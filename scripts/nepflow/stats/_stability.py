"""Stability: mean, standard deviation and coefficient of variation per pixel.

:func:`stability` is the stability rule's statistic; its kernel writes the rows named by
``STABILITY_OUT``, which also name the wrapper's maps.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import xarray as xr

from ..series import min_valid_years
from ._numerics import BLOCK, NAN
from ._slabs import dataset, map_pixels, over_blocks, rows, years_of

#: the maps :func:`stability` computes, in the order of its kernel's rows
STABILITY_OUT = ("nep_mean", "nep_std", "cv", "valid_years")
_S = rows(STABILITY_OUT)
MEAN, STD, CV, S_VALID = _S["nep_mean"], _S["nep_std"], _S["cv"], _S["valid_years"]


@numba.njit(cache=True, nogil=True)
def moments_kernel(x, min_valid, ddof, out, b0, b1):
    """Mean, standard deviation (``ddof``), CV = std/mean (NaN where mean ≤ 0) and valid count per pixel.

    Reads the (years, pixels) layout directly: the inner loops run over contiguous
    pixels of one year. Rows of ``out`` as ``STABILITY_OUT``.
    """
    n, m = x.shape
    for blk in range(b0, b1):
        p0 = blk * BLOCK
        nb = min(BLOCK, m - p0)
        acc = np.zeros(BLOCK)
        cnt = np.zeros(BLOCK, dtype=np.int64)
        ss = np.zeros(BLOCK)
        for i in range(n):
            row = x[i]
            for j in range(nb):
                v = np.float64(row[p0 + j])
                if not math.isnan(v):
                    acc[j] += v
                    cnt[j] += 1
        for j in range(nb):
            k = cnt[j]
            acc[j] = acc[j] / k if k > 0 else NAN
        for i in range(n):
            row = x[i]
            for j in range(nb):
                v = np.float64(row[p0 + j])
                if not math.isnan(v):
                    ss[j] += (v - acc[j]) ** 2
        for j in range(nb):
            p = p0 + j
            k = cnt[j]
            out[S_VALID, p] = k
            if k < min_valid or k <= ddof or k == 0:
                out[MEAN, p] = NAN
                out[STD, p] = NAN
                out[CV, p] = NAN
                continue
            mu = acc[j]
            sd = math.sqrt(ss[j] / (k - ddof))
            out[MEAN, p] = mu
            out[STD, p] = sd
            out[CV, p] = sd / mu if mu > 0 else NAN


def _moments_blocks(blocks, min_valid, ddof):
    x = blocks[0]
    out = np.empty((len(STABILITY_OUT), x.shape[1]))
    over_blocks(moments_kernel, x.shape[1], BLOCK, x, min_valid, ddof, out)
    return out


def stability(da: xr.DataArray, ddof: int = 1, min_valid=None) -> xr.Dataset:
    """Mean, standard deviation and coefficient of variation CV = σ/μ per pixel.

    σ with ``ddof`` (1: sample std, as most of this literature; 0: scipy.stats.variation).
    CV is NaN where μ ≤ 0: the CV of a flux that changes sign is no stability measure;
    the count of such pixels is the attribute ``cv_undefined_nonpositive_mean``.
    """
    years = years_of(da)
    mv = min_valid_years(len(years), min_valid)
    func = functools.partial(_moments_blocks, min_valid=mv, ddof=int(ddof))
    out = map_pixels(func, [da], STABILITY_OUT)
    methods = {
        "nep_mean": "mean of the valid years",
        "nep_std": f"standard deviation (ddof={ddof}) of the valid years",
        "cv": f"std (ddof={ddof}) / mean; NaN where mean <= 0",
    }
    return dataset(out, {n: {"method": m, "ddof": int(ddof), "min_valid_years": mv} for n, m in methods.items()})


def count_nonpositive_mean(ds: xr.Dataset) -> int:
    """Pixels with a defined mean ≤ 0 (CV undefined there)."""
    return int(((ds["nep_mean"] <= 0) & ds["nep_mean"].notnull()).sum())
