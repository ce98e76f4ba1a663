"""The demo run's summary table and area table, recomputed independently.

Independent: written fresh here with numpy from the run's analysis NetCDFs
(trend, hurst, stability, correlation: not classes.nc) and the pixel areas of
grid.nc, without nepflow's classify, areastats or summary. The tiny config uses
the default thresholds (classes section of config/schema.yaml).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

ALPHA = 0.05
CV_BOUNDS = (0.10, 0.20, 0.30, 0.40)
H_LO, H_MID, H_HI = 0.35, 0.5, 0.65


def load(run):
    v = {}
    for name in ("trend", "hurst", "stability", "correlation"):
        with xr.open_dataset(run / "analysis" / f"{name}.nc", decode_coords="all") as ds:
            v.update({k: ds[k].values.astype("float64") for k in ds.data_vars})
    with xr.open_dataset(run / "grid.nc") as g:
        region = g["region"].values
        area = g["pixel_area"].values.astype("float64")
        names = [n.replace("_", " ") for n in g["region"].attrs["flag_meanings"].split()]
    regions = {"all": region > 0, **{n: region == k for k, n in enumerate(names, start=1)}}
    return v, area, regions


def class_masks(v):
    """classification -> (defined, {class: mask}) from the analysis variables."""
    s, p, h, cv = v["ols_slope"], v["ols_p"], v["hurst"], v["cv"]
    sig = p < ALPHA  # NaN p: not significant
    out = {
        "trend_class": (
            np.isfinite(s),
            {
                "significant_increase": (s > 0) & sig,
                "non_significant_increase": (s > 0) & ~sig,
                "no_change": s == 0,
                "non_significant_decrease": (s < 0) & ~sig,
                "significant_decrease": (s < 0) & sig,
            },
        ),
        "cv_class": (
            np.isfinite(cv),
            {
                "highest_stability": cv <= CV_BOUNDS[0],
                "higher_stability": (cv > CV_BOUNDS[0]) & (cv <= CV_BOUNDS[1]),
                "medium_stability": (cv > CV_BOUNDS[1]) & (cv <= CV_BOUNDS[2]),
                "lower_stability": (cv > CV_BOUNDS[2]) & (cv <= CV_BOUNDS[3]),
                "lowest_stability": cv > CV_BOUNDS[3],
            },
        ),
        "hurst_class": (
            np.isfinite(h),
            {
                "strong_anti_persistence": h <= H_LO,
                "weak_anti_persistence": (h > H_LO) & (h < H_MID),
                "random": h == H_MID,
                "weak_persistence": (h > H_MID) & (h <= H_HI),
                "strong_persistence": h > H_HI,
            },
        ),
    }
    both = np.isfinite(s) & np.isfinite(h)
    out["future_class"] = (
        both,
        {
            "persistent_increase": (s > 0) & (h > H_MID),
            "persistent_decrease": (s < 0) & (h > H_MID),
            "increase_turning_to_decrease": (s > 0) & (h < H_MID),
            "decrease_turning_to_increase": (s < 0) & (h < H_MID),
            "undetermined": both & ((h == H_MID) | (s == 0)),
        },
    )
    up, down = (s > 0) & sig & (h > H_MID), (s < 0) & sig & (h > H_MID)
    out["future_sig_class"] = (
        both,
        {
            "persistent_significant_increase": up,
            "persistent_significant_decrease": down,
            "not_significant_or_not_persistent": both & ~up & ~down,
        },
    )
    for kind, r_name, p_name in (("corr", "r_{}", "p_r_{}"), ("pcorr", "pr_{}", "p_pr_{}")):
        for f in ("pr", "tas", "sund"):
            r, pr = v[r_name.format(f)], v[p_name.format(f)]
            sg = pr < ALPHA
            out[f"{kind}_{f}_class"] = (
                np.isfinite(r),
                {
                    "significant_positive": (r >= 0) & sg,
                    "non_significant_positive": (r >= 0) & ~sg,
                    "non_significant_negative": (r < 0) & ~sg,
                    "significant_negative": (r < 0) & sg,
                },
            )
    return out


def percent(area, inside, defined, mask):
    d = inside & defined
    return 100.0 * area[d & mask].sum() / area[d].sum()


def read_summary(path) -> pd.DataFrame:
    rows = [line.strip().strip("|").split("|") for line in path.read_text().splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0]]
    body = [[c.strip() for c in r] for r in rows[1:] if not set(r[0].strip()) <= {"-"}]
    df = pd.DataFrame(body, columns=header).set_index("measure").drop(columns="published study")

    def num(x):
        return np.nan if x in ("n/a", "") else float(x.replace(",", ""))

    return df.map(num)


@pytest.fixture(scope="module")
def recomputed(tiny_run):
    run = tiny_run / "results" / "tiny"
    v, area, regions = load(run)
    masks = class_masks(v)
    nep = v["nep_mean"]
    want = {}
    for rname, inside in regions.items():
        m = {}
        ok = inside & np.isfinite(nep)
        m["mean NEP (g C m-2 yr-1)"] = (nep[ok] * area[ok]).sum() / area[ok].sum()
        m["total NEP (Tg C yr-1)"] = (nep[ok] * area[ok]).sum() * 1e6 / 1e12  # g m-2 yr-1 × km2 → Tg yr-1
        m["area (km2)"] = area[inside].sum()

        def pct(classification, *classes):
            defined, cm = masks[classification]
            return percent(area, inside, defined, np.logical_or.reduce([cm[c] for c in classes]))

        m["increasing (%)"] = pct("trend_class", "significant_increase", "non_significant_increase")
        m["significantly increasing (%)"] = pct("trend_class", "significant_increase")
        m["decreasing (%)"] = pct("trend_class", "significant_decrease", "non_significant_decrease")
        m["significantly decreasing (%)"] = pct("trend_class", "significant_decrease")
        for c in ("highest", "higher", "medium", "lower", "lowest"):
            m[f"{c} stability (%)"] = pct("cv_class", f"{c}_stability")
        m["higher + highest stability (%)"] = pct("cv_class", "highest_stability", "higher_stability")
        m["no CV class (mean NEP <= 0), % of the region"] = (
            100.0 * area[inside & ~masks["cv_class"][0]].sum() / area[inside].sum()
        )
        m["persistent, H > 0.5 (%)"] = pct("hurst_class", "weak_persistence", "strong_persistence")
        m["strongly persistent (%)"] = pct("hurst_class", "strong_persistence")
        m["random, H = 0.5 (%)"] = pct("hurst_class", "random")
        m["anti-persistent, H < 0.5 (%)"] = pct("hurst_class", "weak_anti_persistence", "strong_anti_persistence")
        m["continuing increase (%)"] = pct("future_class", "persistent_increase")
        m["continuing significant increase (%)"] = pct("future_sig_class", "persistent_significant_increase")
        m["continuing decrease (%)"] = pct("future_class", "persistent_decrease")
        m["continuing significant decrease (%)"] = pct("future_sig_class", "persistent_significant_decrease")
        m["increase turning to decrease (%)"] = pct("future_class", "increase_turning_to_decrease")
        m["decrease turning to increase (%)"] = pct("future_class", "decrease_turning_to_increase")
        m["future trend undetermined (%)"] = pct("future_class", "undetermined")
        for kind, how in (("corr", "correlated"), ("pcorr", "partially correlated")):
            for f, label in (("pr", "precipitation"), ("tas", "air temperature"), ("sund", "sunshine duration")):
                c = f"{kind}_{f}_class"
                m[f"positively {how} with {label} (%)"] = pct(c, "significant_positive", "non_significant_positive")
                m[f"significantly positively {how} with {label} (%)"] = pct(c, "significant_positive")
                m[f"negatively {how} with {label} (%)"] = pct(c, "significant_negative", "non_significant_negative")
                m[f"significantly negatively {how} with {label} (%)"] = pct(c, "significant_negative")
        want[rname] = m
    return run, pd.DataFrame(want), masks, area, regions


def test_summary_md_matches_independent_recomputation(recomputed):
    run, want, *_ = recomputed
    got = read_summary(run / "tables" / "summary.md")
    assert list(got.columns) == list(want.columns)  # all + every province
    assert set(got.index) == set(want.index)
    for measure in want.index:
        for region in want.columns:
            w, g = want.loc[measure, region], got.loc[measure, region]
            if np.isnan(w):
                assert np.isnan(g), (measure, region)
            elif "(%)" in measure:  # percent of area: to 0.01 percentage points
                assert abs(g - w) <= 0.01, (measure, region, g, w)
            elif "km2" in measure:  # printed to whole km2
                assert abs(g - w) <= 0.5 + 1e-6 * w, (measure, region, g, w)
            else:  # NEP mean and total: to 0.01 % (printed to 2 decimals)
                assert abs(g - w) <= max(1e-4 * abs(w), 0.005 + 1e-9), (measure, region, g, w)
    # the complements add up, as a sanity check of the recomputation itself
    a = want["all"]
    assert a["increasing (%)"] + a["decreasing (%)"] == pytest.approx(100, abs=1e-6)


def test_area_stats_csv_matches_independent_recomputation(recomputed):
    run, _, masks, area, regions = recomputed
    table = pd.read_csv(run / "tables" / "area_stats.csv")
    assert set(table.classification) == set(masks)
    assert len(table) == sum(len(cm) + 1 for _, cm in masks.values()) * len(regions)  # + one undefined row
    for row in table.itertuples():
        defined, cm = masks[row.classification]
        inside = regions[row.region]
        if row._2 == "undefined":
            a = area[inside & ~defined].sum()
            assert np.isnan(row.percent), row
        else:
            a = area[inside & defined & cm[row._2]].sum()
            assert abs(row.percent - percent(area, inside, defined, cm[row._2])) <= 1e-4, row
        assert row.area_km2 == pytest.approx(a, rel=1e-4, abs=1e-3), row
        assert row.percent_of_region == pytest.approx(100 * a / area[inside].sum(), rel=1e-4, abs=1e-4), row
