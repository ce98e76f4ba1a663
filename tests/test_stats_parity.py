"""Statistics engine: parity with the reference libraries and planted truths."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pymannkendall as mk
import pytest
import xarray as xr
from scipy import stats as sstats

from nepflow import stats

YEARS = np.arange(2000, 2021)
N = len(YEARS)


def cube(values):
    values = np.asarray(values, dtype="float64")
    return xr.DataArray(
        values.T.reshape(N, -1, 1) if values.ndim == 2 else values,
        dims=("year", "y", "x"),
        coords={"year": YEARS[: values.shape[-1]] if values.ndim == 2 else YEARS},
        name="nep",
    )


def series_cube(rows):
    """rows: (m, n) pixel series -> DataArray (year, y=m, x=1)."""
    rows = np.asarray(rows, dtype="float64")
    return xr.DataArray(
        rows.T[:, :, None], dims=("year", "y", "x"), coords={"year": YEARS[: rows.shape[1]]}, name="nep"
    )


@pytest.fixture(scope="module")
def rows():
    """Random series with ties, constant pixels and trends."""
    rng = np.random.default_rng(42)
    m = 120
    r = rng.normal(200, 40, (m, N)) + rng.normal(0, 3, (m, 1)) * np.arange(N)
    r[:30] = np.round(r[:30] / 25) * 25  # ties
    r[30:33] = 150.0  # constant
    r[33] = np.arange(N) * 2.5 + 10  # exact line
    r[34] = np.arange(N)[::-1] * 1.5  # exact decreasing line
    return r


def close(a, b, tol=1e-9):
    a, b = float(a), float(b)
    if np.isnan(b):
        return np.isnan(a)
    return abs(a - b) <= tol * max(1.0, abs(b))


# ----------------------------------------------------------------- trend
def test_ols_and_mk_parity(rows):
    ds = stats.trend(series_cube(rows)).squeeze("x")
    for i, x in enumerate(rows):
        lr = sstats.linregress(YEARS, x)
        assert close(ds.ols_slope[i], lr.slope), i
        assert close(ds.ols_intercept[i], lr.intercept + lr.slope * YEARS[0], 1e-8), i
        assert close(ds.ols_p[i], lr.pvalue), (i, float(ds.ols_p[i]), lr.pvalue)
        ref = mk.original_test(x)
        assert close(ds.mk_s[i], ref.s), i
        assert close(ds.mk_z[i], ref.z), i
        assert close(ds.mk_p[i], ref.p), i
        assert close(ds.mk_tau[i], ref.Tau), i
        assert close(ds.sen_slope[i], ref.slope), i
        assert close(ds.sen_intercept[i], ref.intercept, 1e-8), i


def hamed_rao_factor(x):
    """pymannkendall's Hamed-Rao variance factor of x (before nepflow's floor at 1)."""
    r = mk.hamed_rao_modification_test(x)
    return r.var_s / mk.original_test(x).var_s


@pytest.mark.parametrize(
    "variant, ref",
    [
        ("hamed_rao", mk.hamed_rao_modification_test),
        ("tfpw", mk.trend_free_pre_whitening_modification_test),
        ("pw", mk.pre_whitening_modification_test),
    ],
)
def test_modified_mk_parity(rows, variant, ref):
    """The same method as pymannkendall's gives its numbers; Hamed-Rao where its factor is >= 1 (nepflow
    floors it at 1: below, pymannkendall shrinks Var(S) or returns NaN)."""
    ds = stats.trend(series_cube(rows), mk_variant=variant).squeeze("x")
    checked = 0
    for i, x in enumerate(rows):
        if i in (30, 31, 32):  # constant: pymannkendall divides 0 by 0 in its ACF
            continue
        if i in (33, 34) and variant == "tfpw":  # exact line: pymannkendall's ACF of its constant residual is
            continue  # NaN, which makes S = 0; nepflow takes r1 = 0 and tests the line itself
        if variant == "hamed_rao" and not hamed_rao_factor(x) >= 1:
            assert float(ds.mk_p[i]) >= float(stats.trend(series_cube([x])).mk_p.squeeze()) - 1e-12
            continue
        r = ref(x)
        assert close(ds.mk_z[i], r.z, 1e-8), (i, float(ds.mk_z[i]), r.z)
        assert close(ds.mk_p[i], r.p, 1e-8), i
        assert close(ds.mk_s[i], r.s), i
        assert close(ds.mk_tau[i], r.Tau, 1e-12), i
        checked += 1
    assert checked > 60


def yue_wang_ar1_reference(t, x):
    """Yue & Wang (2004), AR(1) form, written out: Var(S) x max(1, 1 + 2 sum_k (1 - k/n) r1^k), r1 the lag-1
    autocorrelation of x - Sen slope x t over the pairs one year apart."""
    n = len(x)
    slope = np.median([(x[j] - x[i]) / (t[j] - t[i]) for i in range(n) for j in range(i + 1, n)])
    d = x - slope * t
    d = d - d.mean()
    one = np.diff(t) == 1
    r1 = np.sum(d[:-1][one] * d[1:][one]) / np.sum(d * d)
    k = np.arange(1, n)
    factor = max(1.0, 1 + 2 * np.sum((1 - k / n) * r1**k))
    r = mk.original_test(x)
    z = np.sign(r.s) * (abs(r.s) - 1) / np.sqrt(r.var_s * factor) if r.s else 0.0
    return z, 2 * sstats.norm.sf(abs(z))


def test_yue_wang_ar1_form_with_calendar_positions(rows):
    ds = stats.trend(series_cube(rows), mk_variant="yue_wang").squeeze("x")
    for i, x in enumerate(rows[:60]):
        z, p = yue_wang_ar1_reference(YEARS.astype(float), x)
        assert close(ds.mk_z[i], z, 1e-9) and close(ds.mk_p[i], p, 1e-8), i
    # missing years: the detrending and the lag pairs follow the calendar years
    x = rows[40].copy()
    x[[5, 6, 12]] = np.nan
    ok = np.isfinite(x)
    got = stats.trend(series_cube([x]), mk_variant="yue_wang", min_valid=15).squeeze()
    z, p = yue_wang_ar1_reference(YEARS[ok].astype(float), x[ok])
    assert close(got.mk_z, z, 1e-9) and close(got.mk_p, p, 1e-8)


def ar1(m, phi, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((m, N))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi**2)
    for i in range(1, N):
        x[:, i] = phi * x[:, i - 1] + e[:, i]
    return x


@pytest.fixture(scope="module")
def rejection_rates():
    """Share of p < 0.05 of every Mann-Kendall variant on 20,000 seeded trend-free series of 21 years."""
    out = {}
    for name, phi in (("white", 0.0), ("ar1", 0.5)):
        da = series_cube(ar1(20000, phi, seed=11))
        for v in stats.MK_VARIANTS:
            p = stats.trend(da, mk_variant=v).mk_p.values
            assert not np.isnan(p).any(), (name, v)
            out[name, v] = float(np.mean(p < 0.05))
    return out


@pytest.mark.parametrize("variant", list(stats.MK_VARIANTS))
def test_mk_white_noise_rejects_three_to_six_percent(rejection_rates, variant):
    assert 0.03 <= rejection_rates["white", variant] <= 0.06, rejection_rates


@pytest.mark.parametrize("variant", ["hamed_rao", "yue_wang", "pw"])
def test_mk_corrections_reject_less_than_original_on_ar1(rejection_rates, variant):
    assert rejection_rates["ar1", variant] < rejection_rates["ar1", "original"], rejection_rates


def test_tfpw_does_not_correct_ar1_noise(rejection_rates):
    """As docs/science.md says: trend-free pre-whitening adds the noisy Sen slope back, so on AR(1) noise it
    rejects at least as often as the original test."""
    assert rejection_rates["ar1", "tfpw"] >= rejection_rates["ar1", "original"] - 0.01, rejection_rates


def test_hamed_rao_never_nan_and_never_below_original(rows):
    rng = np.random.default_rng(5)
    x = np.vstack([rows, rng.standard_normal((500, N)), np.cumsum(rng.standard_normal((200, N)), axis=1)])
    orig = stats.trend(series_cube(x)).mk_p.values
    for v in ("hamed_rao", "yue_wang"):
        p = stats.trend(series_cube(x), mk_variant=v).mk_p.values
        assert not np.isnan(p).any()
        assert np.all(p >= orig - 1e-12), v  # the corrections only inflate Var(S)


def test_planted_slope_exact():
    x = 3.7 * YEARS - 7000.0
    ds = stats.trend(series_cube([x])).squeeze()
    assert float(ds.ols_slope) == pytest.approx(3.7, rel=1e-12)
    assert float(ds.sen_slope) == pytest.approx(3.7, rel=1e-12)
    assert float(ds.ols_p) < 1e-12 and float(ds.mk_p) < 1e-6
    assert float(ds.mk_s) == N * (N - 1) / 2


def test_constant_series():
    ds = stats.trend(series_cube([np.full(N, 5.0)])).squeeze()
    assert float(ds.ols_slope) == 0 and np.isnan(float(ds.ols_p))
    assert float(ds.mk_s) == 0 and float(ds.mk_z) == 0 and float(ds.mk_p) == 1.0


def test_missing_years():
    x = np.arange(N, dtype=float) * 2.0
    x[[3, 10]] = np.nan
    full = stats.trend(series_cube([x])).squeeze()
    assert np.isnan(float(full.ols_slope)) and int(full.valid_years) == N - 2
    gappy = stats.trend(series_cube([x]), min_valid=15).squeeze()
    assert float(gappy.ols_slope) == pytest.approx(2.0)  # positions kept: still 2 per year
    assert float(gappy.sen_slope) == pytest.approx(2.0)
    ok = ~np.isnan(x)
    assert float(gappy.ols_p) == pytest.approx(sstats.linregress(YEARS[ok], x[ok]).pvalue, rel=1e-9, abs=1e-300)
    few = stats.trend(series_cube([x]), min_valid=20).squeeze()
    assert np.isnan(float(few.ols_slope))


def calendar_acf(t, a, nlags):
    """Biased ACF of a at times t, lag L summed over the pairs exactly L calendar years apart (written out)."""
    y = a - a.mean()
    c0 = float(np.sum(y * y))
    return np.array(
        [
            sum(y[i] * y[j] for i in range(len(a)) for j in range(len(a)) if t[j] - t[i] == lag) / c0
            for lag in range(nlags + 1)
        ]
    )


def hamed_rao_z(t, x, alpha=0.05, calendar=True):
    """pymannkendall's hamed_rao_modification_test on the valid years of x, detrended at the calendar years,
    with the rank ACF by calendar lag (or by position, ``calendar=False``) and the factor floored at 1."""
    ok = ~np.isnan(x)
    t, x = t[ok].astype(float), x[ok]
    n = len(x)
    i, j = np.triu_indices(n, 1)
    sen = np.median((x[j] - x[i]) / (t[j] - t[i]))
    r = sstats.rankdata(x - (t - t[0]) * sen)
    rho = calendar_acf(t, r, n - 1) if calendar else calendar_acf(np.arange(n), r, n - 1)
    bound = sstats.norm.ppf(1 - alpha / 2) / np.sqrt(n)
    sni = sum((n - L) * (n - L - 1) * (n - L - 2) * rho[L] for L in range(1, n) if abs(rho[L]) > bound)
    s = float(np.sum(np.sign(x[j] - x[i])))
    _, g = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - np.sum(g * (g - 1) * (2 * g + 5))) / 18
    var *= max(1 + 2 / (n * (n - 1) * (n - 2)) * sni, 1.0)
    return (s - np.sign(s)) / np.sqrt(var)


def test_acf_lags_are_calendar_years():
    from nepflow.stats import _trend

    rng = np.random.default_rng(8)
    t = np.delete(YEARS, [2, 3, 9, 15]).astype(float)
    a = rng.normal(size=t.size)
    out = np.empty(t.size)
    _trend._acf_calendar(a, t, t.size, t.size - 1, out)
    np.testing.assert_allclose(out, calendar_acf(t, a, t.size - 1), rtol=1e-12, atol=1e-15)
    _trend._acf_calendar(a, YEARS[: t.size].astype(float), t.size, t.size - 1, out)  # consecutive: positional
    np.testing.assert_allclose(out, calendar_acf(np.arange(t.size), a, t.size - 1), rtol=1e-12, atol=1e-15)


def test_hamed_rao_with_missing_years_pairs_calendar_years():
    """Planted gaps in autocorrelated series: Z is the calendar-lag reference's, not the positional one's."""
    rng = np.random.default_rng(11)
    rows = np.empty((40, N))
    rows[:, 0] = rng.normal(size=40)
    for i in range(1, N):
        rows[:, i] = 0.8 * rows[:, i - 1] + rng.normal(size=40)
    rows[:, [4, 5, 11]] = np.nan  # interior gaps
    rows[::2, [0, 16]] = np.nan  # and an edge gap on half the pixels
    z = stats.trend(series_cube(rows), min_valid=15, mk_variant="hamed_rao").mk_z.squeeze("x").values
    differs = 0
    for k, x in enumerate(rows):
        ref = hamed_rao_z(YEARS, x)
        assert close(z[k], ref, 1e-10), (k, z[k], ref)
        differs += not close(ref, hamed_rao_z(YEARS, x, calendar=False), 1e-6)
    assert differs >= 10, differs  # the planted gaps matter: positional lags would give another Z


def test_all_nan_pixel():
    ds = stats.trend(series_cube([np.full(N, np.nan)])).squeeze()
    assert all(np.isnan(float(ds[v])) for v in ("ols_slope", "ols_p", "sen_slope", "mk_z", "mk_p"))
    assert int(ds.valid_years) == 0


# ----------------------------------------------------------------- Hurst
def textbook_rs(x):
    """docs/science.md's R/S over growing prefixes, written out plainly."""
    lx, ly = [], []
    for tau in range(2, len(x) + 1):
        xi = x[:tau]
        dev = np.cumsum(xi - xi.mean())
        r = dev.max() - dev.min()
        s = np.sqrt(np.mean((xi - xi.mean()) ** 2))
        if r > 0 and s > 0:
            lx.append(np.log(tau))
            ly.append(np.log(r / s))
    if len(lx) < 3:
        return np.nan
    return np.polyfit(lx, ly, 1)[0]


