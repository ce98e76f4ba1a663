"""TEC GPP and NPP: hand-computed values, the scalars' limits, NaN and xarray handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from nepflow.carbon import tec

# (T degC, PAR MJ m-2 month-1, FPAR, f_C4, Ws)
CASES = [
    (25.0, 280.0, 0.62, 0.8, 0.7),  # summer maize
    (12.0, 190.0, 0.35, 0.0, 0.45),  # spring wheat
    (-4.0, 90.0, 0.10, 0.0, 1.0),  # winter: below Tmin
    (33.0, 300.0, 0.80, 0.5, 0.9),  # hot: C3 past its optimum, C4 below
    (41.0, 310.0, 0.30, 1.0, 0.2),  # beyond C3 Tmax, inside C4's
    (20.0, 250.0, 0.55, 0.3, 1.0),  # C3 optimum
]


def ts_by_hand(t, tmin, topt, tmax):
    if not (tmin < t < tmax):
        return 0.0
    return (t - tmin) * (t - tmax) / ((t - tmin) * (t - tmax) - (t - topt) ** 2)


def pet_by_hand(rn, t, alpha=1.26, gamma=0.066, lam=2.45):
    es = 0.6108 * math.exp(17.27 * t / (t + 237.3))
    delta = 4098 * es / (t + 237.3) ** 2
    return alpha * delta / (delta + gamma) * rn / lam


@pytest.mark.parametrize("t, par, fpar, c4, ws", CASES)
def test_gpp_and_npp_equal_hand_computed_values(t, par, fpar, c4, ws):
    gpp = par * fpar * (c4 * 2.76 * ts_by_hand(t, 0, 30, 45) + (1 - c4) * 1.8 * ts_by_hand(t, 0, 20, 40)) * ws
    got = float(tec.gpp_monthly(par, fpar, c4, t, ws))
    assert got == pytest.approx(gpp, rel=1e-9, abs=1e-12)
    assert float(tec.npp_from_gpp(got)) == pytest.approx(0.5 * gpp, rel=1e-9, abs=1e-12)
    assert float(tec.npp_from_gpp(got, cue=0.45)) == pytest.approx(0.45 * gpp, rel=1e-9, abs=1e-12)


def test_gpp_with_other_parameters_by_hand():
    t, par, fpar, c4, ws = 18.0, 220.0, 0.5, 0.4, 0.8
    c3p, c4p = (-2.0, 22.0, 38.0), (5.0, 32.0, 44.0)
    want = par * fpar * (c4 * 3.0 * ts_by_hand(t, *c4p) + (1 - c4) * 1.5 * ts_by_hand(t, *c3p)) * ws
    got = float(tec.gpp_monthly(par, fpar, c4, t, ws, eps_c3=1.5, eps_c4=3.0, c3=c3p, c4=c4p))
    assert got == pytest.approx(want, rel=1e-9)


def test_temperature_scalar_limits():
    t = np.array([-30.0, -0.5, 0.0, 20.0, 40.0, 40.5, 55.0])
    np.testing.assert_array_equal(tec.temperature_scalar(t, 0, 20, 40), [0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(tec.temperature_scalar(np.array([0.0, 30.0, 45.0]), 0, 30, 45), [0, 1, 0])
    inside = np.linspace(0.01, 39.99, 400)
    ts = tec.temperature_scalar(inside, 0, 20, 40)
    assert ((ts > 0) & (ts <= 1)).all()
    assert np.argmax(ts) == np.argmin(np.abs(inside - 20))
    for t in (5.0, 17.3, 31.0):
        assert float(tec.temperature_scalar(t, 0, 20, 40)) == pytest.approx(ts_by_hand(t, 0, 20, 40), rel=1e-12)


def test_temperature_scalar_rejects_misordered_cardinal_temperatures():
    for bad in ((20, 10, 40), (0, 40, 40), (10, 10, 30)):
        with pytest.raises(ValueError, match="tmin < topt < tmax"):
            tec.temperature_scalar(np.array([10.0]), *bad)


def test_effective_temperature_scalar_reproduces_the_single_ts_form():
    t = np.linspace(-5, 48, 107)
    c4 = np.linspace(0, 1, 107)
    ts = tec.effective_temperature_scalar(t, c4)
    assert ((ts >= 0) & (ts <= 1)).all()
    eps_mix = c4 * 2.76 + (1 - c4) * 1.8
    np.testing.assert_allclose(300 * 0.6 * eps_mix * ts * 0.7, tec.gpp_monthly(300.0, 0.6, c4, t, 0.7), rtol=1e-12)
    # equal cardinal temperatures: the mixture's Ts is the common Ts
    same = tec.effective_temperature_scalar(t, c4, c3=(0, 25, 40), c4=(0, 25, 40))
    np.testing.assert_allclose(same, tec.temperature_scalar(t, 0, 25, 40), rtol=1e-12, atol=1e-15)


def test_priestley_taylor_by_hand():
    for rn, t in [(300.0, 20.0), (150.0, 5.0), (40.0, -3.0), (-20.0, -8.0)]:
        assert float(tec.priestley_taylor_pet(rn, t)) == pytest.approx(pet_by_hand(rn, t), rel=1e-12)
    assert float(tec.priestley_taylor_pet(300.0, 20.0, alpha=1.0, gamma=0.06, lambda_=2.5)) == pytest.approx(
        pet_by_hand(300.0, 20.0, 1.0, 0.06, 2.5), rel=1e-12
    )
    assert float(tec.priestley_taylor_pet(-50.0, 0.0)) < 0
    with pytest.raises(ValueError):
        tec.priestley_taylor_pet(100.0, 10.0, gamma=0.0)


def test_saturation_slope_matches_fao56_table():
    # FAO-56 Annex 2, Table 2.4: Delta at 20 degC = 0.145, at 30 degC = 0.243 kPa/degC
    assert float(tec.saturation_slope(20.0)) == pytest.approx(0.145, abs=5e-4)
    assert float(tec.saturation_slope(30.0)) == pytest.approx(0.243, abs=5e-4)


def test_water_scalar_bounds_and_winter():
    evap = np.array([10.0, 80.0, 200.0, 5.0, 3.0, -4.0, np.nan, np.nan, 7.0])
    pet = np.array([100.0, 100.0, 100.0, -20.0, 0.0, 50.0, 100.0, -5.0, np.nan])
    ws = tec.water_scalar(evap, pet)
    np.testing.assert_allclose(ws[:6], [0.1, 0.8, 1.0, 1.0, 1.0, 0.0])
    assert np.isnan(ws[6:]).all()
    rng = np.random.default_rng(3)
    ws = tec.water_scalar(rng.normal(50, 60, 1000), rng.normal(40, 60, 1000))
    assert ((ws >= 0) & (ws <= 1)).all()


def test_npp_rejects_impossible_cue():
    for cue in (0.0, -0.1, 1.2):
        with pytest.raises(ValueError):
            tec.npp_from_gpp(100.0, cue)


def test_xarray_and_numpy_agree_and_nan_propagates():
    rng = np.random.default_rng(0)
    shape = (12, 4, 5)
    t = rng.uniform(-10, 45, shape)
    t[0, 0, 0] = np.nan
    par, fpar, c4 = rng.uniform(50, 350, shape), rng.uniform(0, 1, shape), rng.uniform(0, 1, shape)
    rn, evap = rng.uniform(-40, 350, shape), rng.uniform(0, 150, shape)
    da = {
        k: xr.DataArray(v, dims=("time", "y", "x"))
        for k, v in dict(t=t, par=par, fpar=fpar, c4=c4, rn=rn, evap=evap).items()
    }
    ws_np = tec.water_scalar(evap, tec.priestley_taylor_pet(rn, t))
    ws_xr = tec.water_scalar(da["evap"], tec.priestley_taylor_pet(da["rn"], da["t"]))
    gpp_np = tec.gpp_monthly(par, fpar, c4, t, ws_np)
    gpp_xr = tec.gpp_monthly(da["par"], da["fpar"], da["c4"], da["t"], ws_xr)
    assert isinstance(gpp_xr, xr.DataArray) and gpp_xr.dims == ("time", "y", "x")
    np.testing.assert_allclose(gpp_xr.values, gpp_np, rtol=1e-12)
    assert np.isnan(gpp_np[0, 0, 0]) and np.isnan(gpp_xr.values[0, 0, 0])
    assert np.isfinite(gpp_np.ravel()[1:]).all() and (gpp_np.ravel()[1:] >= 0).all()
