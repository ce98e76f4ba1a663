"""Soil heterotrophic respiration: the empirical monthly Rh(T, P) model.

Pei Z., Ouyang H., Zhou C., Xu X. (2009) Carbon balance in an alpine steppe in
the Qinghai-Tibet Plateau. Journal of Integrative Plant Biology 51(5): 521–526,
the form used across Chinese NEP studies (NEP = NPP − Rh):

    Rh = 0.22 × [exp(0.0912 T) + ln(0.3145 R + 1)] × 30 × 46.5 %

T monthly mean air temperature (degC), R monthly precipitation (mm); 0.22 × the
bracket is a daily flux (g m-2 day-1), scaled by 30 days per month and the
carbon fraction 46.5 % to g C m-2 month-1.

Two ambiguities in the literature:

- The temperature coefficient is printed 0.0912 in most papers; published code
  (e.g. a Google Earth Engine script citing Zhuang et al. 2014, and a PIE-Engine
  NEP module) uses 0.0913. Default 0.0912, the other a parameter away; the
  coefficient used is recorded in every output (``rh_b``). At T = 20 degC,
  R = 100 mm the two give 29.70 and 29.73 g C m-2 month-1.
- At least one published code (a PIE-Engine NEP module) writes the bracket
  closing after 46.5 % and multiplies only the ln term by 30 × 46.5 %. nepflow
  multiplies the whole bracket: that reading gives the reference value 3.069
  g C m-2 month-1 at T = 0, R = 0 (the other 0.22), and only it gives annual Rh
  of the 200–300 g C m-2 yr-1 reported for North China (a typical annual cycle:
  228 against 87).
"""

from __future__ import annotations

import numpy as np

#: Default coefficients (Pei et al. 2009): a, b, c, days per month, carbon fraction.
A, B, C, DAYS, CARBON_FRACTION = 0.22, 0.0912, 0.3145, 30.0, 0.465


def rh_monthly(tas, pr, a=A, b=B, c=C, days=DAYS, carbon_fraction=CARBON_FRACTION):
    """Monthly soil heterotrophic respiration (g C m-2 month-1).

    Rh = a × [exp(b T) + ln(c R + 1)] × days × carbon_fraction

    Parameters
    ----------
    tas : monthly mean air temperature T, degC.
    pr : monthly precipitation R, mm month-1 (≥ 0; the forcing checks ensure it).
    a : scale, g m-2 day-1 (0.22).
    b : temperature coefficient, degC-1 (0.0912; 0.0913 in some code).
    c : precipitation coefficient, mm-1 (0.3145).
    days : days per month in the formula (30, a constant in the published model,
        not the calendar length of the month).
    carbon_fraction : carbon fraction, 1 (0.465).

    Returns
    -------
    Rh, g C m-2 month-1; NaN where an input is NaN. Increases with T and with R.
    Reference values: T = 0, R = 0 gives 3.069; T = 20, R = 100 gives 29.70
    (b = 0.0912) or 29.73 (b = 0.0913).
    """
    return a * (np.exp(b * tas) + np.log(c * pr + 1.0)) * days * carbon_fraction
