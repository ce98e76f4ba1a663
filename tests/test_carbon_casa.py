"""CASA NPP: the stress terms and monthly NPP by hand, eps_max per class, the model ensemble."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from nepflow import carbon
from nepflow.carbon import casa, tec
from nepflow.errors import NepflowError
from test_carbon_annual import P, make_forcing, plan_error


def t2_by_hand(t, topt):
    raw = lambda x: 1.1814 / (1 + math.exp(0.2 * (topt - 10 - x))) / (1 + math.exp(0.3 * (-topt - 10 + x)))  # noqa: E731
    return 0.5 * raw(topt) if (t - topt > 10 or t - topt < -13) else raw(t)


def test_stress_terms_by_hand():
    # Topt 22 degC: Te1 = 0.8 + 0.44 - 0.242 = 0.998
    assert float(casa.t_eps1(xr.DataArray(22.0), xr.DataArray(5.0))) == pytest.approx(0.998, abs=1e-12)
    assert float(casa.t_eps1(xr.DataArray(22.0), xr.DataArray(-10.0))) == 0.0  # frozen month
    # at T = Topt = 20: 1.1814 / (1 + e^-2) / (1 + e^-3) = 0.99122
    assert float(casa.t_eps2(xr.DataArray(20.0), xr.DataArray(20.0))) == pytest.approx(0.991224, abs=1e-6)
    for t in (-5.0, 6.9, 8.0, 15.0, 29.0, 31.0):
        assert float(casa.t_eps2(xr.DataArray(t), xr.DataArray(20.0))) == pytest.approx(t2_by_hand(t, 20.0), rel=1e-12)
    assert float(casa.water_stress(xr.DataArray(0.4))) == pytest.approx(0.7)


def casa_forcing(n=2):
    f = make_forcing(n, seed=1)
    f["landcover"] = (("y", "x"), np.array([[12.0, 4.0], [10.0, np.nan]])[:n, :n])
    f["landcover"].attrs["units"] = "1"
    return f


def test_monthly_npp_by_hand_for_a_few_months_and_classes():
    f = casa_forcing()
    ds = carbon.annual_fluxes(f, P({"npp": "casa"}))
    eps = {12.0: 0.542, 4.0: 0.692, 10.0: 0.542}
    for iy, ix in [(0, 0), (0, 1), (1, 0)]:
        px = {k: f[k].values[:, iy, ix] for k in ("tas", "fpar", "par", "rn", "evap")}
        topt = px["tas"][int(np.argmax(px["fpar"]))]
        total = 0.0
        for m in range(12):
            t = px["tas"][m]
            es = 0.6108 * math.exp(17.27 * t / (t + 237.3))
            delta = 4098 * es / (t + 237.3) ** 2
            pet = 1.26 * delta / (delta + 0.066) * px["rn"][m] / 2.45
            ws = min(max(px["evap"][m] / pet, 0.0), 1.0) if pet > 0 else 1.0
            t1 = (0.8 + 0.02 * topt - 0.0005 * topt**2) if t > -10 else 0.0
            total += (
                px["par"][m]
                * px["fpar"][m]
                * eps[f["landcover"].values[iy, ix]]
                * t1
                * t2_by_hand(t, topt)
                * (0.5 + 0.5 * ws)
            )
        assert ds.npp.values[iy, ix] == pytest.approx(total, rel=1e-12)
    assert np.isnan(ds.npp.values[1, 1])  # no land cover: no eps_max
    # GPP and Rh are TEC's and Pei's whatever the NPP model
    tec_run = carbon.annual_fluxes(f.drop_vars("landcover"), P())
    np.testing.assert_array_equal(ds.gpp.values, tec_run.gpp.values)
    np.testing.assert_array_equal(ds.nep.values, ds.npp.values - ds.rh.values)
    assert "CASA" in ds.npp.attrs["comment"] and "Potter" in ds.npp.attrs["comment"]


def test_eps_max_table_and_default():
    lc = xr.DataArray(np.array([[1.0, 2.0], [16.0, np.nan]]), dims=("y", "x"))
    got = casa.eps_max_map(lc, {"1": 0.4, "2": 0.9, "default": 0.1}).values
    np.testing.assert_array_equal(got[0], [0.4, 0.9])
    assert got[1, 0] == 0.1 and np.isnan(got[1, 1])
    # a user's table replaces the default one: a class it does not list takes its default
    ds = carbon.annual_fluxes(casa_forcing(), P({"npp": "casa", "casa": {"eps_max": {"default": 1.0}}}))
    ref = carbon.annual_fluxes(casa_forcing(), P({"npp": "casa"}))
    assert ds.npp.values[0, 1] == pytest.approx(ref.npp.values[0, 1] / 0.692, rel=1e-12)


@pytest.mark.parametrize(
    "params, key",
    [
        ({"casa": {"eps_max": {"99": 0.5}}}, "carbon.casa.eps_max.99"),
        ({"casa": {"eps_max": {"forest": 0.5}}}, "carbon.casa.eps_max.forest"),
        ({"casa": {"eps_max": {"4": -0.1}}}, "carbon.casa.eps_max.4"),
        ({"models": ["tec", "biome-bgc"]}, "carbon.models"),
        ({"models": []}, "carbon.models"),
    ],
)
def test_bad_casa_and_model_keys(params, key):
    assert f"config key {key}" in plan_error(params)


def test_casa_without_landcover_names_the_variable():
    with pytest.raises(NepflowError, match="variable landcover is missing"):
        carbon.annual_fluxes(make_forcing(2), P({"models": ["tec", "casa"]}))


def test_ensemble_adds_each_model_and_its_mean_and_spread_keeping_the_primary():
    f = casa_forcing()
    single = carbon.annual_fluxes(f, P())
    ens = carbon.annual_fluxes(f, P({"models": ["tec", "casa"]}))
    casa_only = carbon.annual_fluxes(f, P({"npp": "casa"}))
    for v in ("gpp", "npp", "rh", "nep"):  # the primary (tec) unchanged
        np.testing.assert_array_equal(ens[v].values, single[v].values)
    np.testing.assert_array_equal(ens.nep_tec.values, single.nep.values)
    np.testing.assert_array_equal(ens.npp_casa.values, casa_only.npp.values)
    a, b = single.nep.values, casa_only.nep.values
    np.testing.assert_allclose(ens.nep_ensemble_mean.values, (a + b) / 2, rtol=1e-12)
    np.testing.assert_allclose(ens.nep_ensemble_sd.values, np.abs(a - b) / 2, rtol=1e-12)
    assert ens.nep.attrs["npp_models"] == "tec, casa"
    assert carbon.ensemble(P({"npp": "casa", "models": ["tec", "casa"]})) == ["casa", "tec"]
    assert set(single.data_vars) == {"gpp", "npp", "rh", "nep"}  # the default run adds nothing


def test_npp_models_share_the_water_scalar():
    # Topt = T in one month with Ws = 1 and 0: CASA's water term is 1 and 0.5
    ws = tec.water_scalar(xr.DataArray([50.0, 0.0]), xr.DataArray([50.0, 80.0]))
    np.testing.assert_array_equal(casa.water_stress(ws).values, [1.0, 0.5])
