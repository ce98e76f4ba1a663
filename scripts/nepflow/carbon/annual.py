"""One year's carbon fluxes from its monthly forcing: GPP, NPP, Rh, NEP.

:func:`annual_fluxes` is what the ``carbon`` rule calls; :func:`monthly_fluxes`
gives the 12 monthly values it sums. Parameters come from the config's
``carbon`` section as validated (config/schema.yaml states every default;
docs/science.md the science); every parameter used is written into the outputs' attributes.
"""

from __future__ import annotations

import xarray as xr

from .. import blocks, landcover, variables
from ..errors import NepflowError
from . import casa, tec
from . import rh as rh_model

#: The NPP models: tec (CUE x TEC GPP), casa (Potter et al. 1993), mod17 (MODIS MOD17A3HGF).
MODELS = ("tec", "casa", "mod17")

TEC_REF = (
    "Yan H., Wang S.-Q. et al. (2015) Ecological Modelling 297: 42-59 (TEC model); "
    "temperature scalar of Raich et al. (1991) as in VPM/VPRM"
)
RH_REF = "Pei Z. et al. (2009) Journal of Integrative Plant Biology 51(5): 521-526"
CASA_REF = (
    "Potter C.S. et al. (1993) Global Biogeochemical Cycles 7(4): 811-841 (CASA); eps_max per IGBP class "
    "from config carbon.casa.eps_max (defaults: Zhu W. et al. (2006) Chinese Science Bulletin 51(4): 457-463)"
)
#: Forcing variables the models read (the forcing contract, docs/architecture.md).
INPUTS = ("fpar", "par", "tas", "pr", "rn", "evap", "c4_frac")


def validate(p: dict) -> None:
    """Check a complete carbon parameter dict (the validated config's ``carbon`` section) beyond the
    schema; NepflowError naming the config key if invalid."""
    if p["npp"] not in MODELS:
        raise NepflowError(f"config key carbon.npp: {p['npp']!r}; expected one of {', '.join(MODELS)}")
    models = p["models"]
    if (
        not isinstance(models, list)
        or not models
        or any(m not in MODELS for m in models)
        or len(set(models)) != len(models)
    ):
        raise NepflowError(
            f"config key carbon.models: {models!r}; expected a non-empty list of distinct models "
            f"from {', '.join(MODELS)}"
        )
    table = p["casa"]["eps_max"]
    if not isinstance(table, dict):
        raise NepflowError(f"config key carbon.casa.eps_max: {table!r}; expected a mapping IGBP class -> g C MJ-1")
    for key, value in table.items():
        if str(key) != "default" and not (str(key).isdigit() and int(key) in landcover.IGBP):
            raise NepflowError(
                f"config key carbon.casa.eps_max.{key}: not an IGBP class; expected a class number 1-17 or default"
            )
        _number(f"carbon.casa.eps_max.{key}", value, 0, None)
    checks = [
        ("par_fraction", p["par_fraction"], 0, 1),
        ("eps_c3", p["eps_c3"], 0, None),
        ("eps_c4", p["eps_c4"], 0, None),
        ("cue", p["cue"], 0, 1),
    ]
    checks += [(f"water.{k}", v, 0, None) for k, v in p["water"].items()]
    checks += [(f"rh.{k}", v, 0, 1 if k == "carbon_fraction" else None) for k, v in p["rh"].items()]
    for key, value, lo, hi in checks:
        _number(f"carbon.{key}", value, lo, hi)
    for path, t in p["temperature"].items():
        for k, v in t.items():
            _number(f"carbon.temperature.{path}.{k}", v, None, None)
        if not t["tmin"] < t["topt"] < t["tmax"]:
            raise NepflowError(
                f"config key carbon.temperature.{path}: tmin {t['tmin']}, topt {t['topt']}, "
                f"tmax {t['tmax']}; expected tmin < topt < tmax"
            )
    if not isinstance(p["monthly_output"], bool):
        raise NepflowError(f"config key carbon.monthly_output: {p['monthly_output']!r}; expected true or false")


