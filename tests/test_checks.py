"""Forcing checks: one-line errors naming file and variable, unit conversions, strictness levels, grids, months."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import checks, variables
from nepflow.errors import NepflowError

PATH = "results/demo/forcing/2005.nc"
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
    rng = np.random.default_rng(seed)
    m = np.arange(1, 13)[:, None, None]
    shape = (12, n, n)
    cyc = lambda peak: np.cos(2 * np.pi * (m - peak) / 12)  # noqa: E731
    data = {
        "tas": 12 + 14 * cyc(7) + rng.normal(0, 1, shape),
        "pr": np.abs(60 + 80 * cyc(7) + rng.normal(0, 5, shape)),
        "par": 200 + 100 * cyc(6) + rng.normal(0, 5, shape),
        "fpar": np.clip(0.4 + 0.25 * cyc(7.5) + rng.normal(0, 0.02, shape), 0, 0.95),
        "rn": 150 + 160 * cyc(6) + rng.normal(0, 5, shape),
        "c4_frac": np.where((m >= 6) & (m <= 9), 0.6, 0.0) * np.ones(shape),
        "sund": np.full(shape, 200.0),
    }
    data["evap"] = 0.6 * data["pr"]
    ds = xr.Dataset(
        {k: (("time", "y", "x"), v.astype("float32")) for k, v in data.items()},
        coords={
            "time": pd.date_range("2005-01-01", periods=12, freq="MS"),
            "y": np.linspace(42.0, 40.0, n),
            "x": np.linspace(114.0, 116.0, n),
        },
    )
    ds = ds.where(~((ds.x == 114.0) & (ds.y == 42.0)))  # NaN outside the region
    for k, u in UNITS.items():
        ds[k].attrs["units"] = u
    return ds


def one_line_error(ds, strictness="default", path=PATH):
    with pytest.raises(NepflowError) as err:
        checks.check_forcing(ds, path, strictness)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    return msg


def test_good_forcing_passes_unchanged_at_every_level():
    f = make_forcing()
    for level in checks.LEVELS:
        ds, warnings = checks.check_forcing(f, PATH, level)
        assert warnings == []
        for v in UNITS:
            np.testing.assert_array_equal(ds[v].values, f[v].values)
            assert ds[v].dtype == np.float32


@pytest.mark.parametrize(
    "var, value",
    [
        ("fpar", 1.5),
        ("fpar", -0.2),
        ("pr", -3.0),
        ("tas", -80.0),
        ("tas", 61.0),
        ("par", 2000.0),
        ("par", -5.0),
        ("rn", -900.0),
        ("sund", 800.0),
        ("evap", -200.0),
        ("c4_frac", 1.3),
        ("tas", np.inf),
        ("pr", -np.inf),
    ],
)
def test_each_range_violation_is_one_line_naming_file_and_variable(var, value):
    f = make_forcing()
    f[var].values[6, 1, 1] = value
    msg = one_line_error(f)
    assert f"variable {var} has " in msg and "expected" in msg
    if np.isfinite(value):
        assert f"{value:g}" in msg and checks.LIMITS[var].why in msg


def test_mod17_range_and_dims():
    f = make_forcing()
    f["npp_mod17"] = (("y", "x"), np.full((3, 3), 5000.0))
    f["npp_mod17"].attrs["units"] = "g C m-2 yr-1"
    assert "variable npp_mod17 has values out of range" in one_line_error(f)
    f["npp_mod17"] = (("y", "x"), np.full((3, 3), 0.35))
    f["npp_mod17"].attrs["units"] = "kg C m-2 yr-1"
    ds, warnings = checks.check_forcing(f, PATH)
    np.testing.assert_allclose(ds.npp_mod17.values, 350.0)
    assert warnings == [f"{PATH}: variable npp_mod17 converted from 'kg C m-2 yr-1' to 'g m-2 yr-1'"]
    f["npp_mod17"] = f["par"]
    assert "variable npp_mod17 has dims (time, y, x); expected (y, x)" in one_line_error(f)


@pytest.mark.parametrize("units", [None, "", "  ", "furlongs", "mm", "mm yr-1"])
def test_undeclared_or_unknown_units_are_rejected(units):
    f = make_forcing()
    if units is None:
        del f["tas"].attrs["units"]
    else:
        f["tas"].attrs["units"] = units
    msg = one_line_error(f, "relaxed")
    assert "variable tas has" in msg and "expected 'degC'" in msg


def test_declared_convertible_units_are_converted():
    good = make_forcing()
    f = make_forcing()
    days = good.time.dt.days_in_month.values[:, None, None]
    f["pr"] = f.pr / 1000
    f["pr"].attrs["units"] = "m"
    f["evap"] = (f.evap / days).astype("float32")
    f["evap"].attrs["units"] = "mm/day"
    f["tas"] = f.tas + 273.15
    f["tas"].attrs["units"] = "K"
    f["fpar"] = f.fpar * 100
    f["fpar"].attrs["units"] = "%"
    f["par"] = (f.par * 1e6 / (days * 86400)).astype("float32")
    f["par"].attrs["units"] = "W m-2"
    f["rn"] = f.rn * 1e6
    f["rn"].attrs["units"] = "J m-2"
    f["sund"].attrs["units"] = "hours month-1"
    ds, warnings = checks.check_forcing(f, PATH)
    assert len(warnings) == 7
    for v in ("pr", "evap", "tas", "fpar", "par", "rn", "sund"):
        np.testing.assert_allclose(ds[v].values, good[v].values, rtol=2e-6, atol=2e-4)
        assert ds[v].attrs["units"] == UNITS[v] and "units_converted_from" in ds[v].attrs
        assert ds[v].dtype == np.float32 and ds[v].dims == ("time", "y", "x")
        assert any(w.startswith(f"{PATH}: variable {v} converted from ") for w in warnings)
    # February 2005 has 28 days: the per-day conversion uses the calendar
    assert float(ds.evap[1, 1, 1]) == pytest.approx(float(f.evap[1, 1, 1]) * 28, rel=1e-6)
    assert float(ds.evap[0, 1, 1]) == pytest.approx(float(f.evap[0, 1, 1]) * 31, rel=1e-6)


def test_integer_percent_is_converted_to_fractions():
    f = make_forcing()
    f["fpar"] = (f.fpar.fillna(0) * 100).round().astype("int16")
    f["fpar"].attrs["units"] = "percent"
    ds, _ = checks.check_forcing(f, PATH)
    assert ds.fpar.dtype.kind == "f" and 0.3 < float(ds.fpar.max()) <= 1


def test_strict_converts_nothing():
    f = make_forcing()
    f["pr"] = f.pr / 1000
    f["pr"].attrs["units"] = "m month-1"
    msg = one_line_error(f, "strict")
    assert "variable pr has units 'm month-1'; expected 'mm month-1' (strict checks convert nothing)" in msg
    g = make_forcing()
    g["pr"].attrs["units"] = "mm/month"  # a spelling variant is a conversion, too
    assert "strict checks convert nothing" in one_line_error(g, "strict")
    assert checks.check_forcing(g, PATH)[0].pr.attrs["units"] == "mm month-1"


def test_rounding_level_excess_is_clipped_unless_strict():
    f = make_forcing()
    f["fpar"].values[6, 1, 1] = np.float32(1.0000005)
    assert f.fpar.values[6, 1, 1] > 1
    assert "variable fpar has values out of range" in one_line_error(f, "strict")
    ds, warnings = checks.check_forcing(f, PATH, "default")
    assert float(ds.fpar.max()) == 1.0 and len(warnings) == 1 and "rounding-level" in warnings[0]


def test_relaxed_clips_small_violations_and_default_says_so():
    f = make_forcing()
    f["fpar"].values[6, 1, 1] = 1.02
    msg = one_line_error(f, "default")
    assert "variable fpar" in msg and "relaxed would clip excesses up to 0.05" in msg
    f["pr"].values[1, 2, 2] = -0.4
    ds, warnings = checks.check_forcing(f, PATH, "relaxed")
    assert float(ds.fpar.max()) == 1.0 and float(ds.pr.min()) == 0.0
    assert len(warnings) == 2 and all("clipped (relaxed checks)" in w for w in warnings)
    assert ds.fpar.attrs["units"] == "1"
    np.testing.assert_array_equal(f.fpar.values[6, 1, 1], np.float32(1.02))  # the input is not modified
    f["fpar"].values[6, 1, 1] = 1.5
    assert "variable fpar has values out of range" in one_line_error(f, "relaxed")


def test_months():
    f = make_forcing()
    assert "11 months; expected 12" in one_line_error(f.isel(time=slice(0, 11)))
    shifted = f.assign_coords(time=pd.date_range("2005-02-01", periods=12, freq="MS"))
    assert "expected January to December of one year" in one_line_error(shifted)
    assert "expected January to December" in one_line_error(f.isel(time=[0, 1, 2, 3, 4, 5, 6, 8, 7, 9, 10, 11]))
    assert "no time dimension" in one_line_error(f.isel(time=0))
    # a time axis without dates (month numbers) is accepted
    ds, _ = checks.check_forcing(f.assign_coords(time=np.arange(1, 13)), PATH)
    assert ds.sizes["time"] == 12


def test_grids_are_identical_across_variables():
    f = make_forcing()
    odd = xr.DataArray(f.tas.values, dims=("time", "lat", "lon"), attrs={"units": "degC"})
    msg = one_line_error(f.drop_vars("tas").assign(tas=odd))
    assert "variable tas has dims (time, lat, lon); expected (time, y, x) on the grid shared by all variables" in msg
    assert "coordinate x is not strictly monotonic" in one_line_error(f.assign_coords(x=[114.0, 116.0, 115.0]))
    assert "no coordinate y" in one_line_error(f.drop_vars("y"))
    assert "coordinate x is not 1-D and finite" in one_line_error(f.assign_coords(x=[114.0, np.nan, 116.0]))


def test_dims_are_put_in_contract_order_and_c4_may_be_static():
    f = make_forcing()
    f["pr"] = f.pr.transpose("y", "x", "time")
    f["c4_frac"] = f.c4_frac.isel(time=6, drop=True)
    ds, warnings = checks.check_forcing(f, PATH)
    assert warnings == [] and ds.pr.dims == ("time", "y", "x") and ds.c4_frac.dims == ("y", "x")


def test_missing_variable_and_bad_strictness():
    assert "missing variable(s) evap" in one_line_error(make_forcing().drop_vars("evap"))
    with pytest.raises(NepflowError, match="config key checks.strictness: 'lenient'"):
        checks.check_forcing(make_forcing(), PATH, "lenient")
    f = make_forcing()
    f["sund"] = f.sund.astype(str)
    assert "variable sund has dtype" in one_line_error(f)


def test_nan_outside_the_region_is_fine_and_kept():
    ds, warnings = checks.check_forcing(make_forcing(), PATH)
    assert warnings == [] and np.isnan(ds.tas.values[:, 0, 0]).all() and np.isfinite(ds.tas.values[:, 1:, 1:]).all()


@pytest.mark.parametrize(
    "var, units, factor",
    [
        # a reader's spellings of the contract's units, and units UDUNITS converts to them
        ("par", "W.m-2", ("rate", 1e6)),
        ("par", "W/m^2", ("rate", 1e6)),
        ("par", "MJ/m2/month", 1.0),
        ("rn", "J m-2", 1e-6),
        ("rn", "kJ.m-2", 1e-3),
        ("pr", "mm h-1", ("rate", 3600.0)),
        ("pr", "mm/month", 1.0),
        ("pr", "cm", 10.0),
        ("pr", "kg m-2", 1.0),
        ("pr", "kg m**-2 s**-1", ("rate", 1.0)),
        ("evap", "mm/d", "days"),
        ("tas", "degK", "kelvin"),
        ("tas", "K", "kelvin"),
        ("tas", "degree_Celsius", 1.0),
        ("tas", "°C", 1.0),
        ("fpar", "%", 0.01),
        ("fpar", "percent", 0.01),
        ("sund", "h", 1.0),
        ("sund", "min month-1", 1 / 60),
        ("sund", "s", 1 / 3600),
        ("sund", "h day-1", "days"),
        ("npp_mod17", "g C/m2/yr", 1.0),
        ("npp_mod17", "kgC m-2 yr-1", 1000.0),
        ("npp_mod17", "g m-2 yr-1", 1.0),
    ],
)
def test_every_convertible_spelling_is_accepted(var, units, factor):
    good = make_forcing()
    if var == "npp_mod17":
        good["npp_mod17"] = (("y", "x"), np.full((3, 3), 350.0, dtype="float32"), {"units": "g m-2 yr-1"})
    f = good.copy(deep=True)
    days = good.time.dt.days_in_month.values[:, None, None].astype("float64")
    v = good[var].values.astype("float64")
    if factor == "kelvin":
        raw = v + 273.15
    elif factor == "days":
        raw = v / days
    elif isinstance(factor, tuple):  # a rate: the month's total / its seconds x (declared units per second)
        raw = v / (days * 86400.0) * factor[1]
    else:
        raw = v / factor
    f[var] = (good[var].dims, raw.astype("float32"), {"units": units})
    ds, warnings = checks.check_forcing(f, PATH)
    np.testing.assert_allclose(ds[var].values, v, rtol=2e-6, atol=2e-4)
    assert ds[var].attrs["units"] == variables.units(var)
    assert warnings == (
        []
        if units == variables.units(var)
        else [f"{PATH}: variable {var} converted from {units!r} to {variables.units(var)!r}"]
    )


@pytest.mark.parametrize(
    "var, units",
    [
        ("tas", "mm"),
        ("pr", "W m-2"),
        ("par", "mm"),
        ("fpar", "K"),
        ("sund", "%"),
        ("sund", "m"),
        ("evap", "kg"),
        ("tas", "bananas"),
        ("npp_mod17", "g C m-2"),
    ],
)
def test_a_unit_not_convertible_is_a_one_line_error(var, units):
    f = make_forcing()
    if var == "npp_mod17":
        f["npp_mod17"] = (("y", "x"), np.full((3, 3), 350.0))
    f[var].attrs["units"] = units
    msg = one_line_error(f, "relaxed")
    assert msg == (
        f"{PATH}: variable {var} has units {units!r}; expected {variables.units(var)!r} or units convertible to it"
    )


def test_all_nan_variable_is_an_error_at_once_or_after_the_blocks():
    f = make_forcing()
    f["sund"] = f["sund"] * np.nan
    assert "variable sund is NaN everywhere" in one_line_error(f)
    # block by block: a block with no value is fine, the file as a whole is not
    g = make_forcing()
    valued = {}
    checks.check_forcing(g.isel(y=[0], x=[0]), PATH, valued=valued)  # the one pixel outside the region
    assert valued["fpar"] is False
    checks.check_forcing(g.isel(y=[1]), PATH, valued=valued)
    assert all(valued.values())
    checks.require_values(valued, PATH)
    valued = {}
    checks.check_forcing(f, PATH, valued=valued)
    with pytest.raises(NepflowError, match=f"^{PATH}: variable sund is NaN everywhere"):
        checks.require_values(valued, PATH)
