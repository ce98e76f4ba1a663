"""Carbon models: hand-computed values, limits and shapes, the MOD17 path, attributes."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import carbon, checks
from nepflow.carbon import rh, tec
from nepflow.errors import NepflowError

# (T degC, P mm, PAR MJ m-2 month-1, FPAR, f_C4, Ws)
CASES = [(25.0, 120.0, 280.0, 0.62, 0.8, 0.7), (12.0, 30.0, 190.0, 0.35, 0.0, 0.45),
         (-4.0, 3.0, 90.0, 0.1, 0.0, 1.0), (33.0, 210.0, 300.0, 0.8, 0.5, 0.9), (41.0, 10.0, 310.0, 0.3, 1.0, 0.2)]


def ts_by_hand(t, tmin, topt, tmax):
    if not (tmin < t < tmax):
        return 0.0
    return (t - tmin) * (t - tmax) / ((t - tmin) * (t - tmax) - (t - topt) ** 2)


@pytest.mark.parametrize("t, p, par, fpar, c4, ws", CASES)
def test_hand_computed_monthly_values(t, p, par, fpar, c4, ws):
    ts3 = ts_by_hand(t, 0, 20, 40)
    ts4 = ts_by_hand(t, 0, 30, 45)
    gpp = par * fpar * (c4 * 2.76 * ts4 + (1 - c4) * 1.8 * ts3) * ws
    npp = 0.5 * gpp
    rh_hand = 0.22 * (math.exp(0.0912 * t) + math.log(0.3145 * p + 1)) * 30 * 0.465
    assert float(tec.gpp_monthly(np.float64(par), fpar, c4, np.float64(t), ws)) == pytest.approx(gpp, rel=1e-9, abs=1e-12)
    assert float(tec.npp_from_gpp(gpp)) == pytest.approx(npp, rel=1e-9)
    assert float(rh.rh_monthly(t, p)) == pytest.approx(rh_hand, rel=1e-9)
    assert float(tec.npp_from_gpp(gpp)) - float(rh.rh_monthly(t, p)) == pytest.approx(npp - rh_hand, rel=1e-9, abs=1e-9)


def test_rh_reference_values():
    assert rh.rh_monthly(0.0, 0.0) == pytest.approx(3.069, abs=5e-4)
    assert rh.rh_monthly(20.0, 100.0) == pytest.approx(29.70, abs=5e-3)
    # 0.0913, the coefficient of some published code: 29.73 (SCIENCE.md printed 29.72)
    assert rh.rh_monthly(20.0, 100.0, b=0.0913) == pytest.approx(0.22 * (math.exp(1.826) + math.log(32.45)) * 13.95,
                                                                  rel=1e-12)


def test_temperature_scalar_limits():
    t = np.array([-5.0, 0.0, 20.0, 40.0, 45.0, 10.0])
    ts = tec.temperature_scalar(t, 0, 20, 40)
    assert list(ts[:5]) == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert 0 < ts[5] < 1
    assert np.isnan(tec.temperature_scalar(np.array([np.nan]))).all()
    with pytest.raises(ValueError):
        tec.temperature_scalar(t, 20, 10, 40)


def test_water_scalar_bounds_and_winter():
    evap = np.array([10.0, 80.0, 200.0, 5.0, 3.0])
    pet = np.array([100.0, 100.0, 100.0, -20.0, 0.0])
    ws = tec.water_scalar(evap, pet)
    np.testing.assert_allclose(ws, [0.1, 0.8, 1.0, 1.0, 1.0])
    assert ((ws >= 0) & (ws <= 1)).all()


def test_priestley_taylor_by_hand():
    rn, t = 300.0, 20.0
    es = 0.6108 * math.exp(17.27 * t / (t + 237.3))
    delta = 4098 * es / (t + 237.3) ** 2
    assert float(tec.priestley_taylor_pet(rn, t)) == pytest.approx(1.26 * delta / (delta + 0.066) * rn / 2.45, rel=1e-12)


def test_rh_increases_with_t_and_p():
    t = np.linspace(-20, 35, 50)
    assert (np.diff(rh.rh_monthly(t, 50.0)) > 0).all()
    p = np.linspace(0, 400, 50)
    assert (np.diff(rh.rh_monthly(15.0, p)) > 0).all()


def forcing(n=3, seed=0):
    rng = np.random.default_rng(seed)
    time = pd.date_range("2005-01-01", periods=12, freq="MS")
    m = np.arange(1, 13)[:, None, None]
    shape = (12, n, n)
    data = {
        "tas": 12 + 14 * np.cos(2 * np.pi * (m - 7) / 12) + rng.normal(0, 1, shape),
        "pr": np.abs(60 + 80 * np.cos(2 * np.pi * (m - 7) / 12) + rng.normal(0, 5, shape)),
        "par": 150 + 80 * np.cos(2 * np.pi * (m - 6) / 12) + rng.normal(0, 5, shape),
        "fpar": np.clip(0.4 + 0.3 * np.cos(2 * np.pi * (m - 7.5) / 12) + rng.normal(0, 0.02, shape), 0, 1),
        "rn": 150 + 120 * np.cos(2 * np.pi * (m - 6) / 12) + rng.normal(0, 5, shape),
        "c4_frac": np.where((m >= 6) & (m <= 9), 0.6, 0.0) * np.ones(shape),
        "sund": np.full(shape, 200.0),
    }
    data["evap"] = 0.6 * data["pr"]
    ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()},
                    coords={"time": time, "y": np.arange(n), "x": np.arange(n)})
    units = {"tas": "degC", "pr": "mm month-1", "par": "MJ m-2 month-1", "fpar": "1", "rn": "MJ m-2 month-1",
             "c4_frac": "1", "sund": "h month-1", "evap": "mm month-1"}
    for k, u in units.items():
        ds[k].attrs["units"] = u
    return ds


def test_annual_fluxes_sum_months_and_nep_is_npp_minus_rh():
    f = forcing()
    annual, monthly = carbon.annual_fluxes(f, {}, monthly=True)
    for v in ("gpp", "npp", "rh"):
        np.testing.assert_allclose(annual[v].values, monthly[v].sum("time").values, rtol=1e-12)
    np.testing.assert_array_equal(annual.nep.values, annual.npp.values - annual.rh.values)
    # by hand for one pixel
    i = (slice(None), 1, 2)
    t, p = f.tas.values[i], f.pr.values[i]
    pet = tec.priestley_taylor_pet(f.rn.values[i], t)
    ws = np.where(pet > 0, np.clip(f.evap.values[i] / pet, 0, 1), 1.0)
    gpp = sum(f.par.values[i][k] * f.fpar.values[i][k] * (f.c4_frac.values[i][k] * 2.76 * ts_by_hand(t[k], 0, 30, 45)
              + (1 - f.c4_frac.values[i][k]) * 1.8 * ts_by_hand(t[k], 0, 20, 40)) * ws[k] for k in range(12))
    assert float(annual.gpp[1, 2]) == pytest.approx(gpp, rel=1e-9)
    for v in ("gpp", "npp", "rh", "nep"):
        assert annual[v].attrs["units"] == "g C m-2 yr-1"
        assert "comment" in annual[v].attrs and annual[v].attrs["rh_b"] == 0.0912
    assert monthly.gpp.attrs["units"] == "g C m-2 month-1"
    assert "Yan" in annual.gpp.attrs["comment"] and "Pei" in annual.rh.attrs["comment"]


def test_parameters_change_results_and_are_recorded():
    f = forcing()
    a = carbon.annual_fluxes(f, {"cue": 0.45, "rh": {"b": 0.0913}})
    b = carbon.annual_fluxes(f, {})
    np.testing.assert_allclose(a.npp.values, 0.9 * b.npp.values, rtol=1e-12)
    assert (a.rh.values > b.rh.values).all()
    assert a.rh.attrs["rh_b"] == 0.0913 and a.npp.attrs["cue"] == 0.45


def test_mod17_path():
    f = forcing()
    f["npp_mod17"] = (("y", "x"), np.full((3, 3), 412.5))
    a = carbon.annual_fluxes(f, {"npp": "mod17"})
    assert (a.npp.values == 412.5).all()
    np.testing.assert_allclose(a.nep.values, 412.5 - a.rh.values)
    assert "MOD17" in a.npp.attrs["comment"]
    with pytest.raises(NepflowError, match="npp_mod17"):
        carbon.annual_fluxes(forcing(), {"npp": "mod17"})


def test_nan_outside_region_stays_nan():
    f = forcing()
    f = f.where(~((f.x == 0) & (f.y == 0)))
    a = carbon.annual_fluxes(f, {})
    assert np.isnan(a.nep.values[0, 0]) and np.isfinite(a.nep.values[1, 1])


# ----------------------------------------------------------------- checks
def test_checks_pass_good_forcing():
    ds, warnings = checks.check_forcing(forcing(), "forcing/2005.nc")
    assert warnings == []


@pytest.mark.parametrize("var, value, words", [("fpar", 1.5, "fpar"), ("pr", -3.0, "pr"), ("tas", -80.0, "tas")])
def test_checks_reject_out_of_range(var, value, words):
    f = forcing()
    f[var].values[6, 0, 0] = value
    with pytest.raises(NepflowError, match=f"forcing/2005.nc: variable {words} has values out of range"):
        checks.check_forcing(f, "forcing/2005.nc")


def test_checks_units_conversion_and_strictness():
    f = forcing()
    f["pr"] = f.pr / 1000
    f["pr"].attrs["units"] = "m month-1"
    f["tas"] = f.tas + 273.15
    f["tas"].attrs["units"] = "K"
    ds, warnings = checks.check_forcing(f, "x.nc")
    np.testing.assert_allclose(ds.pr.values, forcing().pr.values, rtol=1e-12)
    np.testing.assert_allclose(ds.tas.values, forcing().tas.values, rtol=1e-12, atol=1e-12)
    assert len(warnings) == 2 and ds.pr.attrs["units"] == "mm month-1"
    with pytest.raises(NepflowError, match="strict checks convert nothing"):
        checks.check_forcing(f, "x.nc", "strict")
    g = forcing()
    del g["pr"].attrs["units"]
    with pytest.raises(NepflowError, match="x.nc: variable pr has no units attribute"):
        checks.check_forcing(g, "x.nc")


def test_relaxed_clips_small_violations_with_warning():
    f = forcing()
    f["fpar"].values[6, 0, 0] = 1.03
    with pytest.raises(NepflowError):
        checks.check_forcing(f, "x.nc", "default")
    ds, warnings = checks.check_forcing(f, "x.nc", "relaxed")
    assert float(ds.fpar.max()) == 1.0 and "clipped" in warnings[0]
    f["fpar"].values[6, 0, 0] = 1.5
    with pytest.raises(NepflowError):
        checks.check_forcing(f, "x.nc", "relaxed")


def test_checks_months_and_grids():
    with pytest.raises(NepflowError, match="11 months"):
        checks.check_forcing(forcing().isel(time=slice(0, 11)), "x.nc")
