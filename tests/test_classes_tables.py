"""Class maps, area statistics and the summary table."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nepflow import areastats, classify, summary
from nepflow import config as nconfig
from nepflow.errors import NepflowError


def da(values, name):
    values = np.asarray(values, dtype="float64")
    return xr.DataArray(
        values.reshape(1, -1), dims=("y", "x"), coords={"y": [0.0], "x": np.arange(values.size)}, name=name
    )


def codes(d):
    return list(np.asarray(d.values).ravel())


def test_trend_classes_every_class_and_missing():
    slope = da([2.0, 2.0, 0.0, -1.0, -1.0, np.nan, 3.0], "ols_slope")
    p = da([0.01, 0.2, np.nan, 0.3, 0.049, 0.01, 0.05], "ols_p")
    c = classify.trend_classes(slope, p)
    assert codes(c) == [1, 2, 3, 4, 5, -1, 2]  # p = 0.05 is not significant
    assert c.dtype == np.int8
    assert c.attrs["flag_meanings"].split()[0] == "significant_increase"
    assert list(c.attrs["flag_values"]) == [1, 2, 3, 4, 5]


def test_no_change_band():
    slope = da([2.0, 0.4, -0.5, -0.6, 0.6, np.nan], "ols_slope")
    p = da([0.01, 0.01, 0.01, 0.01, 0.2, 0.01], "ols_p")
    assert codes(classify.trend_classes(slope, p, no_change_slope=0.5)) == [1, 3, 3, 5, 2, -1]


@pytest.mark.parametrize(
    "scheme, values, expected",
    [
        ("default", [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.41, np.nan], [1, 1, 2, 2, 3, 3, 4, 4, 5, -1]),
        ("fine", [0.05, 0.06, 0.10, 0.15, 0.2, 0.21], [1, 2, 2, 3, 4, 5]),
    ],
)
def test_cv_classes_boundaries(scheme, values, expected):
    assert codes(classify.cv_classes(da(values, "cv"), scheme)) == expected


def test_cv_scheme_unknown():
    with pytest.raises(NepflowError, match="classes.cv_scheme"):
        classify.cv_classes(da([0.1], "cv"), "coarse")


def test_hurst_classes_and_significance():
    h = da([0.2, 0.35, 0.4, 0.5, 0.6, 0.65, 0.8, np.nan], "hurst")
    assert codes(classify.hurst_classes(h)) == [1, 1, 2, 3, 4, 4, 5, -1]
    p = da([0.5, 0.5, 0.5, 0.5, 0.01, 0.2, 0.01, np.nan], "hurst_p")
    assert codes(classify.hurst_classes(h, p, require_significance=True)) == [1, 1, 2, 3, 4, 3, 5, -1]


def test_future_classes():
    slope = da([1.0, -1.0, 1.0, -1.0, 1.0, 0.0, np.nan], "ols_slope")
    h = da([0.7, 0.7, 0.3, 0.3, 0.5, 0.7, 0.7], "hurst")
    assert codes(classify.future_classes(slope, h)) == [1, 2, 3, 4, 5, 5, -1]
    p = da([0.01, 0.01, 0.01, 0.01, 0.01, 0.5, 0.01], "ols_p")
    assert codes(classify.future_significant_classes(slope, p, h)) == [1, 2, 3, 3, 3, 3, -1]


def test_one_persistence_rule_for_hurst_and_future_classes():
    """The random band and the hurst_p requirement act on hurst_class, future_class and future_sig_class
    alike: no pixel is random and persistently increasing at once."""
    slope = da([1.0, 1.0, 1.0, -1.0, 1.0, 1.0], "ols_slope")
    p = da([0.01] * 6, "ols_p")
    h = da([0.8, 0.8, 0.52, 0.45, 0.3, 0.6], "hurst")
    hp = da([0.01, 0.3, 0.01, 0.5, 0.9, 0.01], "hurst_p")
    kw = dict(require_significance=True, alpha=0.05, random_band=0.05)
    hc = codes(classify.hurst_classes(h, hp, **kw))
    assert hc == [5, 3, 3, 3, 1, 4]
    fc = codes(classify.future_classes(slope, h, 0.5, hp, **kw))
    assert fc == [1, 5, 5, 5, 3, 1]
    fs = codes(classify.future_significant_classes(slope, p, h, 0.05, 0.5, hp, True, 0.05, 0.05))
    assert fs == [1, 3, 3, 3, 3, 1]
    random = np.array(hc) == 3
    assert not np.any(random & (np.array(fc) <= 2)) and not np.any(random & (np.array(fs) <= 2))


def test_no_change_band_is_one_rule_for_trend_and_future_classes():
    """A slope inside classes.trend.no_change_slope is "no change" in trend_class and has no future trend:
    undetermined in future_class, class 3 in future_sig_class, however persistent and significant."""
    slope = da([2.0, 0.3, -0.3, -2.0, 0.3], "ols_slope")
    p = da([0.01, 0.01, 0.01, 0.01, 0.5], "ols_p")
    h = da([0.8, 0.8, 0.8, 0.8, 0.2], "hurst")
    trend = xr.Dataset({"ols_slope": slope, "ols_p": p})
    hurst = xr.Dataset({"hurst": h, "hurst_p": h.copy(data=np.full((1, 5), 0.01)).rename("hurst_p")})
    stab = xr.Dataset({"cv": da([0.1] * 5, "cv")})
    c = classify.all_classes(
        trend, hurst, stab, xr.Dataset(), nconfig.defaults("classes", {"trend": {"no_change_slope": 0.5}})
    )
    assert codes(c.trend_class) == [1, 3, 3, 5, 3]
    assert codes(c.future_class) == [1, 5, 5, 2, 5]
    assert codes(c.future_sig_class) == [1, 3, 3, 2, 3]
    assert "no trend where |ols_slope| <= 0.5" in c.future_class.attrs["comment"]
    flat = np.array(codes(c.trend_class)) == 3
    assert not np.any(flat & (np.array(codes(c.future_class)) != 5))
    # the default band (0) keeps the study's rule: any positive slope has a future trend
    d = classify.all_classes(trend, hurst, stab, xr.Dataset(), nconfig.defaults("classes"))
    assert codes(d.future_class) == [1, 1, 2, 2, 3]


def test_summary_follows_the_one_persistence_switch():
    """classes.hurst.require_significance changes the persistent share and the continuing-increase rows of the
    summary together (the summary counts the same class maps): a pixel that is not persistent in hurst_class
    is in no continuing-trend row."""
    region, area = grid()
    inside = region.values > 0
    rng = np.random.default_rng(4)
    shape = region.shape
    slope = xr.DataArray(rng.normal(1, 1, shape), dims=("y", "x"), coords=region.coords, name="ols_slope")
    trend = xr.Dataset(
        {"ols_slope": slope.where(inside), "ols_p": slope.copy(data=rng.uniform(0, 0.1, shape)).rename("ols_p")}
    )
    h = slope.copy(data=rng.uniform(0.55, 0.9, shape)).where(inside).rename("hurst")
    hp = h.copy(data=np.where(np.arange(h.size).reshape(shape) % 2, 0.01, 0.5)).rename("hurst_p")
    hurst = xr.Dataset({"hurst": h, "hurst_p": hp})
    stab = xr.Dataset({"cv": h.copy(data=np.full(shape, 0.1)).rename("cv")})
    nep = h.copy(data=np.full(shape, 200.0)).where(inside).rename("nep_mean")
    rows = {}
    for req in (False, True):
        c = classify.all_classes(
            trend, hurst, stab, xr.Dataset(), nconfig.defaults("classes", {"hurst": {"require_significance": req}})
        )
        rows[req] = summary.headline(areastats.area_table(c, area, region), nep, area, region)["all"]
    a = area.values
    up, sig = inside & (slope.values > 0), trend.ols_p.values < 0.05
    for req, pers in ((False, inside), (True, inside & (hp.values < 0.05))):
        r = rows[req]
        assert r["persistent, H > 0.5 (%)"] == pytest.approx(100 * a[pers].sum() / a[inside].sum())
        assert r["continuing increase (%)"] == pytest.approx(100 * a[pers & up].sum() / a[inside].sum())
        assert r["continuing significant increase (%)"] == pytest.approx(
            100 * a[pers & up & sig].sum() / a[inside].sum()
        )
    assert rows[True]["persistent, H > 0.5 (%)"] < rows[False]["persistent, H > 0.5 (%)"]


def test_corr_classes():
    r = da([0.6, 0.1, -0.1, -0.7, 0.0, np.nan], "r_pr")
    p = da([0.01, 0.6, 0.6, 0.001, 1.0, np.nan], "p_r_pr")
    assert codes(classify.corr_classes(r, p)) == [1, 2, 3, 4, 2, -1]


def grid(n=4):
    region = xr.DataArray(
        np.array([[1, 1, 2, 2], [1, 1, 2, 0], [1, 2, 2, 0], [0, 0, 0, 0]], dtype="int16"),
        dims=("y", "x"),
        coords={"y": np.arange(n)[::-1] * 1.0, "x": np.arange(n) * 1.0},
    )
    region.attrs = {"flag_values": np.array([1, 2], dtype="int16"), "flag_meanings": "Alpha Beta_Gamma"}
    area = xr.DataArray(np.arange(1, n * n + 1, dtype="float64").reshape(n, n), dims=("y", "x"), coords=region.coords)
    return region, area


def test_area_table_exact():
    region, area = grid()
    cls = xr.DataArray(
        np.array([[1, 2, 1, 1], [2, 2, 1, -1], [1, -1, 2, -1], [-1, -1, -1, -1]], dtype="int8"),
        dims=("y", "x"),
        coords=region.coords,
        name="trend_class",
    )
    cls.attrs = {"flag_values": np.array([1, 2], dtype="int8"), "flag_meanings": "up down"}
    t = areastats.area_table(xr.Dataset({"trend_class": cls}), area, region)
    assert list(t.columns) == ["classification", "class", "region", "area_km2", "percent", "percent_of_region"]
    a = area.values
    # Alpha: pixels (0,0)=1 up, (0,1)=2 down, (1,0)=5 down, (1,1)=6 down, (2,0)=9 up
    alpha = t[t.region == "Alpha"].set_index("class")
    assert alpha.loc["up", "area_km2"] == a[0, 0] + a[2, 0]
    assert alpha.loc["down", "area_km2"] == a[0, 1] + a[1, 0] + a[1, 1]
    assert alpha.loc["up", "percent"] == pytest.approx(100 * 10 / 23)
    assert alpha.loc["up", "percent_of_region"] == pytest.approx(100 * 10 / 23)  # Alpha has no undefined pixel
    assert alpha.loc["undefined", "area_km2"] == 0
    beta = t[t.region == "Beta Gamma"].set_index("class")  # (2,1) undefined: excluded from the total
    assert beta.loc["up", "area_km2"] == a[0, 2] + a[0, 3] + a[1, 2]
    whole = a[0, 2] + a[0, 3] + a[1, 2] + a[2, 1] + a[2, 2]
    assert beta.loc["undefined", "area_km2"] == pytest.approx(a[2, 1])
    assert beta.loc["undefined", "percent_of_region"] == pytest.approx(100 * a[2, 1] / whole)
    assert beta.loc["up", "percent_of_region"] == pytest.approx(100 * (whole - a[2, 1] - a[2, 2]) / whole)
    assert np.isnan(beta.loc["undefined", "percent"])
    for _, g in t.groupby("region"):
        assert g.percent.sum() == pytest.approx(100)
        assert g.percent_of_region.sum() == pytest.approx(100)


def summary_inputs():
    """A 4 x 4 grid's area table (trend classes), mean NEP, pixel areas, regions, OLS slope and p."""
    region, area = grid()
    rng = np.random.default_rng(1)
    nep = xr.DataArray(rng.normal(220, 60, (4, 4)), dims=("y", "x"), coords=region.coords, name="nep_mean")
    nep = nep.where(region > 0)
    slope = nep.copy(data=rng.normal(1, 2, (4, 4))).where(region > 0).rename("ols_slope")
    p = nep.copy(data=rng.uniform(0, 0.2, (4, 4))).rename("ols_p")
    classes = xr.Dataset({"trend_class": classify.trend_classes(slope, p)})
    return areastats.area_table(classes, area, region), nep, area, region, slope, p


