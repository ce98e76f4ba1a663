"""numba kernels: per-pixel statistics read straight from the (years, pixels) layout.

Every public kernel takes ``x`` of shape (n, m) — n years, m pixels, C-contiguous,
float32 or float64: the (year, y, x) cube reshaped without a copy — and writes
into ``out`` (k, m) float64, one row per output map. Pixels are processed in
blocks of ``BLOCK`` in parallel (``prange`` over blocks): a block is transposed
into a small float64 scratch buffer (pixels, years) — the only upcast, so the
cube is never copied as a whole — and each pixel's series is then contiguous.
Scratch buffers are allocated once per block, never per pixel. Work that needs no
per-pixel series (stability, the correlation's sums, the R/S statistics and the
Mann–Kendall pairs of complete pixels) runs SIMD across the pixels of a block,
reading each year's row as stored; every pixel's sums still run over its years in
order, so the numbers are those of a per-pixel loop.

Missing values (NaN) are dropped pixel by pixel, keeping the time positions of
the rest; a pixel with fewer than ``min_valid`` finite values gives NaN. The
wrappers in ``__init__`` decide ``min_valid`` (all years by default).

p-values are computed in the kernels:
- Student t (OLS slope, Pearson and partial correlation): the two-sided p is the
  regularized incomplete beta I_x(ν/2, 1/2) with x = ν/(ν + t²) (Abramowitz &
  Stegun 26.7.1, 26.5.27). For x ≥ min(1/2, 10^(−12/ν)) (p ≳ 1e-7) it is 1 − A(t|ν)
  with A's finite series for integer ν (A&S 26.7.3–4, the series of cephes'
  ``stdtr``, ~ν/2 terms); below, the power series I_x(a,b) = x^a (1−x)^b / (a B(a,b)) ·
  Σ_k (a+b)_k/(a+1)_k x^k (DLMF 8.17.E8, term ratio < x), which keeps small p
  accurate in relative terms. Both agree with scipy.special.stdtr
  to 1e-13 absolute and 2e-9 relative (tests/test_stats_kernels.py).
- Normal (Mann–Kendall): p = 2(1 − Φ(|Z|)) = erfc(|Z|/√2).

Why numba rather than the reference libraries: a per-pixel Python loop over
scipy/pymannkendall costs milliseconds per pixel (hours for a 500 m grid);
these kernels are about a thousand times faster (benchmarks/bench_stats.py).
"""
from __future__ import annotations

import math

import numba
import numpy as np

NAN = np.nan
BLOCK = 128  # pixels per parallel task: a (BLOCK, n) float64 scratch block stays in L1/L2
SQRT1_2 = 0.7071067811865476
TWO_OVER_PI = 0.6366197723675814
LGAMMA_HALF = 0.5723649429247001  # ln Γ(1/2) = ln √π


@numba.njit(cache=True, nogil=True)
def _load(x, p0, nb, buf):
    """buf[j, i] = x[i, p0 + j] for j < nb: transpose (and upcast) one block of pixels."""
    n = x.shape[0]
    for i in range(n):
        row = x[i]
        for j in range(nb):
            buf[j, i] = row[p0 + j]


@numba.njit(cache=True, nogil=True)
def _compact(row, t, xs, ts):
    """Copy the finite values of ``row`` and their times into xs/ts; return their count."""
    k = 0
    for i in range(row.shape[0]):
        v = row[i]
        if not math.isnan(v):
            xs[k] = v
            ts[k] = t[i]
            k += 1
    return k


# ----------------------------------------------------------------- distributions
@numba.njit(cache=True, nogil=True)
def lbeta_half_table(n):
    """ln B(ν/2, 1/2) for ν = 0..n (index ν; entry 0 unused)."""
    out = np.full(n + 1, NAN)
    for nu in range(1, n + 1):
        a = 0.5 * nu
        out[nu] = math.lgamma(a) + LGAMMA_HALF - math.lgamma(a + 0.5)
    return out


