"""annual_fluxes: monthly values by hand, sums, NEP = NPP - Rh, attributes, parameters, MOD17, NaN."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import blocks, carbon, netcdf, variables
from nepflow import config as nconfig
from nepflow.carbon import tec
from nepflow.errors import NepflowError


def P(overrides: dict | None = None) -> dict:
    """The config's ``carbon`` section as a validated config holds it: the schema's defaults, ``overrides`` over them."""
    return nconfig.defaults("carbon", overrides or {})


def plan_error(params: dict) -> str:
    """The one-line error a run with ``carbon: params`` stops with: the schema's, else the models' own check."""
    try:
        nconfig.check({"carbon": params}, nconfig.SCHEMA)
        carbon.annual_fluxes(make_forcing(), P(params))
    except NepflowError as exc:
        return str(exc)
    return ""


FLUXES = ("gpp", "npp", "rh", "nep")
UNITS = {
    "tas": "degC",
    "pr": "mm month-1",
    "par": "MJ m-2 month-1",
    "fpar": "1",
    "rn": "MJ m-2 month-1",
    "c4_frac": "1",
    "sund": "h month-1",
    "evap": "mm month-1",
}


def make_forcing(n=3, seed=0):
    """A small synthetic forcing file of one year, (time=12, y=n, x=n), with the contract's units."""
    rng = np.random.default_rng(seed)
    m = np.arange(1, 13)[:, None, None]
    shape = (12, n, n)
    cyc = lambda peak: np.cos(2 * np.pi * (m - peak) / 12)  # noqa: E731
    data = {
        "tas": 12 + 14 * cyc(7) + rng.normal(0, 1, shape),
        "pr": np.abs(60 + 80 * cyc(7) + rng.normal(0, 5, shape)),
        "par": 200 + 100 * cyc(6) + rng.normal(0, 5, shape),
        "fpar": np.clip(0.4 + 0.25 * cyc(7.5) + rng.normal(0, 0.02, shape), 0, 1),
        "rn": 150 + 160 * cyc(6) + rng.normal(0, 5, shape),
        "c4_frac": np.where((m >= 6) & (m <= 9), 0.6, 0.0) * np.ones(shape),
        "sund": np.full(shape, 200.0),
    }
    data["evap"] = 0.6 * data["pr"]
    ds = xr.Dataset(
        {k: (("time", "y", "x"), v) for k, v in data.items()},
        coords={
            "time": pd.date_range("2005-01-01", periods=12, freq="MS"),
            "y": np.arange(n, dtype=float),
            "x": np.arange(n, dtype=float),
        },
    )
    for k, u in UNITS.items():
        ds[k].attrs["units"] = u
    return ds


def ts_by_hand(t, tmin, topt, tmax):
    if not (tmin < t < tmax):
        return 0.0
    return (t - tmin) * (t - tmax) / ((t - tmin) * (t - tmax) - (t - topt) ** 2)


def month_by_hand(t, p, par, fpar, c4, rn, e, cue=0.5, rh_b=0.0912):
    """GPP, NPP, Rh, NEP of one month and pixel, written out from the equations (scalars, math)."""
    es = 0.6108 * math.exp(17.27 * t / (t + 237.3))
    delta = 4098 * es / (t + 237.3) ** 2
    pet = 1.26 * delta / (delta + 0.066) * rn / 2.45
    ws = min(max(e / pet, 0.0), 1.0) if pet > 0 else 1.0
    gpp = par * fpar * (c4 * 2.76 * ts_by_hand(t, 0, 30, 45) + (1 - c4) * 1.8 * ts_by_hand(t, 0, 20, 40)) * ws
    npp = cue * gpp
    rh = 0.22 * (math.exp(rh_b * t) + math.log(0.3145 * p + 1)) * 30 * 0.465
    return gpp, npp, rh, npp - rh


def pixel_by_hand(f, j, i, **kw):
    v = {k: f[k].values[:, j, i].tolist() for k in ("tas", "pr", "par", "fpar", "c4_frac", "rn", "evap")}
    return [
        month_by_hand(*(v[k][mo] for k in ("tas", "pr", "par", "fpar", "c4_frac", "rn", "evap")), **kw)
        for mo in range(12)
    ]


