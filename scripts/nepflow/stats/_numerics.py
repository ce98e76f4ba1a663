"""Numerics several statistics share, compiled by numba (nopython, so no scipy inside).

- reading a block of pixels out of the (years, pixels) layout (``_load``, ``_compact``);
- the two-sided Student-t p (OLS slope of ``_trend``, Pearson and partial r of ``_correlation``);
- exact selection and medians (Theil-Sen slope and intercept of ``_trend``).

Why these are hand-written: the kernels are numba ``nopython`` functions run on threads
over pixel blocks, and numba cannot call scipy there (``scipy.special.stdtr``,
``scipy.stats.*``); numpy's ``np.median`` is available in numba but copies and
partitions the whole array. What each costs against the library path (benchmarks/bench_numerics.py,
CPU seconds on one thread):

- Student-t p of 1,000,000 t values (ν = 19): 0.034 here, 0.240 scipy.special.stdtr (outside
  the kernel, on the t maps, after a 0.8 s import of scipy per job); and the finite series is
  closer to exact near t = 0 than scipy's (tests/test_stats_kernels.py);
- Sen median of the 210 pairwise slopes of 100,000 pixels: 0.046 ``_median_bracketed``,
  0.121 ``_median_inplace`` (quickselect alone), 0.277 numba's ``np.median``.

Student-t p: the two-sided p is the regularized incomplete beta I_x(ν/2, 1/2) with
x = ν/(ν + t²) (Abramowitz & Stegun 26.7.1, 26.5.27). For x ≥ min(1/2, 10^(−12/ν))
(p ≳ 1e-7) it is 1 − A(t|ν) with A's finite series for integer ν (A&S 26.7.3–4, the
series of cephes' ``stdtr``, ~ν/2 terms); below, the power series
I_x(a,b) = x^a (1−x)^b / (a B(a,b)) · Σ_k (a+b)_k/(a+1)_k x^k (DLMF 8.17.E8, term
ratio < x), which keeps small p accurate in relative terms. Both agree with
scipy.special.stdtr to 1e-13 absolute and 2e-9 relative (tests/test_stats_kernels.py).
"""

from __future__ import annotations

import math

import numba
import numpy as np

NAN = np.nan
#: pixels per block (the unit of work of a thread): a (BLOCK, n) float64 scratch block stays in L1/L2
BLOCK = 128

# ----------------------------------------------------------------- constants of the Student-t p
#: 2/π: A(t|1) = (2/π) atan|t| (A&S 26.7.3, odd ν)
TWO_OVER_PI = 2.0 / math.pi
#: ln Γ(1/2) = ln √π (A&S 6.1.8: Γ(1/2) = √π), for ln B(ν/2, 1/2) = ln Γ(ν/2) + ln Γ(1/2) − ln Γ((ν+1)/2)
LGAMMA_HALF = 0.5 * math.log(math.pi)
#: ln 10¹² = 27.631…: the finite series is used while x ≥ exp(−ln 10¹² / ν) = 10^(−12/ν), i.e.
#: x^(ν/2) ≥ 1e-6 (p ≳ 1e-7), where its subtraction from 1 costs at most ~1e-9 relative
LN_1E12 = math.log(1e12)
#: the power series stops when a term is below this fraction of the sum (under half an ulp of 1, 2⁻⁵³ ≈ 1.1e-16)
SERIES_RTOL = 1e-17

# ----------------------------------------------------------------- tuning of the bracketed median
#: ranges of at most this many values finish quickselect with an insertion sort
INSERTION_MAX = 16
#: counting passes that narrow the bracket of the median, at most
BRACKET_PASSES = 6
#: stop narrowing when the bracket holds at most this many values
BRACKET_TARGET = 40
#: at most this many bracketed values are ranked by counting (O(c²), branchless); more go to quickselect
RANK_PICK_MAX = 64
#: once the bracket has a value on each side, the next pivots aim this many ranks outside the middle ones
BRACKET_MARGIN = 6
#: while every pivot lies on one side of the median, the step away from it grows by this factor
BRACKET_GROWTH = 4.0


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


# ----------------------------------------------------------------- Student-t p
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
    if x >= min(0.5, math.exp(-LN_1E12 / nu)):
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
        if term <= SERIES_RTOL * total:
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


# ----------------------------------------------------------------- selection and medians
@numba.njit(cache=True, nogil=True)
def _select_inplace(a, q, h):
    """The h-th smallest (0-based) of a[:q], reordering a in place so that a[:h] ≤ a[h] ≤ a[h+1:q].

    Quickselect with branchless Lomuto partitions (median-of-3 pivot): the data are
    random, so a branchy partition mispredicts about every other comparison; here
    the only data-dependent work is an add of the comparison result. A partition
    that makes no progress (the pivot is the smallest value, e.g. tied slopes) is
    followed by one that splits off the values equal to the pivot. Ranges of ≤ INSERTION_MAX
    finish with an insertion sort.
    """
    lo = 0
    hi = q
    while hi - lo > INSERTION_MAX:
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
    ``work`` and the middle ones found there by counting ranks (or, for more than RANK_PICK_MAX
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
        for _ in range(BRACKET_PASSES):
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
            if c_hi - c_lo <= BRACKET_TARGET:
                break
            if math.isfinite(lo_v) and math.isfinite(hi_v):
                span = (hi_v - lo_v) / (c_hi - c_lo)
                p1 = lo_v + span * max(r1 - c_lo - BRACKET_MARGIN, 0.5)
                p2 = hi_v - span * max(c_hi - r2 - BRACKET_MARGIN, 0.5)
            elif math.isfinite(hi_v):  # every pivot above the middle: step down
                w *= BRACKET_GROWTH
                p2 = hi_v - w / BRACKET_GROWTH
                p1 = hi_v - w
            else:
                w *= BRACKET_GROWTH
                p1 = lo_v + w / BRACKET_GROWTH
                p2 = lo_v + w
    cnt = _compress(a, q, lo_v, hi_v, work)
    # work[:cnt] holds ranks c_lo .. c_hi - 1 of a
    rr1 = r1 - c_lo
    rr2 = r2 - c_lo
    if cnt <= RANK_PICK_MAX:
        lower, upper = _rank_pick(work, cnt, rr1, rr2)
        return upper if r1 == r2 else 0.5 * (lower + upper)
    upper = _select_inplace(work, cnt, rr2)
    if r1 == r2:
        return upper
    lower = work[0]
    for i in range(1, rr2):
        lower = max(lower, work[i])
    return 0.5 * (lower + upper)


# ----------------------------------------------------------------- detrending (numpy)
def detrend(x: np.ndarray, years: np.ndarray) -> np.ndarray:
    """OLS residuals of each column of ``x`` (n, m) on the calendar ``years`` over its finite values
    (NaN stays NaN; a column with fewer than 2 finite values becomes NaN), float64."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    cnt = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(ok, years[:, None], 0.0)
        dt = np.where(ok, t - t.sum(axis=0) / cnt, 0.0)
        dx = np.where(ok, x - np.where(ok, x, 0.0).sum(axis=0) / cnt, 0.0)
        b = (dt * dx).sum(axis=0) / (dt * dt).sum(axis=0)
        return np.where(ok & (cnt >= 2), dx - b * dt, np.nan)
