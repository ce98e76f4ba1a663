"""Statistics kernels: in-kernel distributions, selection and sorting against numpy/scipy, layouts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import special, stats as sstats

from nepflow import stats
from nepflow.stats import _fdr, _slabs
from nepflow.stats import _numerics as K

YEARS = np.arange(2000, 2021)
N = len(YEARS)


@pytest.mark.parametrize("nu", [1, 2, 3, 4, 5, 17, 18, 19, 30])
def test_student_t_p_matches_scipy(nu):
    t = np.concatenate([[0.0, 1e-3], np.linspace(0.01, 8, 400), np.geomspace(8, 1e6, 100), [1e10, 3e10, np.inf]])
    t = np.concatenate([t, -t])
    ours = K.t_two_sided_vec(t, np.full(t.size, nu, dtype=np.int64))
    ref = 2.0 * special.stdtr(nu, -np.abs(t))
    # the finite series (p ≳ 1e-7) is exact to ~4e-16 absolute, the power series to ~1e-14 relative
    np.testing.assert_allclose(ours, ref, rtol=2e-9, atol=1e-300)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-13)  # scipy (boost) is ~2e-14 off near t = 0 at ν = 1
    assert np.isnan(K.t_two_sided_vec(np.array([np.nan]), np.array([nu]))[0])


def test_student_t_p_closed_forms_near_zero():
    """ν = 1: p = 1 − (2/π) atan|t|; ν = 2: p = 1 − |t|/√(2 + t²). (scipy's stdtr is 3e-9 off at ν = 1, t = 1e-8.)"""
    t = np.array([1e-12, 1e-8, 1e-5, 0.3, 2.0, 40.0])
    np.testing.assert_allclose(
        K.t_two_sided_vec(t, np.ones(t.size, np.int64)), 1 - 2 / np.pi * np.arctan(t), rtol=1e-13
    )
    np.testing.assert_allclose(
        K.t_two_sided_vec(t, np.full(t.size, 2, np.int64)), 1 - t / np.sqrt(2 + t * t), rtol=1e-12
    )


def test_sen_median_selection_matches_numpy():
    """The bracketed median: exact whatever the guess, scale, ties or outliers."""
    rng = np.random.default_rng(0)
    work = np.empty(300)
    cases = [
        rng.normal(size=210),
        np.round(rng.normal(size=210) * 3),
        np.zeros(210),
        np.r_[np.zeros(150), rng.normal(size=60)],
        rng.standard_cauchy(209),
        np.arange(210.0),
        rng.normal(size=3),
        rng.normal(size=4),
    ]
    for a in cases:
        for guess, w in [(np.median(a), 0.01), (0.0, 1e-9), (1e9, 1.0), (-5.0, 100.0), (np.nan, 1.0), (0.0, 0.0)]:
            b = a.copy()
            assert K._median_bracketed(b, b.size, guess, w, work) == np.median(a)
        c = a.copy()
        assert K._median_inplace(c, c.size) == np.median(a)


def test_bh_with_ties_zeros_and_ones():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=5000) ** 4, np.zeros(20), np.ones(30), np.full(40, 0.25), [5e-324, 1e-300]])
    rng.shuffle(p)
    np.testing.assert_allclose(_fdr.bh_qvalues(p), sstats.false_discovery_control(p), rtol=1e-15, atol=0)


def test_float32_cube_equals_its_float64_values():
    """Kernels read float32 directly and upcast per block: same numbers as the float64 copy."""
    rng = np.random.default_rng(4)
    x = (rng.normal(200, 40, (N, 9, 31)) + np.arange(N)[:, None, None]).astype("float32")
    x[3, 2, 2] = np.nan
    da32 = xr.DataArray(x, dims=("year", "y", "x"), coords={"year": YEARS})
    da64 = da32.astype("float64")
    f32 = {k: da32 * 0.5 + float(i) for i, k in enumerate(("pr", "tas", "sund"))}
    f32 = {k: (v + rng.normal(size=v.shape).astype("float32")).astype("float32") for k, v in f32.items()}
    f64 = {k: v.astype("float64") for k, v in f32.items()}
    for func, args in [(stats.trend, {}), (stats.hurst, {"n_surrogates": 50}), (stats.stability, {})]:
        xr.testing.assert_identical(func(da32, **args), func(da64, **args))
    xr.testing.assert_identical(stats.correlation(da32, f32), stats.correlation(da64, f64))


