"""Hurst exponent per pixel by rescaled range (R/S), with a Monte Carlo p against white noise.

:func:`hurst` is the hurst rule's statistic; its kernel writes the rows named by
``HURST_OUT``, which also name the wrapper's maps (docs/science.md has the definitions).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import xarray as xr

from ..errors import NepflowError
from ..series import min_valid_years
from ._numerics import BLOCK, NAN, _compact, _load, detrend
from ._slabs import dataset, map_pixels, over_blocks, rows, years_of

HURST_ESTIMATORS = {"rs": 0, "rs_avg": 1}
RS_PREFIX, RS_AVG = HURST_ESTIMATORS["rs"], HURST_ESTIMATORS["rs_avg"]
HURST_SERIES = ("levels", "differences", "detrended")

#: the maps :func:`hurst` computes, in the order of its kernel's rows
HURST_OUT = ("hurst", "hurst_p", "valid_years")
_H = rows(HURST_OUT)
H, H_P, H_VALID = _H["hurst"], _H["hurst_p"], _H["valid_years"]

#: nolds.logmid_n's defaults for hurst_rs's window sizes: the middle quarter of [0, ln n] in 15 steps
NOLDS_RATIO = 0.25
NOLDS_NSTEPS = 15
#: nolds.expected_rs uses the gamma-function ratio up to this window and the asymptote 1/√(wπ/2) beyond
#: (math.gamma overflows a double past 171, i.e. (w − 1)/2 > 171 for w > 343)
NOLDS_GAMMA_MAX = 340
#: the fewest τ (points of ln R/S) the prefix estimator fits a line through
MIN_FIT_POINTS = 3
#: pixels with fewer finite years get no estimate
MIN_YEARS = 3


# ----------------------------------------------------------------- R/S
@numba.njit(cache=True, nogil=True)
def _range_and_squares(xs, off, w):
    """Of the window xs[off:off + w]: R = max − min of the cumulative deviations from its mean, and
    Σ (x − mean)² (so S = √(Σ/w), or √(Σ/(w − 1)) for the sample std). The one R/S of both estimators."""
    mean = 0.0
    for i in range(w):
        mean += xs[off + i]
    mean /= w
    cum = 0.0
    cmax = -np.inf
    cmin = np.inf
    ss = 0.0
    for i in range(w):
        d = xs[off + i] - mean
        cum += d
        ss += d * d
        cmax = max(cmax, cum)
        cmin = min(cmin, cum)
    return cmax - cmin, ss


@numba.njit(cache=True, nogil=True)
def _slope(lx, ly, q):
    """OLS slope of ly[:q] on lx[:q]."""
    mx = 0.0
    my = 0.0
    for i in range(q):
        mx += lx[i]
        my += ly[i]
    mx /= q
    my /= q
    sxx = 0.0
    sxy = 0.0
    for i in range(q):
        sxx += (lx[i] - mx) ** 2
        sxy += (lx[i] - mx) * (ly[i] - my)
    return sxy / sxx


@numba.njit(cache=True, nogil=True)
def _hurst_prefix(xs, k, lx, ly, logtau):
    """R/S Hurst exponent over growing prefixes τ = 2..k (docs/science.md); NaN if < MIN_FIT_POINTS usable τ."""
    q = 0
    for tau in range(2, k + 1):
        r, ss = _range_and_squares(xs, 0, tau)
        if r > 0 and ss > 0:
            lx[q] = logtau[tau]
            ly[q] = 0.5 * math.log(r * r * tau / ss)  # ln(R/S), S = √(ss/τ)
            q += 1
    if q < MIN_FIT_POINTS:
        return NAN
    return _slope(lx, ly, q)


@numba.njit(cache=True, nogil=True)
def _hurst_avg(xs, k, nvals, expected, lx, ly):
    """nolds.hurst_rs(fit="poly", corrected=True, unbiased=True): mean R/S over non-overlapping windows."""
    q = 0
    for v in range(nvals.shape[0]):
        w = nvals[v]
        nseq = k // w
        if nseq < 1 or w < 2:
            continue
        acc = 0.0
        cnt = 0
        for sidx in range(nseq):
            r, ss = _range_and_squares(xs, sidx * w, w)
            if r != 0:
                acc += r / math.sqrt(ss / (w - 1))
                cnt += 1
        if cnt > 0:
            lx[q] = math.log(w)
            ly[q] = math.log(acc / cnt) - math.log(expected[v])
            q += 1
    if q < 2:
        return NAN
    return _slope(lx, ly, q) + 0.5


@numba.njit(cache=True, nogil=True)
def _hurst_prefix_block(xb, nb, ok, logtau, ly, hout):
    """R/S prefix Hurst of the complete pixels (ok[j]) of a block xb (n, BLOCK), SIMD across pixels.

    The same operations, in the same order per pixel, as ``_hurst_prefix`` (with
    ``_range_and_squares`` and ``_slope``): the prefix sum grows by one year per τ (= the
    sequential sum of the first τ values), and unusable τ (R = 0 or S = 0) add exact
    zeros to the fit's sums. Kept beside the per-pixel path for speed: the per-pixel
    loop cannot vectorise across pixels (benchmarks/bench_numerics.py, 100,000 complete
    pixels, one thread: 0.027 CPU-s through this block path, 0.063 pixel by pixel).
    """
    n = xb.shape[0]
    mean = np.empty(BLOCK)
    run = np.zeros(BLOCK)
    cum = np.empty(BLOCK)
    ss = np.empty(BLOCK)
    cmax = np.empty(BLOCK)
    cmin = np.empty(BLOCK)
    for tau in range(1, n + 1):
        row = xb[tau - 1]
        for j in range(nb):
            run[j] += row[j]
        if tau < 2:
            continue
        for j in range(nb):
            mean[j] = run[j] / tau
            cum[j] = 0.0
            ss[j] = 0.0
            cmax[j] = -np.inf
            cmin[j] = np.inf
        for i in range(tau):
            row = xb[i]
            for j in range(nb):
                d = row[j] - mean[j]
                cum[j] += d
                ss[j] += d * d
                cmax[j] = max(cmax[j], cum[j])
                cmin[j] = min(cmin[j], cum[j])
        for j in range(nb):
            r = cmax[j] - cmin[j]
            ly[tau, j] = 0.5 * math.log(r * r * tau / ss[j]) if (r > 0 and ss[j] > 0) else NAN
    cnt = np.zeros(BLOCK, dtype=np.int64)
    mx = np.zeros(BLOCK)
    my = np.zeros(BLOCK)
    for tau in range(2, n + 1):
        lt = logtau[tau]
        for j in range(nb):
            v = ly[tau, j]
            use = not math.isnan(v)
            cnt[j] += use
            mx[j] += lt if use else 0.0
            my[j] += v if use else 0.0
    for j in range(nb):
        c = max(cnt[j], 1)
        mx[j] /= c
        my[j] /= c
    sxx = np.zeros(BLOCK)
    sxy = np.zeros(BLOCK)
    for tau in range(2, n + 1):
        lt = logtau[tau]
        for j in range(nb):
            v = ly[tau, j]
            use = not math.isnan(v)
            dx = lt - mx[j]
            sxx[j] += dx * dx if use else 0.0
            sxy[j] += dx * (v - my[j]) if use else 0.0
    for j in range(nb):
        if ok[j]:
            hout[j] = sxy[j] / sxx[j] if cnt[j] >= MIN_FIT_POINTS else NAN


@numba.njit(cache=True, nogil=True)
def hurst_kernel(x, min_valid, estimator, nvals, expected, null, kmin, out, b0, b1):
    """Hurst exponent, white-noise p and valid count per pixel; rows of ``out`` as ``HURST_OUT``.

    ``estimator`` (``HURST_ESTIMATORS``) RS_PREFIX: R/S on growing prefixes, RS_AVG: averaged windows (nolds).
    Complete pixels of the R/S estimator go through ``_hurst_prefix_block`` (SIMD
    across pixels); pixels with missing years (kept when ``min_valid`` < n) and the
    averaged-window estimator go pixel by pixel.
    ``null[k]`` is the ascending white-noise H of length k (NaN last) for k ≥ kmin;
    hurst_p = (b + 1)/(N + 1), b the number of the N null values ≥ H = N − (left insertion
    index of H), a binary search (numpy.searchsorted semantics): the Monte Carlo p-value
    that counts the pixel's own series as one draw of the null, never 0.
    """
    n, m = x.shape
    nsur = null.shape[1]
    t = np.arange(n).astype(np.float64)
    logtau = np.empty(n + 1)
    for tau in range(1, n + 1):
        logtau[tau] = math.log(tau)
    for blk in range(b0, b1):
        p0 = blk * BLOCK
        nb = min(BLOCK, m - p0)
        buf = np.empty((BLOCK, n))
        xb = np.zeros((n, BLOCK))
        ly = np.empty((n + 1, BLOCK))
        h = np.full(BLOCK, NAN)
        ok = np.zeros(BLOCK, dtype=np.bool_)
        cnt = np.zeros(BLOCK, dtype=np.int64)
        xs = np.empty(n)
        ts = np.empty(n)
        lx = np.empty(max(n, nvals.shape[0]))
        lyy = np.empty(max(n, nvals.shape[0]))
        for i in range(n):
            row = x[i]
            for j in range(nb):
                v = np.float64(row[p0 + j])
                fin = not math.isnan(v)
                cnt[j] += fin
                xb[i, j] = v if fin else 0.0
        anyfull = False
        partial = False
        for j in range(nb):
            if cnt[j] == n and n >= min_valid and n >= MIN_YEARS:
                ok[j] = estimator == RS_PREFIX
                anyfull = anyfull or ok[j]
            if cnt[j] >= min_valid and cnt[j] >= MIN_YEARS and not ok[j]:
                partial = True
        if anyfull:
            _hurst_prefix_block(xb, nb, ok, logtau, ly, h)
        if partial:
            _load(x, p0, nb, buf)
            for j in range(nb):
                k = cnt[j]
                if ok[j] or k < min_valid or k < MIN_YEARS:
                    continue
                _compact(buf[j], t, xs, ts)
                if estimator == RS_PREFIX:
                    h[j] = _hurst_prefix(xs, k, lx, lyy, logtau)
                else:
                    h[j] = _hurst_avg(xs, k, nvals, expected, lx, lyy)
        for j in range(nb):
            p = p0 + j
            k = cnt[j]
            hv = h[j]
            out[H, p] = hv
            out[H_VALID, p] = k
            if math.isnan(hv) or k < kmin:
                out[H_P, p] = NAN
                continue
            row = null[k]
            lo = 0
            hi = nsur
            while lo < hi:
                mid = (lo + hi) >> 1
                if row[mid] < hv:
                    lo = mid + 1
                else:
                    hi = mid
            out[H_P, p] = (nsur - lo + 1.0) / (nsur + 1.0)


@numba.njit(cache=True, nogil=True)
def hurst_rows(x, min_valid, estimator, nvals, expected, out):
    """Hurst exponent of each row of ``x`` (m, n) float64 into out[:m], one row after the other.

    Per pixel as ``hurst_kernel`` treats a pixel with missing years (and as its SIMD block
    path computes a complete one, operation for operation): NaN dropped, NaN below
    ``min_valid`` or MIN_YEARS finite values.
    """
    m, n = x.shape
    t = np.arange(n).astype(np.float64)
    logtau = np.empty(n + 1)
    for tau in range(1, n + 1):
        logtau[tau] = math.log(tau)
    xs = np.empty(n)
    ts = np.empty(n)
    lx = np.empty(max(n, nvals.shape[0]))
    ly = np.empty(max(n, nvals.shape[0]))
    for i in range(m):
        k = _compact(x[i], t, xs, ts)
        if k < min_valid or k < MIN_YEARS:
            out[i] = NAN
        elif estimator == RS_PREFIX:
            out[i] = _hurst_prefix(xs, k, lx, ly, logtau)
        else:
            out[i] = _hurst_avg(xs, k, nvals, expected, lx, ly)


# ----------------------------------------------------------------- wrappers
def nolds_nvals(n: int) -> np.ndarray:
    """Window sizes of nolds.hurst_rs by default: logmid_n(n, ratio=1/4, nsteps=15), rounded exp of
    NOLDS_NSTEPS points evenly spaced over the middle NOLDS_RATIO of [0, ln n]."""
    lg = np.log(n)
    mid = lg * (1 - NOLDS_RATIO) * 0.5 + np.arange(NOLDS_NSTEPS) / NOLDS_NSTEPS * lg * NOLDS_RATIO
    return np.unique(np.round(np.exp(mid)).astype("int64"))


def expected_rs(w: int) -> float:
    """Anis–Lloyd–Peters expected R/S of white noise for window w (nolds.expected_rs)."""
    front = (w - 0.5) / w
    i = np.arange(1, w)
    back = np.sum(np.sqrt((w - i) / i))
    middle = (
        math.gamma((w - 1) * 0.5) / math.sqrt(math.pi) / math.gamma(w * 0.5)
        if w <= NOLDS_GAMMA_MAX
        else 1.0 / math.sqrt(w * math.pi * 0.5)
    )
    return front * middle * back


def _hurst_args(n: int, estimator: str):
    nvals = nolds_nvals(n)
    expected = np.array([expected_rs(int(w)) for w in nvals])
    return HURST_ESTIMATORS[estimator], nvals, expected


def hurst_numpy(x: np.ndarray, estimator: str = "rs", min_valid: int | None = None) -> np.ndarray:
    """Hurst exponent of each row of ``x`` (m, n), numpy in and out (the white-noise null's surrogates).

    Serial, row by row (``hurst_rows``): the same numbers as :func:`hurst`'s kernel, without
    compiling that kernel a second time for float64 when the cube is float32."""
    m, n = x.shape
    est, nvals, expected = _hurst_args(n, estimator)
    out = np.empty(m)
    hurst_rows(
        np.ascontiguousarray(x, dtype=np.float64), n if min_valid is None else min_valid, est, nvals, expected, out
    )
    return out


def hurst_input(x: np.ndarray, years: np.ndarray, series: str) -> np.ndarray:
    """The series the Hurst exponent is estimated on, from annual values ``x`` (n, m): ``levels`` as they
    are; ``differences`` x_t − x_{t−1} (n − 1 rows, NaN where the previous calendar year is absent);
    ``detrended`` the OLS residuals on the calendar years."""
    if series == "levels":
        return x
    if series == "differences":
        x = np.asarray(x, dtype=np.float64)
        d = x[1:] - x[:-1]
        d[np.diff(years) != 1] = np.nan
        return np.ascontiguousarray(d)
    if series == "detrended":
        return np.ascontiguousarray(detrend(x, years))
    raise NepflowError(f"config key analysis.hurst_series: {series!r}; expected one of {', '.join(HURST_SERIES)}")


@functools.lru_cache(maxsize=16)
def white_noise_null(n: int, estimator: str, n_surrogates: int, seed: int, series: str = "levels") -> np.ndarray:
    """Sorted H of ``n_surrogates`` standard-normal white-noise series whose ``series`` (levels, differences,
    detrended) has n finite values (fixed seed)."""
    length = n + (series == "differences")
    rng = np.random.default_rng([seed, length, HURST_ESTIMATORS[estimator]])
    z = rng.standard_normal((n_surrogates, length))
    if series != "levels":
        z = hurst_input(z.T, np.arange(length, dtype="float64"), series).T
    return np.sort(hurst_numpy(z, estimator))


def _hurst_blocks(blocks, estimator, min_valid, null, kmin, years, series):
    x = hurst_input(blocks[0], years, series)
    est, nvals, expected = _hurst_args(x.shape[0], estimator)
    out = np.empty((len(HURST_OUT), x.shape[1]))
    over_blocks(hurst_kernel, x.shape[1], BLOCK, x, min_valid, est, nvals, expected, null, kmin, out)
    return out


def hurst(
    da: xr.DataArray,
    estimator: str = "rs",
    n_surrogates: int = 1000,
    seed: int = 20240601,
    min_valid=None,
    series: str = "levels",
) -> xr.Dataset:
    """Hurst exponent of each pixel's series, with a p-value against white noise.

    ``rs`` (default, the variant of the Chinese vegetation-persistence literature,
    docs/science.md): for τ = 2 … n take the first τ values, mean ξ̄_τ, cumulative deviation
    X(t, τ) = Σ_{u≤t}(ξ(u) − ξ̄_τ), R(τ) = max X − min X, S(τ) = population std of the
    τ values; H = OLS slope of ln(R/S) on ln τ over the τ with R > 0 and S > 0 (at
    least 3). ``rs_avg``: nolds.hurst_rs(fit="poly") — the mean R/S over non-overlapping
    windows of sizes logmid_n(n), sample std, Anis–Lloyd–Peters correction, H = slope + 0.5.

    ``series``: what H is estimated on (:func:`hurst_input`): ``levels`` (the study's; a
    trend alone raises H), ``differences`` or ``detrended`` (both blind to a linear trend).

    ``hurst_p`` = (b + 1)/(N + 1), b the number of the N = ``n_surrogates`` white-noise series
    (generated once per length from ``seed``, passed through the same ``series``) whose H
    is ≥ the pixel's H: the estimator is biased upward at n ≈ 21, so H > 0.5 alone
    overstates persistence. With ``levels`` the null is trend-free white noise, so a
    trending series has a small hurst_p without any persistence; with ``differences`` or
    ``detrended`` the null is white noise around any linear trend.

    Returns
    -------
    Dataset: hurst, hurst_p, valid_years (of the levels); attributes give the estimator,
    the series, the null mean and its 10th/90th percentiles for the full length.
    """
    if estimator not in HURST_ESTIMATORS:
        raise NepflowError(
            f"config key analysis.hurst_estimator: {estimator!r}; expected one of {', '.join(HURST_ESTIMATORS)}"
        )
    if series not in HURST_SERIES:
        raise NepflowError(f"config key analysis.hurst_series: {series!r}; expected one of {', '.join(HURST_SERIES)}")
    years = years_of(da)
    n = len(years)
    mv = min_valid_years(n, min_valid)
    shift = int(series == "differences")  # the differences of k levels are k - 1 values
    n_s, mv_s = n - shift, mv - shift
    kmin = max(mv_s, MIN_YEARS)
    table = np.full((n_s + 1, int(n_surrogates)), np.nan)  # row k: sorted null of length k
    for k in range(kmin, n_s + 1):
        table[k] = white_noise_null(k, estimator, int(n_surrogates), int(seed), series)
    func = functools.partial(
        _hurst_blocks, estimator=estimator, min_valid=mv_s, null=table, kmin=kmin, years=years, series=series
    )
    out = map_pixels(func, [da], HURST_OUT)
    if shift:  # valid_years counts the levels
        out["valid_years"] = map_pixels(
            lambda b: np.isfinite(b[0]).sum(axis=0, dtype="float64")[None], [da], ("valid_years",)
        )["valid_years"]
    null = table[n_s]
    null = null[np.isfinite(null)]
    meta = {
        "method": {
            "rs": "rescaled range over growing prefixes tau = 2..n (docs/science.md)",
            "rs_avg": "nolds.hurst_rs(fit='poly'): averaged windows, Anis-Lloyd-Peters corrected",
        }[estimator],
        "estimator": estimator,
        "hurst_series": series,
        # a series too short for the estimator (rs: n = 3 gives two points of ln R/S) has H NaN, and so the null
        "hurst_white_noise_mean": float(null.mean()) if null.size else float("nan"),
        "hurst_white_noise_p10": float(np.percentile(null, 10)) if null.size else float("nan"),
        "hurst_white_noise_p90": float(np.percentile(null, 90)) if null.size else float("nan"),
        "n_surrogates": int(n_surrogates),
        "surrogate_seed": int(seed),
        "min_valid_years": mv,
    }
    return dataset(out, {name: meta for name in HURST_OUT if name != "valid_years"})
