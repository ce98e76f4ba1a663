"""The summary's parameter-uncertainty section, from a planted tables/uncertainty.csv."""

from __future__ import annotations

import pandas as pd
import pytest
from test_classes_tables import summary_inputs

from nepflow import summary
from nepflow.errors import NepflowError

#: As the uncertainty rule writes it (scripts/uncertainty.py), with hand-picked numbers.
PLANTED = pd.DataFrame(
    {
        "quantity": ["regional_mean_nep", "total_sink", "trend"],
        "central": [228.814, 103.2049, 1.23456],
        "p05": [201.5, 90.004, 0.4994],
        "p50": [229.0, 103.3, 1.2],
        "p95": [255.996, 116.7351, 2.0005],
        "sd": [16.3, 8.1, 0.46],
        "units": ["g C m-2 yr-1", "Tg C yr-1", "g C m-2 yr-2"],
        "draws": [100, 100, 100],
        "seed": [42, 42, 42],
        "primary_model": ["tec", "tec", "tec"],
    }
)

SECTION = (
    "## Parameter uncertainty (100 draws, seed 42)\n"
    "\n"
    "Whole region. The central value is the run's own (the configured constants); the interval is the 5 and 95 % "
    "quantiles over the draws of the constants (tables/uncertainty.csv has the median and SD too).\n"
    "\n"
    "| quantity | central | 5 % | 95 % | units |\n"
    "|---|---:|---:|---:|---|\n"
    "| regional mean NEP | 228.81 | 201.50 | 256.00 | g C m-2 yr-1 |\n"
    "| total sink (total NEP) | 103.20 | 90.00 | 116.74 | Tg C yr-1 |\n"
    "| trend of the regional mean NEP | 1.235 | 0.499 | 2.001 | g C m-2 yr-2 |\n"
)


def test_section_exact_text():
    assert summary.uncertainty_section(PLANTED) == SECTION
    # row order in the file does not matter
    assert summary.uncertainty_section(PLANTED.iloc[::-1]) == SECTION


def test_summary_appends_the_section_only_when_given():
    table, nep, area, region = summary_inputs()[:4]
    plain = summary.summary_table(table, nep, area, region, years=[2000, 2020])
    assert "Parameter uncertainty" not in plain
    with_unc = summary.summary_table(table, nep, area, region, years=[2000, 2020], uncertainty=PLANTED)
    assert with_unc == plain + "\n" + SECTION  # the study's table unchanged, the section after it


@pytest.mark.parametrize(
    "bad, says",
    [
        (PLANTED.drop(columns="p95"), "tables/uncertainty.csv: no column p95"),
        (PLANTED[PLANTED.quantity != "trend"], "tables/uncertainty.csv: no row for quantity trend"),
        (PLANTED.assign(seed=[42, 42, 43]), "tables/uncertainty.csv: the draws and seed columns differ"),
    ],
)
def test_bad_table_is_one_line(bad, says):
    with pytest.raises(NepflowError, match=says) as e:
        summary.uncertainty_section(bad)
    assert "\n" not in str(e.value)
