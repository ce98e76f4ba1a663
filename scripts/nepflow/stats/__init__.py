"""Per-pixel time-series statistics of annual NEP: trend, Hurst, stability, correlation, FDR.

Every function takes DataArrays with a ``year`` dimension (int calendar years)
and any spatial dimensions, numpy- or dask-backed, and returns a Dataset over
the spatial dimensions (numpy-backed: the maps are computed on return).

How the work is done (benchmarks/bench_stats.py measures it):
- the numba kernels (``_kernels``) read the (year, pixels) layout as stored —
  float32 or float64, no transposed or upcast copy of the cube — and transpose
  one block of pixels at a time into float64 scratch; every statistic, p-values
  included, is computed in float64 inside the kernels, in parallel over pixel
  blocks (``numba.set_num_threads`` sets the thread count);
- a numpy-backed cube is one kernel call; a dask-backed cube is read slab by slab
  (whole dask chunks, merged up to about ``SLAB_PIXELS`` pixels so that tiny
  chunks cost no per-chunk overhead), one kernel call per slab, so memory is
  bounded by a slab plus the output maps. Pixels are independent, so the result
  does not depend on the chunking (tests/test_stats_parity.py).

Missing data (docs/science.md): a pixel with any missing year is NaN in every
statistic unless ``min_valid`` is set; then missing years are dropped, the
time positions of the rest kept, and pixels with fewer than ``min_valid``
valid years are NaN. ``valid_years`` counts the finite years of each pixel.
"""
from __future__ import annotations

import functools
import itertools
import logging
import math
import time
from statistics import NormalDist
from concurrent.futures import ThreadPoolExecutor

import dask
import numba
import numpy as np
import xarray as xr

from .. import variables
from ..errors import NepflowError
from ..series import min_valid_years
from . import _kernels as K

log = logging.getLogger(__name__)

MK_VARIANTS = {"original": 0, "hamed_rao": 1, "yue_wang": 2, "tfpw": 3, "pw": 4}
HURST_ESTIMATORS = {"rs": 0, "rs_avg": 1}
HURST_SERIES = ("levels", "differences", "detrended")
FACTORS = tuple(variables.FACTORS)


# ----------------------------------------------------------------- plumbing
def _years(da: xr.DataArray) -> np.ndarray:
    if "year" not in da.dims:
        raise NepflowError(f"variable {da.name}: no 'year' dimension; expected an annual series")
    years = np.asarray(da["year"].values, dtype="float64")
    if len(np.unique(years)) != len(years):
        raise NepflowError(f"variable {da.name}: duplicated years {sorted(years.tolist())}")
    if np.any(np.diff(years) <= 0):
        raise NepflowError(f"variable {da.name}: years not in increasing order")
    return years


#: pixels per kernel call when reading a dask-backed cube: whole chunks are grouped into slabs of at
#: most this many pixels (a single chunk larger than this is a slab of its own)
SLAB_PIXELS = 1 << 18


def _groups(sizes, unit: int, limit: int):
    """Consecutive ranges of ``sizes`` (chunk lengths), each at most ``limit`` // ``unit`` long in total
    (a chunk longer than that alone): [(lo, hi), ...] covering the axis."""
    bounds = np.cumsum((0,) + tuple(sizes)).tolist()
    out, start = [], 0
    for e_prev, e in zip(bounds[1:-1], bounds[2:]):
        if (e - start) * unit > limit:  # adding the next chunk would make the group too large
            out.append((start, e_prev))
            start = e_prev
    out.append((start, bounds[-1]))
    return out