@numba.njit(cache=True, nogil=True)
def t_two_sided(x, y, nu, lbeta):
    """Two-sided Student-t p for integer ν: I_x(ν/2, 1/2), x = ν/(ν + t²), y = 1 − x = t²/(ν + t²).

    ``lbeta`` = ln B(ν/2, 1/2). NaN in, NaN out; x = 0 (|t| = ∞) gives 0.
    """
    if math.isnan(x) or math.isnan(y) or nu < 1:
        return NAN
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    if x >= min(0.5, math.exp(-27.631021115928547 / nu)):
        # 1 − A(t|ν), A&S 26.7.3 (odd ν) and 26.7.4 (even ν); cos²θ = x, sin²θ = y.
        # Used while x ≥ 10^(−12/ν) (x^(ν/2) ≥ 1e-6, so p ≳ 1e-7): the subtraction
        # then costs at most ~1e-9 relative, and the slower power series is needed
        # only for the far tail.
        f = 1.0
        tz = 1.0
        if nu % 2 == 1:
            j = 3
            while j <= nu - 2:
                tz *= (j - 1) / j * x
                f += tz
                j += 2
            s = math.sqrt(y / x)  # tan θ = |t|/√ν
            a = math.atan(s)
            if nu > 1:
                a += f * s * x
            return 1.0 - TWO_OVER_PI * a
        j = 2
        while j <= nu - 2:
            tz *= (j - 1) / j * x
            f += tz
            j += 2
        return 1.0 - f * math.sqrt(y)
    a = 0.5 * nu
    term = 1.0
    total = 1.0
    k = 0.0
    while True:
        term *= x * (a + 0.5 + k) / (a + 1.0 + k)
        total += term
        if term <= 1e-17 * total:
            break
        k += 1.0
    return math.exp(a * math.log(x) - lbeta) * math.sqrt(y) / a * total


@numba.njit(cache=True, nogil=True)
def _p_from_r(r, nu, lbeta):
    """Two-sided p of a correlation r with ν degrees of freedom (t = r√[ν/(1 − r²)])."""
    if math.isnan(r):
        return NAN
    if abs(r) >= 1.0:
        return 0.0
    return t_two_sided((1.0 - r) * (1.0 + r), r * r, nu, lbeta)


@numba.njit(cache=True, nogil=True)
def _p_from_t(t, nu, lbeta):
    if math.isnan(t):
        return NAN
    if math.isinf(t):
        return 0.0
    tt = t * t
    return t_two_sided(nu / (nu + tt), tt / (nu + tt), nu, lbeta)


@numba.njit(cache=True, nogil=True)
def t_two_sided_vec(t, nu):
    """Two-sided Student-t p of arrays t and ν (tests and diagnostics; serial, so it compiles fast)."""
    lb = lbeta_half_table(int(nu.max()) if nu.size else 1)
    out = np.empty(t.shape[0])
    for i in range(t.shape[0]):
        out[i] = _p_from_t(t[i], int(nu[i]), lb[int(nu[i])])
    return out


# ----------------------------------------------------------------- small helpers
@numba.njit(cache=True, nogil=True)
def _select_inplace(a, q, h):
    """The h-th smallest (0-based) of a[:q], reordering a in place so that a[:h] ≤ a[h] ≤ a[h+1:q].

    Quickselect with branchless Lomuto partitions (median-of-3 pivot): the data are
    random, so a branchy partition mispredicts about every other comparison; here
    the only data-dependent work is an add of the comparison result. A partition
    that makes no progress (the pivot is the smallest value, e.g. tied slopes) is
    followed by one that splits off the values equal to the pivot. Ranges of ≤ 16
    finish with an insertion sort.
    """
    lo = 0
    hi = q
    while hi - lo > 16:
        x0 = a[lo]
        x1 = a[(lo + hi) >> 1]
        x2 = a[hi - 1]
        pivot = max(min(x0, x1), min(max(x0, x1), x2))
        j = lo
        for i in range(lo, hi):
            v = a[i]
            a[i] = a[j]
            a[j] = v
            j += v < pivot
        if h < j:
            hi = j
            continue
        if j == lo:  # nothing below the pivot: split off the values equal to it
            for i in range(lo, hi):
                v = a[i]
                a[i] = a[j]
                a[j] = v
                j += v == pivot
            if h < j:
                return a[h]
        lo = j
    for i in range(lo + 1, hi):
        v = a[i]
        jj = i - 1
        while jj >= lo and a[jj] > v:
            a[jj + 1] = a[jj]
            jj -= 1
        a[jj + 1] = v
    return a[h]


@numba.njit(cache=True, nogil=True)
def _median_inplace(a, q):
    """Median of a[:q], reordering a in place (no copy)."""
    h = q // 2
    upper = _select_inplace(a, q, h)
    if q % 2 == 1:
        return upper
    lower = a[0]
    for i in range(1, h):
        lower = max(lower, a[i])
    return 0.5 * (lower + upper)


@numba.njit(cache=True, nogil=True)
def _split_median(a, q, pivot):
    """Median of a[:q] when exactly q // 2 values are < pivot (even q): mean of max below and min at/above."""
    lower = -np.inf
    upper = np.inf
    for i in range(q):
        v = a[i]
        if v < pivot:
            lower = max(lower, v)
        else:
            upper = min(upper, v)
    return 0.5 * (lower + upper)