def test_monthly_values_equal_hand_computed_values():
    f = make_forcing()
    annual, monthly = carbon.annual_fluxes(f, P(), monthly=True)
    for j, i in [(0, 0), (1, 2), (2, 1)]:
        by_hand = pixel_by_hand(f, j, i)
        for mo in range(12):
            for k, name in enumerate(FLUXES):
                assert float(monthly[name][mo, j, i]) == pytest.approx(by_hand[mo][k], rel=1e-9, abs=1e-9)
        for k, name in enumerate(FLUXES):
            assert float(annual[name][j, i]) == pytest.approx(sum(m[k] for m in by_hand), rel=1e-9)


def test_handful_of_typical_months_by_hand():
    # (T, P, PAR, FPAR, f_C4, Rn, E): summer maize, spring, winter (E_PT <= 0), hot, dry
    cases = [
        (25.0, 100.0, 300.0, 0.6, 0.8, 280.0, 90.0),
        (12.0, 30.0, 190.0, 0.35, 0.0, 150.0, 25.0),
        (-4.0, 3.0, 90.0, 0.1, 0.0, -15.0, 2.0),
        (33.0, 210.0, 300.0, 0.8, 0.5, 320.0, 140.0),
        (18.0, 5.0, 260.0, 0.3, 0.0, 220.0, 10.0),
    ]
    cols = list(zip(*cases))
    names = ("tas", "pr", "par", "fpar", "c4_frac", "rn", "evap")
    # the five cases repeated over the 12 months of one pixel
    ds = xr.Dataset({n: (("time", "y", "x"), np.resize(np.array(c), 12)[:, None, None]) for n, c in zip(names, cols)})
    _, monthly = carbon.annual_fluxes(ds, P({"cue": 0.45, "rh": {"b": 0.0913}}), monthly=True)
    for mo in range(12):
        want = month_by_hand(*cases[mo % len(cases)], cue=0.45, rh_b=0.0913)
        got = [float(monthly[n][mo, 0, 0]) for n in FLUXES]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_annual_is_the_sum_of_months_and_nep_is_npp_minus_rh_exactly():
    annual, monthly = carbon.annual_fluxes(make_forcing(), P(), monthly=True)
    for v in ("gpp", "npp", "rh"):
        np.testing.assert_allclose(annual[v].values, monthly[v].sum("time").values, rtol=1e-12)
    np.testing.assert_array_equal(annual.nep.values, annual.npp.values - annual.rh.values)
    np.testing.assert_array_equal(monthly.nep.values, monthly.npp.values - monthly.rh.values)
    assert annual.nep.dims == ("y", "x") and all(annual[v].dtype == np.float64 for v in FLUXES)
    assert set(annual.data_vars) == set(FLUXES)
    assert set(monthly.data_vars) == {*FLUXES, "ts", "ws", "pet"}
    assert ((monthly.ts >= 0) & (monthly.ts <= 1)).all() and ((monthly.ws >= 0) & (monthly.ws <= 1)).all()


def test_units_and_attributes():
    annual, monthly = carbon.annual_fluxes(make_forcing(), P(), monthly=True)
    for v in FLUXES:
        a = annual[v].attrs
        assert a["units"] == "g m-2 yr-1" == variables.units(v)
        assert a["long_name"] == variables.attrs(v)["long_name"] and "standard_name" in a
        assert a["rh_b"] == 0.0912 and a["eps_c3"] == 1.8 and a["eps_c4"] == 2.76 and a["cue"] == 0.5
        assert a["npp_source"] == "tec"
        assert monthly[v].attrs["units"] == "g m-2 month-1"
        assert "Monthly" in monthly[v].attrs["description"]
    assert "Yan" in annual.gpp.attrs["comment"] and "ARTS" in annual.gpp.attrs["comment"]
    assert "Pei" in annual.rh.attrs["comment"] and "0.0912" in annual.rh.attrs["comment"]
    assert "NPP - Rh" in annual.nep.attrs["comment"]
    assert (monthly.ts.attrs["units"], monthly.ws.attrs["units"], monthly.pet.attrs["units"]) == (
        "1",
        "1",
        "mm month-1",
    )
    flat = carbon.parameter_attrs(P())
    assert set(flat) <= set(annual.gpp.attrs)
    assert len(flat) == 18  # every numeric parameter of the models, plus the NPP source


