"""The workflow with CASA in an ensemble, uncertainty draws and the demo's synthetic towers, on the tiny demo.

The primary NEP is the default run's, byte for byte in value; the ensemble, uncertainty and validation
outputs exist and say what they must (the planted tower offsets recovered).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from nepflow import demo_sites
from workflow import TINY, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def extras(tiny_run, tmp_path_factory):
    wd = tmp_path_factory.mktemp("extras") / "run"
    shutil.copytree(tiny_run, wd, symlinks=True)
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(
        {
            "carbon": {"models": ["tec", "casa"]},
            "uncertainty": {"draws": 100},
            "validation": {"demo_sites": True},
            "years": {"start": 2000, "end": 2007},
        }
    )  # 8 years: quicker
    path = wd / "extras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    targets = [
        "results/tiny/tables/ensemble.csv",
        "results/tiny/ensemble/models.png",
        "results/tiny/tables/uncertainty.csv",
        "results/tiny/tables/validation.csv",
        "results/tiny/tables/summary.md",
    ]
    snakemake(wd, "--cores", "2", *targets, configfile=path)
    return wd


def test_primary_nep_is_the_default_runs(tiny_run, extras):
    for year in (2000, 2007):
        a = xr.open_dataset(tiny_run / f"results/tiny/carbon/{year}.nc")
        b = xr.open_dataset(extras / f"results/tiny/carbon/{year}.nc")
        for v in ("gpp", "npp", "rh", "nep"):
            np.testing.assert_array_equal(a[v].values, b[v].values)
        np.testing.assert_array_equal(b["nep_tec"].values, b["nep"].values)
        assert {"npp_casa", "nep_casa", "nep_ensemble_mean", "nep_ensemble_sd"} <= set(b.data_vars)
        assert "landcover" in xr.open_dataset(extras / f"results/tiny/forcing/{year}.nc")


def test_ensemble_table(extras):
    t = pd.read_csv(extras / "results/tiny/tables/ensemble.csv").set_index("model")
    assert list(t.index) == ["tec", "casa"]
    shares = t[[c for c in t.columns if c.endswith("crease_pct") or c == "no_change_pct"]].sum(axis=1)
    np.testing.assert_allclose(shares, 100, atol=1e-6)
    assert (t["trend_p"].between(0, 1)).all()
    assert (extras / "results/tiny/ensemble/models.png").stat().st_size > 10_000


def test_uncertainty_outputs(extras):
    t = pd.read_csv(extras / "results/tiny/tables/uncertainty.csv").set_index("quantity")
    assert (t["p05"] < t["p50"]).all() and (t["p50"] < t["p95"]).all()
    ens = pd.read_csv(extras / "results/tiny/tables/ensemble.csv").set_index("model")
    # the central value is the run's own: the primary model's regional mean and total sink
    assert t.loc["regional_mean_nep", "central"] == pytest.approx(ens.loc["tec", "mean_nep_g_m2_yr"], rel=1e-4)
    assert t.loc["total_sink", "central"] == pytest.approx(ens.loc["tec", "total_sink_tg_c_yr"], rel=1e-4)
    assert t.loc["trend", "central"] == pytest.approx(ens.loc["tec", "trend_g_m2_yr2"], rel=1e-3, abs=1e-4)
    m = xr.open_dataset(extras / "results/tiny/uncertainty/nep.nc")
    sd = m["nep_mean_sd"].values
    assert np.isfinite(sd).sum() > 100 and (sd[np.isfinite(sd)] > 0).all()


def test_summary_holds_the_uncertainty_intervals(extras):
    t = pd.read_csv(extras / "results/tiny/tables/uncertainty.csv").set_index("quantity")
    text = (extras / "results/tiny/tables/summary.md").read_text()
    head, sep, section = text.partition("\n## Parameter uncertainty (100 draws, seed ")
    assert sep and head.startswith("# nepflow summary 2000–2007"), text[:200]
    rows = {
        line.strip("|").split("|")[0].strip(): [c.strip() for c in line.strip("|").split("|")[1:]]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| quantity")
    }
    labels = {
        "regional_mean_nep": "regional mean NEP",
        "total_sink": "total sink (total NEP)",
        "trend": "trend of the regional mean NEP",
    }
    for q, label in labels.items():
        central, p05, p95, units = rows[label]
        assert units == t.loc[q, "units"]
        decimals = 3 if q == "trend" else 2
        for shown, col in ((central, "central"), (p05, "p05"), (p95, "p95")):
            assert float(shown) == pytest.approx(round(t.loc[q, col], decimals), abs=10**-decimals / 2), (q, col)
        assert float(p05) < float(p95)


def test_validation_recovers_the_planted_towers(extras):
    t = pd.read_csv(extras / "results/tiny/tables/validation.csv")
    scores = t[t["kind"] == "scores"].set_index("site")
    for site in demo_sites.SITES:
        for k, v in demo_sites.planted(site).items():
            assert scores.loc[site["id"], k] == pytest.approx(v, abs=1e-3), (site["id"], k)
    # CASA runs carry the grid's dominant class: each site's stated class stands beside it, with the match
    pairs = t[t["kind"] == "year"]
    assert (pairs["grid_landcover"] == pairs["landcover"]).all() and set(pairs["landcover_match"]) == {"yes"}
    assert (extras / "results/tiny/validation/validation.png").exists()
