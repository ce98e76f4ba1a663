"""Carbon fluxes: TEC GPP/NPP (``tec``), soil heterotrophic respiration (``rh``), NEP.

:func:`annual_fluxes` turns one year's monthly forcing into annual totals of
GPP, NPP, Rh and NEP (g C m-2 yr-1): NEP = NPP − Rh, positive a carbon sink.
"""
from __future__ import annotations

import copy

import xarray as xr

from .. import variables
from ..errors import NepflowError
from . import rh as rh_model
from . import tec

#: Defaults of the config's ``carbon`` section (config/schema.yaml documents each).
DEFAULTS = {
    "npp": "tec",
    "par_fraction": 0.45,
    "eps_c3": 1.8,
    "eps_c4": 2.76,
    "temperature": {"c3": {"tmin": 0.0, "topt": 20.0, "tmax": 40.0},
                    "c4": {"tmin": 0.0, "topt": 30.0, "tmax": 45.0}},
    "water": {"pt_alpha": 1.26, "gamma": 0.066, "lambda": 2.45},
    "cue": 0.5,
    "rh": {"a": 0.22, "b": 0.0912, "c": 0.3145, "days_per_month": 30.0, "carbon_fraction": 0.465},
    "monthly_output": False,
}

TEC_REF = "Yan H., Wang S.-Q. et al. (2015) Ecological Modelling 297: 42-59 (TEC model)"
RH_REF = "Pei Z. et al. (2009) Journal of Integrative Plant Biology 51(5): 521-526"