def test_written_file_keeps_float32_and_attributes(tmp_path):
    annual = carbon.annual_fluxes(make_forcing(), P())
    path = netcdf.write_netcdf(annual, tmp_path / "carbon.nc")
    with xr.open_dataset(path) as back:
        for v in FLUXES:
            assert back[v].dtype == np.float32
            assert back[v].attrs["units"] == "g m-2 yr-1" and back[v].attrs["rh_b"] == pytest.approx(0.0912)
            np.testing.assert_allclose(back[v].values, annual[v].values, rtol=1e-6)


def test_parameters_change_results_and_are_recorded():
    f = make_forcing()
    a = carbon.annual_fluxes(f, P({"cue": 0.45, "rh": {"b": 0.0913}, "temperature": {"c3": {"topt": 22}}}))
    b = carbon.annual_fluxes(f, P())
    np.testing.assert_allclose(a.rh.values, carbon.annual_fluxes(f, P({"rh": {"b": 0.0913}})).rh.values, rtol=0)
    assert (a.rh.values > b.rh.values).all()
    assert not np.allclose(a.gpp.values, b.gpp.values)
    assert a.rh.attrs["rh_b"] == 0.0913 and a.npp.attrs["cue"] == 0.45 and a.gpp.attrs["topt_c3"] == 22.0
    assert a.gpp.attrs["tmax_c3"] == 40.0  # untouched siblings keep their defaults


@pytest.mark.parametrize(
    "params, key",
    [
        ({"cue": 1.5}, "carbon.cue"),
        ({"eps_c3": 0}, "carbon.eps_c3"),
        ({"npp": "biome-bgc"}, "carbon.npp"),
        ({"rh": {"bee": 0.09}}, "carbon.rh.bee"),
        ({"temperature": {"c4": {"topt": 50}}}, "carbon.temperature.c4"),
        ({"water": {"gamma": "0.066"}}, "carbon.water.gamma"),
        ({"colour": "green"}, "carbon.colour"),
        ({"monthly_output": "yes"}, "carbon.monthly_output"),
    ],
)
def test_invalid_parameters_name_the_config_key(params, key):
    assert f"config key {key}" in plan_error(params)


def test_mod17_path():
    f = make_forcing()
    mod17 = np.array([[412.5, 380.0, np.nan], [250.0, 0.0, 300.0], [500.0, 420.0, 390.0]])
    f["npp_mod17"] = (("y", "x"), mod17)
    f["npp_mod17"].attrs["units"] = "g m-2 yr-1"
    annual, monthly = carbon.annual_fluxes(f, P({"npp": "mod17"}), monthly=True)
    tec_run = carbon.annual_fluxes(f, P())
    np.testing.assert_array_equal(annual.npp.values, mod17)
    np.testing.assert_array_equal(annual.nep.values, mod17 - annual.rh.values)
    np.testing.assert_array_equal(annual.gpp.values, tec_run.gpp.values)  # GPP is still TEC's
    np.testing.assert_array_equal(annual.rh.values, tec_run.rh.values)
    assert np.isnan(annual.nep.values[0, 2]) and np.isfinite(annual.gpp.values[0, 2])
    assert "MOD17" in annual.npp.attrs["comment"] and "MOD17" in annual.gpp.attrs["comment"]
    assert annual.npp.attrs["npp_source"] == "mod17"
    # monthly NPP distributes the annual MOD17 value in proportion to GPP
    np.testing.assert_allclose(monthly.npp.sum("time", skipna=False).values, mod17, rtol=1e-12)
    share = monthly.gpp / monthly.gpp.sum("time")
    np.testing.assert_allclose(monthly.npp.values, (share * mod17).values, rtol=1e-12)


def test_mod17_without_the_variable_or_with_months_is_an_error():
    with pytest.raises(NepflowError, match="npp_mod17 is missing but config key carbon.npp is mod17"):
        carbon.annual_fluxes(make_forcing(), P({"npp": "mod17"}))
    f = make_forcing()
    f["npp_mod17"] = f["par"]
    with pytest.raises(NepflowError, match="npp_mod17 has dims"):
        carbon.annual_fluxes(f, P({"npp": "mod17"}))