def test_year_axis_anywhere_and_min_valid_chunked():
    rng = np.random.default_rng(8)
    x = rng.normal(100, 20, (N, 6, 5))
    x[[1, 7], 0, 0] = np.nan
    da = xr.DataArray(x, dims=("year", "y", "x"), coords={"year": YEARS})
    a = stats.trend(da, min_valid=15)
    b = stats.trend(da.transpose("y", "x", "year").chunk({"y": 2, "x": 3}), min_valid=15)
    xr.testing.assert_identical(a, b.transpose(*a.dims))
    assert np.isfinite(float(a.ols_slope[0, 0]))


def test_many_slabs_equal_one_call(monkeypatch):
    """A dask cube read in many slabs (tiny SLAB_PIXELS) gives the numpy result exactly."""
    rng = np.random.default_rng(12)
    x = rng.normal(100, 20, (N, 17, 13)) + np.arange(N)[:, None, None]
    x[:, 4, 4] = np.nan
    da = xr.DataArray(x, dims=("year", "y", "x"), coords={"year": YEARS, "y": np.arange(17.0), "x": np.arange(13.0)})
    f = {k: da * 0.3 + rng.normal(size=da.shape) for k in ("pr", "tas", "sund")}
    ref = [stats.trend(da), stats.hurst(da, n_surrogates=50), stats.stability(da), stats.correlation(da, f)]
    monkeypatch.setattr(_slabs, "SLAB_PIXELS", 30)
    slabs = list(_slabs.slabs(da.chunk({"y": 3, "x": 4}).chunks[1:]))
    assert len(slabs) > 4
    chunked = da.chunk({"y": 3, "x": 4})
    fc = {k: v.chunk({"y": 5, "x": 2}) for k, v in f.items()}  # unified with nep's chunks
    got = [
        stats.trend(chunked),
        stats.hurst(chunked, n_surrogates=50),
        stats.stability(chunked),
        stats.correlation(chunked, fc),
    ]
    for a, b in zip(ref, got):
        xr.testing.assert_identical(a, b)


def test_linear_trend_is_the_ols_of_trend_exactly():
    rng = np.random.default_rng(7)
    x = rng.normal(200, 40, (N, 40, 30)) + 3.0 * (YEARS - 2000)[:, None, None]
    x[:, 0, 0] = np.nan  # all-NaN pixel
    x[:, 0, 1] = 5.0  # constant pixel
    x[3, 1, :] = np.nan  # a missing year
    da = xr.DataArray(x, dims=("year", "y", "x"), coords={"year": YEARS})
    for mv in (None, 15):
        full, ols = stats.trend(da, min_valid=mv), stats.linear_trend(da, min_valid=mv)
        for v in ("ols_slope", "ols_intercept", "ols_p", "valid_years"):
            np.testing.assert_array_equal(ols[v].values, full[v].values)
    assert np.isnan(ols["ols_slope"].values[0, 0]) and np.isnan(ols["ols_p"].values[0, 1])
    assert ols["ols_slope"].values[0, 1] == 0.0
    exact = stats.linear_trend(xr.DataArray(2.5 * YEARS[:, None] - 7, dims=("year", "x"), coords={"year": YEARS}))
    assert exact["ols_slope"].values[0] == pytest.approx(2.5, rel=1e-12) and exact["ols_p"].values[0] < 1e-12


def test_hurst_of_a_series_too_short_for_the_estimator_is_nan():
    """rs needs 3 points of ln(R/S) over τ = 2..n: with 3 years there are 2, so H (and its null) is undefined."""
    da = xr.DataArray(
        np.random.default_rng(0).normal(size=(3, 4, 4)), dims=("year", "y", "x"), coords={"year": [2000, 2001, 2002]}
    )
    ds = stats.hurst(da, n_surrogates=50)
    assert np.isnan(ds["hurst"].values).all() and np.isnan(ds["hurst_p"].values).all()
    assert np.isnan(ds["hurst"].attrs["hurst_white_noise_mean"])
    four = stats.hurst(da.reindex(year=[2000, 2001, 2002, 2003], fill_value=0.5), n_surrogates=50)
    assert np.isfinite(four["hurst"].values).all()
