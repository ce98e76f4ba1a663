"""Class maps: trend, stability (CV), persistence (Hurst), future trend, correlation.

Every class map is int8 with CF ``flag_values`` / ``flag_meanings`` and −1 where
the class is undefined (outside the region, or the statistic is NaN). The
thresholds are config values (``classes``; defaults in docs/science.md) and are
written in each map's ``comment``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import variables
from .errors import NepflowError

MISSING = -1

#: The two named CV schemes: upper bounds of classes 1–4 (class 5 above).
CV_SCHEMES = {"default": [0.10, 0.20, 0.30, 0.40], "fine": [0.05, 0.10, 0.15, 0.20]}

TREND_CLASSES = [
    "significant_increase",
    "non_significant_increase",
    "no_change",
    "non_significant_decrease",
    "significant_decrease",
]
CV_CLASSES = ["highest_stability", "higher_stability", "medium_stability", "lower_stability", "lowest_stability"]
HURST_CLASSES = ["strong_anti_persistence", "weak_anti_persistence", "random", "weak_persistence", "strong_persistence"]
FUTURE_CLASSES = [
    "persistent_increase",
    "persistent_decrease",
    "increase_turning_to_decrease",
    "decrease_turning_to_increase",
    "undetermined",
]
FUTURE_SIG_CLASSES = [
    "persistent_significant_increase",
    "persistent_significant_decrease",
    "not_significant_or_not_persistent",
]
CORR_CLASSES = ["significant_positive", "non_significant_positive", "non_significant_negative", "significant_negative"]


def class_names(classification: str) -> list[str]:
    """The class names of class map ``classification`` (e.g. ``trend_class``, ``corr_pr_class``), in flag order."""
    fixed = {
        "trend_class": TREND_CLASSES,
        "cv_class": CV_CLASSES,
        "hurst_class": HURST_CLASSES,
        "future_class": FUTURE_CLASSES,
        "future_sig_class": FUTURE_SIG_CLASSES,
    }
    if classification in fixed:
        return fixed[classification]
    kind, _, factor = classification.removesuffix("_class").partition("_")
    if kind in ("corr", "pcorr") and factor in variables.FACTORS:
        return CORR_CLASSES
    raise KeyError(f"no class map {classification!r}")


#: Colour-blind-safe discrete palettes (ColorBrewer schemes marked colour-blind safe: BrBG, PuOr, RdYlBu, RdBu),
#: by number of classes; the neutral class is pale yellow, never white (outside) or grey (no value). The
#: figures and the class GeoTIFFs' colour tables use them.
NEUTRAL = "#ffffbf"
CLASS_COLOURS = {
    5: ["#2c7bb6", "#abd9e9", NEUTRAL, "#fdae61", "#d7191c"],
    4: ["#0571b0", "#92c5de", "#f4a582", "#ca0020"],
    3: ["#018571", "#a6611a", NEUTRAL],
}
PALETTES = {  # class map name -> colours in flag order; increases teal and decreases brown, as in the slope maps
    "trend_class": ["#018571", "#80cdc1", NEUTRAL, "#dfc27d", "#a6611a"],
    "cv_class": ["#2c7bb6", "#abd9e9", NEUTRAL, "#fdae61", "#d7191c"],
    "hurst_class": ["#e66101", "#fdb863", NEUTRAL, "#b2abd2", "#5e3c99"],  # as the PuOr Hurst map
    "future_class": ["#018571", "#a6611a", "#dfc27d", "#80cdc1", NEUTRAL],
    "future_sig_class": ["#018571", "#a6611a", NEUTRAL],
}


def colours(name: str, n: int) -> list[str] | None:
    """The colours (hex, in flag order) of class map ``name`` with ``n`` classes; None: no palette."""
    c = PALETTES.get(name) or CLASS_COLOURS.get(n)
    return list(c[:n]) if c and len(c) >= n else None


def validate(c: dict) -> None:
    """Check a complete ``classes`` section; NepflowError naming the config key if invalid.

    Also called at plan time (nepflow.config.check_semantics): a reversed or
    repeated threshold would silently reassign classes.
    """
    t = list(c["hurst"]["thresholds"])
    if not all(a < b for a, b in zip(t, t[1:])):
        raise NepflowError(
            f"config key classes.hurst.thresholds: {t}; expected three increasing values "
            "(strong/weak anti-persistence bound < random value < weak/strong persistence bound)"
        )


def _classes(codes: np.ndarray, like: xr.DataArray, name: str, meanings: list[str], comment: str) -> xr.DataArray:
    da = xr.DataArray(
        codes.astype("int8"), coords={d: like[d] for d in like.dims if d in like.coords}, dims=like.dims, name=name
    )
    da.attrs = {
        "long_name": name.replace("_", " "),
        "units": "1",
        "flag_values": np.arange(1, len(meanings) + 1, dtype="int8"),
        "flag_meanings": " ".join(meanings),
        "missing_value": np.int8(MISSING),
        "comment": comment,
    }
    return da


def _select(conditions, like) -> np.ndarray:
    """First matching condition's 1-based index, MISSING where none matches."""
    out = np.full(np.shape(like), MISSING, dtype="int8")
    for k, cond in reversed(list(enumerate(conditions, start=1))):
        out = np.where(np.asarray(cond), k, out)
    return out.astype("int8")