def nolds_measures():
    """nolds.measures loaded by path: nolds' package __init__ fails on Python 3.11
    (its datasets module calls importlib.resources.files on a module)."""
    spec = importlib.util.find_spec("nolds")
    root = Path(spec.submodule_search_locations[0])
    pkg = types.ModuleType("nolds")
    pkg.__path__ = [str(root)]
    saved = sys.modules.get("nolds")
    sys.modules["nolds"] = pkg
    try:
        s = importlib.util.spec_from_file_location("nolds.measures", root / "measures.py")
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
    finally:
        if saved is None:
            sys.modules.pop("nolds", None)
        else:
            sys.modules["nolds"] = saved
    return mod


def test_hurst_parity_textbook(rows):
    ds = stats.hurst(series_cube(rows), n_surrogates=200).squeeze("x")
    for i, x in enumerate(rows):
        assert close(ds.hurst[i], textbook_rs(x)), i
    assert np.isnan(float(ds.hurst[30]))  # constant


def test_hurst_parity_nolds(rows):
    measures = nolds_measures()
    ds = stats.hurst(series_cube(rows), estimator="rs_avg", n_surrogates=200).squeeze("x")
    for i, x in enumerate(rows):
        if i in (30, 31, 32):
            continue
        assert close(ds.hurst[i], measures.hurst_rs(x, fit="poly")), i