def _slabs(chunks):
    """Slices over the spatial dims covering the grid with whole chunks, grouped into slabs of at most
    SLAB_PIXELS pixels: full-width bands of chunk rows where a band fits, else runs of chunks along
    the last dim. Whole chunks keep every stored (HDF5) chunk decompressed once when the dask chunks
    are aligned with them (:func:`nepflow.io.chunk_edge`)."""
    if not chunks:
        yield ()
        return
    *lead, last = chunks
    width = sum(last)
    if len(lead) == 1:  # 2-D: full-width bands of chunk rows while they fit
        lead_ranges = [_groups(lead[0], width, SLAB_PIXELS)]
    else:
        lead_ranges = [_groups(c, 1, 0) for c in lead]  # every chunk on its own
    for combo in itertools.product(*lead_ranges):
        rows = math.prod(hi - lo for lo, hi in combo)
        for lo, hi in _groups(last, rows, SLAB_PIXELS):
            yield tuple(slice(a, b) for a, b in combo) + (slice(lo, hi),)


def _as_2d(block, n: int) -> np.ndarray:
    """(n, ...) block -> (n, m) C-contiguous float32/float64: a view of a contiguous block, else a copy of it."""
    a = np.asarray(block)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    return np.ascontiguousarray(a.reshape(n, -1))


def _map_pixels(kernel, arrays, n_out: int):
    """Run ``kernel(list of (n, m) blocks) -> (n_out, m) float64`` over all pixels of ``arrays``.

    ``arrays``: DataArrays with a ``year`` dim and the same spatial dims. Returns
    a list of n_out DataArrays over the spatial dims (numpy-backed).
    """
    arrays = list(xr.align(*arrays, join="exact"))
    space = [d for d in arrays[0].dims if d != "year"]
    arrays = [a.transpose("year", *space) for a in arrays]
    n = arrays[0].sizes["year"]
    shape = tuple(arrays[0].sizes[d] for d in space)
    datas = [a.data for a in arrays]
    if not any(dask.is_dask_collection(d) for d in datas):
        blocks = [_as_2d(d, n) for d in datas]
        dtype = np.result_type(*blocks)
        out = kernel([b.astype(dtype, copy=False) for b in blocks]).reshape((n_out,) + shape)
    else:
        if len(datas) > 1:
            datas = [a.data for a in xr.unify_chunks(*arrays)]
        chunks = next(d for d in datas if dask.is_dask_collection(d)).chunks[1:]
        out = np.empty((n_out,) + shape)
        slabs = list(_slabs(chunks))

        def read(sl):
            return [_as_2d(b, n) for b in dask.compute(*[d[(slice(None),) + sl] for d in datas])]

        # the next slab is read (HDF5 decompresses without the GIL) while the kernel runs on this one
        wait_s = kernel_s = 0.0
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(read, slabs[0])
            for k, sl in enumerate(slabs):
                t0 = time.perf_counter()
                blocks = pending.result()
                if k + 1 < len(slabs):
                    pending = reader.submit(read, slabs[k + 1])
                t1 = time.perf_counter()
                dtype = np.result_type(*blocks)
                sub = tuple(s.stop - s.start for s in sl)
                out[(slice(None),) + sl] = kernel([b.astype(dtype, copy=False) for b in blocks]).reshape((n_out,) + sub)
                del blocks
                wait_s, kernel_s = wait_s + t1 - t0, kernel_s + time.perf_counter() - t1
        log.info("%d slabs: waiting for reads %.3f s, kernels %.3f s", len(slabs), wait_s, kernel_s)
    coords = {k: c for k, c in arrays[0].coords.items() if "year" not in c.dims}
    return [xr.DataArray(out[i], dims=space, coords=coords) for i in range(n_out)]


def _dataset(arrays: dict, extra: dict | None = None) -> xr.Dataset:
    ds = xr.Dataset(arrays)
    for name in ds.data_vars:
        ds[name].attrs = variables.attrs(name, **(extra or {}).get(name, {}))
    return ds