def test_nan_outside_region_stays_nan():
    f = make_forcing()
    outside = (f.x == 0) & (f.y == 0)
    f = f.where(~outside)
    annual, monthly = carbon.annual_fluxes(f, P(), monthly=True)
    for v in FLUXES:
        assert np.isnan(annual[v].values[0, 0]) and np.isfinite(annual[v].values[1:, 1:]).all()
    for v in monthly.data_vars:
        assert np.isnan(monthly[v].values[:, 0, 0]).all(), v
    # one missing month of one driver makes that pixel's annual flux NaN, not a smaller sum
    g = make_forcing()
    g["fpar"][5, 2, 2] = np.nan
    a = carbon.annual_fluxes(g, P())
    assert np.isnan(a.gpp.values[2, 2]) and np.isnan(a.nep.values[2, 2]) and np.isfinite(a.rh.values[2, 2])


def test_forcing_shape_errors():
    with pytest.raises(NepflowError, match="11 months"):
        carbon.annual_fluxes(make_forcing().isel(time=slice(0, 11)), P())
    with pytest.raises(NepflowError, match="missing variable.*evap"):
        carbon.annual_fluxes(make_forcing().drop_vars("evap"), P())


def north_china_cycle(e_over_pet=0.7, c4_summer=0.3):
    """A typical annual cycle: summer T 25 degC, P ~100-130 mm, PAR 300 MJ m-2 month-1, FPAR 0.6; P 500 mm/yr."""
    m = np.arange(1, 13)
    cyc = lambda peak: np.cos(2 * np.pi * (m - peak) / 12)  # noqa: E731
    bump = np.exp(-0.5 * ((m - 7.4) / 1.4) ** 2) + 0.03
    v = {
        "tas": 12 + 13 * cyc(7),
        "pr": 500 * bump / bump.sum(),
        "par": 200 + 100 * cyc(6),
        "fpar": 0.35 + 0.25 * cyc(7.5),
        "rn": 150 + 150 * cyc(6.5),
        "c4_frac": np.where((m >= 6) & (m <= 9), c4_summer, 0.0),
    }
    v["evap"] = e_over_pet * np.maximum(np.asarray(tec.priestley_taylor_pet(v["rn"], v["tas"])), 0)
    return xr.Dataset({k: (("time", "y", "x"), a[:, None, None]) for k, a in v.items()})


@pytest.mark.parametrize("e_over_pet, c4_summer", [(0.5, 0.0), (0.7, 0.3), (0.8, 0.4)])
def test_defaults_give_plausible_north_china_fluxes(e_over_pet, c4_summer):
    a = carbon.annual_fluxes(north_china_cycle(e_over_pet, c4_summer), P())
    npp, rh = float(a.npp[0, 0]), float(a.rh[0, 0])
    assert 300 <= npp <= 700, npp
    assert 200 <= rh <= 350, rh


def test_blocks_of_rows_give_the_same_answer(monkeypatch):

    f = make_forcing(n=7, seed=4)
    f = f.where(~((f.x == 3) & (f.y == 5)))
    f["npp_mod17"] = (("y", "x"), np.linspace(200, 500, 49).reshape(7, 7))
    whole, _ = carbon.annual_fluxes(f, P({"npp": "mod17"}), monthly=True)
    monkeypatch.setitem(blocks.INNER_PIXELS, "carbon_models", 10)  # one row (7 pixels) per block
    blocked = carbon.annual_fluxes(f, P({"npp": "mod17"}))
    for v in FLUXES:
        np.testing.assert_array_equal(blocked[v].values, whole[v].values)
        assert blocked[v].attrs == whole[v].attrs
    np.testing.assert_array_equal(blocked.y.values, f.y.values)


def test_static_c4_fraction_broadcasts_over_the_months():
    f = make_forcing()
    static = f.assign(c4_frac=f.c4_frac.isel(time=6, drop=True))
    monthly_c4 = f.assign(c4_frac=static.c4_frac.expand_dims(time=f.time).transpose("time", "y", "x"))
    a, ma = carbon.annual_fluxes(static, P(), monthly=True)
    b, mb = carbon.annual_fluxes(monthly_c4, P(), monthly=True)
    for v in ma.data_vars:
        assert ma[v].dims == ("time", "y", "x"), v
        np.testing.assert_allclose(ma[v].values, mb[v].values, rtol=1e-12)
    for v in FLUXES:
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-12)
