"""Numba compilation cost of each statistic job: a fresh process with an empty numba cache, as a job on a fresh clone.

    python benchmarks/bench_compile.py [--scripts scripts] [--repeat 1]

For each statistic a new Python process (NUMBA_CACHE_DIR set to a new empty directory) imports
``nepflow.analysis`` and runs ``analysis.compute`` (the aggregate rule's computation: the statistic
and its q maps) on a tiny float32 cube of 21 years x 4 x 5 pixels, as the workflow's series is.
It reports the CPU seconds (user + sys of that process) of the import and of the first call, which
is almost all numba compilation; then a second process with the cache the first one filled
(a rerun). ``--scripts`` points at another checkout's scripts/ to measure it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATS = ("trend", "hurst", "stability", "correlation")

CHILD = r"""
import json, sys, time
t0 = time.process_time()
import numpy as np, xarray as xr
from nepflow import analysis
t1 = time.process_time()
rng = np.random.default_rng(0)
years = np.arange(2000, 2021)
cube = xr.Dataset({v: (("year", "y", "x"), rng.normal(200, 40, (21, 4, 5)).astype("float32"))
                   for v in ("nep", "pr", "tas", "sund")}, coords={"year": years})
a = {"min_valid_years": None, "mk_variant": "original", "hurst_estimator": "rs", "hurst_surrogates": 1000,
     "seed": 20240601, "hurst_series": "levels", "cv_ddof": 1, "detrend_correlation": False}
analysis.compute(sys.argv[1], cube, a, threads=2)
t2 = time.process_time()
print(json.dumps({"import_cpu_s": t1 - t0, "first_call_cpu_s": t2 - t1,
                  "modules": sorted(m for m in sys.modules if m.startswith("nepflow.stats"))}))
"""


def run(name: str, scripts: Path, cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(scripts))
    res = subprocess.run([sys.executable, "-c", CHILD, name], env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scripts", type=Path, default=ROOT / "scripts")
    ap.add_argument("--repeat", type=int, default=1, help="fresh-cache runs per statistic (the minimum is kept)")
    args = ap.parse_args(argv)
    out = {"loadavg": list(os.getloadavg())}
    for name in STATS:
        best = None
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                cold = run(name, args.scripts.resolve(), cache)
                warm = run(name, args.scripts.resolve(), cache)
            if best is None or cold["first_call_cpu_s"] < best[0]["first_call_cpu_s"]:
                best = (cold, warm)
        cold, warm = best
        out[name] = {
            "cold_import_cpu_s": round(cold["import_cpu_s"], 2),
            "cold_first_call_cpu_s": round(cold["first_call_cpu_s"], 2),
            "cached_first_call_cpu_s": round(warm["first_call_cpu_s"], 2),
            "stats_modules": cold["modules"],
        }
        print(name, json.dumps(out[name]), flush=True)
    out["loadavg_end"] = list(os.getloadavg())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
