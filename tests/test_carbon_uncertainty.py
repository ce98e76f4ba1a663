"""Parameter uncertainty: NEP of every draw from the annual sums equals NEP recomputed with the drawn constants."""

from __future__ import annotations

import numpy as np
import pytest

from nepflow import carbon
from nepflow.carbon import uncertainty as unc
from test_carbon_annual import P, make_forcing
from test_carbon_casa import casa_forcing

SD = {"eps_c3": 0.33, "eps_c4": 0.21, "cue": 0.03, "casa_eps_max": 0.15, "rh_a": 0.022, "rh_b": 0.00456, "rh_c": 0.0157}


def recomputed(f, p, d, i):
    drawn = {
        **p,
        "eps_c3": float(d["eps_c3"][i]),
        "eps_c4": float(d["eps_c4"][i]),
        "cue": float(d["cue"][i]),
        "rh": {**p["rh"], "a": float(d["rh_a"][i]), "b": float(d["rh_b"][i]), "c": float(d["rh_c"][i])},
        "casa": {"eps_max": {k: v * float(d["casa_eps_max"][i]) for k, v in p["casa"]["eps_max"].items()}},
    }
    return carbon.annual_fluxes(f, drawn).nep.values


@pytest.mark.parametrize("npp", ["tec", "casa"])
def test_every_draw_matches_the_recomputed_model(npp):
    f = casa_forcing(2) if npp == "casa" else make_forcing(3)
    p = P({"npp": npp})
    t = carbon.annual.uncertainty_terms(f, p)
    x = np.stack([t[f"unc_{k}"].values for k in unc.TERMS])
    d = unc.draw_parameters(20, 7, SD, p)
    coef = unc.coefficients(d, p)
    nep = np.einsum("dk,k...->d...", coef, x)
    central = carbon.annual_fluxes(f, p).nep.values
    # the central constants give the model's NEP exactly (no expansion term is active)
    c0 = unc.coefficients(
        {
            k: np.array([v])
            for k, v in {
                "eps_c3": p["eps_c3"],
                "eps_c4": p["eps_c4"],
                "cue": p["cue"],
                "casa_eps_max": 1.0,
                "rh_a": p["rh"]["a"],
                "rh_b": p["rh"]["b"],
                "rh_c": p["rh"]["c"],
            }.items()
        },
        p,
    )
    np.testing.assert_allclose(np.einsum("dk,k...->d...", c0, x)[0], central, rtol=1e-12, atol=1e-9)
    for i in range(20):
        ref = recomputed(f, p, d, i)
        # third-order expansion in b and c: within 0.05 g C m-2 yr-1 of Rh's ~300
        np.testing.assert_allclose(nep[i], ref, atol=0.05, equal_nan=True)
    assert np.isnan(nep[:, 1, 1]).all() if npp == "casa" else True


def test_draws_are_seeded_and_nested():
    p = P()
    a, b = unc.draw_parameters(50, 3, SD, p), unc.draw_parameters(50, 3, SD, p)
    c = unc.draw_parameters(10, 3, SD, p)
    for k in unc.DRAWN:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k][:10], c[k])
    assert not np.array_equal(a["cue"], unc.draw_parameters(50, 4, SD, p)["cue"])
    big = unc.draw_parameters(20000, 1, SD, p)
    assert big["eps_c3"].std() == pytest.approx(0.33, rel=0.03) and big["eps_c3"].mean() == pytest.approx(1.8, abs=0.01)


def test_pixel_sd_is_the_sample_sd_of_the_draws():
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(200, 4))
    x = rng.normal(size=(4, 5, 6))
    per_draw = np.einsum("dk,k...->d...", coef, x)
    np.testing.assert_allclose(unc.pixel_sd(x, coef), per_draw.std(axis=0, ddof=1), rtol=1e-10)
    years = np.arange(2000, 2021)
    series = rng.normal(size=len(years))
    assert unc.ols_weights(years) @ series == pytest.approx(np.polyfit(years, series, 1)[0], rel=1e-10)


def test_summary_equals_the_draws_evaluated_one_by_one():
    rng = np.random.default_rng(1)
    years = list(range(2001, 2009))
    k, ny, nx = len(unc.TERMS), 4, 5
    x = rng.uniform(1, 10, size=(len(years), k, ny, nx))
    x[:, :, 0, 0] = np.nan  # a pixel outside the data
    area = rng.uniform(1, 2, size=(ny, nx))
    inside = np.ones((ny, nx), bool)
    inside[3, 4] = False
    acc = unc.Accumulator(years, area, inside)
    for i in range(len(years)):
        acc.add(i, x[i])
    coef = rng.normal(size=(300, k))
    maps, table = unc.summarise(acc, coef, coef[:1])
    nep = np.einsum("dk,tk...->dt...", coef, x)  # (draw, year, y, x)
    valid = inside & np.isfinite(x).all(axis=(0, 1))
    mean_sd = nep.mean(axis=1).std(axis=0, ddof=1)
    np.testing.assert_allclose(maps["nep_mean_sd"][valid], mean_sd[valid], rtol=1e-9)
    assert np.isnan(maps["nep_mean_sd"][~valid]).all()
    slopes = np.polyfit(years, nep[:, :, 2, 3].T, 1)[0]
    assert maps["nep_trend_sd"][2, 3] == pytest.approx(slopes.std(ddof=1), rel=1e-9)
    a = np.where(valid, area, 0.0)
    regional = (np.nan_to_num(nep) * a).sum(axis=(2, 3)) / a.sum()  # (draw, year)
    assert table["regional_mean_nep"]["p95"] == pytest.approx(np.percentile(regional.mean(axis=1), 95), rel=1e-9)
    trend = np.polyfit(years, regional.T, 1)[0]
    assert table["trend"]["p05"] == pytest.approx(np.percentile(trend, 5), rel=1e-9)
    sink = (np.nan_to_num(nep.mean(axis=1)) * a).sum(axis=(1, 2)) * 1e-6
    assert table["total_sink"]["central"] == pytest.approx(sink[0], rel=1e-9)