def test_summary_recomputed_independently():
    table, nep, area, region, slope, p = summary_inputs()
    h = summary.headline(table, nep, area, region)
    a = area.values
    inside = region.values > 0
    assert h.loc["mean NEP (g C m-2 yr-1)", "all"] == pytest.approx(
        np.sum(nep.values[inside] * a[inside]) / a[inside].sum(), rel=1e-4
    )
    assert h.loc["total NEP (Tg C yr-1)", "all"] == pytest.approx(
        np.sum(nep.values[inside] * a[inside]) * 1e-6, rel=1e-4
    )
    inc = inside & (slope.values > 0)
    assert h.loc["increasing (%)", "all"] == pytest.approx(100 * a[inc].sum() / a[inside].sum(), rel=1e-4)
    sig = inc & (p.values < 0.05)
    assert h.loc["significantly increasing (%)", "Alpha"] == pytest.approx(
        100 * a[sig & (region.values == 1)].sum() / a[region.values == 1].sum(), rel=1e-4
    )
    md = summary.summary_table(table, nep, area, region, years=[2000, 2020])
    assert md.startswith("# nepflow summary 2000–2020") and "| increasing (%) |" in md and "88.8" in md
    row = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in md.splitlines() if line.startswith("| ")}
    assert row["continuing significant increase (%)"] == "51.4 (a)" and row["continuing increase (%)"] == "see (a)"
    assert "\n(a) The study's 51.4 %" in md