def _number(key, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NepflowError(f"config key {key}: {value!r}; expected a number")
    if (lo is not None and not value > lo) or (hi is not None and not value <= hi):
        span = f"> {lo}" if hi is None else f"in ({lo}, {hi}]"
        raise NepflowError(f"config key {key}: {value}; expected a number {span}")


def parameter_attrs(p: dict) -> dict:
    """Every carbon parameter as a flat netCDF attribute dict (names as in the outputs)."""
    t, w, r = p["temperature"], p["water"], p["rh"]
    models = ensemble(p)
    extra = {"npp_models": ", ".join(models)} if len(models) > 1 else {}
    if "casa" in models:
        extra["casa_eps_max"] = ", ".join(f"{k}: {v}" for k, v in p["casa"]["eps_max"].items())
    return {
        **extra,
        "npp_source": p["npp"],
        "eps_c3": float(p["eps_c3"]),
        "eps_c4": float(p["eps_c4"]),
        "cue": float(p["cue"]),
        "tmin_c3": float(t["c3"]["tmin"]),
        "topt_c3": float(t["c3"]["topt"]),
        "tmax_c3": float(t["c3"]["tmax"]),
        "tmin_c4": float(t["c4"]["tmin"]),
        "topt_c4": float(t["c4"]["topt"]),
        "tmax_c4": float(t["c4"]["tmax"]),
        "pt_alpha": float(w["pt_alpha"]),
        "psychrometric_constant": float(w["gamma"]),
        "latent_heat": float(w["lambda"]),
        "rh_a": float(r["a"]),
        "rh_b": float(r["b"]),
        "rh_c": float(r["c"]),
        "rh_days_per_month": float(r["days_per_month"]),
        "rh_carbon_fraction": float(r["carbon_fraction"]),
    }


def model_comment(model: str, p: dict) -> str:
    """The NPP equation and reference of one model, for an output's ``comment``."""
    if model == "mod17":
        return (
            "NPP from MODIS MOD17A3HGF annual NPP (forcing variable npp_mod17), regridded; "
            "not derived from the GPP in this file"
        )
    if model == "casa":
        table = ", ".join(f"{k}: {v}" for k, v in p["casa"]["eps_max"].items())
        return (
            f"NPP = PAR x FPAR x eps_max x Te1 x Te2 x (0.5 + 0.5 Ws) (CASA), summed over the months; "
            f"Te1 = 0.8 + 0.02 Topt - 0.0005 Topt^2 (0 where T <= -10 degC), Te2 = 1.1814/(1 + exp(0.2 (Topt - "
            f"10 - T)))/(1 + exp(0.3 (-Topt - 10 + T))) (half its optimum beyond Topt + 10 / Topt - 13), Topt "
            f"the temperature of the month of peak FPAR, Ws TEC's E/E_PT; eps_max (g C MJ-1) per IGBP class "
            f"{{{table}}}. {CASA_REF}"
        )
    return f"NPP = {p['cue']} x GPP (carbon-use efficiency), GPP from the TEC model"


def _comments(p: dict) -> dict[str, str]:
    t, w, r = p["temperature"], p["water"], p["rh"]
    gpp = (
        f"GPP = PAR x FPAR x [f_C4 x {p['eps_c4']} x Ts_C4 + (1 - f_C4) x {p['eps_c3']} x Ts_C3] x Ws "
        f"(g C m-2 month-1, summed over the months); Ts = (T-Tmin)(T-Tmax)/[(T-Tmin)(T-Tmax)-(T-Topt)^2] "
        f"with Tmin/Topt/Tmax {t['c3']['tmin']}/{t['c3']['topt']}/{t['c3']['tmax']} degC (C3) and "
        f"{t['c4']['tmin']}/{t['c4']['topt']}/{t['c4']['tmax']} degC (C4), 0 outside (Tmin, Tmax); "
        f"Ws = E/E_PT clipped to [0, 1], 1 where E_PT <= 0; E_PT = {w['pt_alpha']} Delta/(Delta + "
        f"{w['gamma']}) Rn/{w['lambda']} (Priestley-Taylor). E is the forcing's actual evapotranspiration "
        f"(reanalysis E stands in for TEC's ARTS model). {TEC_REF}"
    )
    npp = model_comment(p["npp"], p)
    if p["npp"] != "tec":
        gpp += f". This run's NPP is {'MOD17A3HGF' if p['npp'] == 'mod17' else 'CASA'}, not CUE x this GPP"
    rh = (
        f"Rh = {r['a']} x [exp({r['b']} T) + ln({r['c']} R + 1)] x {r['days_per_month']} x "
        f"{r['carbon_fraction']} per month, summed over the months; T monthly mean air temperature (degC), "
        f"R monthly precipitation (mm). {RH_REF}"
    )
    nep = f"NEP = NPP - Rh; positive: carbon sink. {npp}. Rh: {RH_REF}"
    return {"gpp": gpp, "npp": npp, "rh": rh, "nep": nep}


def ensemble(p: dict) -> list[str]:
    """The NPP models a run computes: the primary one (``carbon.npp``) first, then ``carbon.models``' others."""
    return [p["npp"]] + [m for m in p["models"] if m != p["npp"]]


def _drivers(forcing: xr.Dataset, models=("tec",)) -> dict[str, xr.DataArray]:
    where = forcing.encoding.get("source", "forcing")
    missing = [v for v in INPUTS if v not in forcing]
    if missing:
        raise NepflowError(
            f"{where}: missing variable(s) {', '.join(missing)}; expected the forcing contract ({', '.join(INPUTS)})"
        )
    if forcing.sizes.get("time") != 12:
        raise NepflowError(f"{where}: {forcing.sizes.get('time', 0)} months; expected 12 monthly time steps")
    names = INPUTS
    if "casa" in models:
        if "landcover" not in forcing:
            raise NepflowError(
                f"{where}: variable landcover is missing but config key carbon.models or carbon.npp "
                "lists casa; expected the dominant IGBP class on the grid (the regrid step writes it "
                "when casa is computed)"
            )
        names = INPUTS + ("landcover",)
    return {name: forcing[name].astype("float64") for name in names}


def _model_npp(model: str, f: dict, gpp, ws, p: dict, forcing: xr.Dataset):
    """Monthly NPP (g C m-2 month-1) of one model."""
    if model == "tec":
        return tec.npp_from_gpp(gpp, p["cue"])
    if model == "casa":
        eps = casa.eps_max_map(f["landcover"], p["casa"]["eps_max"])
        return casa.npp_monthly(f["par"], f["fpar"], f["tas"], ws, eps)
    annual_npp = _mod17(forcing)
    total = gpp.sum("time", skipna=False)
    share = xr.where(total > 0, gpp / total.where(total > 0), 1.0 / 12).where(total.notnull())
    return annual_npp * share


def _monthly_core(forcing: xr.Dataset, p: dict, models) -> dict[str, xr.DataArray]:
    """gpp, rh, ts, ws, pet and ``npp_<model>`` of each of ``models``, monthly, float64."""
    f = _drivers(forcing, models)
    w, t = p["water"], p["temperature"]
    c3 = (t["c3"]["tmin"], t["c3"]["topt"], t["c3"]["tmax"])
    c4 = (t["c4"]["tmin"], t["c4"]["topt"], t["c4"]["tmax"])
    pet = tec.priestley_taylor_pet(f["rn"], f["tas"], alpha=w["pt_alpha"], gamma=w["gamma"], lambda_=w["lambda"])
    ws = tec.water_scalar(f["evap"], pet)
    gpp = tec.gpp_monthly(
        f["par"], f["fpar"], f["c4_frac"], f["tas"], ws, eps_c3=p["eps_c3"], eps_c4=p["eps_c4"], c3=c3, c4=c4
    )
    ts = tec.effective_temperature_scalar(f["tas"], f["c4_frac"], p["eps_c3"], p["eps_c4"], c3, c4)
    r = p["rh"]
    rh = rh_model.rh_monthly(
        f["tas"], f["pr"], a=r["a"], b=r["b"], c=r["c"], days=r["days_per_month"], carbon_fraction=r["carbon_fraction"]
    )
    out = {"gpp": gpp, "rh": rh, "ts": ts, "ws": ws, "pet": pet}
    for m in models:
        out[f"npp_{m}"] = _model_npp(m, f, gpp, ws, p, forcing)
    return out


def monthly_fluxes(forcing: xr.Dataset, params: dict) -> xr.Dataset:
    """Monthly GPP, NPP, Rh, NEP (g C m-2 month-1) and the scalars Ts, Ws and PET.

    NPP is the primary model's (``carbon.npp``): CUE × GPP (``tec``), CASA's
    (``casa``: :mod:`nepflow.carbon.casa`, needs the forcing's ``landcover``), or
    with ``mod17`` the annual MOD17 NPP distributed over the months in
    proportion to monthly GPP (evenly where the annual GPP is 0), so the months
    sum to the annual value. GPP is TEC's in every case. ``ts`` is the
    ε-weighted temperature scalar of the C3/C4 mixture
    (:func:`tec.effective_temperature_scalar`).

    Parameters
    ----------
    forcing : the forcing contract (time=12, y, x): fpar, par, tas, pr, rn, evap,
        c4_frac; npp_mod17 (y, x) with ``npp: mod17``; landcover (y, x) with ``casa``.
    params : the validated config's ``carbon`` section (every key; ``nepflow.config.defaults("carbon")``).

    Returns
    -------
    Dataset (time, y, x), float64, with CF attributes (fluxes in g C m-2 month-1).
    """
    p = params
    validate(p)
    core = _monthly_core(forcing, p, [p["npp"]])
    gpp, rh, ts, ws, pet = (core[k] for k in ("gpp", "rh", "ts", "ws", "pet"))
    npp = core[f"npp_{p['npp']}"]
    comments = _comments(p)
    npp_comment = comments["npp"]
    if p["npp"] == "mod17":
        npp_comment += "; monthly values distribute it in proportion to monthly GPP"
    ds = xr.Dataset({"gpp": gpp, "npp": npp, "rh": rh, "nep": npp - rh, "ts": ts, "ws": ws, "pet": pet})
    ds = ds.transpose(*forcing["tas"].dims, ...)  # a static (y, x) c4_frac must not reorder the dims
    month = {"units": "g m-2 month-1"}
    extra = {
        "gpp": {**month, "description": "Monthly total gross primary productivity.", "comment": comments["gpp"]},
        "npp": {**month, "description": "Monthly total net primary productivity.", "comment": npp_comment},
        "rh": {**month, "description": "Monthly total soil heterotrophic respiration.", "comment": comments["rh"]},
        "nep": {
            **month,
            "description": "Monthly NEP = NPP - Rh; positive is a carbon sink.",
            "comment": "NEP = NPP - Rh",
        },
        "ts": {"comment": "epsilon-weighted mean of the C3 and C4 temperature scalars"},
        "ws": {"comment": "E / E_PT clipped to [0, 1]; 1 where E_PT <= 0"},
        "pet": {"comment": "Priestley-Taylor potential evaporation (can be negative where Rn < 0)"},
    }
    flat = parameter_attrs(p)
    for name in ds.data_vars:
        ds[name].attrs = variables.attrs(name, **extra[name], **flat)
    return ds


def _mod17(forcing: xr.Dataset) -> xr.DataArray:
    where = forcing.encoding.get("source", "forcing")
    if "npp_mod17" not in forcing:
        raise NepflowError(
            f"{where}: variable npp_mod17 is missing but config key carbon.npp is mod17; "
            "expected MOD17A3HGF NPP in the forcing (config sources.npp)"
        )
    npp = forcing["npp_mod17"]
    if "time" in npp.dims:
        raise NepflowError(f"{where}: variable npp_mod17 has dims {tuple(npp.dims)}; expected (y, x), an annual total")
    return npp.astype("float64")


def annual_fluxes(forcing: xr.Dataset, params: dict, monthly: bool = False):
    """Annual GPP, NPP, Rh and NEP (g C m-2 yr-1) of one year: sums of the 12 months.

    GPP (TEC):  Σ PAR × FPAR × [f_C4 ε_C4 Ts_C4 + (1 − f_C4) ε_C3 Ts_C3] × Ws
    NPP:        the primary model's (``carbon.npp``): CUE × GPP (``tec``), CASA
                (``casa``, :mod:`nepflow.carbon.casa`), or MODIS MOD17A3HGF
                (``mod17``, variable ``npp_mod17``); GPP is always TEC's, and its
                attributes say so
    Rh:         Σ a [exp(b T) + ln(c R + 1)] × days × carbon fraction   (Pei et al. 2009)
    NEP:        NPP − Rh  (exactly, in float64)

    With more than one model in the ensemble (:func:`ensemble`: ``carbon.npp``
    and ``carbon.models``), also ``npp_<model>`` and ``nep_<model>`` of each,
    and ``nep_ensemble_mean`` and ``nep_ensemble_sd`` (the models' mean and
    standard deviation, ddof 0); ``npp``/``nep`` stay the primary model's.

    A pixel with any NaN month (outside the region, or a missing driver) is NaN.

    Parameters
    ----------
    forcing : the forcing contract of one year (time=12, y, x), see docs/architecture.md.
    params : the validated config's ``carbon`` section (every key; ``nepflow.config.defaults("carbon")``).
    monthly : also return the monthly dataset (:func:`monthly_fluxes`).

    Returns
    -------
    Dataset (y, x), float64, of gpp, npp, rh, nep (and the ensemble's
    variables), each with CF attributes from the variables table, a ``comment``
    (equation and reference) and every parameter used; with ``monthly``, the
    tuple (annual, monthly).

    Raises
    ------
    NepflowError : invalid parameters (naming the config key), a missing
        forcing variable, not 12 months, ``mod17`` without ``npp_mod17`` or
        ``casa`` without ``landcover``.
    """
    p = params
    validate(p)
    models = ensemble(p)
    annual = _annual_in_blocks(forcing, p, models)
    if "mod17" in models:
        annual["npp_mod17"] = _mod17(forcing)
    annual["npp"] = annual[f"npp_{p['npp']}"]
    annual["nep"] = annual["npp"] - annual["rh"]
    comments = _comments(p)
    flat = parameter_attrs(p)
    for name in ("gpp", "npp", "rh", "nep"):
        annual[name].attrs = variables.attrs(name, comment=comments[name], **flat)
    names = ["gpp", "npp", "rh", "nep"]
    if len(models) > 1:
        neps = []
        for m in models:
            npp_m = annual[f"npp_{m}"]
            nep_m = npp_m - annual["rh"]
            neps.append(nep_m)
            annual[f"npp_{m}"] = npp_m.assign_attrs(
                variables.attrs("npp", long_name=f"net primary productivity ({m})", comment=model_comment(m, p))
            )
            annual[f"nep_{m}"] = nep_m.assign_attrs(
                variables.attrs("nep", long_name=f"net ecosystem productivity ({m})", comment=f"NEP = NPP ({m}) - Rh")
            )
            names += [f"npp_{m}", f"nep_{m}"]
        stack = xr.concat(neps, dim="model")
        listed = ", ".join(models)
        annual["nep_ensemble_mean"] = stack.mean("model", skipna=False).assign_attrs(
            variables.attrs(
                "nep", long_name="net ecosystem productivity, ensemble mean", comment=f"mean of the NEP of {listed}"
            )
        )
        annual["nep_ensemble_sd"] = stack.std("model", skipna=False).assign_attrs(
            variables.attrs(
                "nep",
                long_name="net ecosystem productivity, ensemble spread",
                comment=f"standard deviation (ddof 0) of the NEP of {listed}",
            )
        )
        names += ["nep_ensemble_mean", "nep_ensemble_sd"]
    annual = annual[names]
    if monthly:
        return annual, monthly_fluxes(forcing, p)
    return annual


def _annual_in_blocks(forcing: xr.Dataset, p: dict, models) -> xr.Dataset:
    """Annual sums computed over blocks of rows, so the monthly float64 temporaries
    stay bounded by ``nepflow.blocks.INNER_PIXELS["carbon_models"]`` pixels instead of the whole grid."""
    keep = ["gpp", "rh"] + [f"npp_{m}" for m in models if m != "mod17"]

    def sums(f):
        core = _monthly_core(f, p, [m for m in models if m != "mod17"])
        return xr.Dataset({k: core[k] for k in keep}).sum("time", skipna=False)

    return _in_row_blocks(sums, forcing)


def _in_row_blocks(func, forcing: xr.Dataset) -> xr.Dataset:
    """``func(forcing)`` computed over blocks of rows of ``INNER_PIXELS["carbon_models"]`` pixels at most,
    joined along y (one call where the grid fits in one block or has no rows)."""
    ny, nx = forcing.sizes.get("y", 1), forcing.sizes.get("x", 1)
    rows = blocks.rows_for_pixels(nx, blocks.INNER_PIXELS["carbon_models"])
    if "y" not in forcing.dims or ny <= rows:
        return func(forcing)
    parts = [func(forcing.isel(y=s)) for s in blocks.row_slices(ny, rows)]
    return xr.concat(parts, dim="y", coords="minimal", compat="override", join="override")


def uncertainty_terms(forcing: xr.Dataset, params: dict) -> xr.Dataset:
    """The annual sums of :mod:`nepflow.carbon.uncertainty` (``unc_<term>``, y, x) of one year, float64.

    From them the ``uncertainty`` job evaluates NEP for every draw of the constants
    without recomputing the models; the primary model (``carbon.npp``) is the one drawn.
    """
    from . import uncertainty

    p = params
    validate(p)

    def one(fc):
        f = _drivers(fc, [p["npp"]])
        fixed = _mod17(fc) if p["npp"] == "mod17" else None
        return xr.Dataset({f"unc_{k}": v for k, v in uncertainty.terms(f, p, fixed).items()})

    out = _in_row_blocks(one, forcing)
    for name in out.data_vars:
        out[name].attrs = {
            "long_name": f"uncertainty term {name[4:]} (nepflow.carbon.uncertainty)",
            "units": "1",
            "comment": "an annual sum of the forcing from which NEP is evaluated "
            "for each draw of the constants (docs/science.md)",
        }
    return out
