"""Soil heterotrophic respiration: the empirical monthly Rh(T, P) model.

Pei Z., Ouyang H., Zhou C., Xu X. (2009) Carbon balance in an alpine steppe in
the Qinghai-Tibet Plateau. Journal of Integrative Plant Biology 51(5): 521–526,
widely used in Chinese NEP studies:

    Rh = 0.22 × [exp(0.0912 T) + ln(0.3145 R + 1)] × 30 × 46.5 %

T monthly mean air temperature (degC), R monthly precipitation (mm); 0.22 × the
bracket is a daily soil respiration rate, scaled by 30 days per month and the
carbon fraction 46.5 % to give g C m-2 month-1 (the factor 30 × 46.5 %
multiplies the whole bracket). Published code often uses
0.0913 for the temperature coefficient where most papers print 0.0912; the
default is 0.0912 and the coefficient used is recorded in the outputs.
"""
from __future__ import annotations

import numpy as np


def rh_monthly(tas, pr, a=0.22, b=0.0912, c=0.3145, days=30.0, carbon_fraction=0.465):
    """Monthly soil heterotrophic respiration (g C m-2 month-1).

    Rh = a × [exp(b T) + ln(c R + 1)] × days × carbon_fraction

    Parameters
    ----------
    tas : monthly mean air temperature T, degC.
    pr : monthly precipitation R, mm month-1 (≥ 0).
    a : scale, g C m-2 day-1 (0.22).
    b : temperature coefficient, degC-1 (0.0912; 0.0913 in some code).
    c : precipitation coefficient, mm-1 (0.3145).
    days : days per month in the formula (30).
    carbon_fraction : 1 (0.465).

    Returns
    -------
    Rh, g C m-2 month-1. Reference values: T = 0, R = 0 gives 3.069;
    T = 20, R = 100 gives 29.70 (b = 0.0912).
    """
    return a * (np.exp(b * tas) + np.log(c * pr + 1.0)) * days * carbon_fraction
