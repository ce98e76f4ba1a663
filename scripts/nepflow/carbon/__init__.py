"""Carbon fluxes: TEC GPP/NPP (``tec``), soil heterotrophic respiration (``rh``), NEP.

:func:`annual_fluxes` turns one year's monthly forcing into annual totals of
GPP, NPP, Rh and NEP (g C m-2 yr-1): NEP = NPP − Rh, positive a carbon sink.
The science, its constants and their sources: docs/science.md.
"""
from . import rh, tec
from .annual import DEFAULTS, RH_REF, TEC_REF, annual_fluxes, monthly_fluxes, parameter_attrs, with_defaults

__all__ = ["DEFAULTS", "RH_REF", "TEC_REF", "annual_fluxes", "monthly_fluxes", "parameter_attrs", "rh", "tec",
           "with_defaults"]
