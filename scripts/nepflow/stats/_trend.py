"""Trend: OLS, Mann–Kendall (with its serial-correlation variants) and Theil–Sen, per pixel.

:func:`trend` is the trend rule's statistic; :func:`linear_trend` its OLS part alone.
Their kernels write the rows named by ``TREND_OUT`` and ``OLS_OUT``; the wrappers name
the maps from the same tuples (docs/science.md has the definitions).
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numba
import numpy as np
import xarray as xr

from ..errors import NepflowError
from ..series import min_valid_years
from ._numerics import BLOCK, NAN, _compact, _load, _median_bracketed, _median_inplace, _p_from_t, lbeta_half_table
from ._slabs import dataset, map_pixels, over_blocks, rows, years_of

MK_VARIANTS = {"original": 0, "hamed_rao": 1, "yue_wang": 2, "tfpw": 3, "pw": 4}
MK_ORIGINAL, MK_HAMED_RAO, MK_YUE_WANG, MK_TFPW, MK_PW = (
    MK_VARIANTS[v] for v in ("original", "hamed_rao", "yue_wang", "tfpw", "pw")
)

#: the maps :func:`trend` computes, in the order of its kernel's rows
TREND_OUT = (
    "ols_slope",
    "ols_intercept",
    "ols_p",
    "sen_slope",
    "sen_intercept",
    "mk_s",
    "mk_z",
    "mk_p",
    "mk_tau",
    "valid_years",
)
_T = rows(TREND_OUT)
OLS_SLOPE, OLS_INTERCEPT, OLS_P = _T["ols_slope"], _T["ols_intercept"], _T["ols_p"]
SEN_SLOPE, SEN_INTERCEPT = _T["sen_slope"], _T["sen_intercept"]
MK_S, MK_Z, MK_P, MK_TAU = _T["mk_s"], _T["mk_z"], _T["mk_p"], _T["mk_tau"]
VALID = _T["valid_years"]
N_TREND = len(TREND_OUT)

#: the maps :func:`linear_trend` computes (the OLS of :func:`trend` alone), in the order of its kernel's rows
OLS_OUT = ("ols_slope", "ols_intercept", "ols_p", "valid_years")
_O = rows(OLS_OUT)
O_SLOPE, O_INTERCEPT, O_P, O_VALID = _O["ols_slope"], _O["ols_intercept"], _O["ols_p"], _O["valid_years"]

#: pixels with fewer finite years get NaN (the OLS t-test needs ν = k − 2 ≥ 1)
MIN_YEARS = 3
#: pixels per block in trend: two (210, 64) float64 slope buffers (n = 21 years) stay in L2
TBLOCK = 64
#: 1/√2: the two-sided normal p of Z is 2(1 − Φ(|Z|)) = erfc(|Z|/√2) (Φ(z) = ½ erfc(−z/√2), DLMF 7.2.2 / A&S 26.2.29)
SQRT1_2 = math.sqrt(0.5)
#: scipy.stats.linregress's TINY: t = r √[ν / ((1 − r + TINY)(1 + r + TINY))] stays finite for |r| = 1
LINREGRESS_TINY = 1.0e-20
#: half-width of the first bracket of the Sen median, in units of σ/(q(k + 1)) (σ the OLS residual
#: std, q the number of pairwise slopes): the pairwise slopes of Gaussian noise have density
#: (k + 1)/(6 √π σ) per pair and unit slope at their centre (a pair d years apart: N(0, 2σ²/d²),
#: density d/(2√π σ) at 0; d averages (k + 1)/3 over the pairs), so ±127.6 σ/(q(k + 1)) holds
#: 2 · 127.6/(6 √π) ≈ 24 slopes. A tuning constant: the median is exact whatever the bracket
#: (``_median_bracketed``); a worse one only costs counting passes.
SEN_BRACKET = 127.6


# ----------------------------------------------------------------- Mann–Kendall pairs
@numba.njit(cache=True, nogil=True)
def _pairs(xb, k, nb, t, s, less, eq, slopes_t):
    """Mann–Kendall pair statistics of ``nb`` series at once, SIMD across them.

    Column j of xb (float64) holds series j, its first k values at the times t[:k]. Gives
    s[j] = S = Σ_{i<i'} sign(x_i' − x_i), less[i, j] = #{i': x_i' < x_i},
    eq[i, j] = #{i' ≠ i: x_i' = x_i} (the ranks and tie groups, no sort) and
    slopes_t[pair, j] the pairwise slopes (x_i' − x_i)/(t_i' − t_i), pairs i < i' in
    order (i, then i'). Complete pixels of a block go through here together
    (nb = TBLOCK), a pixel with missing years or a pre-whitened series alone (nb = 1):
    the same operations either way. (The block pass is what makes it fast: 100,000
    complete pixels take 0.021 CPU-s in blocks of 64, 0.082 one by one; benchmarks/bench_numerics.py.) Columns ≥ nb and series with NaN get garbage,
    which the caller does not use. Returns the number of pairs.
    """
    for i in range(k):
        for j in range(nb):
            less[i, j] = 0
            eq[i, j] = 0
    for j in range(nb):
        s[j] = 0
    pr = 0
    for i in range(k - 1):
        xi = xb[i]
        li = less[i]
        ei = eq[i]
        for jj in range(i + 1, k):
            xj = xb[jj]
            lj = less[jj]
            ej = eq[jj]
            dt = t[jj] - t[i]
            srow = slopes_t[pr]
            for j in range(nb):
                d = xj[j] - xi[j]
                gt = d > 0
                lt = d < 0
                e = d == 0
                s[j] += gt
                s[j] -= lt
                lj[j] += gt
                li[j] += lt
                ej[j] += e
                ei[j] += e
                srow[j] = d / dt
            pr += 1
    return pr


@numba.njit(cache=True, nogil=True)
def _load_columns(x, p0, nb, xb):
    """xb[i, j] = x[i, p0 + j] for j < nb: a block of pixels as stored (years in rows), upcast to float64."""
    for i in range(x.shape[0]):
        row = x[i]
        for j in range(nb):
            xb[i, j] = row[p0 + j]


@numba.njit(cache=True, nogil=True)
def _transpose_slopes(slopes_t, pr, nb, slopes_blk):
    """slopes_blk[j, q] = slopes_t[q, j] (q < pr, j < nb), in tiles of 8 pairs: each pixel's slopes contiguous."""
    for q0 in range(0, pr, 8):
        q1 = min(q0 + 8, pr)
        for j in range(nb):
            for qq in range(q0, q1):
                slopes_blk[j, qq] = slopes_t[qq, j]


@numba.njit(cache=True, nogil=True)
def _s_variance(k, eq, col):
    """Var(S) of Mann–Kendall for k values with tie counts eq[:k, col]:
    [k(k−1)(2k+5) − Σ_g t_g(t_g−1)(2t_g+5)]/18 = [k(k−1)(2k+5) − Σ_i e_i(2e_i+7)]/18 (e_i = t_g − 1)."""
    ties = 0
    for i in range(k):
        e = eq[i, col]
        ties += e * (2 * e + 7)
    return (k * (k - 1) * (2 * k + 5) - ties) / 18.0


@numba.njit(cache=True, nogil=True)
def _median_from_ranks(xs, k, less, eq, col):
    """Median of xs[:k] from the ranks ``_pairs`` counted (less, eq in column col): no sort."""
    r_lo = (k - 1) // 2
    r_hi = k // 2
    x_lo = NAN
    x_hi = NAN
    for i in range(k):
        lo = less[i, col]
        e = eq[i, col]
        if lo <= r_lo <= lo + e:
            x_lo = xs[i]
        if lo <= r_hi <= lo + e:
            x_hi = xs[i]
    return x_hi if k % 2 == 1 else 0.5 * (x_lo + x_hi)


# ----------------------------------------------------------------- serial-correlation corrections
@numba.njit(cache=True, nogil=True)
def _ranks(a, k, out):
    """Average ranks (1-based) of a[:k], as scipy.stats.rankdata."""
    order = np.argsort(a[:k], kind="mergesort")
    i = 0
    while i < k:
        j = i
        while j + 1 < k and a[order[j + 1]] == a[order[i]]:
            j += 1
        r = 0.5 * (i + j) + 1.0
        for q in range(i, j + 1):
            out[order[q]] = r
        i = j + 1


@numba.njit(cache=True, nogil=True)
def _mean_ss(a, k):
    """Mean of a[:k] and the sum of squares about it."""
    mean = 0.0
    for i in range(k):
        mean += a[i]
    mean /= k
    c0 = 0.0
    for i in range(k):
        c0 += (a[i] - mean) ** 2
    return mean, c0


@numba.njit(cache=True, nogil=True)
def _acf(a, k, nlags, out):
    """Autocorrelation of a[:k] at lags 0..nlags (biased, as pymannkendall's __acf)."""
    mean, c0 = _mean_ss(a, k)
    for lag in range(nlags + 1):
        c = 0.0
        for i in range(k - lag):
            c += (a[i] - mean) * (a[i + lag] - mean)
        out[lag] = c / c0 if c0 > 0 else NAN


@numba.njit(cache=True, nogil=True)
def _acf_calendar(a, ts, k, nlags, out):
    """Autocorrelation of a[:k] at times ts[:k] (increasing) at lags 0..nlags in calendar years: the lag-L sum
    runs over the pairs whose times differ by exactly L (a pair with a missing year is absent), the mean and
    the variance over all k values (biased, as ``_acf`` and ``_acf1``); equal to ``_acf`` on consecutive years."""
    mean, c0 = _mean_ss(a, k)
    for lag in range(nlags + 1):
        out[lag] = 0.0
    for i in range(k):
        di = a[i] - mean
        for j in range(i + 1, k):
            dt = ts[j] - ts[i]
            if dt > nlags:
                break
            lag = int(dt)
            if lag == dt:
                out[lag] += di * (a[j] - mean)
    out[0] = c0
    for lag in range(nlags + 1):
        out[lag] = out[lag] / c0 if c0 > 0 else NAN


@numba.njit(cache=True, nogil=True)
def _acf1(d, ts, k):
    """Lag-1 autocorrelation of d[:k] at times ts (biased, as pymannkendall's __acf): the lag-1 sum runs
    over the pairs one calendar year apart, the variance over all k values; NaN for a constant series."""
    mean, c0 = _mean_ss(d, k)
    c1 = 0.0
    for i in range(k - 1):
        if ts[i + 1] - ts[i] == 1.0:
            c1 += (d[i] - mean) * (d[i + 1] - mean)
    return c1 / c0 if c0 > 0 else NAN


@numba.njit(cache=True, nogil=True)
def _ar1_factor(r1, k):
    """Yue & Wang (2004) n/n* for an AR(1) with lag-1 autocorrelation r1: 1 + 2 Σ_{j<k} (1 − j/k) r1^j,
    floored at 1 (the correction only inflates Var(S)); 1 when r1 is NaN."""
    if not math.isfinite(r1):
        return 1.0
    f = 0.0
    rj = 1.0
    for j in range(1, k):
        rj *= r1
        f += (1.0 - j / k) * rj
    return max(1.0 + 2.0 * f, 1.0)


@numba.njit(cache=True, nogil=True)
def _tfpw(det, ts, k, t0, sen, ys, s1, less1, eq1, slopes1):
    """Trend-free pre-whitening (Yue et al. 2002, as pymannkendall's trend_free_pre_whitening_modification_test):
    y_i = d_i − r1 d_{i−1} + sen (t_i − t0) for the years whose previous year is present, d the Sen-detrended
    series and r1 its lag-1 autocorrelation (0 if undefined); returns the tie-corrected S, Var(S) of y and
    its length. With ``det`` the series itself and ``sen`` 0: pre-whitening (von Storch 1995,
    pymannkendall's pre_whitening_modification_test). ys, s1, less1, eq1, slopes1: one-column scratch
    of ``_pairs`` (the slopes of y are not used)."""
    r1 = _acf1(det, ts, k)
    if not math.isfinite(r1):
        r1 = 0.0
    c = 0
    for i in range(1, k):
        if ts[i] - ts[i - 1] == 1.0:
            ys[c, 0] = det[i] - r1 * det[i - 1] + (ts[i] - t0) * sen
            c += 1
    _pairs(ys, c, 1, ts, s1, less1, eq1, slopes1)
    return s1[0], _s_variance(c, eq1, 0), c


# ----------------------------------------------------------------- OLS
@numba.njit(cache=True, nogil=True)
def _ols_fit(xs, ts, k, t0, lb):
    """OLS of xs[:k] on ts[:k]: (slope, intercept at t0, two-sided p with ν = k − 2, residual variance).

    t from r exactly as scipy.stats.linregress: an exact line gives p ≈ 0, a
    constant series slope 0 and p NaN.
    """
    tm = 0.0
    xm = 0.0
    for i in range(k):
        tm += ts[i]
        xm += xs[i]
    tm /= k
    xm /= k
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    for i in range(k):
        dt = ts[i] - tm
        dx = xs[i] - xm
        sxx += dt * dt
        sxy += dt * dx
        syy += dx * dx
    b = sxy / sxx
    resid = max(syy - b * sxy, 0.0) / (k - 2)
    if syy == 0.0:
        return b, xm + b * (t0 - tm), NAN, resid  # constant series: p undefined (as scipy.stats.linregress)
    r = sxy / math.sqrt(sxx * syy)
    if r > 1.0:
        r = 1.0
    elif r < -1.0:
        r = -1.0
    tstat = r * math.sqrt((k - 2) / ((1.0 - r + LINREGRESS_TINY) * (1.0 + r + LINREGRESS_TINY)))
    return b, xm + b * (t0 - tm), _p_from_t(tstat, k - 2, lb[k - 2]), resid


# ----------------------------------------------------------------- kernels
@numba.njit(cache=True, nogil=True)
def trend_kernel(x, t, min_valid, variant, zcrit, out, b0, b1):
    """OLS, Mann–Kendall and Theil–Sen per pixel; rows of ``out`` as ``TREND_OUT``.

    OLS of value on time: slope, intercept at t[0], and the two-sided p of the t
    statistic with ν = k − 2, t from r exactly as scipy.stats.linregress (an exact
    line gives p ≈ 0, a constant series slope 0 and p NaN).
    Mann–Kendall: S, Var(S) tie-corrected; ``variant`` (``MK_VARIANTS``) 0 original,
    1 Hamed & Rao (1998, all significant lags of the ranks' ACF, as pymannkendall; with missing
    years lag L pairs the years L calendar years apart, ``_acf_calendar``), 2 Yue &
    Wang (2004) in its AR(1) form (``_ar1_factor``), 3 trend-free pre-whitening (``_tfpw``:
    S, Var(S) and tau of the pre-whitened series), 4 pre-whitening of the series itself
    (``_tfpw`` with slope 0); the series is detrended by the Sen
    slope at the calendar years, and both variance factors are floored at 1.
    ``zcrit`` = Φ⁻¹(1 − α/2) bounds the significant lags of Hamed–Rao. Z with
    continuity correction, p = erfc(|Z|/√2) (NaN when Var(S) = 0 and S ≠ 0).
    Sen slope: median of (x_j − x_i)/(t_j − t_i), i < j (``_median_bracketed``, guessed
    by the OLS slope); intercept (Conover 1980, as pymannkendall): median(x) −
    median(t − t[0]) × slope, median(x) from the ranks the S comparisons give.
    S, the ranks and the slopes come from ``_pairs``: for the complete pixels of a
    block at once (SIMD across pixels, blocks of ``TBLOCK``), for a pixel with missing
    years on its own.
    """
    n, m = x.shape
    npairs = n * (n - 1) // 2
    lb = lbeta_half_table(n)
    tfull = np.empty(n)
    for i in range(n):
        tfull[i] = t[i] - t[0]
    tmed_full = _median_inplace(tfull, n)
    for blk in range(b0, b1):
        p0 = blk * TBLOCK
        nb = min(TBLOCK, m - p0)
        buf = np.empty((TBLOCK, n))
        xb = np.empty((n, TBLOCK))
        s_blk = np.empty(TBLOCK, dtype=np.int64)
        less_blk = np.empty((n, TBLOCK), dtype=np.int64)
        eq_blk = np.empty((n, TBLOCK), dtype=np.int64)
        slopes_t = np.empty((npairs, TBLOCK))
        slopes_blk = np.empty((TBLOCK, npairs))
        x1 = np.empty((n, 1))  # one pixel's (or one pre-whitened) series for _pairs
        s1 = np.empty(1, dtype=np.int64)
        less1 = np.empty((n, 1), dtype=np.int64)
        eq1 = np.empty((n, 1), dtype=np.int64)
        slopes = np.empty(npairs)
        slopes1 = slopes.reshape((npairs, 1))  # the same memory as one column
        xs = np.empty(n)
        ts = np.empty(n)
        tmp = np.empty(n)
        det = np.empty(n)
        acf = np.empty(n)
        rk = np.empty(n)
        work = np.empty(npairs)
        _load(x, p0, nb, buf)
        _load_columns(x, p0, nb, xb)
        _pairs(xb, n, nb, t, s_blk, less_blk, eq_blk, slopes_t)
        _transpose_slopes(slopes_t, npairs, nb, slopes_blk)
        for j in range(nb):
            p = p0 + j
            k = _compact(buf[j], t, xs, ts)
            out[VALID, p] = k
            if k < min_valid or k < MIN_YEARS:
                for v in range(N_TREND):
                    if v != VALID:
                        out[v, p] = NAN
                continue
            b, out[OLS_INTERCEPT, p], out[OLS_P, p], resid = _ols_fit(xs, ts, k, t[0], lb)
            out[OLS_SLOPE, p] = b
            if k == n:  # complete: the block's pass has it all
                s = s_blk[j]
                less, eq, col = less_blk, eq_blk, j
                sl = slopes_blk[j]
            else:
                for i in range(k):
                    x1[i, 0] = xs[i]
                _pairs(x1, k, 1, ts, s1, less1, eq1, slopes1)
                s = s1[0]
                less, eq, col = less1, eq1, 0
                sl = slopes
            q = k * (k - 1) // 2
            var = _s_variance(k, eq, col)
            xmed = _median_from_ranks(xs, k, less, eq, col)
            # Sen: the OLS slope guesses the median of the slopes, the residual scale the bracket's width
            sen = _median_bracketed(sl, q, b, SEN_BRACKET * math.sqrt(resid) / (q * (k + 1)), work)
            if k == n:
                tmed = tmed_full
            else:
                for i in range(k):
                    tmp[i] = ts[i] - t[0]
                tmed = _median_inplace(tmp, k)
            out[SEN_SLOPE, p] = sen
            out[SEN_INTERCEPT, p] = xmed - tmed * sen
            kk = k
            if variant != MK_ORIGINAL and var > 0:
                # detrended by the Sen slope at the calendar years (pymannkendall uses positions
                # 1..n: the same up to a constant when no year is missing)
                for i in range(k):
                    det[i] = xs[i] - (ts[i] - t[0]) * sen
                if variant == MK_HAMED_RAO:
                    _ranks(det, k, rk)
                    if ts[k - 1] - ts[0] == k - 1:  # consecutive years: lags are positions
                        _acf(rk, k, k - 1, acf)
                    else:  # missing years: lag L pairs the years L calendar years apart
                        _acf_calendar(rk, ts, k, k - 1, acf)
                    bound = zcrit / math.sqrt(k)
                    sni = 0.0
                    for i in range(1, k):
                        a_i = acf[i]
                        if math.isfinite(a_i) and not (a_i <= bound and a_i >= -bound):
                            sni += (k - i) * (k - i - 1) * (k - i - 2) * a_i
                    var *= max(1.0 + 2.0 / (k * (k - 1) * (k - 2)) * sni, 1.0)
                elif variant == MK_YUE_WANG:
                    var *= _ar1_factor(_acf1(det, ts, k), k)
                elif variant == MK_TFPW:
                    s, var, kk = _tfpw(det, ts, k, t[0], sen, x1, s1, less1, eq1, slopes1)
                else:  # MK_PW: pre-whitening of the series itself (its lag-1 autocorrelation includes the trend)
                    s, var, kk = _tfpw(xs, ts, k, t[0], 0.0, x1, s1, less1, eq1, slopes1)
            fs = float(s)
            if s > 0:
                z = (fs - 1.0) / math.sqrt(var)
            elif s < 0:
                z = (fs + 1.0) / math.sqrt(var)
            else:
                z = 0.0
            out[MK_S, p] = fs
            out[MK_Z, p] = z
            out[MK_P, p] = math.erfc(abs(z) * SQRT1_2) if var > 0 or s == 0 else NAN
            out[MK_TAU, p] = fs / (0.5 * kk * (kk - 1)) if kk >= 2 else NAN


@numba.njit(cache=True, nogil=True)
def ols_kernel(x, t, min_valid, out, b0, b1):
    """The OLS part of :func:`trend_kernel` alone (what CDO's ``trend`` computes, plus p); rows as ``OLS_OUT``.

    The same operations in the same order (``_ols_fit``), so the numbers are identical;
    reads the (years, pixels) layout one block at a time.
    """
    n, m = x.shape
    lb = lbeta_half_table(n)
    for blk in range(b0, b1):
        p0 = blk * BLOCK
        nb = min(BLOCK, m - p0)
        buf = np.empty((BLOCK, n))
        xs = np.empty(n)
        ts = np.empty(n)
        _load(x, p0, nb, buf)
        for j in range(nb):
            p = p0 + j
            k = _compact(buf[j], t, xs, ts)
            out[O_VALID, p] = k
            if k < min_valid or k < MIN_YEARS:
                out[O_SLOPE, p] = NAN
                out[O_INTERCEPT, p] = NAN
                out[O_P, p] = NAN
                continue
            out[O_SLOPE, p], out[O_INTERCEPT, p], out[O_P, p], _ = _ols_fit(xs, ts, k, t[0], lb)


# ----------------------------------------------------------------- wrappers
def _trend_blocks(blocks, years, min_valid, variant, zcrit):
    x = blocks[0]
    out = np.empty((N_TREND, x.shape[1]))
    over_blocks(trend_kernel, x.shape[1], TBLOCK, x, years, min_valid, variant, zcrit, out)
    return out


def trend(da: xr.DataArray, min_valid=None, mk_variant: str = "original", alpha: float = 0.05) -> xr.Dataset:
    """Linear (OLS) and Theil–Sen trends with the Mann–Kendall test, per pixel.

    OLS of x on the calendar year t: slope θ = Σ(t − t̄)(x − x̄)/Σ(t − t̄)² (units of x per
    year), intercept at the first year, two-sided p of the t statistic with df = n − 2
    (scipy.stats.linregress; a constant series gives slope 0 and p NaN, an exact
    line p = 0).

    Mann–Kendall: S = Σ_{i<j} sign(x_j − x_i); Var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)]/18
    over groups g of exactly tied values; Z = (S − 1)/√Var for S > 0, (S + 1)/√Var for
    S < 0, 0 for S = 0; p = 2(1 − Φ(|Z|)); tau = S/(n(n−1)/2). ``mk_variant`` corrects
    for serial correlation of the series detrended by the Sen slope (docs/science.md
    gives each one's false-positive rate at n = 21):
    ``hamed_rao`` (Hamed & Rao 1998) multiplies Var(S) by 1 + 2/(n(n−1)(n−2)) Σ (n−k)(n−k−1)(n−k−2) ρ_k
    over the lags whose rank autocorrelation ρ_k is significant at ``alpha`` (pymannkendall's
    hamed_rao_modification_test), floored at 1; ``yue_wang`` (Yue & Wang 2004) by the AR(1)
    form 1 + 2 Σ_{k<n} (1 − k/n) ρ₁ᵏ, floored at 1 (pymannkendall sums the sample ACF over all
    lags instead, whose sum is about −½ at n = 21 and shrinks Var(S) to a seventh);
    ``tfpw`` (trend-free pre-whitening, Yue et al. 2002; pymannkendall's
    trend_free_pre_whitening_modification_test) tests y_t = d_t − ρ₁ d_{t−1} + slope × t
    (n − 1 values), which does not control false positives on AR(1) noise (the Sen slope it
    adds back is that of the noisy series); ``pw`` (pre-whitening, von Storch 1995;
    pymannkendall's pre_whitening_modification_test) tests x_t − ρ₁ x_{t−1} with ρ₁ of the series
    itself. The detrending and the lag pairs use the calendar years: with missing years, the lag-k
    autocorrelations (ρ_k of the ranks, ρ₁) sum over the pairs of years exactly k calendar years apart
    (a pair with a missing year drops out) and divide by the variance of all n valid values; n is
    the number of valid years.
    Theil–Sen: slope = median over i < j of (x_j − x_i)/(t_j − t_i) per year (Sen 1968);
    intercept median(x) − median(t − t₁) × slope (Conover 1980, pymannkendall).

    Parameters
    ----------
    da : annual values (year, ...), e.g. NEP in g C m-2 yr-1.
    min_valid : minimum number of finite years (None: all).
    mk_variant : original, hamed_rao, yue_wang, tfpw or pw.
    alpha : significance level of Hamed–Rao's significant-lag test.

    Returns
    -------
    Dataset: ols_slope, ols_intercept, ols_p, sen_slope, sen_intercept, mk_s, mk_z,
    mk_p, mk_tau, valid_years.
    """
    if mk_variant not in MK_VARIANTS:
        raise NepflowError(f"config key analysis.mk_variant: {mk_variant!r}; expected one of {', '.join(MK_VARIANTS)}")
    years = years_of(da)
    mv = min_valid_years(len(years), min_valid)
    zcrit = NormalDist().inv_cdf(1 - alpha / 2)  # stdlib: scipy.stats costs 0.8 s of import per job
    func = functools.partial(_trend_blocks, years=years, min_valid=mv, variant=MK_VARIANTS[mk_variant], zcrit=zcrit)
    out = map_pixels(func, [da], TREND_OUT)
    methods = {
        "ols": "ordinary least squares on the calendar year, two-sided t-test (df = n - 2)",
        "sen": "Theil-Sen: median of all pairwise slopes",
        "mk": f"Mann-Kendall test ({mk_variant} variance)",
        "valid": "count of the years with a finite value",
    }
    ds = dataset(out, {n: {"method": methods[n.split("_")[0]], "min_valid_years": mv} for n in TREND_OUT})
    ds["mk_p"].attrs["mk_variant"] = mk_variant
    return ds


def _ols_blocks(blocks, years, min_valid):
    x = blocks[0]
    out = np.empty((len(OLS_OUT), x.shape[1]))
    over_blocks(ols_kernel, x.shape[1], BLOCK, x, years, min_valid, out)
    return out


def linear_trend(da: xr.DataArray, min_valid=None) -> xr.Dataset:
    """The OLS trend alone: slope, intercept and t-test p per pixel (the statistic CDO's ``trend`` computes).

    Identical to the ``ols_*`` variables of :func:`trend` (same definitions, same
    arithmetic), without Mann–Kendall and Theil–Sen: for users who need only the
    linear trend, and for the benchmark against CDO.

    Returns
    -------
    Dataset: ols_slope (units of x per year), ols_intercept (at the first year), ols_p, valid_years.
    """
    years = years_of(da)
    mv = min_valid_years(len(years), min_valid)
    func = functools.partial(_ols_blocks, years=years, min_valid=mv)
    out = map_pixels(func, [da], OLS_OUT)
    method = {"method": "OLS on calendar year", "min_valid_years": mv}
    return dataset(out, {n: method for n in OLS_OUT if n != "valid_years"})
