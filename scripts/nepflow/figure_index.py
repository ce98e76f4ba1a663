"""The figure set's table of contents: figure name -> report category and subcategory.

Kept apart from ``figures`` (which imports matplotlib) so that the Snakefile can
read it at parse time for free. ``figures.make_all`` writes only names listed
here, and rule ``figures`` files each PNG under its category in the HTML report
(``snakemake --report``); the captions (``report/figures.rst``) are keyed by
the same names.
"""

from __future__ import annotations

from .variables import FACTORS

#: figure name -> (category, subcategory)
FIGURES: dict[str, tuple[str, str]] = {
    "nep_mean": ("Carbon", "Maps"),
    "timeseries": ("Carbon", "Time series"),
    "timeseries_provinces": ("Carbon", "Time series"),
    "ols_slope": ("Trend", "Maps"),
    "sen_slope": ("Trend", "Maps"),
    "trend_class": ("Trend", "Class maps"),
    "hurst": ("Persistence", "Maps"),
    "hurst_class": ("Persistence", "Class maps"),
    "future_class": ("Persistence", "Class maps"),
    "future_sig_class": ("Persistence", "Class maps"),
    "cv": ("Stability", "Maps"),
    "cv_class": ("Stability", "Class maps"),
    **{f"{kind}_{f}": ("Drivers", label.capitalize()) for f, label in FACTORS.items() for kind in ("corr", "pcorr")},
}


def category(name: str) -> str:
    """Report category of a figure (``Other`` for a name the index does not know)."""
    return FIGURES.get(name, ("Other", ""))[0]


def subcategory(name: str) -> str:
    return FIGURES.get(name, ("Other", ""))[1]


def report_category(wildcards) -> str:
    """``report(category=...)`` of rule figures: the category of the figure matched by ``{name}.png``."""
    return category(wildcards.name)


def report_subcategory(wildcards) -> str:
    """``report(subcategory=...)`` of rule figures (Maps, Class maps, Time series, or the driver's name)."""
    return subcategory(wildcards.name)