def with_defaults(params: dict | None) -> dict:
    """The carbon parameters with every missing key filled from :data:`DEFAULTS`."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in (params or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            for k, v in value.items():
                out[key][k] = {**out[key][k], **v} if isinstance(v, dict) and isinstance(out[key].get(k), dict) else v
        else:
            out[key] = value
    return out


def monthly_fluxes(forcing: xr.Dataset, params: dict | None = None) -> xr.Dataset:
    """Monthly GPP, NPP, Rh, NEP (g C m-2 month-1) and the scalars Ts, Ws and PET.

    Parameters
    ----------
    forcing : the forcing contract (time=12, y, x): fpar, par, tas, pr, rn, evap, c4_frac.
    params : the config's ``carbon`` section (defaults: :data:`DEFAULTS`).
    """
    p = with_defaults(params)
    f = {name: forcing[name].astype("float64") for name in ("fpar", "par", "tas", "pr", "rn", "evap", "c4_frac")}
    w, t = p["water"], p["temperature"]
    pet = tec.priestley_taylor_pet(f["rn"], f["tas"], alpha=w["pt_alpha"], gamma=w["gamma"], lambda_=w["lambda"])
    ws = tec.water_scalar(f["evap"], pet)
    c3 = (t["c3"]["tmin"], t["c3"]["topt"], t["c3"]["tmax"])
    c4 = (t["c4"]["tmin"], t["c4"]["topt"], t["c4"]["tmax"])
    gpp = tec.gpp_monthly(f["par"], f["fpar"], f["c4_frac"], f["tas"], ws,
                          eps_c3=p["eps_c3"], eps_c4=p["eps_c4"], c3=c3, c4=c4)
    npp = tec.npp_from_gpp(gpp, p["cue"])
    r = p["rh"]
    rh = rh_model.rh_monthly(f["tas"], f["pr"], a=r["a"], b=r["b"], c=r["c"], days=r["days_per_month"],
                             carbon_fraction=r["carbon_fraction"])
    ts = f["c4_frac"] * tec.temperature_scalar(f["tas"], *c4) + (1 - f["c4_frac"]) * tec.temperature_scalar(f["tas"], *c3)
    ds = xr.Dataset({"gpp": gpp, "npp": npp, "rh": rh, "nep": npp - rh, "ts": ts, "ws": ws, "pet": pet})
    for name in ("gpp", "npp", "rh", "nep"):
        ds[name].attrs = variables.attrs(name, units="g C m-2 month-1")
    for name in ("ts", "ws", "pet"):
        ds[name].attrs = variables.attrs(name)
    return ds


def annual_fluxes(forcing: xr.Dataset, params: dict | None = None, monthly: bool = False):
    """Annual GPP, NPP, Rh and NEP (g C m-2 yr-1) of one year: sums of the 12 months.

    GPP (TEC):  Σ PAR × FPAR × [f_C4 ε_C4 Ts_C4 + (1 − f_C4) ε_C3 Ts_C3] × Ws
    NPP:        CUE × GPP, or MODIS MOD17A3HGF (``npp: mod17``, variable ``npp_mod17``)
    Rh:         Σ a [exp(b T) + ln(c R + 1)] × days × carbon fraction
    NEP:        NPP − Rh

    Parameters
    ----------
    forcing : the forcing contract of one year (time=12, y, x).
    params : the config's ``carbon`` section.
    monthly : also return the monthly dataset.

    Returns
    -------
    Dataset (y, x) of gpp, npp, rh, nep, each with its equation, reference and
    parameters as attributes; with ``monthly``, (annual, monthly).
    """
    p = with_defaults(params)
    if forcing.sizes.get("time") != 12:
        raise NepflowError(f"forcing: {forcing.sizes.get('time')} months; expected 12")
    per_month = monthly_fluxes(forcing, p)
    annual = per_month[["gpp", "npp", "rh"]].sum("time", skipna=False)
    t = p["temperature"]
    gpp_comment = (f"GPP = sum over months of PAR x FPAR x [f_C4 x {p['eps_c4']} x Ts_C4 + (1 - f_C4) x {p['eps_c3']} "
                   f"x Ts_C3] x Ws; Ts = (T-Tmin)(T-Tmax)/[(T-Tmin)(T-Tmax)-(T-Topt)^2]; Ws = E/E_PT (Priestley-Taylor, "
                   f"alpha {p['water']['pt_alpha']}). E is the forcing's actual evapotranspiration (reanalysis E "
                   f"stands in for TEC's ARTS model). {TEC_REF}")
    if p["npp"] == "mod17":
        if "npp_mod17" not in forcing:
            raise NepflowError("forcing: carbon.npp is mod17 but the forcing has no npp_mod17; expected sources.npp set")
        annual["npp"] = forcing["npp_mod17"].astype("float64")
        npp_comment = "NPP from MODIS MOD17A3HGF (annual), regridded; GPP still from TEC"
    else:
        npp_comment = f"NPP = {p['cue']} x GPP (carbon-use efficiency)"
    r = p["rh"]
    rh_comment = (f"Rh = sum over months of {r['a']} x [exp({r['b']} T) + ln({r['c']} R + 1)] x {r['days_per_month']} "
                  f"x {r['carbon_fraction']}; T monthly mean air temperature (degC), R monthly precipitation (mm). {RH_REF}")
    annual["nep"] = annual["npp"] - annual["rh"]
    flat = {
        "eps_c3": p["eps_c3"], "eps_c4": p["eps_c4"], "cue": p["cue"], "npp_source": p["npp"],
        "tmin_c3": t["c3"]["tmin"], "topt_c3": t["c3"]["topt"], "tmax_c3": t["c3"]["tmax"],
        "tmin_c4": t["c4"]["tmin"], "topt_c4": t["c4"]["topt"], "tmax_c4": t["c4"]["tmax"],
        "pt_alpha": p["water"]["pt_alpha"], "psychrometric_constant": p["water"]["gamma"],
        "latent_heat": p["water"]["lambda"],
        "rh_a": r["a"], "rh_b": r["b"], "rh_c": r["c"], "rh_days_per_month": r["days_per_month"],
        "rh_carbon_fraction": r["carbon_fraction"],
    }
    comments = {"gpp": gpp_comment, "npp": npp_comment, "rh": rh_comment,
                "nep": f"NEP = NPP - Rh; positive: carbon sink. {npp_comment}. Rh: {RH_REF}"}
    for name in ("gpp", "npp", "rh", "nep"):
        annual[name].attrs = variables.attrs(name, comment=comments[name], **flat)
    annual = annual[["gpp", "npp", "rh", "nep"]]
    return (annual, per_month) if monthly else annual
