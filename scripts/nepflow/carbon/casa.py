"""NPP from the CASA light-use-efficiency model (monthly).

Carnegie–Ames–Stanford Approach (Potter C.S., Randerson J.T., Field C.B. et al.
1993, "Terrestrial ecosystem production: a process model based on global
satellite and surface data", Global Biogeochemical Cycles 7(4): 811–841), in
the form used across Chinese NPP studies (Zhu W., Pan Y., Zhang J. 2007, Journal
of Plant Ecology (Chinese) 31(3): 413–424):

    NPP = PAR × FPAR × ε_max × Tε1 × Tε2 × Wε

- Tε1 = 0.8 + 0.02 Topt − 0.0005 Topt², 0 in months with T ≤ −10 degC: the
  lower efficiency of plants of cold habitats; Topt (degC) is the mean
  temperature of the month in which FPAR peaks (the "optimum month", here of
  the same year).
- Tε2 = 1.1814 / {1 + exp[0.2 (Topt − 10 − T)]} / {1 + exp[0.3 (−Topt − 10 + T)]}:
  the decline away from Topt; where T is more than 10 degC above or 13 degC
  below Topt, Tε2 is half its value at T = Topt.
- Wε = 0.5 + 0.5 E/E_PT, with E/E_PT the water scalar TEC uses
  (:func:`nepflow.carbon.tec.water_scalar`: clipped to [0, 1], 1 where E_PT ≤ 0),
  so both models see the same water stress.
- ε_max (g C MJ-1) per land-cover class: config ``carbon.casa.eps_max``,
  defaults the China values of Zhu et al. (2006) (docs/science.md).

PAR is already the PAR fraction of shortwave radiation (Potter's 0.5 × SOL is
``carbon.par_fraction`` × SSRD here). All functions are pure and work on numpy
arrays or xarray objects alike (NaN in, NaN out).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: Default ε_max (g C MJ-1) per IGBP class (key: class number as a string, or "default" for every class not
#: listed), from the vegetation types of Zhu et al. (2006), Chinese Science Bulletin 51(4): 457–463 (the
#: table docs/science.md reproduces): evergreen needleleaf 0.389 (Potter et al.'s global value), evergreen
#: broadleaf 0.985, deciduous needleleaf 0.485, deciduous broadleaf 0.692, mixed forest 0.475, shrubland 0.429,
#: grassland, cropland and other vegetation 0.542. Savannas follow their dominant layer (woody: shrub;
#: savanna: grass); that mapping of IGBP onto Zhu's types is nepflow's.
EPS_MAX = {
    "1": 0.389,
    "2": 0.985,
    "3": 0.485,
    "4": 0.692,
    "5": 0.475,
    "6": 0.429,
    "7": 0.429,
    "8": 0.429,
    "9": 0.542,
    "10": 0.542,
    "11": 0.542,
    "12": 0.542,
    "14": 0.542,
    "default": 0.542,
}
#: Tε2's normalisation (Potter et al. 1993): Tε2(Topt) ≈ 0.99.
T_EPS2_SCALE = 1.1814
#: Below this monthly mean temperature (degC) Tε1 is 0.
T_EPS1_FREEZE = -10.0
#: Tε2 falls to half its optimum value beyond Topt + 10 and below Topt − 13 (degC).
T_EPS2_ABOVE, T_EPS2_BELOW = 10.0, 13.0


def optimum_temperature(tas, fpar, dim="time"):
    """Topt (degC): the temperature of the month with the highest FPAR (first such month).

    NaN where every month's FPAR or the temperature of that month is NaN.
    """
    filled = fpar.fillna(-np.inf)
    month = filled.argmax(dim)
    topt = tas.isel({dim: month})
    return topt.where(fpar.notnull().any(dim)).drop_vars(dim, errors="ignore")


def t_eps1(topt, tas):
    """Tε1 (1) = 0.8 + 0.02 Topt − 0.0005 Topt², 0 where T ≤ −10 degC; broadcast over the months of ``tas``."""
    t1 = 0.8 + 0.02 * topt - 0.0005 * topt**2
    return xr.where(tas > T_EPS1_FREEZE, t1, 0.0).where(tas.notnull() & topt.notnull())


def _t_eps2_raw(tas, topt):
    return T_EPS2_SCALE / (1.0 + np.exp(0.2 * (topt - 10.0 - tas))) / (1.0 + np.exp(0.3 * (-topt - 10.0 + tas)))


def t_eps2(tas, topt):
    """Tε2 (1) of each month; half of Tε2(Topt) where T − Topt > 10 or < −13 degC."""
    t2 = _t_eps2_raw(tas, topt)
    far = (tas - topt > T_EPS2_ABOVE) | (tas - topt < -T_EPS2_BELOW)
    return xr.where(far, 0.5 * _t_eps2_raw(topt, topt), t2).where(tas.notnull() & topt.notnull())


def water_stress(ws):
    """Wε (1) = 0.5 + 0.5 ws, ``ws`` the E/E_PT water scalar in [0, 1]."""
    return 0.5 + 0.5 * ws


def eps_max_map(landcover: xr.DataArray, table: dict) -> xr.DataArray:
    """ε_max (g C MJ-1) per pixel from IGBP class codes and a ``{class: ε_max, "default": ε_max}`` table.

    Classes not in the table take its ``default`` (:data:`EPS_MAX`'s when the table has none);
    NaN where the class is NaN (no land cover).
    """
    default = table.get("default", EPS_MAX["default"])
    table = {int(k): v for k, v in table.items() if str(k) != "default"}
    codes = np.nan_to_num(np.asarray(landcover.values, dtype="float64"), nan=0).astype("int64")
    lut = np.full(256, float(default))
    for k, v in table.items():
        lut[int(k)] = float(v)
    out = lut[np.clip(codes, 0, 255)]
    out = np.where(np.isnan(np.asarray(landcover.values, dtype="float64")), np.nan, out)
    return xr.DataArray(out, coords=landcover.coords, dims=landcover.dims)


def npp_monthly(par, fpar, tas, ws, eps_max, topt=None):
    """Monthly CASA NPP (g C m-2 month-1) = PAR × FPAR × ε_max × Tε1 × Tε2 × Wε.

    Parameters
    ----------
    par : incident PAR, MJ m-2 month-1 (time, y, x).
    fpar : FPAR, 1.
    tas : monthly mean air temperature, degC.
    ws : E/E_PT water scalar, 1 (:func:`nepflow.carbon.tec.water_scalar`).
    eps_max : maximum light-use efficiency per pixel, g C MJ-1 (y, x).
    topt : optimum temperature, degC (y, x); default :func:`optimum_temperature`.
    """
    if topt is None:
        topt = optimum_temperature(tas, fpar)
    return par * fpar * eps_max * t_eps1(topt, tas) * t_eps2(tas, topt) * water_stress(ws)
