"""Correlation: Pearson and partial correlations of NEP with each climate factor, per pixel.

:func:`correlation` is the correlation rule's statistic. Its kernel writes, for each factor
in turn, the rows named by ``PER_FACTOR`` and then ``valid_years``; :func:`correlation_names`
spells the maps' names from the same table (``r_pr``, ``p_r_pr``, ``pr_pr``, ``p_pr_pr``, …).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import xarray as xr

from .. import variables
from ..series import min_valid_years
from ._numerics import BLOCK, NAN, _p_from_r, detrend, lbeta_half_table
from ._slabs import dataset, map_pixels, over_blocks, rows, years_of

#: the climate factors of the workflow, in the order of the variables table
FACTORS = tuple(variables.FACTORS)

#: the maps of one factor f, named ``{stem}_{f}``, in the order of their rows in the kernel's block of f
PER_FACTOR = ("r", "p_r", "pr", "p_pr")
_F = rows(PER_FACTOR)
R, P_R, PR, P_PR = _F["r"], _F["p_r"], _F["pr"], _F["p_pr"]
N_PER_FACTOR = len(PER_FACTOR)
#: the correlation matrix counts as singular (collinear factors: no partial r) when |det| is below this
#: (it is at most 1, the product of the eigenvalues of a correlation matrix)
SINGULAR_DET = 1e-14


def correlation_names(factors) -> tuple[str, ...]:
    """The maps of :func:`correlation` with ``factors``, in the order of its kernel's rows."""
    return tuple(f"{stem}_{f}" for f in factors for stem in PER_FACTOR) + ("valid_years",)


@numba.njit(cache=True, nogil=True)
def _row(j, col):
    """Row of ``out`` holding PER_FACTOR[col] of factor j."""
    return N_PER_FACTOR * j + col


@numba.njit(cache=True, nogil=True)
def _invert(a, inv, dim):
    """Gauss–Jordan inverse of a[:dim, :dim] (destroyed) into inv, partial pivoting; returns det(a)."""
    for r in range(dim):
        for c in range(dim):
            inv[r, c] = 1.0 if r == c else 0.0
    det = 1.0
    for c in range(dim):
        piv = c
        big = abs(a[c, c])
        for r in range(c + 1, dim):
            if abs(a[r, c]) > big:
                big = abs(a[r, c])
                piv = r
        if big == 0.0:
            return 0.0
        if piv != c:
            for cc in range(dim):
                tmp = a[c, cc]
                a[c, cc] = a[piv, cc]
                a[piv, cc] = tmp
                tmp = inv[c, cc]
                inv[c, cc] = inv[piv, cc]
                inv[piv, cc] = tmp
            det = -det
        d = a[c, c]
        det *= d
        for cc in range(dim):
            a[c, cc] /= d
            inv[c, cc] /= d
        for r in range(dim):
            if r != c:
                f = a[r, c]
                if f != 0.0:
                    for cc in range(dim):
                        a[r, cc] -= f * a[c, cc]
                        inv[r, cc] -= f * inv[c, cc]
    return det


