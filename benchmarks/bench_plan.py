"""What the plan-time config checks cost: the Snakefile's validation alone, and a whole `snakemake -n`.

    .venv/bin/python benchmarks/bench_plan.py --baseline /path/to/a/checkout/without/the/checks

(a) in a fresh process per checkout, the CPU seconds of what the Snakefile computes before the DAG
(here nepflow.config.validate: schema, defaults, check_semantics with the region's outline and the
grid-size check; the baseline: schema, defaults, its check_semantics and the outline for the grid's
size); (b) the wall and CPU seconds of a dry run (`snakemake -n --quiet`) of this checkout and of the
baseline checkout (e.g. `git archive main | tar -x -C /tmp/base`), each in an empty work directory with
the same config, alternating, best of --repeat. The difference of (b) is what the checks add to a no-op
dry run (the DAG is the same; a finished run's no-op dry run adds only the file checks to both). On a
loaded machine compare the CPU seconds.
Results: results/plan.md.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


#: Timed in a fresh process per checkout: what its Snakefile and rules/common.smk compute before the
#: DAG (the baseline: schema, defaults, check_semantics and the region's outline for the grid's size).
SNIPPET = """
import copy, json, sys, time
from pathlib import Path
root = Path(sys.argv[1]); sys.path.insert(0, str(root / "scripts"))
import yaml
from snakemake.utils import validate
from nepflow import config as nconfig, grid, regions
cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
cfg.update(yaml.safe_load(Path(sys.argv[2]).read_text()))
schema = root / "config" / "schema.yaml"

def plan(c):
    if hasattr(nconfig, "validate"):
        return nconfig.validate(c, schema)
    nconfig.check(c, schema)
    validate(c, str(schema), set_default=True)
    nconfig.check_semantics(c)
    shapes = regions.shapes_from_config(c["region"])  # rules/common.smk's _grid_pixels
    grid.region_bounds(shapes, grid.parse_crs(c["grid"]["crs"]))

times = []
for _ in range(int(sys.argv[3]) + 1):  # the first (imports, cnmaps' data) is not counted
    c = copy.deepcopy(cfg)
    t = time.process_time()  # CPU seconds: on a loaded machine wall time says little
    plan(c)
    times.append(time.process_time() - t)
print(json.dumps({"first": times[0], "best": min(times[1:])}))
"""


def validation_seconds(checkout: Path, configfile: Path, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(checkout), str(configfile), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def dry_run_seconds(checkout: Path, configfile: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a dry run; CPU is user + sys of the child."""
    with tempfile.TemporaryDirectory() as wd:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "snakemake"),
                "--snakefile",
                str(checkout / "Snakefile"),
                "--directory",
                wd,
                "-n",
                "--quiet",
                "--configfile",
                str(configfile),
            ],
            check=True,
            capture_output=True,
            cwd=wd,
        )
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "bench_1km.yaml"))
    ap.add_argument("--baseline", type=Path, help="a checkout without the plan-time checks (e.g. main)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    ours = validation_seconds(ROOT, Path(a.config), a.repeat)
    rows = [
        (
            f"| validation in one process (CPU s), this checkout: first call (imports) / best | "
            f"{ours['first']:.3f} s / {ours['best']:.3f} s |"
        )
    ]
    if a.baseline:
        base = validation_seconds(a.baseline, Path(a.config), a.repeat)
        rows += [
            f"| the same, baseline | {base['first']:.3f} s / {base['best']:.3f} s |",
            f"| added in one process (first call) | {ours['first'] - base['first']:+.3f} s |",
        ]
    if a.baseline:
        ours, base = [], []
        for _ in range(a.repeat):
            base.append(dry_run_seconds(a.baseline, Path(a.config)))
            ours.append(dry_run_seconds(ROOT, Path(a.config)))
        bw, bc = min(w for w, _ in base), min(c for _, c in base)
        ow, oc = min(w for w, _ in ours), min(c for _, c in ours)
        rows += [
            f"| `snakemake -n` wall / CPU s, baseline ({a.baseline}) | {bw:.2f} s / {bc:.2f} s |",
            f"| `snakemake -n` wall / CPU s, this checkout | {ow:.2f} s / {oc:.2f} s |",
            f"| added by the plan-time checks, wall / CPU | {ow - bw:+.2f} s / {oc - bc:+.2f} s |",
        ]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    text = (
        f"# Plan-time checks ({Path(a.config).name}, best of {a.repeat}; load average {load} on "
        f"{os.cpu_count()} CPUs)\n\n| what | time |\n|---|---|\n" + "\n".join(rows) + "\n"
    )
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "plan.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