@numba.njit(cache=True, nogil=True)
def _count_below(a, q, p1, p2):
    """#(a[:q] < p1), #(a[:q] < p2) in one vectorised pass."""
    c1 = 0
    c2 = 0
    for i in range(q):
        v = a[i]
        c1 += v < p1
        c2 += v < p2
    return c1, c2


@numba.njit(cache=True, nogil=True)
def _compress(a, q, lo_v, hi_v, work):
    """Copy the values of a[:q] in [lo_v, hi_v) to work (branchless); return their count."""
    cnt = 0
    for i in range(q):
        v = a[i]
        work[cnt] = v
        cnt += (v >= lo_v) & (v < hi_v)
    return cnt


@numba.njit(cache=True, nogil=True)
def _rank_pick(work, cnt, rr1, rr2):
    """The rr1-th and rr2-th smallest of work[:cnt] by counting ranks (branchless, exact with ties):
    work[e] is the rr-th smallest when #(< it) ≤ rr < #(≤ it)."""
    lower = NAN
    upper = NAN
    for e in range(cnt):
        v = work[e]
        lt = 0
        le = 0
        for f in range(cnt):
            u = work[f]
            lt += u < v
            le += u <= v
        if lt <= rr2 < le:
            upper = v
        if lt <= rr1 < le:
            lower = v
    return lower, upper


@numba.njit(cache=True, nogil=True)
def _median_bracketed(a, q, guess, w, work):
    """Median of the finite values a[:q], exact, using a guess of it and a scale ``w``.

    Counting passes (no data movement, vectorised) narrow a value bracket [L, U)
    that holds the middle order statistics, starting from [guess − w, guess + w];
    the values inside (about 25 of the 210 pairwise slopes at n = 21) are copied to
    ``work`` and the middle ones found there by counting ranks (or, for more than 64
    values, ``_select_inplace``'s quickselect); both handle ties. A bad guess or
    scale only costs extra passes; the result is the same as a full selection:
    0.5 (a_(q/2−1) + a_(q/2)) for even q, a_(q//2) for odd q.
    """
    h = q // 2
    r1 = h - 1 if q % 2 == 0 else h
    r2 = h
    lo_v = -np.inf
    c_lo = 0
    hi_v = np.inf
    c_hi = q
    if math.isfinite(guess) and w > 0 and math.isfinite(w):
        p1 = guess - w
        p2 = guess + w
        for _ in range(6):
            c1, c2 = _count_below(a, q, p1, p2)
            if r1 < c1 <= r2:
                return _split_median(a, q, p1)
            if r1 < c2 <= r2:
                return _split_median(a, q, p2)
            if c1 <= r1 and p1 > lo_v:
                lo_v = p1
                c_lo = c1
            if c2 <= r1 and p2 > lo_v:
                lo_v = p2
                c_lo = c2
            if c1 > r2 and p1 < hi_v:
                hi_v = p1
                c_hi = c1
            if c2 > r2 and p2 < hi_v:
                hi_v = p2
                c_hi = c2
            if c_hi - c_lo <= 40:
                break
            if math.isfinite(lo_v) and math.isfinite(hi_v):
                span = (hi_v - lo_v) / (c_hi - c_lo)
                p1 = lo_v + span * max(r1 - c_lo - 6, 0.5)
                p2 = hi_v - span * max(c_hi - r2 - 6, 0.5)
            elif math.isfinite(hi_v):  # every pivot above the middle: step down
                w *= 4.0
                p2 = hi_v - 0.25 * w
                p1 = hi_v - w
            else:
                w *= 4.0
                p1 = lo_v + 0.25 * w
                p2 = lo_v + w
    cnt = _compress(a, q, lo_v, hi_v, work)
    # work[:cnt] holds ranks c_lo .. c_hi - 1 of a
    rr1 = r1 - c_lo
    rr2 = r2 - c_lo
    if cnt <= 64:
        lower, upper = _rank_pick(work, cnt, rr1, rr2)
        return upper if r1 == r2 else 0.5 * (lower + upper)
    upper = _select_inplace(work, cnt, rr2)
    if r1 == r2:
        return upper
    lower = work[0]
    for i in range(1, rr2):
        lower = max(lower, work[i])
    return 0.5 * (lower + upper)


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
def _acf(a, k, nlags, out):
    """Autocorrelation of a[:k] at lags 0..nlags (biased, as pymannkendall's __acf)."""
    mean = 0.0
    for i in range(k):
        mean += a[i]
    mean /= k
    c0 = 0.0
    for i in range(k):
        c0 += (a[i] - mean) ** 2
    for lag in range(nlags + 1):
        c = 0.0
        for i in range(k - lag):
            c += (a[i] - mean) * (a[i + lag] - mean)
        out[lag] = c / c0 if c0 > 0 else NAN