def trend_classes(
    slope: xr.DataArray, p: xr.DataArray, alpha: float = 0.05, no_change_slope: float = 0.0
) -> xr.DataArray:
    """Significant/non-significant increase, no change, non-significant/significant decrease.

    |θ| ≤ ``no_change_slope`` (units of the slope): no change; else θ > 0 and p < α:
    significant increase; θ > 0, p ≥ α (or p undefined): non-significant increase; and
    symmetrically for decreases. With the default 0, no change means θ = 0 exactly,
    which continuous data almost never give.
    """
    s, pv = slope.values, p.values
    sig = np.nan_to_num(pv, nan=1.0) < alpha
    fin = np.isfinite(s)
    up = fin & (s > no_change_slope)
    down = fin & (s < -no_change_slope)
    codes = _select([up & sig, up, fin & ~up & ~down, down & ~sig, down], s)
    comment = f"slope {slope.name}, significance {p.name} < {alpha}"
    if no_change_slope:
        comment += f"; no change where |{slope.name}| <= {no_change_slope}"
    return _classes(codes, slope, "trend_class", TREND_CLASSES, comment)


def cv_classes(cv: xr.DataArray, scheme: str = "default") -> xr.DataArray:
    """Stability classes from CV: class k when CV ≤ bound k (bounds of the named scheme)."""
    if scheme not in CV_SCHEMES:
        raise NepflowError(f"config key classes.cv_scheme: {scheme!r}; expected one of {', '.join(CV_SCHEMES)}")
    b = CV_SCHEMES[scheme]
    c = cv.values
    fin = np.isfinite(c)
    codes = _select([fin & (c <= b[0]), fin & (c <= b[1]), fin & (c <= b[2]), fin & (c <= b[3]), fin], c)
    return _classes(
        codes, cv, "cv_class", CV_CLASSES, f"scheme {scheme}: CV <= {b[0]}, <= {b[1]}, <= {b[2]}, <= {b[3]}, > {b[3]}"
    )


def _persistence(
    h: xr.DataArray,
    p: xr.DataArray | None,
    threshold: float,
    random_band: float,
    require_significance: bool,
    alpha: float,
):
    """(finite, persistent, anti-persistent) masks: H > t + band (and hurst p < α when required),
    H < t − band; the rest of the finite pixels are random."""
    v = h.values
    fin = np.isfinite(v)
    persistent = fin & (v > threshold + random_band)
    if require_significance:
        if p is None:
            raise NepflowError("config key classes.hurst.require_significance: needs hurst_p")
        persistent &= np.nan_to_num(p.values, nan=1.0) < alpha
    return fin, persistent, fin & (v < threshold - random_band)


def _persistence_comment(p, random_band, require_significance, alpha) -> str:
    out = f"; random within {random_band} of it" if random_band else ""
    if require_significance:
        out += f"; persistence only where {p.name} < {alpha}"
    return out


def hurst_classes(
    h: xr.DataArray,
    p: xr.DataArray | None = None,
    thresholds=(0.35, 0.5, 0.65),
    require_significance: bool = False,
    alpha: float = 0.05,
    random_band: float = 0.0,
) -> xr.DataArray:
    """Persistence classes: H ≤ t0 strong anti, < t1 weak anti, = t1 random, ≤ t2 weak, > t2 strong persistence.

    ``random_band``: |H − t1| ≤ band is random (with 0, random means H = t1 exactly). With
    ``require_significance``, persistence counts only where the white-noise p-value is < α;
    other pixels with H above the band are classed random.
    """
    t0, t1, t2 = thresholds
    v = h.values
    fin, persistent, anti = _persistence(h, p, t1, random_band, require_significance, alpha)
    codes = _select([anti & (v <= t0), anti, fin & ~persistent, persistent & (v <= t2), persistent], v)
    comment = f"H <= {t0}, < {t1}, = {t1}, <= {t2}, > {t2}" + _persistence_comment(
        p, random_band, require_significance, alpha
    )
    return _classes(codes, h, "hurst_class", HURST_CLASSES, comment)


def _no_change_comment(slope, no_change_slope) -> str:
    return f"; no trend where |{slope.name}| <= {no_change_slope}" if no_change_slope else ""


def future_classes(
    slope: xr.DataArray,
    h: xr.DataArray,
    threshold: float = 0.5,
    p: xr.DataArray | None = None,
    require_significance: bool = False,
    alpha: float = 0.05,
    random_band: float = 0.0,
    no_change_slope: float = 0.0,
) -> xr.DataArray:
    """Future trend = trend sign × persistence: persistent (as :func:`hurst_classes` counts it) keeps the
    trend, anti-persistent reverses it; random H, or no change (|θ| ≤ ``no_change_slope``, as
    :func:`trend_classes` counts it), undetermined."""
    s = slope.values
    fin, persistent, anti = _persistence(h, p, threshold, random_band, require_significance, alpha)
    fin &= np.isfinite(s)
    up, down = fin & (s > no_change_slope), fin & (s < -no_change_slope)
    codes = _select([up & persistent, down & persistent, up & anti, down & anti, fin], s)
    return _classes(
        codes,
        slope,
        "future_class",
        FUTURE_CLASSES,
        f"trend sign x persistence (H > {threshold}"
        + _persistence_comment(p, random_band, require_significance, alpha)
        + _no_change_comment(slope, no_change_slope)
        + ")",
    )


