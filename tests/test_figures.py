"""Figures: files exist, are valid and not blank, and show the data they claim."""
from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import classify, figures, regions


def field(values, name="nep_mean"):
    ny, nx = values.shape
    da = xr.DataArray(values, dims=("y", "x"), name=name,
                      coords={"y": 42.5 - 0.25 * np.arange(ny), "x": 110.25 + 0.25 * np.arange(nx)})
    return da.rio.write_crs("EPSG:4326")


def check_png(path, min_std=0.02):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    assert img[..., :3].std() > min_std, "figure looks blank"
    with open(path.with_suffix(".pdf"), "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_continuous_map_limits_and_units(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.normal(200, 50, (30, 50))
    v[:5, :5] = np.nan
    out = figures.map_continuous(field(v), tmp_path / "m", "Mean annual NEP, 2000–2020", "g C m-2 yr-1",
                                 vmin=0, vmax=400, outlines=regions.province_shapes(["Beijing"]), dpi=100)
    assert out["clim"] == (0.0, 400.0)
    check_png(tmp_path / "m.png")
    auto = figures.map_continuous(field(v), tmp_path / "a", "t", "u", diverging=True, dpi=80)
    lo, hi = np.nanpercentile(v, [2, 98])
    assert auto["clim"] == pytest.approx((-max(abs(lo), abs(hi)), max(abs(lo), abs(hi))))


def test_class_map_legend_matches_flags(tmp_path):
    slope = field(np.linspace(-3, 3, 600).reshape(20, 30), "ols_slope")
    p = field(np.tile([0.01, 0.5], 300).reshape(20, 30), "ols_p")
    cls = classify.trend_classes(slope, p).rio.write_crs("EPSG:4326")
    out = figures.map_classes(cls, tmp_path / "c", "Trend of NEP", dpi=100)
    assert out["labels"] == [n.replace("_", " ") for n in cls.attrs["flag_meanings"].split()]
    check_png(tmp_path / "c.png")


def test_timeseries_fit_in_legend(tmp_path):
    years = np.arange(2000, 2021)
    df = pd.DataFrame({"year": np.tile(years, 2), "region": ["all"] * 21 + ["Hebei"] * 21,
                       "nep": np.tile(200 + 3.0 * (years - 2000), 2), "npp": 450.0, "rh": 250.0, "gpp": 900.0})
    out = figures.timeseries(df, tmp_path / "ts", "Regional mean NEP", dpi=100)
    assert out["fits"]["nep"][0] == pytest.approx(3.0)
    check_png(tmp_path / "ts.png", min_std=0.01)
    sm = figures.timeseries_small_multiples(df, tmp_path / "sm", "NEP per province", dpi=100)
    assert list(sm["fits"]) == ["Hebei"]