# ----------------------------------------------------------------- trend
@numba.njit(cache=True, nogil=True)
def _acf1(d, ts, k):
    """Lag-1 autocorrelation of d[:k] at times ts (biased, as pymannkendall's __acf): the lag-1 sum runs
    over the pairs one calendar year apart, the variance over all k values; NaN for a constant series."""
    mean = 0.0
    for i in range(k):
        mean += d[i]
    mean /= k
    c0 = 0.0
    c1 = 0.0
    for i in range(k):
        c0 += (d[i] - mean) ** 2
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
def _tfpw(det, ts, k, t0, sen, ys):
    """Trend-free pre-whitening (Yue et al. 2002, as pymannkendall's trend_free_pre_whitening_modification_test):
    y_i = d_i − r1 d_{i−1} + sen (t_i − t0) for the years whose previous year is present, d the Sen-detrended
    series and r1 its lag-1 autocorrelation (0 if undefined); returns the tie-corrected S, Var(S) of y and
    its length. With ``det`` the series itself and ``sen`` 0: pre-whitening (von Storch 1995,
    pymannkendall's pre_whitening_modification_test)."""
    r1 = _acf1(det, ts, k)
    if not math.isfinite(r1):
        r1 = 0.0
    c = 0
    for i in range(1, k):
        if ts[i] - ts[i - 1] == 1.0:
            ys[c] = det[i] - r1 * det[i - 1] + (ts[i] - t0) * sen
            c += 1
    s = 0
    ties = 0
    for i in range(c):
        e = 0
        for j in range(c):
            d = ys[j] - ys[i]
            if j > i:
                s += (d > 0) - (d < 0)
            e += (d == 0) & (j != i)
        ties += e * (2 * e + 7)
    var = (c * (c - 1) * (2 * c + 5) - ties) / 18.0
    return s, var, c


@numba.njit(cache=True, nogil=True)
def _pairs_block(x, p0, nb, t, xb, s_blk, less_blk, eq_blk, slopes_t, slopes_blk):
    """Mann–Kendall pair statistics of a block of pixels, SIMD across pixels (for complete pixels).

    xb (n, TBLOCK) receives the block as float64; s_blk[j] = S, less_blk[i, j] =
    #{x_j' < x_i}, eq_blk[i, j] = #{i' ≠ i: x_i' = x_i}, and slopes_blk[j] the 210
    pairwise slopes (x_j − x_i)/(t_j − t_i), i < j, in the per-pixel order (computed
    in slopes_t (pairs, TBLOCK), then transposed in tiles). Pixels with NaN get
    garbage, which the caller does not use.
    """
    n = x.shape[0]
    for i in range(n):
        row = x[i]
        for j in range(nb):
            xb[i, j] = row[p0 + j]
            less_blk[i, j] = 0
            eq_blk[i, j] = 0
    for j in range(nb):
        s_blk[j] = 0
    pr = 0
    for i in range(n - 1):
        xi = xb[i]
        li = less_blk[i]
        ei = eq_blk[i]
        for jj in range(i + 1, n):
            xj = xb[jj]
            lj = less_blk[jj]
            ej = eq_blk[jj]
            dt = t[jj] - t[i]
            srow = slopes_t[pr]
            for j in range(nb):
                d = xj[j] - xi[j]
                gt = d > 0
                lt = d < 0
                e = d == 0
                s_blk[j] += gt
                s_blk[j] -= lt
                lj[j] += gt
                li[j] += lt
                ej[j] += e
                ei[j] += e
                srow[j] = d / dt
            pr += 1
    for q0 in range(0, pr, 8):
        q1 = min(q0 + 8, pr)
        for j in range(nb):
            for qq in range(q0, q1):
                slopes_blk[j, qq] = slopes_t[qq, j]


TBLOCK = 64  # pixels per block in trend: two (210, 64) float64 slope buffers stay in L2


#: rows of trend's ``out``
TREND_OUT = ("ols_slope", "ols_intercept", "ols_p", "sen_slope", "sen_intercept", "mk_s", "mk_z", "mk_p", "mk_tau",
             "valid_years")


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
    tiny = 1.0e-20
    tstat = r * math.sqrt((k - 2) / ((1.0 - r + tiny) * (1.0 + r + tiny)))
    return b, xm + b * (t0 - tm), _p_from_t(tstat, k - 2, lb[k - 2]), resid


