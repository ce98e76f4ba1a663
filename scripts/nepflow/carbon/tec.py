"""GPP and NPP from the TEC light-use-efficiency model (monthly).

The terrestrial ecosystem carbon flux (TEC) model (Yan H., Wang S.-Q. et al.
2015, "Improved global simulations of gross primary product based on a new
definition of water stress factor and a separate treatment of C3 and C4
plants", Ecological Modelling 297: 42–59): monthly GPP from MODIS FPAR and
climate, with separate maximum light-use efficiencies for C3 and C4 plants
(1.8 and 2.76 g C MJ-1, the paper's abstract) and a water stress factor of
actual over Priestley–Taylor potential evapotranspiration:

    GPP = PAR × FPAR × [f_C4 ε_C4 + (1 − f_C4) ε_C3] × Ts × Ws

nepflow applies the temperature scalar per pathway, each with its own
cardinal temperatures (Tmin, Topt, Tmax):

    GPP = PAR × FPAR × [f_C4 ε_C4 Ts_C4 + (1 − f_C4) ε_C3 Ts_C3] × Ws

which is the equation above with Ts the ε-weighted mean of Ts_C3 and Ts_C4
(:func:`effective_temperature_scalar`); with equal cardinal temperatures the
two forms are identical.

Sources of the constants (docs/science.md has the full account):

- ε_C3 = 1.8, ε_C4 = 2.76 g C MJ-1: Yan et al. (2015), abstract.
- The temperature scalar's form is the TEM/VPM/VPRM one (Raich et al. 1991,
  Ecological Applications 1: 399–429; Xiao et al. 2004, Remote Sensing of
  Environment 91: 256–270; Mahadevan et al. 2008, Global Biogeochemical
  Cycles 22: GB2005, eq. 6). TEC's own cardinal temperatures could not be
  confirmed; the defaults 0/20/40 degC (C3) are the usual VPRM/CASA values and
  0/30/45 degC (C4) a warmer optimum for maize; both are config values.
- Priestley & Taylor (1972) Monthly Weather Review 100: 81–92; Δ from Allen et
  al. (1998) FAO Irrigation and Drainage Paper 56, eq. 13.

All functions are pure, work on numpy arrays, scalars or xarray objects alike
(NaN in, NaN out), and compute in the precision of their inputs (nepflow passes
float64).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: Default cardinal temperatures (degC): (Tmin, Topt, Tmax) per pathway.
C3_TEMPERATURES = (0.0, 20.0, 40.0)
C4_TEMPERATURES = (0.0, 30.0, 45.0)
#: Default maximum light-use efficiencies (g C MJ-1), Yan et al. (2015).
EPS_C3 = 1.8
EPS_C4 = 2.76


def temperature_scalar(tas, tmin=0.0, topt=20.0, tmax=40.0):
    """Temperature stress scalar of light-use efficiency (1).

    Ts = (T − Tmin)(T − Tmax) / [(T − Tmin)(T − Tmax) − (T − Topt)²] for
    Tmin < T < Tmax, else 0 (Raich et al. 1991; VPM, Xiao et al. 2004; VPRM,
    Mahadevan et al. 2008, eq. 6). Ts = 1 at T = Topt, 0 at and beyond Tmin and
    Tmax, and in (0, 1] in between (the denominator is the negative numerator
    minus a square, so it never vanishes inside the interval).

    Parameters
    ----------
    tas : monthly mean air temperature T, degC.
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


def light_use_efficiency(tas, c4_frac, eps_c3=EPS_C3, eps_c4=EPS_C4, c3=C3_TEMPERATURES, c4=C4_TEMPERATURES):
    """Temperature-limited light-use efficiency of a C3/C4 mixture (g C MJ-1).

    ε = f_C4 ε_C4 Ts_C4(T) + (1 − f_C4) ε_C3 Ts_C3(T)

    Parameters
    ----------
    tas : monthly mean air temperature, degC.
    c4_frac : C4 fraction of the vegetation f_C4, 1.
    eps_c3, eps_c4 : maximum light-use efficiencies, g C MJ-1 (1.8, 2.76).
    c3, c4 : (Tmin, Topt, Tmax) of each pathway, degC.
    """
    ts3 = temperature_scalar(tas, *c3)
    ts4 = temperature_scalar(tas, *c4)
    return c4_frac * eps_c4 * ts4 + (1.0 - c4_frac) * eps_c3 * ts3


