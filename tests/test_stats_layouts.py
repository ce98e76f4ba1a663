"""The statistics' output layouts: kernel rows, wrapper outputs, the variables table and the README agree."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nepflow import analysis, stats, variables
from nepflow.stats import _correlation, _fdr, _hurst, _stability, _trend

ROOT = Path(__file__).resolve().parents[1]
YEARS = np.arange(2000, 2021)


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(3)
    nep = xr.DataArray(rng.normal(200, 40, (len(YEARS), 3, 4)), dims=("year", "y", "x"), coords={"year": YEARS})
    fac = {f: nep * 0.2 + rng.normal(size=nep.shape) for f in stats.FACTORS}
    return {
        "trend": stats.trend(nep),
        "linear_trend": stats.linear_trend(nep),
        "hurst": stats.hurst(nep, n_surrogates=20),
        "stability": stats.stability(nep),
        "correlation": stats.correlation(nep, fac),
    }


LAYOUTS = {
    "trend": stats.TREND_OUT,
    "linear_trend": stats.OLS_OUT,
    "hurst": stats.HURST_OUT,
    "stability": stats.STABILITY_OUT,
    "correlation": stats.correlation_names(stats.FACTORS),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_wrapper_outputs_are_the_kernel_layout_in_order(results, name):
    assert tuple(results[name].data_vars) == LAYOUTS[name]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_output_and_q_map_is_in_the_variables_table(name):
    known = variables.table()
    names = LAYOUTS[name] + tuple(_fdr.Q_NAMES[n] for n in LAYOUTS[name] if n in _fdr.Q_NAMES)
    assert set(names) <= set(known), set(names) - set(known)


def test_q_names_cover_exactly_the_p_maps():
    p_maps = {n for layout in LAYOUTS.values() for n in layout if n.endswith("_p") or n.startswith("p_")}
    assert set(_fdr.Q_NAMES) == p_maps
    assert _fdr.Q_NAMES["p_pr_tas"] == "q_pr_tas" and _fdr.Q_NAMES["ols_p"] == "ols_q"


def test_row_constants_are_the_positions_in_the_layouts():
    for module, layout, consts in [
        (
            _trend,
            _trend.TREND_OUT,
            {
                "OLS_SLOPE": "ols_slope",
                "OLS_INTERCEPT": "ols_intercept",
                "OLS_P": "ols_p",
                "SEN_SLOPE": "sen_slope",
                "SEN_INTERCEPT": "sen_intercept",
                "MK_S": "mk_s",
                "MK_Z": "mk_z",
                "MK_P": "mk_p",
                "MK_TAU": "mk_tau",
                "VALID": "valid_years",
            },
        ),
        (
            _trend,
            _trend.OLS_OUT,
            {"O_SLOPE": "ols_slope", "O_INTERCEPT": "ols_intercept", "O_P": "ols_p", "O_VALID": "valid_years"},
        ),
        (_hurst, _hurst.HURST_OUT, {"H": "hurst", "H_P": "hurst_p", "H_VALID": "valid_years"}),
        (
            _stability,
            _stability.STABILITY_OUT,
            {"MEAN": "nep_mean", "STD": "nep_std", "CV": "cv", "S_VALID": "valid_years"},
        ),
        (_correlation, _correlation.PER_FACTOR, {"R": "r", "P_R": "p_r", "PR": "pr", "P_PR": "p_pr"}),
    ]:
        assert {c: layout[getattr(module, c)] for c in consts} == consts
        assert sorted(getattr(module, c) for c in consts) == list(range(len(layout)))


def test_correlation_rows_follow_the_layout(results):
    """Row j·len(PER_FACTOR) + col of the kernel is PER_FACTOR[col] of factor j: each p map falls as its
    own r map's |r| grows (one ν for every pixel), which a p written beside another factor's r would not."""
    ds = results["correlation"]
    for f in stats.FACTORS:
        r, p = ds[f"r_{f}"].values.ravel(), ds[f"p_r_{f}"].values.ravel()
        assert np.all((p > 0) & (p <= 1)) and np.all(np.abs(r) < 1)
        order = np.argsort(np.abs(r))
        assert np.all(np.diff(p[order]) <= 0)  # same ν everywhere: larger |r|, smaller p
    assert np.all(ds["valid_years"].values == len(YEARS))


def _readme_outputs() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `analysis/(\w+)\.nc` \| (.*) \|$", (ROOT / "README.md").read_text(), flags=re.M)
    return {name: set(re.findall(r"`(\w+)`", cell)) for name, cell in rows}


@pytest.mark.parametrize("name", analysis.STATISTICS)
def test_readme_lists_what_each_rule_stores(results, name):
    """The README's table of the analysis files names each rule's stored maps (correlation: those of pr,
    'and the same for tas, sund')."""
    stored = set(analysis.outputs(name, stats.add_qvalues(results[name])).data_vars)
    listed = _readme_outputs()[name]
    if name == "correlation":
        stored, listed = ({v for v in names if v.endswith("_pr")} for names in (stored, listed))
    assert listed == stored