@numba.njit(parallel=True, cache=True, nogil=True)
def trend(x, t, min_valid, variant, zcrit, out):
    """OLS, Mann–Kendall and Theil–Sen per pixel; rows of ``out`` as ``TREND_OUT``.

    OLS of value on time: slope, intercept at t[0], and the two-sided p of the t
    statistic with ν = k − 2, t from r exactly as scipy.stats.linregress (an exact
    line gives p ≈ 0, a constant series slope 0 and p NaN).
    Mann–Kendall: S, Var(S) tie-corrected; ``variant`` 0 original, 1 Hamed & Rao
    (1998, all significant lags of the ranks' ACF, as pymannkendall), 2 Yue & Wang
    (2004) in its AR(1) form (``_ar1_factor``), 3 trend-free pre-whitening (``_tfpw``:
    S, Var(S) and tau of the pre-whitened series), 4 pre-whitening of the series itself
    (``_tfpw`` with slope 0); the series is detrended by the Sen
    slope at the calendar years, and both variance factors are floored at 1.
    ``zcrit`` = Φ⁻¹(1 − α/2) bounds the significant lags of Hamed–Rao. Z with
    continuity correction, p = erfc(|Z|/√2) (NaN when Var(S) = 0 and S ≠ 0).
    Sen slope: median of (x_j − x_i)/(t_j − t_i), i < j (``_median_bracketed``, guessed
    by the OLS slope); intercept (Conover 1980, as pymannkendall): median(x) −
    median(t − t[0]) × slope, median(x) from the ranks the S comparisons give.
    Complete pixels get S, the ranks and the slopes from ``_pairs_block`` (SIMD across
    pixels, blocks of ``TBLOCK``); pixels with missing years pixel by pixel — the
    same operations either way.
    """
    n, m = x.shape
    npairs = n * (n - 1) // 2
    lb = lbeta_half_table(n)
    tfull = np.empty(n)
    for i in range(n):
        tfull[i] = t[i] - t[0]
    tmed_full = _median_inplace(tfull, n)
    nblocks = (m + TBLOCK - 1) // TBLOCK
    for blk in numba.prange(nblocks):
        p0 = blk * TBLOCK
        nb = min(TBLOCK, m - p0)
        buf = np.empty((TBLOCK, n))
        xb = np.empty((n, TBLOCK))
        s_blk = np.empty(TBLOCK, dtype=np.int64)
        less_blk = np.empty((n, TBLOCK), dtype=np.int64)
        eq_blk = np.empty((n, TBLOCK), dtype=np.int64)
        slopes_t = np.empty((npairs, TBLOCK))
        slopes_blk = np.empty((TBLOCK, npairs))
        xs = np.empty(n)
        ts = np.empty(n)
        tmp = np.empty(n)
        slopes = np.empty(npairs)
        det = np.empty(n)
        acf = np.empty(n)
        rk = np.empty(n)
        work = np.empty(npairs)
        less = np.zeros(n, dtype=np.int64)
        eq = np.zeros(n, dtype=np.int64)
        _load(x, p0, nb, buf)
        _pairs_block(x, p0, nb, t, xb, s_blk, less_blk, eq_blk, slopes_t, slopes_blk)
        for j in range(nb):
            p = p0 + j
            k = _compact(buf[j], t, xs, ts)
            out[9, p] = k
            if k < min_valid or k < 3:
                for v in range(9):
                    out[v, p] = NAN
                continue
            # --- OLS
            b, out[1, p], out[2, p], resid = _ols_fit(xs, ts, k, t[0], lb)
            out[0, p] = b
            # --- Mann-Kendall S, pairwise slopes, and the ranks of the values (for their
            # median and tie groups) from the same comparisons: less[i] = #{x_j < x_i},
            # eq[i] = #{j ≠ i: x_j = x_i}; vectorised over j, no sort
            if k == n:  # complete: the block's SIMD pass has it all
                s = s_blk[j]
                for i in range(k):
                    less[i] = less_blk[i, j]
                    eq[i] = eq_blk[i, j]
                sl = slopes_blk[j]
                base = npairs
            else:
                sl = slopes
                for i in range(k):
                    less[i] = 0
                    eq[i] = 0
                s = 0
                base = 0
                for i in range(k - 1):
                    xi = xs[i]
                    ti = ts[i]
                    li = 0
                    ei = 0
                    for jj in range(i + 1, k):
                        d = xs[jj] - xi
                        gt = d > 0
                        lt = d < 0
                        e = d == 0
                        s += gt
                        s -= lt
                        li += lt
                        less[jj] += gt
                        ei += e
                        eq[jj] += e
                        slopes[base + jj - i - 1] = d / (ts[jj] - ti)
                    less[i] += li
                    eq[i] += ei
                    base += k - 1 - i
            q = base
            ties = 0  # Σ_g t_g (t_g − 1)(2 t_g + 5) = Σ_i eq_i (2 eq_i + 7)
            r_lo = (k - 1) // 2
            r_hi = k // 2
            x_lo = NAN
            x_hi = NAN
            for i in range(k):
                e = eq[i]
                ties += e * (2 * e + 7)
                if less[i] <= r_lo <= less[i] + e:
                    x_lo = xs[i]
                if less[i] <= r_hi <= less[i] + e:
                    x_hi = xs[i]
            xmed = x_hi if k % 2 == 1 else 0.5 * (x_lo + x_hi)
            var = (k * (k - 1) * (2 * k + 5) - ties) / 18.0
            # Sen: the OLS slope guesses the median of the slopes; the residual scale
            # gives the width holding about 25 of them (density of pairwise slopes of
            # Gaussian noise at their centre: (k + 1) / (6 √π σ) per pair and unit slope)
            sres = math.sqrt(resid)
            sen = _median_bracketed(sl, q, b, 127.6 * sres / (q * (k + 1)), work)
            if k == n:
                tmed = tmed_full
            else:
                for i in range(k):
                    tmp[i] = ts[i] - t[0]
                tmed = _median_inplace(tmp, k)
            out[3, p] = sen
            out[4, p] = xmed - tmed * sen
            kk = k
            if variant != 0 and var > 0:
                # detrended by the Sen slope at the calendar years (pymannkendall uses positions
                # 1..n: the same up to a constant when no year is missing)
                for i in range(k):
                    det[i] = xs[i] - (ts[i] - t[0]) * sen
                if variant == 1:
                    _ranks(det, k, rk)
                    _acf(rk, k, k - 1, acf)
                    bound = zcrit / math.sqrt(k)
                    sni = 0.0
                    for i in range(1, k):
                        a_i = acf[i]
                        if math.isfinite(a_i) and not (a_i <= bound and a_i >= -bound):
                            sni += (k - i) * (k - i - 1) * (k - i - 2) * a_i
                    var *= max(1.0 + 2.0 / (k * (k - 1) * (k - 2)) * sni, 1.0)
                elif variant == 2:
                    var *= _ar1_factor(_acf1(det, ts, k), k)
                elif variant == 3:
                    s, var, kk = _tfpw(det, ts, k, t[0], sen, tmp)
                else:  # pre-whitening of the series itself (its lag-1 autocorrelation includes the trend)
                    s, var, kk = _tfpw(xs, ts, k, t[0], 0.0, tmp)
            fs = float(s)
            fs = float(s)
            if s > 0:
                z = (fs - 1.0) / math.sqrt(var)
            elif s < 0:
                z = (fs + 1.0) / math.sqrt(var)
            else:
                z = 0.0
            out[5, p] = fs
            out[6, p] = z
            out[7, p] = math.erfc(abs(z) * SQRT1_2) if var > 0 or s == 0 else NAN
            out[8, p] = fs / (0.5 * kk * (kk - 1)) if kk >= 2 else NAN


