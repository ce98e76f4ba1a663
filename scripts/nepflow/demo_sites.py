"""Synthetic flux-tower records for the offline demo (``validation.demo_sites``).

The demo has no towers, so each synthetic site's record is the demo's own truth at
the site's pixel (the run's annual GPP and NEP from the demo's drivers) with a
planted offset and noise, written as a FLUXNET2015 CSV: observed GPP = model GPP −
``gpp_bias`` + noise, NEE = −(model NEP − ``nep_bias`` + noise). The noise is
seeded, centred and scaled to exactly ``noise_sd`` (ddof 0) over the site's years,
so validation must recover bias = the planted offset and RMSE = √(offset² + sd²)
exactly. One site is written in the monthly (MM) format, the others annual (YY).
"""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)

from . import validation

#: The synthetic sites: a cropland on the North China Plain, a deciduous forest in the Yanshan north of
#: Beijing, a grassland on the Bashang plateau (lon/lat inside the demo region, each where the demo's own land
#: cover is the stated class at 0.05° and 0.25°, away from cell edges: validation.csv's landcover_match is yes).
SITES = [
    {
        "id": "DEMO-CRO",
        "lon": 116.57,
        "lat": 36.83,
        "landcover": 12,
        "gpp_bias": 60.0,
        "nep_bias": -25.0,
        "noise_sd": 40.0,
        "format": "YY",
    },
    {
        "id": "DEMO-DBF",
        "lon": 116.62,
        "lat": 40.88,
        "landcover": 4,
        "gpp_bias": -80.0,
        "nep_bias": 30.0,
        "noise_sd": 30.0,
        "format": "MM",
    },
    {
        "id": "DEMO-GRA",
        "lon": 114.62,
        "lat": 41.62,
        "landcover": 10,
        "gpp_bias": 20.0,
        "nep_bias": 10.0,
        "noise_sd": 15.0,
        "format": "YY",
    },
]


def _noise(rng, n: int, sd: float) -> np.ndarray:
    z = rng.standard_normal(n)
    z = z - z.mean()
    return z * (sd / z.std()) if n > 1 and z.std() > 0 else np.zeros(n)


def record(site: dict, years, gpp: np.ndarray, nep: np.ndarray, seed: int) -> pd.DataFrame:
    """The site's FLUXNET2015 table from the model's annual GPP and NEP at its pixel (g C m-2 yr-1)."""
    rng = np.random.default_rng([seed, sum(map(ord, site["id"]))])
    obs_gpp = gpp - site["gpp_bias"] + _noise(rng, len(years), site["noise_sd"])
    obs_nep = nep - site["nep_bias"] + _noise(rng, len(years), site["noise_sd"])
    nee, reco = -obs_nep, obs_gpp - obs_nep
    if site["format"] == "YY":
        return pd.DataFrame(
            {
                "TIMESTAMP": [str(y) for y in years],
                "GPP_NT_VUT_REF": obs_gpp,
                "NEE_VUT_REF": nee,
                "RECO_NT_VUT_REF": reco,
            }
        )
    rows = []
    for y, g, e, r in zip(years, obs_gpp, nee, reco):
        days = 366 if calendar.isleap(int(y)) else 365  # the month's mean daily flux: the months sum to the year
        for m in range(1, 13):
            rows.append(
                {
                    "TIMESTAMP": f"{y}{m:02d}",
                    "GPP_NT_VUT_REF": g / days,
                    "NEE_VUT_REF": e / days,
                    "RECO_NT_VUT_REF": r / days,
                }
            )
    return pd.DataFrame(rows)


def planted(site: dict) -> dict[str, float]:
    """The scores validation must recover for a synthetic site."""
    return {
        "gpp_bias": site["gpp_bias"],
        "nep_bias": site["nep_bias"],
        "gpp_rmse": float(np.hypot(site["gpp_bias"], site["noise_sd"])),
        "nep_rmse": float(np.hypot(site["nep_bias"], site["noise_sd"])),
    }


def write(sites, years, carbon_maps, grid, seed: int, paths) -> None:
    """Write each site's CSV from the annual GPP/NEP maps (``carbon_maps``: list of datasets, one per year)."""
    from . import files

    for site, path in zip(sites, paths):
        row, col = validation.site_pixel(site, grid.x.values, grid.y.values, grid.rio.crs, key="validation.demo_sites")
        gpp = np.array([validation.extract(ds["gpp"], row, col) for ds in carbon_maps])
        nep = np.array([validation.extract(ds["nep"], row, col) for ds in carbon_maps])
        with files.atomic_path(path) as tmp:
            record(site, years, gpp, nep, seed).to_csv(tmp, index=False, float_format="%.6f")
