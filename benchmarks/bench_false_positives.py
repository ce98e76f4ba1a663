"""False-positive rate of every statistical option at n = 21 (no effect planted), through nepflow.stats.

    python benchmarks/bench_false_positives.py [--series 20000] [--alpha 0.05] [--out benchmarks/results]

For each null below, ``--series`` seeded series of 21 years (2000–2020) are analysed as pixels and
the share with p < alpha is reported; a test that holds its level gives about alpha.

- white: standard-normal white noise, no trend;
- AR(1) 0.5: unit-innovation AR(1) with phi = 0.5, no trend (autocorrelated noise; a trend
  test should not call it a trend, a persistence test should);
- white + trend: white noise plus 0.1 sd per year (a trend, no persistence: a persistence
  test should not reject);
- correlations: NEP and three independent factors (white noise), and the same with a trend
  of 0.1 sd per year shared by NEP and precipitation (no co-variation beyond the trend).

Results are printed and written to <out>/false_positives.md (the table in docs/science.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from nepflow import stats  # noqa: E402

YEARS = np.arange(2000, 2021)
N = len(YEARS)


def ar1(m: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((m, N))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi**2)
    for i in range(1, N):
        x[:, i] = phi * x[:, i - 1] + e[:, i]
    return x


def cube(rows: np.ndarray) -> xr.DataArray:
    return xr.DataArray(rows.T, dims=("year", "x"), coords={"year": YEARS}, name="nep")


def rate(p: xr.DataArray, alpha: float) -> str:
    v = np.asarray(p.values)
    nan = np.isnan(v).mean()
    return f"{100 * np.mean(v < alpha):.1f} %" + (f" (NaN {100 * nan:.1f} %)" if nan else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=20000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args(argv)
    m, alpha = a.series, a.alpha
    trend = 0.1 * np.arange(N)
    nulls = {
        "white": cube(ar1(m, 0.0, 1)),
        "AR(1) 0.5": cube(ar1(m, 0.5, 2)),
        "white + trend": cube(ar1(m, 0.0, 3) + trend),
    }
    rows = []
    ols = {k: stats.linear_trend(v).ols_p for k, v in nulls.items()}
    rows.append(("trend: OLS t-test", *[rate(ols[k], alpha) for k in nulls]))
    for v in stats.MK_VARIANTS:
        ps = {k: stats.trend(d, mk_variant=v).mk_p for k, d in nulls.items()}
        rows.append((f"trend: Mann–Kendall `{v}`", *[rate(ps[k], alpha) for k in nulls]))
    for s in stats.HURST_SERIES:
        for est in stats.HURST_ESTIMATORS:
            ps = {k: stats.hurst(d, estimator=est, series=s).hurst_p for k, d in nulls.items()}
            rows.append((f"persistence: hurst_p, `{est}` on {s}", *[rate(ps[k], alpha) for k in nulls]))
    lines = [
        f"Share of p < {alpha} over {m:,} seeded series of n = {N} years per case "
        "(`python benchmarks/bench_false_positives.py`). False positives where the test's null holds "
        "(trend tests: white noise and AR(1); persistence tests: white noise and white noise + trend; "
        "correlations: nothing is planted beyond the shared trend, so every cell is a false positive); the other cells are power.",
        "",
        "| test | white noise | AR(1), φ = 0.5 | white noise + trend |",
        "|---|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    rng = np.random.default_rng(4)
    nep, pr, tas, sund = (rng.standard_normal((m, N)) for _ in range(4))
    corr_rows = []
    for shared in (False, True):
        y, p_ = (nep + trend, pr + trend) if shared else (nep, pr)
        f = {"pr": cube(p_), "tas": cube(tas), "sund": cube(sund)}
        for det in (False, True):
            ds = stats.correlation(cube(y), f, detrended=det)
            corr_rows.append(
                (
                    ("shared trend" if shared else "independent"),
                    "detrended" if det else "as they are",
                    rate(ds.p_r_pr, alpha),
                    rate(ds.p_pr_pr, alpha),
                    rate(ds.p_r_tas, alpha),
                )
            )
    lines += [
        "",
        "| NEP and precipitation | `detrend_correlation` | Pearson r (pr) | partial r (pr) | Pearson r (tas) |",
        "|---|---|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in corr_rows]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "false_positives.md").write_text(text)


if __name__ == "__main__":
    main()