def effective_temperature_scalar(tas, c4_frac, eps_c3=EPS_C3, eps_c4=EPS_C4, c3=C3_TEMPERATURES, c4=C4_TEMPERATURES):
    """The single Ts of the mixture (1): ε / [f_C4 ε_C4 + (1 − f_C4) ε_C3].

    With it GPP = PAR × FPAR × [f_C4 ε_C4 + (1 − f_C4) ε_C3] × Ts × Ws exactly,
    the form docs/science.md writes. In [0, 1]; NaN where an input is NaN.
    """
    lue = light_use_efficiency(tas, c4_frac, eps_c3, eps_c4, c3, c4)
    return lue / (c4_frac * eps_c4 + (1.0 - c4_frac) * eps_c3)


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
    the saturation vapour pressure curve at T (FAO-56 eq. 13), γ the
    psychrometric constant and λ the latent heat of vaporisation;
    1 kg m-2 of water = 1 mm.

    Parameters
    ----------
    rn : net radiation, MJ m-2 month-1.
    tas : monthly mean air temperature, degC.
    alpha : Priestley–Taylor coefficient, 1 (1.26).
    gamma : psychrometric constant, kPa degC-1 (0.066; FAO-56 gives 0.067 at
        sea level and less with altitude).
    lambda_ : latent heat of vaporisation, MJ kg-1 (2.45, FAO-56 at 20 degC).

    Returns
    -------
    E_PT, mm month-1 (negative where Rn < 0).
    """
    if alpha <= 0 or gamma <= 0 or lambda_ <= 0:
        raise ValueError(f"alpha, gamma and lambda must be positive, got {alpha}, {gamma}, {lambda_}")
    delta = saturation_slope(tas)
    return alpha * delta / (delta + gamma) * rn / lambda_


def water_scalar(evap, pet):
    """Water stress scalar Ws = E / E_PT (1), clipped to [0, 1]; Ws = 1 where E_PT ≤ 0.

    E_PT ≤ 0 happens in winter months with negative net radiation, where water
    does not limit photosynthesis (and the temperature scalar is usually 0).
    TEC computes E with its ARTS model (Yan et al. 2012, Remote Sensing of
    Environment 124: 581–595); nepflow takes E from the forcing (e.g. ERA5-Land).

    Parameters
    ----------
    evap : actual evapotranspiration E, mm month-1 (positive upward).
    pet : Priestley–Taylor potential evaporation E_PT, mm month-1.

    Returns
    -------
    Ws in [0, 1]; NaN where ``evap`` or ``pet`` is NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = evap / pet
    ws = _clip(ratio, 0.0, 1.0)
    out = _where(pet > 0, ws, 1.0, pet)
    return out + 0.0 * evap  # NaN where evap is NaN, even where E_PT <= 0


def gpp_monthly(par, fpar, c4_frac, tas, ws, eps_c3=EPS_C3, eps_c4=EPS_C4, c3=C3_TEMPERATURES, c4=C4_TEMPERATURES):
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

    Returns
    -------
    GPP, g C m-2 month-1; NaN where any input is NaN.
    """
    return par * fpar * light_use_efficiency(tas, c4_frac, eps_c3, eps_c4, c3, c4) * ws


def npp_from_gpp(gpp, cue=0.5):
    """NPP = CUE × GPP (same units as ``gpp``); CUE the carbon-use efficiency (1), in (0, 1]."""
    if not 0 < cue <= 1:
        raise ValueError(f"carbon-use efficiency must be in (0, 1], got {cue}")
    return cue * gpp


def _where(cond, a, b, like):
    """``a`` where ``cond`` else ``b``, NaN where ``like`` is NaN (numpy or xarray)."""
    if isinstance(like, xr.DataArray) or isinstance(a, xr.DataArray):
        out = xr.where(cond, a, b)
        return out.where(~np.isnan(like))
    out = np.where(cond, a, b)
    return np.where(np.isnan(like), np.nan, out)


def _clip(x, lo, hi):
    return x.clip(lo, hi) if isinstance(x, xr.DataArray) else np.clip(x, lo, hi)