def test_white_noise_hurst_and_p_uniform():
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((4000, N))
    ds = stats.hurst(series_cube(noise), n_surrogates=2000, seed=1).squeeze("x")
    null_mean = ds.hurst.attrs["hurst_white_noise_mean"]
    assert 0.6 < null_mean < 0.68  # the estimator's upward bias at n = 21 (docs/science.md: about 0.64)
    assert float(ds.hurst.mean()) == pytest.approx(null_mean, abs=0.01)
    p = ds.hurst_p.values
    assert np.mean(p < 0.05) == pytest.approx(0.05, abs=0.015)
    assert np.mean(p < 0.5) == pytest.approx(0.5, abs=0.04)


def test_persistent_series_has_high_hurst():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.standard_normal((500, N)), axis=1)
    ds = stats.hurst(series_cube(walk), n_surrogates=500).squeeze("x")
    assert float(ds.hurst.mean()) > 0.85
    assert float((ds.hurst_p < 0.05).mean()) > 0.5


def test_hurst_series_parity(rows):
    t = YEARS.astype(float)
    dif = stats.hurst(series_cube(rows), n_surrogates=200, series="differences").squeeze("x")
    det = stats.hurst(series_cube(rows), n_surrogates=200, series="detrended").squeeze("x")
    for i, x in enumerate(rows[:60]):
        assert close(dif.hurst[i], textbook_rs(np.diff(x))), i
        lr = sstats.linregress(t, x)
        assert close(det.hurst[i], textbook_rs(x - lr.intercept - lr.slope * t), 1e-8), i
    assert int(dif.valid_years[0]) == N


