"""Parameter uncertainty of NEP: seeded Monte Carlo draws of the model constants (``uncertainty``).

NEP of one pixel and year is linear in a few annual sums of the forcing, with
coefficients that depend only on the constants:

    GPP_TEC = ε_C3 G3 + ε_C4 G4,    G3 = Σ PAR FPAR Ws (1 − f_C4) Ts_C3,  G4 = Σ PAR FPAR Ws f_C4 Ts_C4
    NPP     = CUE × GPP_TEC (tec) | k × NPP_CASA (casa, k the relative ε_max factor) | NPP_MOD17 (mod17)
    Rh      = a K Σ [exp(b T) + ln(c R + 1)],  K = days × carbon fraction

Rh is linear in ``a``; in ``b`` and ``c`` nepflow expands it to third order
about the configured values (δb = b_draw − b, δc = c_draw − c):

    Σ exp(b_d T) ≈ E0 + δb E1 + δb² E2 + δb³ E3,   E_j = Σ T^j e^{bT} / j!
    Σ ln(c_d R + 1) ≈ L0 + δc L1 + δc² L2 + δc³ L3, L0 = Σ ln(cR+1), L_j = (−1)^{j+1} Σ (R/(cR+1))^j / j

(the first term left out, δb⁴ T⁴/24, is 3 × 10⁻⁴ of e^{bT} at δb T = 0.3, a
2.5-SD draw at 26 degC; the test checks every draw against the recomputed model). So the per-year carbon job writes the
sums once (:func:`terms`, a cost independent of the number of draws) and the
``uncertainty`` job evaluates every draw of every year, vectorised, as a matrix
product: NEP_draw = Σ_k coef_{draw,k} X_k (:func:`coefficients`). Means over
the years and OLS trends are linear too, so the per-pixel SD of mean NEP and of
its trend is the exact sample SD of the draws, √(x̄ᵀ Cov(coef) x̄).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import variables
from . import casa, tec

#: Names of the annual sums in carbon/{year}.nc (prefix ``unc_``), in coefficient order.
TERMS = ("g3", "g4", "npp_casa", "npp_fixed", "rh0", "e1", "e2", "e3", "l1", "l2", "l3")
#: The drawn constants: name -> the carbon parameter it perturbs (the draw is centred on it).
DRAWN = ("eps_c3", "eps_c4", "cue", "casa_eps_max", "rh_a", "rh_b", "rh_c")


def terms(f: dict[str, xr.DataArray], p: dict, npp_fixed: xr.DataArray | None = None) -> dict[str, xr.DataArray]:
    """The annual sums :data:`TERMS` of one year (y, x) from its monthly drivers ``f`` (float64).

    ``npp_casa`` is the CASA NPP with the configured ε_max (0 unless CASA is
    the primary model); ``npp_fixed`` the MOD17 NPP (0 unless it is).
    """
    w, t, r = p["water"], p["temperature"], p["rh"]
    pet = tec.priestley_taylor_pet(f["rn"], f["tas"], alpha=w["pt_alpha"], gamma=w["gamma"], lambda_=w["lambda"])
    ws = tec.water_scalar(f["evap"], pet)
    light = f["par"] * f["fpar"] * ws
    c4 = f["c4_frac"]
    ts3 = tec.temperature_scalar(f["tas"], t["c3"]["tmin"], t["c3"]["topt"], t["c3"]["tmax"])
    ts4 = tec.temperature_scalar(f["tas"], t["c4"]["tmin"], t["c4"]["topt"], t["c4"]["tmax"])
    T, R = f["tas"], f["pr"]
    e = np.exp(r["b"] * T)
    cr = r["c"] * R + 1.0
    k = r["days_per_month"] * r["carbon_fraction"]
    zero = 0.0 * T
    out = {
        "g3": light * (1.0 - c4) * ts3,
        "g4": light * c4 * ts4,
        "npp_casa": (
            casa.npp_monthly(f["par"], f["fpar"], T, ws, casa.eps_max_map(f["landcover"], p["casa"]["eps_max"]))
            if p["npp"] == "casa"
            else zero
        ),
        "rh0": k * (e + np.log(cr)),
        "e1": k * T * e,
        "e2": k * T**2 * e / 2.0,
        "e3": k * T**3 * e / 6.0,
        "l1": k * R / cr,
        "l2": -k * R**2 / cr**2 / 2.0,
        "l3": k * R**3 / cr**3 / 3.0,
    }
    sums = {name: da.sum("time", skipna=False) for name, da in out.items()}
    sums["npp_fixed"] = npp_fixed if (p["npp"] == "mod17" and npp_fixed is not None) else 0.0 * sums["g3"]
    return {name: sums[name] for name in TERMS}


def draw_parameters(n: int, seed: int, sd: dict, p: dict) -> dict[str, np.ndarray]:
    """``n`` seeded draws of :data:`DRAWN`: normal about the configured values with the SDs ``sd``.

    ``casa_eps_max`` is a relative factor about 1 (every class's ε_max times it).
    Draws are clipped to stay physical: positive, CUE ≤ 1. The same ``seed``
    and ``n`` give the same draws, and the first ``m`` of ``n`` draws are those of ``m``.
    """
    centre = {
        "eps_c3": p["eps_c3"],
        "eps_c4": p["eps_c4"],
        "cue": p["cue"],
        "casa_eps_max": 1.0,
        "rh_a": p["rh"]["a"],
        "rh_b": p["rh"]["b"],
        "rh_c": p["rh"]["c"],
    }
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(DRAWN)))  # draw by draw: a longer run extends a shorter one
    out = {}
    for i, name in enumerate(DRAWN):
        v = centre[name] + sd[name] * z[:, i]
        out[name] = np.clip(v, 1e-9, 1.0 if name == "cue" else None)
    return out


def coefficients(draws: dict[str, np.ndarray], p: dict) -> np.ndarray:
    """(n, len(TERMS)) coefficients: NEP of draw d = Σ_k coef[d, k] × term_k."""
    n = len(draws["eps_c3"])
    tec_primary = p["npp"] == "tec"
    a, db, dc = draws["rh_a"], draws["rh_b"] - p["rh"]["b"], draws["rh_c"] - p["rh"]["c"]
    # rh0 and the expansion terms carry the configured a (they are the sums times 1); scale by a_d
    cols = {
        "g3": draws["cue"] * draws["eps_c3"] if tec_primary else np.zeros(n),
        "g4": draws["cue"] * draws["eps_c4"] if tec_primary else np.zeros(n),
        "npp_casa": draws["casa_eps_max"],
        "npp_fixed": np.ones(n),
        "rh0": -a,
        "e1": -a * db,
        "e2": -a * db**2,
        "e3": -a * db**3,
        "l1": -a * dc,
        "l2": -a * dc**2,
        "l3": -a * dc**3,
    }
    return np.stack([cols[k] for k in TERMS], axis=1)


def ols_weights(years) -> np.ndarray:
    """w with OLS slope = Σ w_t x_t (per year)."""
    t = np.asarray(years, dtype="float64")
    d = t - t.mean()
    return d / (d**2).sum()


def pixel_sd(xbar: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Sample SD (ddof 1) over the draws of Σ_k coef[d, k] xbar[k, ...], per pixel: √(x̄ᵀ C x̄)."""
    cov = np.atleast_2d(np.cov(coef, rowvar=False, ddof=1))
    var = np.einsum("k...,kl,l...->...", xbar, cov, xbar)
    return np.sqrt(np.clip(var, 0.0, None))


def central(p: dict) -> dict[str, np.ndarray]:
    """The configured constants as a single "draw" (the model run's own NEP)."""
    return {
        "eps_c3": np.array([p["eps_c3"]]),
        "eps_c4": np.array([p["eps_c4"]]),
        "cue": np.array([p["cue"]]),
        "casa_eps_max": np.array([1.0]),
        "rh_a": np.array([p["rh"]["a"]]),
        "rh_b": np.array([p["rh"]["b"]]),
        "rh_c": np.array([p["rh"]["c"]]),
    }


class Accumulator:
    """Year by year: the per-pixel means and OLS slopes of the terms, and their regional area-weighted means.

    A pixel has SD maps where every year's terms are finite (the statistics' default
    of requiring every year); a year's regional mean is over its finite pixels.
    """

    def __init__(self, years, pixel_area: np.ndarray, inside: np.ndarray):
        self.years = list(years)
        self.w = ols_weights(self.years)
        self.area = np.where(inside, np.asarray(pixel_area, dtype="float64"), 0.0)
        shape = (len(TERMS),) + self.area.shape
        self.mean = np.zeros(shape)
        self.slope = np.zeros(shape)
        self.valid = inside.copy()
        self.reg = []

    def add(self, i: int, x: np.ndarray) -> None:
        """Year ``i``'s terms (K, y, x)."""
        ok = np.isfinite(x).all(axis=0)
        self.valid &= ok
        x = np.where(ok, x, 0.0)
        self.mean += x / len(self.years)
        self.slope += self.w[i] * x
        a = np.where(ok, self.area, 0.0)
        self.reg.append(np.tensordot(x, a, axes=2) / a.sum())

    def regional(self) -> np.ndarray:
        """(years, K) area-weighted regional means of the terms."""
        return np.stack(self.reg)


def summarise(acc: Accumulator, coef: np.ndarray, coef0: np.ndarray) -> tuple[dict, dict]:
    """Per-pixel SD maps and the regional quantities' central value and 5/50/95 % quantiles over the draws.

    Returns (maps, table): maps nep_mean_sd and nep_trend_sd (y, x; NaN outside the valid pixels);
    table quantity -> {central, p05, p50, p95, units}.
    """
    nan = np.where(acc.valid, 1.0, np.nan)
    maps = {"nep_mean_sd": pixel_sd(acc.mean, coef) * nan, "nep_trend_sd": pixel_sd(acc.slope, coef) * nan}
    reg = acc.regional()  # (T, K)
    a = np.where(acc.valid, acc.area, 0.0)
    sink_terms = np.tensordot(acc.mean, a, axes=2) * 1e-6  # km2 x g C m-2 -> Tg C
    table = {}
    for c, key in ((coef, "draws"), (coef0, "central")):
        series = c @ reg.T  # (N, T)
        table[key] = {"regional_mean_nep": series.mean(axis=1), "total_sink": c @ sink_terms, "trend": series @ acc.w}
    units = {
        "regional_mean_nep": variables.shown_units("nep"),
        "total_sink": "Tg C yr-1",
        "trend": variables.shown_units("ols_slope"),
    }
    out = {}
    for q, unit in units.items():
        d = table["draws"][q]
        out[q] = {
            "central": float(table["central"][q][0]),
            "p05": float(np.percentile(d, 5)),
            "p50": float(np.percentile(d, 50)),
            "p95": float(np.percentile(d, 95)),
            "sd": float(d.std(ddof=1)),
            "units": unit,
        }
    return maps, out