# ----------------------------------------------------------------- trend
def _trend_kernel(blocks, years, min_valid, variant, zcrit):
    x = blocks[0]
    out = np.empty((len(K.TREND_OUT), x.shape[1]))
    K.trend(x, years, min_valid, variant, zcrit, out)
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
    itself. The detrending and the lag pairs use the calendar years.
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
    years = _years(da)
    mv = min_valid_years(len(years), min_valid)
    zcrit = NormalDist().inv_cdf(1 - alpha / 2)  # stdlib: scipy.stats costs 0.8 s of import per job
    func = functools.partial(_trend_kernel, years=years, min_valid=mv, variant=MK_VARIANTS[mk_variant], zcrit=zcrit)
    names = K.TREND_OUT
    out = _map_pixels(func, [da], len(names))
    methods = {"ols": "ordinary least squares on the calendar year, two-sided t-test (df = n - 2)",
               "sen": "Theil-Sen: median of all pairwise slopes",
               "mk": f"Mann-Kendall test ({mk_variant} variance)",
               "valid": "count of the years with a finite value"}
    ds = _dataset(dict(zip(names, out)), {n: {"method": methods[n.split("_")[0]], "min_valid_years": mv}
                                          for n in names})
    ds["mk_p"].attrs["mk_variant"] = mk_variant
    return ds


def _ols_kernel(blocks, years, min_valid):
    x = blocks[0]
    out = np.empty((len(K.OLS_OUT), x.shape[1]))
    K.ols(x, years, min_valid, out)
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
    years = _years(da)
    mv = min_valid_years(len(years), min_valid)
    func = functools.partial(_ols_kernel, years=years, min_valid=mv)
    out = _map_pixels(func, [da], len(K.OLS_OUT))
    method = {"method": "OLS on calendar year", "min_valid_years": mv}
    names = K.OLS_OUT
    return _dataset(dict(zip(names, out)), {n: method for n in names[:-1]})


# ----------------------------------------------------------------- Hurst
def nolds_nvals(n: int) -> np.ndarray:
    """Window sizes of nolds.hurst_rs by default: logmid_n(n, ratio=1/4, nsteps=15)."""
    lg = np.log(n)
    mid = lg * (1 - 0.25) * 0.5 + np.arange(15) / 15 * lg * 0.25
    return np.unique(np.round(np.exp(mid)).astype("int64"))


def expected_rs(w: int) -> float:
    """Anis–Lloyd–Peters expected R/S of white noise for window w (nolds.expected_rs)."""
    import math

    front = (w - 0.5) / w
    i = np.arange(1, w)
    back = np.sum(np.sqrt((w - i) / i))
    middle = math.gamma((w - 1) * 0.5) / math.sqrt(math.pi) / math.gamma(w * 0.5) if w <= 340 \
        else 1.0 / math.sqrt(w * math.pi * 0.5)
    return front * middle * back


def _hurst_args(n: int, estimator: str):
    nvals = nolds_nvals(n)
    expected = np.array([expected_rs(int(w)) for w in nvals])
    return HURST_ESTIMATORS[estimator], nvals, expected


def hurst_numpy(x: np.ndarray, estimator: str = "rs", min_valid: int | None = None) -> np.ndarray:
    """Hurst exponent of each row of ``x`` (m, n), numpy in and out."""
    m, n = x.shape
    est, nvals, expected = _hurst_args(n, estimator)
    out = np.empty((3, m))
    no_null = np.full((n + 1, 1), np.nan)
    K.hurst(np.ascontiguousarray(x.T, dtype=np.float64), n if min_valid is None else min_valid, est, nvals,
            expected, no_null, n + 1, out)
    return out[0]


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


def _hurst_kernel(blocks, estimator, min_valid, null, kmin, years, series):
    x = hurst_input(blocks[0], years, series)
    est, nvals, expected = _hurst_args(x.shape[0], estimator)
    out = np.empty((3, x.shape[1]))
    K.hurst(x, min_valid, est, nvals, expected, null, kmin, out)
    return out


