"""The figure of an ensemble run's NPP models (rule `ensemble_figure`), apart from
:mod:`nepflow.ensemble` so that the figures environment (matplotlib, no numba) can import it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import classify


def figure(table: pd.DataFrame, series: dict[str, np.ndarray], years, path) -> None:
    """The models' regional mean NEP series (left) and trend-class shares (right), PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for model, s in series.items():
        row = table.set_index("model").loc[model]
        ax.plot(
            years,
            s,
            marker="o",
            ms=3,
            label=f"{model}: {row.mean_nep_g_m2_yr:.0f}, {row.trend_g_m2_yr2:+.2f} yr-1 (p {row.trend_p:.2g})",
        )
    ax.set_xlabel("year")
    ax.set_ylabel("regional mean NEP (g C m-2 yr-1)")
    ax.legend(fontsize=8)
    cols = [f"{c}_pct" for c in classify.TREND_CLASSES]
    bottom = np.zeros(len(table))
    colours = ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"]
    for col, colour in zip(cols, colours):
        bx.bar(table["model"], table[col], bottom=bottom, color=colour, label=col[:-4].replace("_", " "))
        bottom += table[col].to_numpy()
    bx.set_ylabel("area share of NEP trend classes (%)")
    bx.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