@numba.njit(cache=True, nogil=True)
def correlation_kernel(y, f, min_valid, out, dof_lost, b0, b1):
    """Pearson r of y with each factor, the partial r controlling for the other factors, and their p.

    y: (n, m); f: tuple of q factors, each (n, m), same dtype. A year counts when y
    and every factor are finite. Partial correlations come from the inverse P of the
    (q+1)×(q+1) correlation matrix, r_{y,i·rest} = −P_{y,i} / √(P_{y,y} P_{i,i}),
    which equals the correlation of the OLS residuals (with intercept) on the
    controls (pingouin.partial_corr's definition). p: Student t with ν = k − 2
    (Pearson, = scipy.stats.pearsonr) and ν = k − 2 − (q − 1) (partial), each less
    ``dof_lost`` (the parameters removed from the series beforehand, e.g. 1 for a trend).
    Rows of ``out`` as ``correlation_names``: ``PER_FACTOR`` for each factor j
    (``_row(j, R)`` …), then the count of valid years (row ``_row(q, 0)``).

    Means and the (two-pass, centred) covariances are accumulated for a block of
    pixels at once, reading each year's row of pixels as stored (SIMD across
    pixels); each pixel's sums still run over its years in order, so the numbers
    are those of a per-pixel loop. Invalid years add exact zeros.
    """
    n, m = y.shape
    q = len(f)
    d = q + 1
    npair = d * (d + 1) // 2
    lb = lbeta_half_table(n)
    for blk in range(b0, b1):
        p0 = blk * BLOCK
        nb = min(BLOCK, m - p0)
        ok = np.empty((n, BLOCK), dtype=np.bool_)
        cnt = np.zeros(BLOCK, dtype=np.int64)
        mean = np.zeros((d, BLOCK))
        cov = np.zeros((npair, BLOCK))
        dev = np.empty((d, BLOCK))
        c = np.empty((d, d))
        corr = np.empty((d, d))
        prec = np.empty((d, d))
        for i in range(n):
            yr = y[i]
            for j in range(nb):
                ok[i, j] = not math.isnan(yr[p0 + j])
            for v in range(q):
                fr = f[v][i]
                for j in range(nb):
                    ok[i, j] = ok[i, j] and not math.isnan(fr[p0 + j])
            for j in range(nb):
                cnt[j] += ok[i, j]
                v0 = np.float64(yr[p0 + j])
                mean[0, j] += v0 if ok[i, j] else 0.0
            for v in range(q):
                fr = f[v][i]
                for j in range(nb):
                    vv = np.float64(fr[p0 + j])
                    mean[v + 1, j] += vv if ok[i, j] else 0.0
        for v in range(d):
            for j in range(nb):
                mean[v, j] /= max(cnt[j], 1)
        for i in range(n):
            yr = y[i]
            for j in range(nb):
                dev[0, j] = (np.float64(yr[p0 + j]) - mean[0, j]) if ok[i, j] else 0.0
            for v in range(q):
                fr = f[v][i]
                for j in range(nb):
                    dev[v + 1, j] = (np.float64(fr[p0 + j]) - mean[v + 1, j]) if ok[i, j] else 0.0
            w = 0
            for a in range(d):
                for b in range(a, d):
                    for j in range(nb):
                        cov[w, j] += dev[a, j] * dev[b, j]
                    w += 1
        for j in range(nb):
            p = p0 + j
            for v in range(_row(q, 0)):
                out[v, p] = NAN
            k = cnt[j]
            out[_row(q, 0), p] = k
            if k < min_valid or k < q + 3 + dof_lost:
                continue
            w = 0
            for a in range(d):
                for b in range(a, d):
                    c[a, b] = cov[w, j]
                    c[b, a] = cov[w, j]
                    w += 1
            if c[0, 0] <= 0:
                continue
            degenerate = False
            for jj in range(1, d):
                if c[jj, jj] <= 0:
                    degenerate = True
                    continue
                r = c[0, jj] / math.sqrt(c[0, 0] * c[jj, jj])
                out[_row(jj - 1, R), p] = r
                out[_row(jj - 1, P_R), p] = _p_from_r(r, k - 2 - dof_lost, lb[k - 2 - dof_lost])
            if degenerate:
                continue
            for a in range(d):
                for b in range(d):
                    corr[a, b] = c[a, b] / math.sqrt(c[a, a] * c[b, b])
            if abs(_invert(corr, prec, d)) < SINGULAR_DET:
                continue
            nu = k - 2 - (q - 1) - dof_lost
            for jj in range(1, d):
                r = -prec[0, jj] / math.sqrt(prec[0, 0] * prec[jj, jj])
                out[_row(jj - 1, PR), p] = r
                out[_row(jj - 1, P_PR), p] = _p_from_r(r, nu, lb[nu])


# ----------------------------------------------------------------- wrappers
def _corr_blocks(blocks, min_valid, years=None):
    y, *factors = blocks
    out = np.empty((N_PER_FACTOR * len(factors) + 1, y.shape[1]))  # the rows of correlation_names(factors)
    if years is None:
        over_blocks(correlation_kernel, y.shape[1], BLOCK, y, tuple(factors), min_valid, out, 0)
        return out
    # detrended: each series' OLS residuals on the years where NEP and every factor are finite
    ok = np.isfinite(y)
    for f in factors:
        ok &= np.isfinite(f)
    y, *factors = [detrend(np.where(ok, b, np.nan), years) for b in blocks]
    over_blocks(correlation_kernel, y.shape[1], BLOCK, y, tuple(factors), min_valid, out, 1)
    return out


def correlation(
    nep: xr.DataArray, factors: dict[str, xr.DataArray], min_valid=None, detrended: bool = False
) -> xr.Dataset:
    """Pearson and partial correlations of ``nep`` with each factor, per pixel.

    Pearson r with two-sided p from t = r√[(n − 2)/(1 − r²)], df = n − 2
    (scipy.stats.pearsonr). Partial r of NEP with factor i controlling for the others
    (second-order with three factors): the correlation of the residuals of both after
    OLS (with intercept) on the controls, computed from the inverse correlation matrix;
    p from the t-test with df = n − 2 − k, k the number of controls (pingouin.partial_corr).
    A constant series gives NaN.

    ``detrended``: every series is replaced by its OLS residuals on the calendar year
    (over the years all are finite) first, so that a shared trend (warming, greening)
    does not count as co-variation; the Pearson r is then the partial correlation
    controlling for the year, and every df is one less.

    Returns
    -------
    Dataset: r_f, p_r_f, pr_f, p_pr_f for every factor f, and valid_years.
    """
    years = years_of(nep)
    mv = min_valid_years(len(years), min_valid)
    names = list(factors)
    arrays = [nep] + [factors[f].transpose(*nep.dims) for f in names]
    func = functools.partial(_corr_blocks, min_valid=mv, years=years if detrended else None)
    data = map_pixels(func, arrays, correlation_names(names))
    k = len(names) - 1
    prefix = "on series detrended by OLS on the year; " if detrended else ""
    methods = {
        "r": prefix + f"Pearson correlation, two-sided t-test (df = n - 2 - {int(detrended)})",
        "pr": prefix + "partial correlation controlling for the other factors, two-sided t-test "
        f"(df = n - 2 - {k + int(detrended)})",
    }
    return dataset(
        data,
        {
            name: {
                "method": methods[name.removeprefix("p_").split("_")[0]],
                "min_valid_years": mv,
                "detrended": int(detrended),
            }
            for name in data
            if name != "valid_years"
        },
    )