def hurst(da: xr.DataArray, estimator: str = "rs", n_surrogates: int = 1000, seed: int = 20240601,
          min_valid=None, series: str = "levels") -> xr.Dataset:
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
        raise NepflowError(f"config key analysis.hurst_estimator: {estimator!r}; expected one of {', '.join(HURST_ESTIMATORS)}")
    if series not in HURST_SERIES:
        raise NepflowError(f"config key analysis.hurst_series: {series!r}; expected one of {', '.join(HURST_SERIES)}")
    years = _years(da)
    n = len(years)
    mv = min_valid_years(n, min_valid)
    shift = int(series == "differences")  # the differences of k levels are k - 1 values
    n_s, mv_s = n - shift, mv - shift
    kmin = max(mv_s, 3)
    table = np.full((n_s + 1, int(n_surrogates)), np.nan)  # row k: sorted null of length k
    for k in range(kmin, n_s + 1):
        table[k] = white_noise_null(k, estimator, int(n_surrogates), int(seed), series)
    func = functools.partial(_hurst_kernel, estimator=estimator, min_valid=mv_s, null=table, kmin=kmin,
                             years=years, series=series)
    h, p, count = _map_pixels(func, [da], 3)
    if shift:
        count = _map_pixels(lambda b: np.isfinite(b[0]).sum(axis=0, dtype="float64")[None], [da], 1)[0]
    null = table[n_s]
    null = null[np.isfinite(null)]
    meta = {
        "method": {"rs": "rescaled range over growing prefixes tau = 2..n (docs/science.md)",
                   "rs_avg": "nolds.hurst_rs(fit='poly'): averaged windows, Anis-Lloyd-Peters corrected"}[estimator],
        "estimator": estimator,
        "hurst_series": series,
        # a series too short for the estimator (rs: n = 3 gives two points of ln R/S) has H NaN, and so the null
        "hurst_white_noise_mean": float(null.mean()) if null.size else float("nan"),
        "hurst_white_noise_p10": float(np.percentile(null, 10)) if null.size else float("nan"),
        "hurst_white_noise_p90": float(np.percentile(null, 90)) if null.size else float("nan"),
        "n_surrogates": int(n_surrogates), "surrogate_seed": int(seed), "min_valid_years": mv,
    }
    return _dataset({"hurst": h, "hurst_p": p, "valid_years": count}, {"hurst": meta, "hurst_p": meta})


# ----------------------------------------------------------------- stability
def _moments_kernel(blocks, min_valid, ddof):
    x = blocks[0]
    out = np.empty((4, x.shape[1]))
    K.moments(x, min_valid, ddof, out)
    return out


def stability(da: xr.DataArray, ddof: int = 1, min_valid=None) -> xr.Dataset:
    """Mean, standard deviation and coefficient of variation CV = σ/μ per pixel.

    σ with ``ddof`` (1: sample std, as most of this literature; 0: scipy.stats.variation).
    CV is NaN where μ ≤ 0: the CV of a flux that changes sign is no stability measure;
    the count of such pixels is the attribute ``cv_undefined_nonpositive_mean``.
    """
    years = _years(da)
    mv = min_valid_years(len(years), min_valid)
    func = functools.partial(_moments_kernel, min_valid=mv, ddof=int(ddof))
    mean, std, cv, count = _map_pixels(func, [da], 4)
    methods = {"nep_mean": "mean of the valid years", "nep_std": f"standard deviation (ddof={ddof}) of the valid years",
               "cv": f"std (ddof={ddof}) / mean; NaN where mean <= 0"}
    return _dataset({"nep_mean": mean, "nep_std": std, "cv": cv, "valid_years": count},
                    {n: {"method": m, "ddof": int(ddof), "min_valid_years": mv} for n, m in methods.items()})


def count_nonpositive_mean(ds: xr.Dataset) -> int:
    """Pixels with a defined mean ≤ 0 (CV undefined there)."""
    return int(((ds["nep_mean"] <= 0) & ds["nep_mean"].notnull()).sum())


# ----------------------------------------------------------------- correlation
def _corr_kernel(blocks, min_valid, years=None):
    y, *factors = blocks
    out = np.empty((4 * len(factors) + 1, y.shape[1]))
    if years is None:
        K.correlations(y, tuple(factors), min_valid, out)
        return out
    # detrended: each series' OLS residuals on the years where NEP and every factor are finite
    ok = np.isfinite(y)
    for f in factors:
        ok &= np.isfinite(f)
    y, *factors = [detrend(np.where(ok, b, np.nan), years) for b in blocks]
    K.correlations(y, tuple(factors), min_valid, out, 1)
    return out


