"""numba kernels: per-pixel statistics over a (pixels, years) float64 array.

Every kernel takes ``x`` of shape (m, n) — m pixels, n years, C-contiguous so a
pixel's series is contiguous — and the years ``t`` (n,) as float64, and loops
over pixels in parallel (``prange``). Missing values (NaN) are dropped pixel by
pixel, keeping the time positions of the rest; a pixel with fewer than
``min_valid`` finite values gives NaN. The wrappers in the sibling modules
decide ``min_valid`` (all years by default) and turn statistics into p-values
with scipy's vectorised distribution functions.

Why numba rather than the reference libraries: a per-pixel Python loop over
scipy/pymannkendall costs milliseconds per pixel (hours for a 500 m grid);
these kernels are several hundred times faster (benchmarks/bench_stats.py).
"""
from __future__ import annotations

import math

import numba
import numpy as np

NAN = np.nan


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


# ----------------------------------------------------------------- OLS
@numba.njit(parallel=True, cache=True, nogil=True)
def ols(x, t, min_valid):
    """OLS of value on time per pixel.

    Returns slope (per unit of t), intercept at t[0], t statistic of the slope,
    residual degrees of freedom and the count of valid values. As in
    scipy.stats.linregress, an exact line gives a huge t (p = 0) and a
    constant series slope 0 with an undefined (NaN) t.
    """
    m, n = x.shape
    slope = np.full(m, NAN)
    icpt = np.full(m, NAN)
    tstat = np.full(m, NAN)
    df = np.full(m, NAN)
    count = np.zeros(m, dtype=np.int16)
    for p in numba.prange(m):
        xs = np.empty(n)
        ts = np.empty(n)
        k = _compact(x[p], t, xs, ts)
        count[p] = k
        if k < min_valid or k < 3:
            continue
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
        slope[p] = b
        icpt[p] = xm + b * (t[0] - tm)
        df[p] = k - 2
        if syy == 0.0:
            continue  # constant series: slope 0, p undefined (as scipy.stats.linregress)
        # r-based form, as scipy.stats.linregress computes it
        r = sxy / math.sqrt(sxx * syy)
        if r > 1.0:
            r = 1.0
        elif r < -1.0:
            r = -1.0
        tiny = 1.0e-20
        tstat[p] = r * math.sqrt((k - 2) / ((1.0 - r + tiny) * (1.0 + r + tiny)))
    return slope, icpt, tstat, df, count


# ----------------------------------------------------------------- Mann-Kendall and Sen
@numba.njit(cache=True, nogil=True)
def _tie_term(xs, k):
    """Σ t_g (t_g − 1)(2 t_g + 5) over groups of exactly equal values."""
    srt = np.sort(xs[:k])
    total = 0.0
    run = 1
    for i in range(1, k + 1):
        if i < k and srt[i] == srt[i - 1]:
            run += 1
        else:
            if run > 1:
                total += run * (run - 1) * (2 * run + 5)
            run = 1
    return total


