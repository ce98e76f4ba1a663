"""GPP and NPP from the TEC light-use-efficiency model (monthly).

The terrestrial ecosystem carbon flux (TEC) model (Yan, H., Wang, S.-Q., et al.
2015, Ecological Modelling 297: 42–59): monthly GPP from MODIS FPAR and
climate, with separate maximum light-use efficiencies for C3 and C4 plants
(1.8 and 2.76 g C MJ-1, the paper's abstract) and a water stress factor of
actual over Priestley–Taylor potential evapotranspiration:

    GPP = PAR × FPAR × [f_C4 ε_C4 + (1 − f_C4) ε_C3] × Ts × Ws

The temperature scalar is applied per pathway (each with its own Tmin, Topt,
Tmax), so the bracket is f_C4 ε_C4 Ts_C4 + (1 − f_C4) ε_C3 Ts_C3; with equal
cardinal temperatures this reduces to the equation above.

All functions are pure, work on numpy arrays or xarray objects alike, and
compute in float64.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

#: Default cardinal temperatures (degC): (Tmin, Topt, Tmax) per pathway.
C3_TEMPERATURES = (0.0, 20.0, 40.0)
C4_TEMPERATURES = (0.0, 30.0, 45.0)


def temperature_scalar(tas, tmin=0.0, topt=20.0, tmax=40.0):
    """Temperature stress scalar of light-use efficiency (1).

    Ts = (T − Tmin)(T − Tmax) / [(T − Tmin)(T − Tmax) − (T − Topt)²] for
    Tmin < T < Tmax, else 0 (Raich et al. 1991, as used by CASA and TEC).
    Ts = 1 at T = Topt and 0 at and beyond Tmin and Tmax.

    Parameters
    ----------
    tas : monthly mean air temperature, degC.
    tmin, topt, tmax : cardinal temperatures, degC, tmin < topt < tmax.

    Returns
    -------
    Ts in [0, 1], same shape as ``tas``; NaN where ``tas`` is NaN.
    """
    if not tmin < topt < tmax:
        raise ValueError(f"cardinal temperatures must satisfy tmin < topt < tmax, got {tmin}, {topt}, {tmax}")
    t = tas
    num = (t - tmin) * (t - tmax)
    den = num - (t - topt) ** 2
    inside = (t > tmin) & (t < tmax)
    with np.errstate(invalid="ignore", divide="ignore"):
        ts = num / den
    return _where(inside, ts, 0.0, tas)


def saturation_slope(tas):
    """Slope of the saturation vapour pressure curve Δ (kPa degC-1) at ``tas`` (degC).

    Δ = 4098 × 0.6108 exp(17.27 T / (T + 237.3)) / (T + 237.3)² (FAO-56, eq. 13).
    """
    es = 0.6108 * np.exp(17.27 * tas / (tas + 237.3))
    return 4098.0 * es / (tas + 237.3) ** 2


def priestley_taylor_pet(rn, tas, alpha=1.26, gamma=0.066, lambda_=2.45):
    """Priestley–Taylor potential evaporation (mm month-1).

    E_PT = α Δ/(Δ + γ) Rn/λ (Priestley & Taylor 1972), with Rn the monthly
    net radiation (ground heat flux ≈ 0 at a monthly step), Δ the slope of
    the saturation vapour pressure curve at T, γ the psychrometric constant
    and λ the latent heat of vaporisation; 1 kg m-2 of water = 1 mm.

    Parameters
    ----------
    rn : net radiation, MJ m-2 month-1.
    tas : monthly mean air temperature, degC.
    alpha : Priestley–Taylor coefficient, 1 (1.26).
    gamma : psychrometric constant, kPa degC-1 (0.066).
    lambda_ : latent heat of vaporisation, MJ kg-1 (2.45).

    Returns
    -------
    E_PT, mm month-1 (negative where Rn < 0).
    """
    delta = saturation_slope(tas)
    return alpha * delta / (delta + gamma) * rn / lambda_


def water_scalar(evap, pet):
    """Water stress scalar Ws = E / E_PT (1), clipped to [0, 1]; Ws = 1 where E_PT ≤ 0.

    Parameters
    ----------
    evap : actual evapotranspiration, mm month-1.
    pet : Priestley–Taylor potential evaporation, mm month-1.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = evap / pet
    ws = _clip(ratio, 0.0, 1.0)
    return _where(pet > 0, ws, 1.0, pet)


def gpp_monthly(par, fpar, c4_frac, tas, ws, eps_c3=1.8, eps_c4=2.76,
                c3=C3_TEMPERATURES, c4=C4_TEMPERATURES):
    """Monthly gross primary productivity (g C m-2 month-1).

    GPP = PAR × FPAR × [f_C4 ε_C4 Ts_C4 + (1 − f_C4) ε_C3 Ts_C3] × Ws

    Parameters
    ----------
    par : incident PAR, MJ m-2 month-1.
    fpar : fraction of absorbed PAR, 1.
    c4_frac : C4 fraction of the vegetation, 1.
    tas : monthly mean air temperature, degC.
    ws : water stress scalar, 1.
    eps_c3, eps_c4 : maximum light-use efficiencies, g C MJ-1 (1.8, 2.76: Yan et al. 2015).
    c3, c4 : (Tmin, Topt, Tmax) of each pathway, degC.
    """
    ts3 = temperature_scalar(tas, *c3)
    ts4 = temperature_scalar(tas, *c4)
    lue = c4_frac * eps_c4 * ts4 + (1.0 - c4_frac) * eps_c3 * ts3
    return par * fpar * lue * ws


def npp_from_gpp(gpp, cue=0.5):
    """NPP = CUE × GPP (same units as ``gpp``); CUE the carbon-use efficiency (1)."""
    if not 0 < cue <= 1:
        raise ValueError(f"carbon-use efficiency must be in (0, 1], got {cue}")
    return cue * gpp


def _where(cond, a, b, like):
    if isinstance(like, xr.DataArray) or isinstance(a, xr.DataArray):
        out = xr.where(cond, a, b)
        return out.where(~np.isnan(like))
    out = np.where(cond, a, b)
    return np.where(np.isnan(like), np.nan, out)


def _clip(x, lo, hi):
    return x.clip(lo, hi) if isinstance(x, xr.DataArray) else np.clip(x, lo, hi)
