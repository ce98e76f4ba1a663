"""Per-pixel time-series statistics of annual NEP: trend, Hurst, stability, correlation, FDR.

Every statistic takes DataArrays with a ``year`` dimension (int calendar years)
and any spatial dimensions, numpy- or dask-backed, and returns a Dataset over
the spatial dimensions (numpy-backed: the maps are computed on return).

One module per statistic, over two shared ones:

==================  ===========================================================  ==========================
module              what                                                         output layout
==================  ===========================================================  ==========================
``_trend``          :func:`trend` (OLS, Mann–Kendall, Theil–Sen), :func:`linear_trend`  ``TREND_OUT``, ``OLS_OUT``
``_hurst``          :func:`hurst` (R/S Hurst exponent, white-noise p)             ``HURST_OUT``
``_stability``      :func:`stability` (mean, std, CV)                             ``STABILITY_OUT``
``_correlation``    :func:`correlation` (Pearson and partial r, p)                ``correlation_names``
``_fdr``            :func:`fdr_bh`, :func:`add_qvalues` (Benjamini–Hochberg q)    ``Q_NAMES``
``_slabs``          slab scheduling: DataArrays -> kernel calls -> named maps
``_numerics``       what several share: block loading, Student-t p, medians, detrending
==================  ===========================================================  ==========================

Each kernel writes its results into the rows named by its layout (a tuple of output
names); the row constants the kernel uses are derived from that tuple and the wrapper
names the maps from it, so that kernel, wrapper and docs/variables (``variables.yml``)
agree (tests/test_stats_layouts.py).

How the work is done (benchmarks/bench_stats.py measures it):
- the numba kernels read the (year, pixels) layout as stored — float32 or float64,
  no transposed or upcast copy of the cube — and transpose one block of pixels at a
  time into float64 scratch; every statistic, p-values included, is computed in
  float64 inside the kernels; ranges of pixel blocks run on ``numba.get_num_threads()``
  threads (``_slabs.over_blocks``; ``numba.set_num_threads`` sets the count);
- a numpy-backed cube is one kernel call; a dask-backed cube is read slab by slab
  (``_slabs``), so memory is bounded by the slabs plus the output maps.
- the statistics' modules are imported on first use (``nepflow.stats.trend`` imports
  ``_trend`` only), and numba compiles a kernel on its first call (cached on disk), so a
  job compiles only what its statistic calls (benchmarks/bench_compile.py).

Why numba rather than the reference libraries: a per-pixel Python loop over
scipy/pymannkendall costs milliseconds per pixel (hours for a 500 m grid); these
kernels are about a thousand times faster (benchmarks/bench_stats.py).

Missing data (docs/science.md): a pixel with any missing year is NaN in every
statistic unless ``min_valid`` is set; then missing years are dropped, the
time positions of the rest kept, and pixels with fewer than ``min_valid``
valid years are NaN. ``valid_years`` counts the finite years of each pixel.
"""

from __future__ import annotations

import importlib

#: public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(("trend", "linear_trend", "MK_VARIANTS", "TREND_OUT", "OLS_OUT"), "_trend"),
    **dict.fromkeys(
        (
            "hurst",
            "hurst_input",
            "hurst_numpy",
            "white_noise_null",
            "nolds_nvals",
            "expected_rs",
            "HURST_ESTIMATORS",
            "HURST_SERIES",
            "HURST_OUT",
        ),
        "_hurst",
    ),
    **dict.fromkeys(("stability", "count_nonpositive_mean", "STABILITY_OUT"), "_stability"),
    **dict.fromkeys(("correlation", "correlation_names", "FACTORS", "PER_FACTOR"), "_correlation"),
    **dict.fromkeys(("fdr_bh", "add_qvalues", "Q_NAMES"), "_fdr"),
    **dict.fromkeys(("detrend",), "_numerics"),
    **dict.fromkeys(("SLAB_PIXELS",), "_slabs"),
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        if name != "SLAB_PIXELS":  # a tunable: always read from _slabs, where it acts
            globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