@pytest.mark.parametrize("trend_cfg", [{}, {"basis": "sen_mk", "p": "q", "alpha": 0.1, "no_change_slope": 0.5}])
def test_ensemble_trend_shares_are_the_area_tables(trend_cfg):
    """The ensemble table classifies each model's trends as the run classifies the primary NEP (classes.trend:
    basis, p or q, alpha, no-change band), so the primary model's shares are the area table's trend_class rows."""
    from nepflow import ensemble, stats

    region, area = grid()
    rng = np.random.default_rng(8)
    years = np.arange(2000, 2021)
    nep = xr.DataArray(
        rng.normal(200, 30, (len(years), 4, 4)) + rng.normal(0, 2, (1, 4, 4)) * (years - 2000)[:, None, None],
        dims=("year", "y", "x"),
        coords={"year": years, **region.coords},
        name="nep",
    )
    nep = nep.where(region > 0)
    c = nconfig.defaults("classes", {"trend": trend_cfg})["trend"]
    table = ensemble.compare({"tec": nep}, area, region, trend_cfg=c, mk_variant="yue_wang").iloc[0]
    t = stats.add_qvalues(stats.trend(nep, mk_variant="yue_wang"))
    slope, p = (t.ols_slope, t[f"ols_{c['p']}"]) if c["basis"] == "ols" else (t.sen_slope, t[f"mk_{c['p']}"])
    cls = classify.trend_classes(slope, p, c["alpha"], c["no_change_slope"])
    want = areastats.area_table(xr.Dataset({"trend_class": cls}), area, region)
    want = want[(want.region == "all") & (want["class"] != "undefined")].set_index("class").percent
    for name in classify.TREND_CLASSES:
        assert table[f"{name}_pct"] == pytest.approx(want[name], abs=1e-9), name