@numba.njit(cache=True, nogil=True)
def _select(a, lo, hi, kth):
    """Partially sort a[lo:hi] in place so that a[kth] is the kth smallest (Hoare's quickselect)."""
    while hi - lo > 1:
        pivot = a[(lo + hi - 1) // 2]
        i = lo
        j = hi - 1
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if kth <= j:
            hi = j + 1
        elif kth >= i:
            lo = i
        else:
            return


@numba.njit(cache=True, nogil=True)
def _median_inplace(a, q):
    """Median of a[:q], reordering a in place (no copy)."""
    h = q // 2
    _select(a, 0, q, h)
    upper = a[h]
    if q % 2 == 1:
        return upper
    lower = a[0]
    for i in range(1, h):
        if a[i] > lower:
            lower = a[i]
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


BLOCK = 256  # pixels per parallel task: scratch buffers are allocated once per block


@numba.njit(parallel=True, cache=True, nogil=True)
def mann_kendall(x, t, min_valid, variant, zcrit):
    """Mann–Kendall S, Var(S) (tie-corrected, optionally autocorrelation-corrected), tau, Sen slope and intercept.

    ``variant``: 0 original, 1 Hamed & Rao (1998), 2 Yue & Wang (2004), each as
    pymannkendall implements it (all lags, detrending by the Sen slope per
    position). ``zcrit`` = Φ⁻¹(1 − α/2) bounds the significant lags of Hamed–Rao.
    Sen slope: median of (x_j − x_i)/(t_j − t_i), i < j; intercept (Conover
    1980, as pymannkendall): median(x) − median(t − t[0]) × slope.
    Medians by in-place quickselect on per-block scratch buffers: the pairwise
    slopes are this rule's hot spot (benchmarks/bench_stats.py).
    """
    m, n = x.shape
    s_out = np.full(m, NAN)
    var_out = np.full(m, NAN)
    tau = np.full(m, NAN)
    sen = np.full(m, NAN)
    sen_b = np.full(m, NAN)
    npairs = n * (n - 1) // 2
    nblocks = (m + BLOCK - 1) // BLOCK
    for blk in numba.prange(nblocks):
        xs = np.empty(n)
        ts = np.empty(n)
        tmp = np.empty(n)
        slopes = np.empty(npairs)
        det = np.empty(n)
        acf = np.empty(n)
        rk = np.empty(n)
        for p in range(blk * BLOCK, min(m, (blk + 1) * BLOCK)):
            k = _compact(x[p], t, xs, ts)
            if k < min_valid or k < 3:
                continue
            s = 0.0
            q = 0
            for i in range(k - 1):
                xi = xs[i]
                ti = ts[i]
                for j in range(i + 1, k):
                    d = xs[j] - xi
                    if d > 0:
                        s += 1.0
                    elif d < 0:
                        s -= 1.0
                    slopes[q] = d / (ts[j] - ti)
                    q += 1
            var = (k * (k - 1) * (2 * k + 5) - _tie_term(xs, k)) / 18.0
            b = _median_inplace(slopes, q)
            for i in range(k):
                tmp[i] = xs[i]
            xmed = _median_inplace(tmp, k)
            for i in range(k):
                tmp[i] = ts[i] - t[0]
            tmed = _median_inplace(tmp, k)
            sen[p] = b
            sen_b[p] = xmed - tmed * b
            if variant != 0 and var > 0:
                for i in range(k):
                    det[i] = xs[i] - (i + 1) * b
                if variant == 1:
                    _ranks(det, k, rk)
                    _acf(rk, k, k - 1, acf)
                    bound = zcrit / math.sqrt(k)
                    sni = 0.0
                    for i in range(1, k):
                        if not (acf[i] <= bound and acf[i] >= -bound):
                            sni += (k - i) * (k - i - 1) * (k - i - 2) * acf[i]
                    var *= 1.0 + 2.0 / (k * (k - 1) * (k - 2)) * sni
                else:
                    _acf(det, k, k - 1, acf)
                    sni = 0.0
                    for i in range(1, k):
                        sni += (1.0 - i / k) * acf[i]
                    var *= 1.0 + 2.0 * sni
            s_out[p] = s
            var_out[p] = var
            tau[p] = s / (0.5 * k * (k - 1))
    return s_out, var_out, tau, sen, sen_b


# ----------------------------------------------------------------- Hurst
@numba.njit(cache=True, nogil=True)
def _hurst_prefix(xs, k, lx, ly):
    """R/S Hurst exponent over growing prefixes τ = 2..k (SCIENCE.md); NaN if < 3 usable τ."""
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
            if cum > cmax:
                cmax = cum
            if cum < cmin:
                cmin = cum
        r = cmax - cmin
        sd = math.sqrt(ss / tau)
        if r > 0 and sd > 0:
            lx[q] = math.log(tau)
            ly[q] = math.log(r / sd)
            q += 1
    if q < 3:
        return NAN
    return _slope(lx, ly, q)


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
def _hurst_avg(xs, k, nvals, expected):
    """nolds.hurst_rs(fit="poly", corrected=True, unbiased=True): mean R/S over non-overlapping windows."""
    lx = np.empty(nvals.shape[0])
    ly = np.empty(nvals.shape[0])
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


@numba.njit(parallel=True, cache=True, nogil=True)
def hurst(x, min_valid, estimator, nvals, expected):
    """Hurst exponent per pixel: ``estimator`` 0 = R/S on growing prefixes, 1 = averaged windows (nolds)."""
    m, n = x.shape
    out = np.full(m, NAN)
    t = np.arange(n).astype(np.float64)
    for p in numba.prange(m):
        xs = np.empty(n)
        ts = np.empty(n)
        k = _compact(x[p], t, xs, ts)
        if k < min_valid or k < 3:
            continue
        if estimator == 0:
            lx = np.empty(n)
            ly = np.empty(n)
            out[p] = _hurst_prefix(xs, k, lx, ly)
        else:
            out[p] = _hurst_avg(xs, k, nvals, expected)
    return out


# ----------------------------------------------------------------- moments
@numba.njit(parallel=True, cache=True, nogil=True)
def moments(x, min_valid, ddof):
    """Mean, standard deviation (``ddof``) and count of valid values per pixel."""
    m, n = x.shape
    mean = np.full(m, NAN)
    std = np.full(m, NAN)
    count = np.zeros(m, dtype=np.int16)
    for p in numba.prange(m):
        k = 0
        acc = 0.0
        for i in range(n):
            v = x[p, i]
            if not math.isnan(v):
                acc += v
                k += 1
        count[p] = k
        if k < min_valid or k <= ddof or k == 0:
            continue
        mu = acc / k
        ss = 0.0
        for i in range(n):
            v = x[p, i]
            if not math.isnan(v):
                ss += (v - mu) ** 2
        mean[p] = mu
        std[p] = math.sqrt(ss / (k - ddof))
    return mean, std, count


# ----------------------------------------------------------------- correlation
@numba.njit(parallel=True, cache=True, nogil=True)
def correlations(y, f, min_valid):
    """Pearson r of y with each factor and the partial r controlling for the other factors.

    y: (m, n); f: (m, n, q) factors. A year counts when y and every factor are
    finite. Partial correlations come from the inverse of the (q+1)×(q+1)
    correlation matrix, r_{y,i·rest} = −P_{y,i} / √(P_{y,y} P_{i,i}), which
    equals the correlation of the OLS residuals (with intercept) on the
    controls (pingouin.partial_corr's definition). Returns r (m, q),
    partial r (m, q) and the count of valid years (m,).
    """
    m, n = y.shape
    q = f.shape[2]
    r_out = np.full((m, q), NAN)
    pr_out = np.full((m, q), NAN)
    count = np.zeros(m, dtype=np.int16)
    for p in numba.prange(m):
        data = np.empty((n, q + 1))
        k = 0
        for i in range(n):
            ok = not math.isnan(y[p, i])
            for j in range(q):
                if math.isnan(f[p, i, j]):
                    ok = False
            if ok:
                data[k, 0] = y[p, i]
                for j in range(q):
                    data[k, j + 1] = f[p, i, j]
                k += 1
        count[p] = k
        if k < min_valid or k < q + 3:
            continue
        mean = np.zeros(q + 1)
        for i in range(k):
            for j in range(q + 1):
                mean[j] += data[i, j]
        for j in range(q + 1):
            mean[j] /= k
        cov = np.zeros((q + 1, q + 1))
        for i in range(k):
            for a in range(q + 1):
                da = data[i, a] - mean[a]
                for b in range(a, q + 1):
                    cov[a, b] += da * (data[i, b] - mean[b])
        for a in range(q + 1):
            for b in range(a):
                cov[a, b] = cov[b, a]
        if cov[0, 0] <= 0:
            continue
        degenerate = False
        for j in range(1, q + 1):
            if cov[j, j] <= 0:
                degenerate = True
                continue
            r_out[p, j - 1] = cov[0, j] / math.sqrt(cov[0, 0] * cov[j, j])
        if degenerate:
            continue
        corr = np.empty((q + 1, q + 1))
        for a in range(q + 1):
            for b in range(q + 1):
                corr[a, b] = cov[a, b] / math.sqrt(cov[a, a] * cov[b, b])
        if abs(np.linalg.det(corr)) < 1e-14:
            continue
        prec = np.linalg.inv(corr)
        for j in range(1, q + 1):
            pr_out[p, j - 1] = -prec[0, j] / math.sqrt(prec[0, 0] * prec[j, j])
    return r_out, pr_out, count
