"""What the plan-time config checks cost: the Snakefile's validation alone, and a whole `snakemake -n`.

    .venv/bin/python benchmarks/bench_plan.py --baseline /path/to/a/checkout/without/the/checks

(a) in one process, the validation the Snakefile runs (nepflow.config.validate: schema, defaults,
check_semantics with the region's outlines, the grid-size check) against the schema check and defaults
alone; (b) the wall time of a dry run (`snakemake -n --quiet`) of this checkout and of the baseline
checkout (e.g. a git worktree of the main branch), each in an empty work directory with the same
config, alternating, best of --repeat. The difference of (b) is what the checks add to a no-op dry run
(the DAG is the same; a finished run's no-op dry run adds only the file checks to both).
Results: results/plan.md.
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def validation_seconds(cfg: dict, repeat: int) -> tuple[float, float]:
    from snakemake.utils import validate

    from nepflow import config as nconfig

    schema = ROOT / "config" / "schema.yaml"
    full, schema_only = [], []
    for _ in range(repeat):
        c = copy.deepcopy(cfg)
        t = time.perf_counter()
        nconfig.check(c, schema)
        validate(c, str(schema), set_default=True)
        schema_only.append(time.perf_counter() - t)
        c = copy.deepcopy(cfg)
        t = time.perf_counter()
        nconfig.validate(c, schema)
        full.append(time.perf_counter() - t)
    return min(full), min(schema_only)


def dry_run_seconds(checkout: Path, configfile: Path) -> float:
    with tempfile.TemporaryDirectory() as wd:
        t = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(checkout / "Snakefile"),
                        "--directory", wd, "-n", "--quiet", "--configfile", str(configfile)],
                       check=True, capture_output=True, cwd=wd)
        return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "bench_1km.yaml"))
    ap.add_argument("--baseline", type=Path, help="a checkout without the plan-time checks (e.g. main)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(yaml.safe_load(Path(a.config).read_text()))
    full, schema_only = validation_seconds(cfg, a.repeat)
    rows = [f"| validation in one process (nepflow.config.validate) | {full:.3f} s |",
            f"| of it the schema check and defaults | {schema_only:.3f} s |"]
    if a.baseline:
        ours, base = [], []
        for _ in range(a.repeat):
            base.append(dry_run_seconds(a.baseline, Path(a.config)))
            ours.append(dry_run_seconds(ROOT, Path(a.config)))
        rows += [f"| `snakemake -n`, baseline ({a.baseline}) | {min(base):.2f} s |",
                 f"| `snakemake -n`, this checkout | {min(ours):.2f} s |",
                 f"| added by the plan-time checks | {min(ours) - min(base):+.2f} s |"]
    text = (f"# Plan-time checks ({Path(a.config).name}, best of {a.repeat})\n\n| what | time |\n|---|---|\n"
            + "\n".join(rows) + "\n")
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "plan.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
