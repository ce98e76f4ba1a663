"""Carbon fluxes: TEC GPP/NPP (``tec``), CASA NPP (``casa``), soil heterotrophic respiration (``rh``), NEP.

:func:`annual_fluxes` turns one year's monthly forcing into annual totals of
GPP, NPP, Rh and NEP (g C m-2 yr-1): NEP = NPP − Rh, positive a carbon sink.
The science, its constants and their sources: docs/science.md.
"""

from . import casa, rh, tec
from .annual import (
    CASA_REF,
    MODELS,
    RH_REF,
    TEC_REF,
    annual_fluxes,
    ensemble,
    monthly_fluxes,
    parameter_attrs,
    validate,
)

__all__ = [
    "CASA_REF",
    "MODELS",
    "RH_REF",
    "TEC_REF",
    "annual_fluxes",
    "casa",
    "ensemble",
    "monthly_fluxes",
    "parameter_attrs",
    "rh",
    "tec",
    "validate",
]
