"""The study's headline numbers from a run, as a Markdown table (``tables/summary.md``).

Numbers come from the area table (true pixel areas) and the mean-NEP map; each of
the published study's values (North China, 2000–2020) stands beside the row that
matches its definition, with a footnote where the study's definition is ambiguous
(the other reading is printed too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import areastats, classify
from .errors import NepflowError
from .grid import region_masks
from .variables import FACTORS

#: The study's published values (its abstract), for comparison only, beside the row of the same definition.
PUBLISHED = {
    "mean NEP (g C m-2 yr-1)": 228.8,
    "increasing (%)": 88.8,
    "significantly increasing (%)": 54.5,
    "higher + highest stability (%)": 79.6,
    "persistent, H > 0.5 (%)": 84.9,
    "continuing significant increase (%)": 51.4,
    "positively correlated with precipitation (%)": 44.7,
}

#: Footnotes: measure -> (mark, text); a measure with text None points to the note of the same mark.
NOTES = {
    "continuing significant increase (%)": (
        "a",
        'The study\'s 51.4 % "will continue to increase". As a share of its 54.5 % significantly '
        "increasing area (0.94) it fits significant increase × persistence (this row); the other reading, any "
        'increase × persistence, is the row "continuing increase".',
    ),
    "continuing increase (%)": ("a", None),
    "persistent, H > 0.5 (%)": (
        "b",
        "The study's H > 0.5 on the levels, not tested against white noise (at n = 21 white noise gives "
        "H ≈ 0.64). This row and the future-trend rows count persistence as classes.hurst defines it "
        "(random band, hurst_p when required; docs/science.md).",
    ),
    "positively correlated with precipitation (%)": (
        "c",
        "Read as Pearson r > 0 whatever its significance; the significant share is the row "
        '"significantly positively correlated with precipitation".',
    ),
    "significantly positively correlated with precipitation (%)": ("c", None),
}


def _pct(table: pd.DataFrame, classification: str, classes, region: str, column: str = "percent") -> float:
    unknown = set(classes) - {*classify.class_names(classification), areastats.UNDEFINED}
    if unknown:  # a misspelt class would count as 0 %
        raise KeyError(f"{classification} has no class {', '.join(sorted(unknown))}")
    sel = table[(table.classification == classification) & (table.region == region) & table["class"].isin(classes)]
    return float(sel[column].sum()) if len(sel) else float("nan")


def headline(
    table: pd.DataFrame, nep_mean: xr.DataArray, pixel_area: xr.DataArray, region: xr.DataArray
) -> pd.DataFrame:
    """Headline numbers per region (rows: measures, columns: regions)."""
    area = np.asarray(pixel_area.values, dtype="float64")
    nep = np.asarray(nep_mean.values, dtype="float64")
    out = {}
    for rname, mask in region_masks(region).items():
        ok = mask & np.isfinite(nep)
        a = area[ok]
        m = {}
        m["mean NEP (g C m-2 yr-1)"] = float(np.sum(nep[ok] * a) / np.sum(a)) if ok.any() else np.nan
        # g m-2 yr-1 x km2 x 1e6 m2/km2 = g yr-1; 1 Tg = 1e12 g
        m["total NEP (Tg C yr-1)"] = float(np.sum(nep[ok] * a) * 1e6 / 1e12)
        m["area (km2)"] = float(area[mask].sum())
        m["increasing (%)"] = _pct(table, "trend_class", ["significant_increase", "non_significant_increase"], rname)
        m["significantly increasing (%)"] = _pct(table, "trend_class", ["significant_increase"], rname)
        m["decreasing (%)"] = _pct(table, "trend_class", ["significant_decrease", "non_significant_decrease"], rname)
        m["significantly decreasing (%)"] = _pct(table, "trend_class", ["significant_decrease"], rname)
        for cls in classify.CV_CLASSES:
            m[f"{cls.replace('_', ' ')} (%)"] = _pct(table, "cv_class", [cls], rname)
        m["higher + highest stability (%)"] = _pct(table, "cv_class", ["highest_stability", "higher_stability"], rname)
        m["no CV class (mean NEP <= 0), % of the region"] = _pct(
            table, "cv_class", [areastats.UNDEFINED], rname, "percent_of_region"
        )
        m["persistent, H > 0.5 (%)"] = _pct(table, "hurst_class", ["weak_persistence", "strong_persistence"], rname)
        m["strongly persistent (%)"] = _pct(table, "hurst_class", ["strong_persistence"], rname)
        m["random, H = 0.5 (%)"] = _pct(table, "hurst_class", ["random"], rname)
        m["anti-persistent, H < 0.5 (%)"] = _pct(
            table, "hurst_class", ["weak_anti_persistence", "strong_anti_persistence"], rname
        )
        m["continuing increase (%)"] = _pct(table, "future_class", ["persistent_increase"], rname)
        m["continuing significant increase (%)"] = _pct(
            table, "future_sig_class", ["persistent_significant_increase"], rname
        )
        m["continuing decrease (%)"] = _pct(table, "future_class", ["persistent_decrease"], rname)
        m["continuing significant decrease (%)"] = _pct(
            table, "future_sig_class", ["persistent_significant_decrease"], rname
        )
        m["increase turning to decrease (%)"] = _pct(table, "future_class", ["increase_turning_to_decrease"], rname)
        m["decrease turning to increase (%)"] = _pct(table, "future_class", ["decrease_turning_to_increase"], rname)
        m["future trend undetermined (%)"] = _pct(table, "future_class", ["undetermined"], rname)
        for kind, how in (("corr", "correlated"), ("pcorr", "partially correlated")):
            for f, label in FACTORS.items():
                c = f"{kind}_{f}_class"
                m[f"positively {how} with {label} (%)"] = _pct(
                    table, c, ["significant_positive", "non_significant_positive"], rname
                )
                m[f"significantly positively {how} with {label} (%)"] = _pct(table, c, ["significant_positive"], rname)
                m[f"negatively {how} with {label} (%)"] = _pct(
                    table, c, ["significant_negative", "non_significant_negative"], rname
                )
                m[f"significantly negatively {how} with {label} (%)"] = _pct(table, c, ["significant_negative"], rname)
        out[rname] = m
    return pd.DataFrame(out)


#: The quantities of tables/uncertainty.csv (rule ``uncertainty``) the summary shows -> (label, number format).
UNCERTAINTY_ROWS = {
    "regional_mean_nep": ("regional mean NEP", "{:.2f}"),
    "total_sink": ("total sink (total NEP)", "{:.2f}"),
    "trend": ("trend of the regional mean NEP", "{:.3f}"),
}
UNCERTAINTY_COLUMNS = ("quantity", "central", "p05", "p95", "units", "draws", "seed")


def uncertainty_section(table: pd.DataFrame, source: str = "tables/uncertainty.csv") -> str:
    """Markdown section: central value and 5-95 % interval of each :data:`UNCERTAINTY_ROWS` quantity, with units.

    ``table`` is tables/uncertainty.csv as read by pandas (one row per quantity; draws and seed
    the same in every row); ``source`` names it in an error.
    """
    missing = [c for c in UNCERTAINTY_COLUMNS if c not in table.columns]
    if missing:
        raise NepflowError(f"{source}: no column {', '.join(missing)}; expected {', '.join(UNCERTAINTY_COLUMNS)}")
    t = table.set_index("quantity")
    absent = [q for q in UNCERTAINTY_ROWS if q not in t.index]
    if absent:
        raise NepflowError(f"{source}: no row for quantity {', '.join(absent)}; expected {', '.join(UNCERTAINTY_ROWS)}")
    draws, seed = t["draws"].unique(), t["seed"].unique()
    if len(draws) != 1 or len(seed) != 1:
        raise NepflowError(f"{source}: the draws and seed columns differ between rows; expected one run's table")
    lines = [
        f"## Parameter uncertainty ({int(draws[0])} draws, seed {int(seed[0])})",
        "",
        "Whole region. The central value is the run's own (the configured constants); the interval is the 5 and "
        "95 % quantiles over the draws of the constants (tables/uncertainty.csv has the median and SD too).",
        "",
        "| quantity | central | 5 % | 95 % | units |",
        "|---|---:|---:|---:|---|",
    ]
    for q, (label, fmt) in UNCERTAINTY_ROWS.items():
        r = t.loc[q]
        vals = [fmt.format(float(r[c])) for c in ("central", "p05", "p95")]
        lines.append(f"| {label} | " + " | ".join(vals) + f" | {r['units']} |")
    return "\n".join(lines) + "\n"


def summary_table(
    table: pd.DataFrame,
    nep_mean: xr.DataArray,
    pixel_area: xr.DataArray,
    region: xr.DataArray,
    years=None,
    uncertainty: pd.DataFrame | None = None,
) -> str:
    """Markdown: the headline numbers per region with the published study beside them, then the parameter
    uncertainty section when ``uncertainty`` (tables/uncertainty.csv, parsed) is given."""
    h = headline(table, nep_mean, pixel_area, region)
    period = f"{min(years)}–{max(years)}" if years else ""
    lines = [
        f"# nepflow summary {period}".rstrip(),
        "",
        "Mean and total NEP are area-weighted; area percentages are of the area with a defined class, "
        "from true pixel areas (tables/area_stats.csv has every class, the share of the whole region and "
        "the undefined share). "
        "Correlations: Pearson; partial: controlling for the other two factors. "
        "The last column is the published study (North China, 2000–2020), for comparison only, beside the "
        "row of its definition.",
        "",
    ]
    cols = list(h.columns)
    lines.append("| measure | " + " | ".join(cols) + " | published study |")
    lines.append("|---|" + "---:|" * (len(cols) + 1))
    notes = []
    for measure, row in h.iterrows():
        fmt = "{:,.0f}" if "km2" in measure else "{:.2f}"
        vals = [fmt.format(v) if np.isfinite(v) else "n/a" for v in row.values]
        pub = "" if PUBLISHED.get(measure) is None else str(PUBLISHED[measure])
        if measure in NOTES:
            mark, text = NOTES[measure]
            pub = f"{pub} ({mark})" if pub else f"see ({mark})"
            if text:
                notes.append(f"({mark}) {text}")
        lines.append(f"| {measure} | " + " | ".join(vals) + f" | {pub} |")
    text = "\n".join(lines + [""] + notes) + "\n"
    return text if uncertainty is None else text + "\n" + uncertainty_section(uncertainty)