def test_hurst_p_is_b_plus_one_over_n_plus_one():
    rng = np.random.default_rng(2)
    x = np.vstack([np.arange(N) ** 2.0, rng.standard_normal((50, N))])
    ds = stats.hurst(series_cube(x), n_surrogates=199, seed=4).squeeze("x")
    null = stats.white_noise_null(N, "rs", 199, 4)
    for i in range(len(x)):
        b = np.sum(null >= float(ds.hurst[i]))
        assert float(ds.hurst_p[i]) == pytest.approx((b + 1) / 200, abs=1e-15)
    assert float(ds.hurst_p[0]) == pytest.approx(1 / 200)  # beyond every surrogate: not 0


@pytest.mark.parametrize("series", ["differences", "detrended"])
def test_hurst_of_changes_is_blind_to_a_trend_and_sees_ar1(series):
    """White noise on a strong trend: H on levels calls nearly all of it persistent; on differences or
    residuals hurst_p is uniform (5 % below 0.05). AR(1) with phi = 0.5 against the phi = 0 control: the
    estimator that ignores the trend sees the persistence."""
    trend = 0.3 * np.arange(N)
    control = series_cube(ar1(4000, 0.0, seed=21) + trend)
    planted = series_cube(ar1(4000, 0.5, seed=22) + trend)
    lev = stats.hurst(control, n_surrogates=1000, seed=1).hurst_p.values
    assert np.mean(lev < 0.05) > 0.5
    c = stats.hurst(control, n_surrogates=1000, seed=1, series=series)
    a = stats.hurst(planted, n_surrogates=1000, seed=1, series=series)
    assert np.mean(c.hurst_p.values < 0.05) == pytest.approx(0.05, abs=0.015)
    assert float(a.hurst.mean()) > float(c.hurst.mean()) + 0.05
    assert np.mean(a.hurst_p.values < 0.05) > 2 * np.mean(c.hurst_p.values < 0.05)