# ----------------------------------------------------------------- Hurst
@numba.njit(cache=True, nogil=True)
def _slope(lx, ly, q):
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
    """R/S Hurst exponent over growing prefixes τ = 2..k (docs/science.md); NaN if < 3 usable τ."""
    q = 0
    for tau in range(2, k + 1):
        mean = 0.0
        for i in range(tau):
            mean += xs[i]
        mean /= tau
        cum = 0.0
        cmax = -np.inf
        cmin = np.inf
        ss = 0.0
        for i in range(tau):
            d = xs[i] - mean
            cum += d
            ss += d * d
            cmax = max(cmax, cum)
            cmin = min(cmin, cum)
        r = cmax - cmin
        if r > 0 and ss > 0:
            lx[q] = logtau[tau]
            ly[q] = 0.5 * math.log(r * r * tau / ss)  # ln(R/S), S = √(ss/τ)
            q += 1
    if q < 3:
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
            off = sidx * w
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
                if cum > cmax:
                    cmax = cum
                if cum < cmin:
                    cmin = cum
            r = cmax - cmin
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

    The same operations, in the same order per pixel, as ``_hurst_prefix``: the
    prefix sum grows by one year per τ (= the sequential sum of the first τ values),
    and unusable τ (R = 0 or S = 0) add exact zeros to the fit's sums.
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
            hout[j] = sxy[j] / sxx[j] if cnt[j] >= 3 else NAN


