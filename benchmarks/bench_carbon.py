"""Cost of the NPP model ensemble and of the uncertainty draws in the per-year carbon job.

    .venv/bin/python benchmarks/bench_carbon.py --demo-forcing results/demo/forcing/2005.nc \
        --km-forcing results/bench_1km/forcing/2005.nc [--repeat 3]

The forcing files are those of a run that computes CASA (``carbon.models: [tec, casa]``: the regrid job
writes the land-cover class); make them with ``snakemake --config 'carbon={"models": ["tec", "casa"]}'
-- results/demo/forcing/2005.nc`` (and ``--configfile config/bench_1km.yaml`` for 1 km). Each case runs the
carbon entry script as the workflow does (a fresh process, same params as its rule), alternating the cases
``--repeat`` times; the time is the best wall clock and the child's CPU seconds (user + sys). Then the
``uncertainty`` job's evaluation of the draws (nepflow.carbon.uncertainty.summarise) on a 1 km grid of 21
years of terms, for 100 and 100,000 draws: the cost per draw. Results: results/carbon.md and results/carbon.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def carbon_job(forcing, params: dict, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one carbon job in a fresh process."""
    from nepflow import config as nconfig

    p = out.with_suffix(".yaml")
    full = {k: nconfig.defaults(k, v) for k, v in params.items()}  # the rule's params: whole config sections
    p.write_text(yaml.safe_dump({"strictness": "default", **full}))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "carbon.py"),
            "--input",
            f"forcing={forcing}",
            "--output",
            f"carbon={out}",
            "--params",
            str(p),
            "--mem-mb",
            "4000",
        ],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(forcing, cases: dict[str, dict], repeat: int) -> dict:
    best = {name: [np.inf, np.inf] for name in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            for name, params in cases.items():
                wall, cpu = carbon_job(forcing, params, Path(tmp) / f"{name}.nc")
                best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
    return {name: {"wall_s": w, "cpu_s": c} for name, (w, c) in best.items()}


def draw_cost(ny=900, nx=1300, years=21, repeat=3) -> dict:
    """Seconds of the uncertainty job's draw evaluation at 1 km for 100 and 100,000 draws (terms given)."""
    from nepflow import config as nconfig
    from nepflow.carbon import uncertainty as unc

    p = nconfig.defaults("carbon")
    sd = {
        "eps_c3": 0.33,
        "eps_c4": 0.21,
        "cue": 0.03,
        "casa_eps_max": 0.15,
        "rh_a": 0.022,
        "rh_b": 0.00456,
        "rh_c": 0.0157,
    }
    rng = np.random.default_rng(0)
    acc = unc.Accumulator(range(2000, 2000 + years), np.ones((ny, nx)), np.ones((ny, nx), bool))
    x = rng.uniform(0, 100, size=(len(unc.TERMS), ny, nx))
    t0 = time.process_time()
    for i in range(years):
        acc.add(i, x)
    accumulate = time.process_time() - t0
    out = {"accumulate_cpu_s": accumulate}
    for n in (100, 100_000):
        best = np.inf
        for _ in range(repeat):
            t0 = time.process_time()
            unc.summarise(
                acc, unc.coefficients(unc.draw_parameters(n, 1, sd, p), p), unc.coefficients(unc.central(p), p)
            )
            best = min(best, time.process_time() - t0)
        out[f"summarise_{n}_cpu_s"] = best
    out["per_draw_cpu_ms"] = 1000 * (out["summarise_100000_cpu_s"] - out["summarise_100_cpu_s"]) / 99_900
    return out


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--demo-forcing", required=True)
    a.add_argument("--km-forcing", required=True)
    a.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder of carbon.md/json")
    a.add_argument("--repeat", type=int, default=3)
    args = a.parse_args()
    tec = {"carbon": {"models": ["tec"]}}
    ens = {"carbon": {"models": ["tec", "casa"]}}
    draws = {"carbon": {"models": ["tec"]}, "uncertainty": {"draws": 100}}
    res = {"load_start": os.getloadavg(), "nproc": os.cpu_count()}
    res["demo"] = compare(args.demo_forcing, {"tec": tec, "tec_casa": ens}, args.repeat)
    res["km"] = compare(args.km_forcing, {"no_draws": tec, "draws_100": draws}, args.repeat)
    res["draws"] = draw_cost()
    res["load_end"] = os.getloadavg()
    d, k = res["demo"], res["km"]
    lines = [
        "# Carbon job: NPP model ensemble and uncertainty draws (benchmarks/bench_carbon.py)",
        "",
        f"{res['nproc']} cores; load average {res['load_start'][0]:.1f} at start, {res['load_end'][0]:.1f} at end; "
        f"best of {args.repeat} alternating runs, each a fresh carbon-job process.",
        "",
        "| case | wall (s) | CPU (s) | ratio wall | ratio CPU | target |",
        "|---|---:|---:|---:|---:|---|",
        f"| demo 0.05°, models [tec] | {d['tec']['wall_s']:.2f} | {d['tec']['cpu_s']:.2f} | 1 | 1 | |",
        f"| demo 0.05°, models [tec, casa] | {d['tec_casa']['wall_s']:.2f} | {d['tec_casa']['cpu_s']:.2f} | "
        f"{d['tec_casa']['wall_s'] / d['tec']['wall_s']:.2f} | {d['tec_casa']['cpu_s'] / d['tec']['cpu_s']:.2f} | ≤ 1.5 |",
        f"| 1 km, draws 0 | {k['no_draws']['wall_s']:.2f} | {k['no_draws']['cpu_s']:.2f} | 1 | 1 | |",
        f"| 1 km, draws 100 | {k['draws_100']['wall_s']:.2f} | {k['draws_100']['cpu_s']:.2f} | "
        f"{k['draws_100']['wall_s'] / k['no_draws']['wall_s']:.2f} | "
        f"{k['draws_100']['cpu_s'] / k['no_draws']['cpu_s']:.2f} | < 4 |",
        "",
        "With draws the per-year job computes the draws' annual sums once, whatever the number of draws; the "
        "`uncertainty` job evaluates every draw of every year from them. Its draw evaluation at 1 km "
        f"(1300 × 900 pixels, 21 years): 100 draws {res['draws']['summarise_100_cpu_s']:.2f} CPU-s, 100,000 draws "
        f"{res['draws']['summarise_100000_cpu_s']:.2f} CPU-s: **{res['draws']['per_draw_cpu_ms']:.4f} CPU-ms per "
        f"draw**; accumulating the 21 years' terms {res['draws']['accumulate_cpu_s']:.2f} CPU-s.",
        "",
    ]
    out = Path(args.out)
    (out / "carbon.md").write_text("\n".join(lines))
    (out / "carbon.json").write_text(json.dumps(res, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