def correlation(nep: xr.DataArray, factors: dict[str, xr.DataArray], min_valid=None,
                detrended: bool = False) -> xr.Dataset:
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
    years = _years(nep)
    mv = min_valid_years(len(years), min_valid)
    names = list(factors)
    arrays = [nep] + [factors[f].transpose(*nep.dims) for f in names]
    func = functools.partial(_corr_kernel, min_valid=mv, years=years if detrended else None)
    out = _map_pixels(func, arrays, 4 * len(names) + 1)
    data = {}
    k = len(names) - 1
    for j, f in enumerate(names):
        data[f"r_{f}"], data[f"p_r_{f}"], data[f"pr_{f}"], data[f"p_pr_{f}"] = out[4 * j: 4 * j + 4]
    data["valid_years"] = out[-1]
    prefix = "on series detrended by OLS on the year; " if detrended else ""
    methods = {"r": prefix + f"Pearson correlation, two-sided t-test (df = n - 2 - {int(detrended)})",
               "pr": prefix + "partial correlation controlling for the other factors, two-sided t-test "
               f"(df = n - 2 - {k + int(detrended)})"}
    return _dataset(data, {name: {"method": methods[name.removeprefix("p_").split("_")[0]], "min_valid_years": mv,
                                  "detrended": int(detrended)}
                           for name in data if name != "valid_years"})


# ----------------------------------------------------------------- multiple testing
def fdr_bh(p: xr.DataArray) -> xr.DataArray:
    """Benjamini–Hochberg (1995) q-values over all finite pixels of a p map (NaN stays NaN).

    q_(i) = min_{j ≥ i} p_(j) m / j over the m finite p-values sorted ascending
    (scipy.stats.false_discovery_control, method 'bh', with the same arithmetic; one
    radix argsort over the map in numba). Needs the whole map at once: it runs on
    the 2-D p map after the chunked pass.
    """
    vals = np.asarray(p.values, dtype=np.float64)
    q = np.full(vals.shape, np.nan)
    ok = np.isfinite(vals)
    if ok.any():
        if np.any(vals[ok] < 0) or np.any(vals[ok] > 1):
            raise NepflowError(f"variable {p.name}: p-values outside [0, 1]")
        if ok.sum() >= 2**31:
            raise NepflowError(f"variable {p.name}: {ok.sum()} p-values; at most 2**31 - 1 per map")
        q[ok] = K.bh_qvalues(np.ascontiguousarray(vals[ok]))
    return p.copy(data=q)


#: p map -> q map names.
Q_NAMES = {"ols_p": "ols_q", "mk_p": "mk_q", "hurst_p": "hurst_q",
           **{f"p_r_{f}": f"q_r_{f}" for f in FACTORS}, **{f"p_pr_{f}": f"q_pr_{f}" for f in FACTORS}}


def add_qvalues(ds: xr.Dataset) -> xr.Dataset:
    """Add a Benjamini–Hochberg q map next to every p map of ``ds`` (loads the p maps).

    The maps are independent: they are sorted concurrently on ``numba.get_num_threads()``
    threads (the kernel releases the GIL).
    """
    ds = ds.copy()
    names = [(p, q) for p, q in Q_NAMES.items() if p in ds]
    with ThreadPoolExecutor(max_workers=max(1, min(len(names), numba.get_num_threads()))) as pool:
        qmaps = list(pool.map(lambda pq: fdr_bh(ds[pq[0]].load()), names))
    for (_, q_name), q in zip(names, qmaps):
        q.attrs = variables.attrs(q_name, method="Benjamini-Hochberg FDR over the region's pixels",
                                  n_tests=int(np.isfinite(q.values).sum()))
        ds[q_name] = q
    return ds
