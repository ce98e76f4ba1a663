"""Comparing the NPP models of an ensemble run (``carbon.models``; rule `ensemble`).

Per model, from its annual NEP maps (``nep_<model>`` of carbon/{year}.nc): the
area-weighted regional mean NEP over the years, the total sink, the OLS trend of
the regional mean series with its t-test p, and the area shares of the study's
trend classes, classified per pixel exactly as the run's ``trend_class`` is
(``classes.trend``: basis, p or q, α, no-change band; :func:`pixel_trend_classes`),
so that the primary model's shares are the area table's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps

from . import classify

#: g C m-2 yr-1 × km2 -> Tg C yr-1.
TG_PER_G_M2_KM2 = 1e6 / 1e12


def regional_series(nep: xr.DataArray, pixel_area: xr.DataArray, inside: np.ndarray) -> np.ndarray:
    """Area-weighted mean NEP (g C m-2 yr-1) of the region, per year of ``nep`` (year, y, x)."""
    w = np.where(inside, np.asarray(pixel_area.values, dtype="float64"), 0.0)
    v = np.asarray(nep.values, dtype="float64")
    ok = np.isfinite(v) & (w > 0)
    return np.where(ok, v, 0.0).reshape(len(v), -1) @ w.ravel() / (ok.reshape(len(v), -1) @ w.ravel())


def pixel_trend_classes(
    nep: xr.DataArray, trend_cfg: dict, mk_variant: str = "original", min_valid=None
) -> xr.DataArray:
    """The trend classes of an annual NEP cube (year, y, x) as the run's ``trend_class``: the statistics of
    ``classes.trend.basis`` (OLS and t-test, or Sen and Mann–Kendall with ``mk_variant``) over the years
    (``min_valid`` as ``analysis.min_valid_years``), p or the Benjamini–Hochberg q over the finite pixels,
    ``alpha`` and ``no_change_slope`` (:func:`nepflow.classify.trend_classes`)."""
    from . import stats as nstats  # numba: the figure's environment imports this module without it

    t = trend_cfg
    if t["basis"] == "ols":
        ds = nstats.linear_trend(nep, min_valid)
        slope, p = ds["ols_slope"], ds["ols_p"]
    else:
        ds = nstats.trend(nep, min_valid, mk_variant)
        slope, p = ds["sen_slope"], ds["mk_p"]
    if t["p"] == "q":
        p = nstats.fdr_bh(p)
    return classify.trend_classes(slope, p, t["alpha"], t["no_change_slope"])


def compare(
    neps: dict[str, xr.DataArray],
    pixel_area: xr.DataArray,
    region: xr.DataArray,
    trend_cfg: dict,
    mk_variant: str = "original",
    min_valid=None,
) -> pd.DataFrame:
    """One row per model: mean NEP, total sink, regional trend and p, trend-class area shares (%).

    Parameters
    ----------
    neps : model -> NEP (year, y, x), g C m-2 yr-1, the first the primary model.
    pixel_area : true pixel areas (km2).
    region : region codes (0 outside).
    trend_cfg : the validated config's ``classes.trend`` (basis, p or q, alpha, no-change band).
    mk_variant, min_valid : ``analysis.mk_variant`` and ``analysis.min_valid_years``.
    """
    inside = np.asarray(region.values) > 0
    area = np.where(inside, np.asarray(pixel_area.values, dtype="float64"), 0.0)
    years = np.asarray(next(iter(neps.values()))["year"].values, dtype="float64")
    rows = []
    for model, nep in neps.items():
        series = regional_series(nep, pixel_area, inside)
        fit = sps.linregress(years, series)
        mean_map = np.asarray(nep.mean("year", skipna=False).values, dtype="float64")
        ok = np.isfinite(mean_map) & inside
        row = {
            "model": model,
            "mean_nep_g_m2_yr": float(series.mean()),
            "total_sink_tg_c_yr": float((mean_map[ok] * area[ok]).sum() * TG_PER_G_M2_KM2),
            "trend_g_m2_yr2": float(fit.slope),
            "trend_p": float(fit.pvalue),
            "sink_area_pct": float(100 * area[ok & (mean_map > 0)].sum() / area[ok].sum()),
        }
        classes = pixel_trend_classes(
            nep.where(xr.DataArray(inside, dims=("y", "x"))), trend_cfg, mk_variant, min_valid
        ).values
        defined = inside & (classes > 0)
        for code, name in enumerate(classify.TREND_CLASSES, start=1):
            row[f"{name}_pct"] = float(100 * area[defined & (classes == code)].sum() / area[defined].sum())
        rows.append(row)
    return pd.DataFrame(rows)
