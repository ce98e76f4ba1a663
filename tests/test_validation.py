"""Validation against flux towers: FLUXNET2015 CSVs, the site's pixel, scores; the demo's planted bias and RMSE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import demo_sites, validation
from nepflow.errors import NepflowError

YEARS = list(range(2000, 2021))


def test_planted_bias_and_rmse_are_recovered(tmp_path):
    rng = np.random.default_rng(5)
    rows = []
    for site in demo_sites.SITES:
        gpp, nep = rng.uniform(500, 1200, len(YEARS)), rng.uniform(-50, 300, len(YEARS))
        path = tmp_path / f"{site['id']}.csv"
        demo_sites.record(site, YEARS, gpp, nep, seed=1).to_csv(path, index=False)
        obs = validation.read_site(path, site["id"])
        assert list(obs.index) == YEARS
        rows += [
            {
                "site": site["id"],
                "year": y,
                "gpp_obs": obs.loc[y, "GPP_NT_VUT_REF"],
                "gpp_mod": g,
                "nep_obs": -obs.loc[y, "NEE_VUT_REF"],
                "nep_mod": n,
            }
            for y, g, n in zip(YEARS, gpp, nep)
        ]
    t = validation.table(pd.DataFrame(rows)).set_index("site")
    scores = t[t["kind"] == "scores"]
    for site in demo_sites.SITES:
        want = demo_sites.planted(site)
        for k, v in want.items():
            assert scores.loc[site["id"], k] == pytest.approx(v, abs=1e-6), (site["id"], k)
        assert scores.loc[site["id"], "gpp_n"] == len(YEARS)
    assert scores.loc["all", "gpp_n"] == 3 * len(YEARS)
    biases = [s["nep_bias"] for s in demo_sites.SITES]
    assert scores.loc["all", "nep_bias"] == pytest.approx(np.mean(biases), abs=1e-6)


def test_monthly_files_sum_to_years_and_missing_values(tmp_path):
    p = tmp_path / "mm.csv"
    months = [f"2004{m:02d}" for m in range(1, 13)] + [f"2005{m:02d}" for m in range(1, 13)]
    gpp = [1.0] * 24
    nee = [-0.5] * 23 + [-9999]  # December 2005 missing: 2005 does not count
    pd.DataFrame({"TIMESTAMP": months, "GPP_NT_VUT_REF": gpp, "NEE_VUT_REF": nee}).to_csv(p, index=False)
    obs = validation.read_site(p, "X")
    assert obs.loc[2004, "GPP_NT_VUT_REF"] == 366.0 and obs.loc[2004, "NEE_VUT_REF"] == -183.0
    assert obs.loc[2005, "GPP_NT_VUT_REF"] == 365.0 and np.isnan(obs.loc[2005, "NEE_VUT_REF"])


@pytest.mark.parametrize(
    "frame, words",
    [
        ({"TIMESTAMP": ["2001"], "GPP_NT_VUT_REF": [900.0]}, "site S1: .* missing column\\(s\\) NEE_VUT_REF"),
        (
            {"TIMESTAMP": ["2001", "2002"], "GPP_NT_VUT_REF": [-9999, -9999], "NEE_VUT_REF": [-9999, -9999]},
            "site S1: .* all missing \\(-9999\\)",
        ),
        ({"TIMESTAMP": ["2001-01"], "GPP_NT_VUT_REF": [1.0], "NEE_VUT_REF": [1.0]}, "neither YYYY"),
    ],
)
def test_bad_site_files_name_the_site_and_file(tmp_path, frame, words):
    p = tmp_path / "s1.csv"
    pd.DataFrame(frame).to_csv(p, index=False)
    with pytest.raises(NepflowError, match=words):
        validation.read_site(p, "S1")


def test_site_pixel_window_and_outside():
    x, y = np.arange(110.0, 115.0, 0.5) + 0.25, np.arange(40.0, 36.0, -0.5) - 0.25
    row, col = validation.site_pixel({"id": "A", "lon": 111.3, "lat": 38.6}, x, y, "EPSG:4326")
    assert (x[col], y[row]) == (111.25, 38.75)
    da = xr.DataArray(np.arange(80.0).reshape(8, 10), dims=("y", "x"))
    assert validation.extract(da, row, col) == da.values[row, col]
    assert validation.extract(da, row, col, 3) == da.values[row - 1 : row + 2, col - 1 : col + 2].mean()
    with pytest.raises(NepflowError, match=r"validation.sites \(B\): lon 120.0, lat 38.0 is outside the grid"):
        validation.site_pixel({"id": "B", "lon": 120.0, "lat": 38.0}, x, y, "EPSG:4326")


def test_scores_by_hand():
    s = validation.scores(np.array([1.0, 2.0, 3.0, np.nan]), np.array([2.0, 2.0, 5.0, 1.0]))
    assert s["n"] == 3 and s["bias"] == pytest.approx(1.0) and s["rmse"] == pytest.approx(np.sqrt(5 / 3))


def test_plan_time_site_checks_read_the_csv(tmp_path, monkeypatch):
    """The Snakefile's validation reads each site's CSV: a site on the grid with a valid file passes, the same
    site with a file of -9999 only stops the plan naming the site and the file."""
    import copy

    import yaml
    from workflow import ROOT, TINY

    from nepflow import config as nconfig

    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"TIMESTAMP": ["2001"], "GPP_NT_VUT_REF": [900.0], "NEE_VUT_REF": [-200.0]}).to_csv(
        "s.csv", index=False
    )
    pd.DataFrame({"TIMESTAMP": ["2001"], "GPP_NT_VUT_REF": [-9999], "NEE_VUT_REF": [-9999]}).to_csv(
        "m.csv", index=False
    )
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    base.update(yaml.safe_load(TINY.read_text()))
    for name, ok in (("s.csv", True), ("m.csv", False)):
        cfg = copy.deepcopy(base)
        cfg["validation"] = {"sites": [{"id": "T1", "lon": 116.4, "lat": 39.9, "file": name}]}
        if ok:
            nconfig.validate(cfg, ROOT / "config" / "schema.yaml")
        else:
            with pytest.raises(NepflowError, match=r"site T1: m.csv: .* all missing \(-9999\)"):
                nconfig.validate(cfg, ROOT / "config" / "schema.yaml")


def test_land_cover_match_stated():
    assert validation.igbp_class({"id": "A", "landcover": "cro"}) == 12
    assert validation.igbp_class({"id": "A", "landcover": 4}) == 4 and validation.igbp_class({"id": "A"}) is None
    assert validation.landcover_match({"id": "A", "landcover": "CRO"}, 12.0) == "yes"
    assert validation.landcover_match({"id": "A", "landcover": "DBF"}, 12.0) == "no"
    assert validation.landcover_match({"id": "A", "landcover": 12}, np.nan) == "unknown"  # no class on the grid
    assert validation.landcover_match({"id": "A"}, 12.0) == "unknown"
    for bad in ("forest", 18, 0):
        with pytest.raises(NepflowError, match=r"validation.sites \(A\).landcover: .*expected an IGBP class"):
            validation.igbp_class({"id": "A", "landcover": bad})