# ----------------------------------------------------------------- stability
def test_stability_parity(rows):
    ds = stats.stability(series_cube(rows)).squeeze("x")
    for i, x in enumerate(rows):
        assert close(ds.nep_mean[i], x.mean())
        assert close(ds.nep_std[i], x.std(ddof=1))
        assert close(ds.cv[i], x.std(ddof=1) / x.mean())
    d0 = stats.stability(series_cube(rows), ddof=0).squeeze("x")
    assert close(d0.cv[5], sstats.variation(rows[5]))
    assert float(ds.cv[30]) == 0.0  # constant: CV 0


def test_cv_undefined_for_nonpositive_mean():
    x = np.array([np.linspace(-50, 40, N), np.full(N, 100.0) + np.arange(N)])
    ds = stats.stability(series_cube(x)).squeeze("x")
    assert np.isnan(float(ds.cv[0])) and np.isfinite(float(ds.cv[1]))
    assert stats.count_nonpositive_mean(ds) == 1


# ----------------------------------------------------------------- correlation
def partial_reference(x, y, controls):
    """pingouin.partial_corr's definition: r of residuals after OLS (with intercept) on the controls."""
    z = np.column_stack([np.ones(len(x)), *controls])
    rx = x - z @ np.linalg.lstsq(z, x, rcond=None)[0]
    ry = y - z @ np.linalg.lstsq(z, y, rcond=None)[0]
    r = np.corrcoef(rx, ry)[0, 1]
    df = len(x) - 2 - len(controls)
    t = r * np.sqrt(df / (1 - r**2))
    return r, 2 * sstats.t.sf(abs(t), df)


def test_correlation_parity():
    rng = np.random.default_rng(11)
    m = 60
    pr = rng.normal(500, 80, (m, N))
    tas = rng.normal(10, 1, (m, N))
    sund = rng.normal(2500, 100, (m, N)) - 0.5 * pr
    nep = 0.3 * pr - 5 * tas + rng.normal(0, 20, (m, N))
    nep[:5] = np.round(nep[:5], -1)
    factors = {"pr": series_cube(pr), "tas": series_cube(tas), "sund": series_cube(sund)}
    ds = stats.correlation(series_cube(nep), factors).squeeze("x")
    arrays = {"pr": pr, "tas": tas, "sund": sund}
    for i in range(m):
        for f in arrays:
            ref = sstats.pearsonr(nep[i], arrays[f][i])
            assert close(ds[f"r_{f}"][i], ref.statistic), (i, f)
            assert close(ds[f"p_r_{f}"][i], ref.pvalue, 1e-8), (i, f)
            others = [arrays[g][i] for g in arrays if g != f]
            r, p = partial_reference(nep[i], arrays[f][i], others)
            assert close(ds[f"pr_{f}"][i], r, 1e-8), (i, f)
            assert close(ds[f"p_pr_{f}"][i], p, 1e-7), (i, f)