def future_significant_classes(
    slope,
    p,
    h,
    alpha=0.05,
    threshold=0.5,
    hurst_p=None,
    require_significance=False,
    hurst_alpha=0.05,
    random_band=0.0,
    no_change_slope=0.0,
) -> xr.DataArray:
    """Persistent significant increase/decrease (θ ≷ 0 beyond ``no_change_slope``, p < α, persistent as
    :func:`hurst_classes` counts it): the pixels :func:`trend_classes` calls significant increase/decrease
    that are persistent; all other defined pixels class 3."""
    s = slope.values
    sig = np.nan_to_num(p.values, nan=1.0) < alpha
    fin, persistent, _ = _persistence(h, hurst_p, threshold, random_band, require_significance, hurst_alpha)
    fin &= np.isfinite(s)
    codes = _select(
        [fin & (s > no_change_slope) & sig & persistent, fin & (s < -no_change_slope) & sig & persistent, fin], s
    )
    return _classes(
        codes,
        slope,
        "future_sig_class",
        FUTURE_SIG_CLASSES,
        f"significant trend ({p.name} < {alpha}) x persistence (H > {threshold}"
        + _persistence_comment(hurst_p, random_band, require_significance, hurst_alpha)
        + _no_change_comment(slope, no_change_slope)
        + ")",
    )


def corr_classes(r: xr.DataArray, p: xr.DataArray, alpha: float = 0.05, name: str = "corr_class") -> xr.DataArray:
    """Significant positive, non-significant positive, non-significant negative, significant negative (r ≥ 0 counts positive)."""
    rv = r.values
    sig = np.nan_to_num(p.values, nan=1.0) < alpha
    fin = np.isfinite(rv)
    codes = _select([fin & (rv >= 0) & sig, fin & (rv >= 0), fin & (rv < 0) & ~sig, fin], rv)
    return _classes(codes, r, name, CORR_CLASSES, f"correlation {r.name}, significance {p.name} < {alpha}")


def all_classes(
    trend: xr.Dataset, hurst: xr.Dataset, stability: xr.Dataset, correlation: xr.Dataset, cfg: dict
) -> xr.Dataset:
    """Every class map of the run (``classes.nc``) from the four analysis datasets and the validated config's
    ``classes`` section (every key; ``nepflow.config.defaults("classes")``)."""
    c = cfg
    validate(c)
    t = c["trend"]
    if t["basis"] == "ols":
        slope, p = trend["ols_slope"], trend[f"ols_{t['p']}"]
    elif t["basis"] == "sen_mk":
        slope, p = trend["sen_slope"], trend[f"mk_{t['p']}"]
    else:
        raise NepflowError(f"config key classes.trend.basis: {t['basis']!r}; expected ols or sen_mk")
    hc = c["hurst"]
    hp = hurst.get(f"hurst_{hc['p']}")
    out = {
        "trend_class": trend_classes(slope, p, t["alpha"], t["no_change_slope"]),
        "cv_class": cv_classes(stability["cv"], c["cv_scheme"]),
        # one persistence rule (band, significance) for the Hurst and both future-trend classes, and one
        # no-change band for the trend and both future-trend classes
        "hurst_class": hurst_classes(
            hurst["hurst"], hp, hc["thresholds"], hc["require_significance"], hc["alpha"], hc["random_band"]
        ),
        "future_class": future_classes(
            slope,
            hurst["hurst"],
            hc["thresholds"][1],
            hp,
            hc["require_significance"],
            hc["alpha"],
            hc["random_band"],
            t["no_change_slope"],
        ),
        "future_sig_class": future_significant_classes(
            slope,
            p,
            hurst["hurst"],
            t["alpha"],
            hc["thresholds"][1],
            hp,
            hc["require_significance"],
            hc["alpha"],
            hc["random_band"],
            t["no_change_slope"],
        ),
    }
    cc = c["correlation"]
    for f in variables.FACTORS:
        if f"r_{f}" in correlation:
            pname = f"p_r_{f}" if cc["p"] == "p" else f"q_r_{f}"
            out[f"corr_{f}_class"] = corr_classes(
                correlation[f"r_{f}"], correlation[pname], cc["alpha"], f"corr_{f}_class"
            )
            pname = f"p_pr_{f}" if cc["p"] == "p" else f"q_pr_{f}"
            out[f"pcorr_{f}_class"] = corr_classes(
                correlation[f"pr_{f}"], correlation[pname], cc["alpha"], f"pcorr_{f}_class"
            )
    return xr.Dataset(out)
