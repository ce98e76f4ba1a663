"""Validation against eddy-covariance towers (``validation.sites``; rule `validate`).

A site's record is a FLUXNET2015 / ONEFlux CSV: annual (``TIMESTAMP`` YYYY, fluxes
in g C m-2 yr-1, the FULLSET_YY files) or monthly (``TIMESTAMP`` YYYYMM, fluxes as
the month's mean daily flux in g C m-2 d-1, the FULLSET_MM files; a year counts
when all 12 months are present), with ``GPP_NT_VUT_REF`` and ``NEE_VUT_REF``
(``RECO_NT_VUT_REF`` is read when present); −9999 is missing. The model's GPP is
compared with GPP_NT_VUT_REF and its NEP with −NEE (NEE is positive upward: a
source), at the site's pixel or the mean of a window of pixels around it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .errors import NepflowError

MISSING = -9999
NEEDED = ("TIMESTAMP", "GPP_NT_VUT_REF", "NEE_VUT_REF")
OPTIONAL = ("RECO_NT_VUT_REF",)


def read_site(path, site: str) -> pd.DataFrame:
    """Annual observed GPP, NEE (and RECO) of one site: DataFrame indexed by year, g C m-2 yr-1.

    Raises NepflowError naming the site and file for a missing file or column,
    timestamps that are neither YYYY nor YYYYMM, or no valid value at all.
    """
    path = Path(path)
    if not path.exists():
        raise NepflowError(f"config key validation.sites ({site}): {path}: file not found")
    try:
        df = pd.read_csv(path, dtype={"TIMESTAMP": str}, na_values=[MISSING, str(MISSING), "-9999.0"])
    except Exception as exc:
        raise NepflowError(f"site {site}: {path}: not a readable CSV ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in NEEDED if c not in df.columns]
    if missing:
        raise NepflowError(
            f"site {site}: {path}: missing column(s) {', '.join(missing)}; expected the FLUXNET2015 "
            f"columns {', '.join(NEEDED)}"
        )
    cols = [c for c in NEEDED[1:] + OPTIONAL if c in df.columns]
    stamp = df["TIMESTAMP"].str.strip()
    if stamp.str.fullmatch(r"\d{4}").all():
        out = df[cols].astype("float64").set_index(stamp.astype(int).rename("year"))
    elif stamp.str.fullmatch(r"\d{6}").all():
        month = pd.to_datetime(stamp, format="%Y%m")
        daily = df[cols].astype("float64").mul(month.dt.days_in_month.to_numpy(), axis=0)
        daily["year"] = month.dt.year.to_numpy()
        grouped = daily.groupby("year")
        out = grouped.sum(min_count=12).where(grouped.count() == 12)
    else:
        raise NepflowError(f"site {site}: {path}: TIMESTAMP is neither YYYY (annual) nor YYYYMM (monthly)")
    if not np.isfinite(out[["GPP_NT_VUT_REF", "NEE_VUT_REF"]].to_numpy()).any():
        raise NepflowError(
            f"site {site}: {path}: GPP_NT_VUT_REF and NEE_VUT_REF are all missing ({MISSING}); "
            "expected at least one valid year"
        )
    return out


#: FLUXNET's IGBP abbreviations (site metadata) -> IGBP class numbers (MCD12Q1 LC_Type1).
IGBP_CODES = {
    "ENF": 1,
    "EBF": 2,
    "DNF": 3,
    "DBF": 4,
    "MF": 5,
    "CSH": 6,
    "OSH": 7,
    "WSA": 8,
    "SAV": 9,
    "GRA": 10,
    "WET": 11,
    "CRO": 12,
    "URB": 13,
    "CVM": 14,
    "SNO": 15,
    "BSV": 16,
    "WAT": 17,
}


def igbp_class(site: dict) -> int | None:
    """The site's stated land cover as an IGBP class number (from a number 1–17 or a FLUXNET abbreviation such
    as CRO); None when not stated. NepflowError naming the site for anything else."""
    value = site.get("landcover")
    if value is None:
        return None
    key = str(value).strip().upper()
    if key in IGBP_CODES:
        return IGBP_CODES[key]
    if key.isdigit() and 1 <= int(key) <= 17:
        return int(key)
    raise NepflowError(
        f"config key validation.sites ({site['id']}).landcover: {value!r}; expected an IGBP class "
        f"number 1-17 or one of {', '.join(IGBP_CODES)}"
    )


def landcover_match(site: dict, grid_class: float) -> str:
    """``yes`` or ``no`` when the site's stated class and the grid's dominant class are both known, else
    ``unknown`` (the grid carries its class only where CASA is computed)."""
    stated = igbp_class(site)
    if stated is None or not np.isfinite(grid_class):
        return "unknown"
    return "yes" if int(round(grid_class)) == stated else "no"


def site_pixel(site: dict, x: np.ndarray, y: np.ndarray, crs, key: str = "validation.sites") -> tuple[int, int]:
    """Row and column of the pixel holding the site (lon/lat); NepflowError naming config ``key`` if it lies
    outside the grid."""
    from pyproj import Transformer

    px, py = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(site["lon"], site["lat"])
    dx, dy = abs(x[1] - x[0]) if len(x) > 1 else 0.0, abs(y[1] - y[0]) if len(y) > 1 else 0.0
    inside = (min(x) - dx / 2 <= px <= max(x) + dx / 2) and (min(y) - dy / 2 <= py <= max(y) + dy / 2)
    if not inside:
        raise NepflowError(
            f"config key {key} ({site['id']}): lon {site['lon']}, lat {site['lat']} is "
            "outside the grid; expected a site inside the run's region grid"
        )
    return int(np.abs(y - py).argmin()), int(np.abs(x - px).argmin())


def extract(da: xr.DataArray, row: int, col: int, window: int = 1) -> float:
    """Mean of the finite values of a ``window`` × ``window`` block of pixels centred on (row, col)."""
    h = window // 2
    block = da.isel(y=slice(max(row - h, 0), row + h + 1), x=slice(max(col - h, 0), col + h + 1)).values
    finite = np.isfinite(block)
    return float(block[finite].mean()) if finite.any() else float("nan")


def scores(obs: np.ndarray, mod: np.ndarray) -> dict[str, float]:
    """bias (mean of model − observed), RMSE, Pearson r and n over the pairs where both are finite."""
    ok = np.isfinite(obs) & np.isfinite(mod)
    o, m = obs[ok], mod[ok]
    n = int(ok.sum())
    if n == 0:
        return {"bias": np.nan, "rmse": np.nan, "r": np.nan, "n": 0}
    r = float(np.corrcoef(o, m)[0, 1]) if n > 2 and o.std() > 0 and m.std() > 0 else np.nan
    return {"bias": float((m - o).mean()), "rmse": float(np.sqrt(((m - o) ** 2).mean())), "r": r, "n": n}


def table(pairs: pd.DataFrame) -> pd.DataFrame:
    """validation.csv: the per-site-year rows, then per site and overall (``year`` = all) the scores of GPP and NEP.

    ``pairs`` has columns site, year, landcover, grid_landcover, gpp_obs, gpp_mod, nep_obs, nep_mod.
    """
    rows = [pairs.assign(kind="year")]
    groups = [(site, g) for site, g in pairs.groupby("site", sort=False)] + [("all", pairs)]
    for site, g in groups:
        row = {"site": site, "year": "all", "kind": "scores"}
        for flux in ("gpp", "nep"):
            for k, v in scores(g[f"{flux}_obs"].to_numpy(), g[f"{flux}_mod"].to_numpy()).items():
                row[f"{flux}_{k}"] = v
        rows.append(pd.DataFrame([row]))
    return pd.concat(rows, ignore_index=True)


def figure(pairs: pd.DataFrame, path) -> None:
    """Observed against modelled GPP and NEP (scatter, 1:1 line) and NEP per site and year, PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), constrained_layout=True)
    for ax, flux in zip(axes[:2], ("gpp", "nep")):
        for site, g in pairs.groupby("site", sort=False):
            ax.scatter(g[f"{flux}_obs"], g[f"{flux}_mod"], s=12, label=site)
        lims = np.nanpercentile(pairs[[f"{flux}_obs", f"{flux}_mod"]].to_numpy(dtype=float), [0, 100])
        ax.plot(lims, lims, "k--", lw=0.8)
        ax.set_xlabel(f"observed {flux.upper()}" + (" (-NEE)" if flux == "nep" else "") + " (g C m-2 yr-1)")
        ax.set_ylabel(f"modelled {flux.upper()} (g C m-2 yr-1)")
    for site, g in pairs.groupby("site", sort=False):
        (line,) = axes[2].plot(g["year"], g["nep_mod"], lw=1)
        axes[2].plot(g["year"], g["nep_obs"], "o", ms=3, color=line.get_color(), label=site)
    axes[2].set_xlabel("year")
    axes[2].set_ylabel("NEP (g C m-2 yr-1): line model, dots -NEE")
    axes[0].legend(fontsize=7)
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
