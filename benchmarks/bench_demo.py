"""Workflow time of the demo from scratch (``make demo``), with the job-by-job split.

Runs ``snakemake --cores N`` on the default config (the demo) in a fresh results and data folder
(``--workdir``), numba's on-disk kernel cache of this checkout emptied first (``--keep-numba-cache``
keeps it), then once more with nothing to do (the no-op rerun). The split comes from the
Snakemake benchmark file of every job (``results/.../benchmarks/<rule>/...tsv``): per rule the jobs,
their mean and total seconds and the highest max RSS. ``os.getloadavg()`` is recorded before and
after: on a shared machine the wall time grows with the load, so each run's CPU seconds (Snakemake and
every job, ``getrusage(RUSAGE_CHILDREN)``) are recorded too.

    .venv/bin/python benchmarks/bench_demo.py [--cores 2] [--workdir /tmp/nepflow-demo-bench]

Results: ``benchmarks/results/demo.md`` (the table) and ``demo.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and its waited-for descendants."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(cmd, cwd) -> tuple[float, float]:
    """(wall s, CPU s) of one Snakemake run: the CPU of Snakemake and of every job, from the kernel's
    accounting (exact, unlike the benchmark files' sampled cpu_time, and independent of the load)."""
    t0, c0 = time.perf_counter(), children_cpu()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, children_cpu() - c0


def split(bench_dir: Path) -> dict[str, dict]:
    """Per rule: jobs, mean and total seconds, highest max RSS (MB), from the benchmark files."""
    rows = defaultdict(list)
    for f in bench_dir.rglob("*.tsv"):
        rule = f.relative_to(bench_dir).parts[0].removesuffix(".tsv")
        with open(f) as fh:
            rec = next(csv.DictReader(fh, delimiter="\t"))
        num = lambda k: float(rec[k]) if rec.get(k) not in (None, "", "NA") else 0.0  # noqa: E731
        rows[rule].append((num("s"), num("max_rss"), num("cpu_time")))
    return {
        rule: {
            "jobs": len(v),
            "mean_s": sum(r[0] for r in v) / len(v),
            "total_s": sum(r[0] for r in v),
            "mean_cpu_s": sum(r[2] for r in v) / len(v),
            "total_cpu_s": sum(r[2] for r in v),
            "max_rss_mb": max(r[1] for r in v),
        }
        for rule, v in sorted(rows.items())
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/nepflow-demo-bench")
    ap.add_argument("--keep-numba-cache", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    wd = Path(args.workdir)
    out = ROOT / "benchmarks" / "results"
    if args.report_only:
        old = json.loads((out / "demo.json").read_text())
        return report(
            wd,
            args.cores,
            (old["from_scratch_s"], old.get("from_scratch_cpu_s")),
            (old["noop_rerun_s"], old.get("noop_rerun_cpu_s")),
            tuple(old["loadavg_start"]),
            tuple(old["loadavg_end"]),
        )
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    cfg = wd / "bench.yaml"
    cfg.write_text(f"results_dir: {wd / 'results'}\ndata_dir: {wd / 'data'}\nallow_outside_paths: true\n")
    if not args.keep_numba_cache:
        for d in (ROOT / "scripts" / "nepflow").rglob("__pycache__"):
            for f in list(d.glob("*.nbi")) + list(d.glob("*.nbc")):
                f.unlink()
    smk = [str(Path(sys.executable).with_name("snakemake")), "--cores", str(args.cores), "--configfile", str(cfg)]
    load0 = os.getloadavg()
    scratch = run(smk, ROOT)
    load1 = os.getloadavg()
    rerun = run(smk, ROOT)
    report(wd, args.cores, scratch, rerun, load0, load1)


def report(wd, cores, scratch, rerun, load0, load1):
    """``scratch``, ``rerun``: (wall s, CPU s of the whole run or None)."""
    (scratch, scratch_cpu), (rerun, rerun_cpu) = scratch, rerun
    out = ROOT / "benchmarks" / "results"
    jobs = split(wd / "results" / "demo" / "benchmarks")
    total_jobs = sum(r["jobs"] for r in jobs.values())
    res = {
        "cores": cores,
        "from_scratch_s": scratch,
        "noop_rerun_s": rerun,
        "from_scratch_cpu_s": scratch_cpu,
        "noop_rerun_cpu_s": rerun_cpu,
        "jobs": total_jobs,
        "job_seconds": sum(r["total_s"] for r in jobs.values()),
        "job_cpu_seconds": sum(r["total_cpu_s"] for r in jobs.values()),
        "loadavg_start": load0,
        "loadavg_end": load1,
        "nproc": os.cpu_count(),
        "rules": jobs,
    }
    out.mkdir(exist_ok=True)
    (out / "demo.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        f"# Demo from scratch: {scratch:.1f} s for {total_jobs} jobs on {cores} cores (no-op rerun {rerun:.1f} s)",
        "",
        f"Load average (1, 5, 15 min) at start {', '.join(f'{v:.2f}' for v in load0)}, "
        f"at end {', '.join(f'{v:.2f}' for v in load1)}; {os.cpu_count()} CPUs. "
        f"Sum of the jobs' own times: {res['job_seconds']:.1f} s wall, {res['job_cpu_seconds']:.1f} s CPU "
        "(the benchmark files' cpu_time, sampled: it misses part of each job's start-up and last second).",
        *(
            [
                f"Whole run, Snakemake and every job (the kernel's accounting): {scratch_cpu:.1f} CPU-s from scratch, "
                f"{rerun_cpu:.1f} CPU-s for the no-op rerun; on {cores} cores the from-scratch run needs at least "
                f"{scratch_cpu / cores:.0f} s of wall time at this CPU cost."
            ]
            if scratch_cpu
            else []
        ),
        "",
        "| rule | jobs | mean s | total s | mean CPU s | total CPU s | max RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {rule} | {r['jobs']} | {r['mean_s']:.2f} | {r['total_s']:.1f} | {r['mean_cpu_s']:.2f} | "
        f"{r['total_cpu_s']:.1f} | {r['max_rss_mb']:.0f} |"
        for rule, r in jobs.items()
    ]
    (out / "demo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