@numba.njit(parallel=True, cache=True, nogil=True)
def hurst(x, min_valid, estimator, nvals, expected, null, kmin, out):
    """Hurst exponent, white-noise p and valid count per pixel (rows of ``out``: hurst, hurst_p, valid_years).

    ``estimator`` 0 = R/S on growing prefixes, 1 = averaged windows (nolds).
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
    nblocks = (m + BLOCK - 1) // BLOCK
    t = np.arange(n).astype(np.float64)
    logtau = np.empty(n + 1)
    for tau in range(1, n + 1):
        logtau[tau] = math.log(tau)
    for blk in numba.prange(nblocks):
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
            if cnt[j] == n and n >= min_valid and n >= 3:
                ok[j] = estimator == 0
                anyfull = anyfull or ok[j]
            if cnt[j] >= min_valid and cnt[j] >= 3 and not ok[j]:
                partial = True
        if anyfull:
            _hurst_prefix_block(xb, nb, ok, logtau, ly, h)
        if partial:
            _load(x, p0, nb, buf)
            for j in range(nb):
                k = cnt[j]
                if ok[j] or k < min_valid or k < 3:
                    continue
                _compact(buf[j], t, xs, ts)
                if estimator == 0:
                    h[j] = _hurst_prefix(xs, k, lx, lyy, logtau)
                else:
                    h[j] = _hurst_avg(xs, k, nvals, expected, lx, lyy)
        for j in range(nb):
            p = p0 + j
            k = cnt[j]
            hv = h[j]
            out[0, p] = hv
            out[2, p] = k
            if math.isnan(hv) or k < kmin:
                out[1, p] = NAN
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
            out[1, p] = (nsur - lo + 1.0) / (nsur + 1.0)


# ----------------------------------------------------------------- OLS alone
OLS_OUT = ("ols_slope", "ols_intercept", "ols_p", "valid_years")


@numba.njit(parallel=True, cache=True, nogil=True)
def ols(x, t, min_valid, out):
    """The OLS part of :func:`trend` alone (what CDO's ``trend`` computes, plus p); rows as ``OLS_OUT``.

    The same operations in the same order as :func:`trend`'s OLS, so the numbers
    are identical; reads the (years, pixels) layout one block at a time.
    """
    n, m = x.shape
    lb = lbeta_half_table(n)
    nblocks = (m + BLOCK - 1) // BLOCK
    for blk in numba.prange(nblocks):
        p0 = blk * BLOCK
        nb = min(BLOCK, m - p0)
        buf = np.empty((BLOCK, n))
        xs = np.empty(n)
        ts = np.empty(n)
        _load(x, p0, nb, buf)
        for j in range(nb):
            p = p0 + j
            k = _compact(buf[j], t, xs, ts)
            out[3, p] = k
            if k < min_valid or k < 3:
                out[0, p] = NAN
                out[1, p] = NAN
                out[2, p] = NAN
                continue
            out[0, p], out[1, p], out[2, p], _ = _ols_fit(xs, ts, k, t[0], lb)


# ----------------------------------------------------------------- moments
@numba.njit(parallel=True, cache=True, nogil=True)
def moments(x, min_valid, ddof, out):
    """Mean, standard deviation (``ddof``), CV = std/mean (NaN where mean ≤ 0) and valid count per pixel.

    Reads the (years, pixels) layout directly: the inner loops run over contiguous
    pixels of one year. Rows of ``out``: nep_mean, nep_std, cv, valid_years.
    """
    n, m = x.shape
    nblocks = (m + BLOCK - 1) // BLOCK
    for blk in numba.prange(nblocks):
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
            out[3, p] = k
            if k < min_valid or k <= ddof or k == 0:
                out[0, p] = NAN
                out[1, p] = NAN
                out[2, p] = NAN
                continue
            mu = acc[j]
            sd = math.sqrt(ss[j] / (k - ddof))
            out[0, p] = mu
            out[1, p] = sd
            out[2, p] = sd / mu if mu > 0 else NAN


# ----------------------------------------------------------------- correlation
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


@numba.njit(parallel=True, cache=True, nogil=True)
def correlations(y, f, min_valid, out, dof_lost=0):
    """Pearson r of y with each factor, the partial r controlling for the other factors, and their p.

    y: (n, m); f: tuple of q factors, each (n, m), same dtype. A year counts when y
    and every factor are finite. Partial correlations come from the inverse P of the
    (q+1)×(q+1) correlation matrix, r_{y,i·rest} = −P_{y,i} / √(P_{y,y} P_{i,i}),
    which equals the correlation of the OLS residuals (with intercept) on the
    controls (pingouin.partial_corr's definition). p: Student t with ν = k − 2
    (Pearson, = scipy.stats.pearsonr) and ν = k − 2 − (q − 1) (partial), each less
    ``dof_lost`` (the parameters removed from the series beforehand, e.g. 1 for a trend).
    Rows of ``out``: for each factor j, 4j: r, 4j+1: p of r, 4j+2: partial r,
    4j+3: its p; the last row is the count of valid years.

    Means and the (two-pass, centred) covariances are accumulated for a block of
    pixels at once, reading each year's row of pixels as stored (SIMD across
    pixels); each pixel's sums still run over its years in order, so the numbers
    are those of a per-pixel loop. Invalid years add exact zeros.
    """
    n, m = y.shape
    q = len(f)
    d = q + 1
    npair = d * (d + 1) // 2
    nblocks = (m + BLOCK - 1) // BLOCK
    lb = lbeta_half_table(n)
    for blk in numba.prange(nblocks):
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
            for v in range(4 * q):
                out[v, p] = NAN
            k = cnt[j]
            out[4 * q, p] = k
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
                out[4 * (jj - 1), p] = r
                out[4 * (jj - 1) + 1, p] = _p_from_r(r, k - 2 - dof_lost, lb[k - 2 - dof_lost])
            if degenerate:
                continue
            for a in range(d):
                for b in range(d):
                    corr[a, b] = c[a, b] / math.sqrt(c[a, a] * c[b, b])
            if abs(_invert(corr, prec, d)) < 1e-14:
                continue
            nu = k - 2 - (q - 1) - dof_lost
            for jj in range(1, d):
                r = -prec[0, jj] / math.sqrt(prec[0, 0] * prec[jj, jj])
                out[4 * (jj - 1) + 2, p] = r
                out[4 * (jj - 1) + 3, p] = _p_from_r(r, nu, lb[nu])


# ----------------------------------------------------------------- Benjamini-Hochberg
RADIX_BITS = 11  # 3 passes over the top 32 key bits; 2048 buckets keep the scatter in cache


@numba.njit(cache=True, nogil=True)
def bh_qvalues(p):
    """Benjamini–Hochberg q of the finite p-values ``p`` (1-D float64 in [0, 1]).

    Sort: a stable LSD radix argsort (11-bit digits, passes with a constant digit
    skipped) of the top 32 bits of the IEEE patterns — order-preserving for
    non-negative doubles, so the result is sorted up to runs of equal top bits —
    then one insertion pass on the full values finishes those short runs. Then
    q_(i) = p_(i) · (m / i), the running minimum from the largest i down, clipped to
    1 — the arithmetic of scipy.stats.false_discovery_control. Ties get the same q
    whatever their order.
    """
    m = p.shape[0]
    nb = 1 << RADIX_BITS
    mask = np.uint32(nb - 1)
    npass = (32 + RADIX_BITS - 1) // RADIX_BITS
    keys = np.empty(m, dtype=np.uint32)
    bits = p.view(np.uint64)
    for i in range(m):
        keys[i] = np.uint32(bits[i] >> np.uint64(32)) if p[i] > 0.0 else np.uint32(0)  # -0.0 sorts as 0
    idx = np.arange(m).astype(np.int32)  # fdr_bh checks m < 2**31
    hist = np.zeros((npass, nb), dtype=np.int64)
    for i in range(m):
        kk = keys[i]
        for d in range(npass):
            hist[d, (kk >> np.uint32(RADIX_BITS * d)) & mask] += 1
    k2 = np.empty(m, dtype=np.uint32)
    i2 = np.empty(m, dtype=np.int32)
    off = np.empty(nb, dtype=np.int64)
    for d in range(npass):
        h = hist[d]
        if h.max() == m:
            continue  # this digit is the same everywhere
        acc = 0
        for b in range(nb):
            off[b] = acc
            acc += h[b]
        shift = np.uint32(RADIX_BITS * d)
        for i in range(m):
            kk = keys[i]
            b = (kk >> shift) & mask
            pos = off[b]
            off[b] = pos + 1
            k2[pos] = kk
            i2[pos] = idx[i]
        keys, k2 = k2, keys
        idx, i2 = i2, idx
    srt = np.empty(m)
    for r in range(m):
        srt[r] = max(p[idx[r]], 0.0)
    for r in range(1, m):  # finish the runs of equal top bits (stable)
        v = srt[r]
        if v < srt[r - 1]:
            ix = idx[r]
            j = r - 1
            while j >= 0 and srt[j] > v:
                srt[j + 1] = srt[j]
                idx[j + 1] = idx[j]
                j -= 1
            srt[j + 1] = v
            idx[j + 1] = ix
    q = np.empty(m)
    run = np.inf
    for r in range(m - 1, -1, -1):
        v = srt[r] * (m / (r + 1.0))
        if v < run:
            run = v
        q[idx[r]] = min(run, 1.0)
    return q
