"""nepflow: net ecosystem productivity of the terrestrial carbon sink, mapped per year.

The library behind the Snakemake workflow: data sources, regridding, carbon
models, per-pixel statistics, classification, figures and provenance, as small
functions on xarray objects.
"""

__version__ = "0.1.0"