def test_constant_series_gives_nan_correlation():
    rng = np.random.default_rng(2)
    nep = np.full((1, N), 100.0)
    f = {k: series_cube(rng.normal(size=(1, N))) for k in ("pr", "tas", "sund")}
    ds = stats.correlation(series_cube(nep), f).squeeze()
    assert np.isnan(float(ds.r_pr)) and np.isnan(float(ds.pr_pr)) and np.isnan(float(ds.p_r_pr))


# ----------------------------------------------------------------- FDR and chunks
def test_fdr_bh_matches_scipy_and_keeps_nan():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=(30, 20)) ** 2
    p[0, :5] = np.nan
    q = stats.fdr_bh(xr.DataArray(p, dims=("y", "x"))).values
    ok = np.isfinite(p)
    np.testing.assert_allclose(q[ok], sstats.false_discovery_control(p[ok]), rtol=1e-12)
    assert np.isnan(q[~ok]).all()
    assert (q[ok] >= p[ok] - 1e-15).all()


@pytest.mark.parametrize("chunks", [{"y": 7, "x": 5}, {"y": 1, "x": 40}])
def test_chunked_equals_unchunked(chunks):
    rng = np.random.default_rng(9)
    x = rng.normal(100, 20, (N, 23, 11)) + 2 * np.arange(N)[:, None, None]
    x[:, 0, 0] = np.nan
    da = xr.DataArray(x, dims=("year", "y", "x"), coords={"year": YEARS}, name="nep")
    f = {k: da * rng.uniform(0.5, 1.5) + rng.normal(size=da.shape) for k in ("pr", "tas", "sund")}
    for func, args in [(stats.trend, {}), (stats.hurst, {"n_surrogates": 100}), (stats.stability, {})]:
        a = func(da, **args).compute()
        b = func(da.chunk(chunks), **args).compute()
        xr.testing.assert_identical(a, b)
    a = stats.correlation(da, f).compute()
    b = stats.correlation(da.chunk(chunks), {k: v.chunk(chunks) for k, v in f.items()}).compute()
    xr.testing.assert_identical(a, b)


def test_detrended_correlation_is_the_partial_correlation_on_the_year():
    """Detrended Pearson r = partial correlation controlling for the year (same df); a shared trend alone
    correlates the raw series and not the detrended ones."""
    rng = np.random.default_rng(9)
    m = 40
    t = YEARS.astype(float)
    trend = 4.0 * (t - t.mean())
    y = rng.standard_normal((m, N)) * 10 + trend
    f = {
        "pr": rng.standard_normal((m, N)) * 10 + trend,
        "tas": rng.standard_normal((m, N)),
        "sund": rng.standard_normal((m, N)),
    }
    raw = stats.correlation(series_cube(y), {k: series_cube(v) for k, v in f.items()}).squeeze("x")
    det = stats.correlation(series_cube(y), {k: series_cube(v) for k, v in f.items()}, detrended=True).squeeze("x")
    assert float(raw.r_pr.mean()) > 0.7 and abs(float(det.r_pr.mean())) < 0.1
    for i in range(m):
        ref = stats.correlation(
            series_cube(y[i : i + 1]), {"pr": series_cube(f["pr"][i : i + 1]), "tas": series_cube(t[None])}
        ).squeeze()  # tas: the year
        assert close(det.r_pr[i], ref.pr_pr, 1e-9) and close(det.p_r_pr[i], ref.p_pr_pr, 1e-8), i
        res = [v - np.polyval(np.polyfit(t, v, 1), t) for v in (y[i], f["pr"][i], f["tas"][i], f["sund"][i])]
        ref = stats.correlation(
            series_cube(res[0][None]),
            {"pr": series_cube(res[1][None]), "tas": series_cube(res[2][None]), "sund": series_cube(res[3][None])},
        ).squeeze()
        assert close(det.pr_pr[i], ref.pr_pr, 1e-9), i
