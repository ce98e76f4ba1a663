"""Helpers to run the real Snakemake workflow in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
BIN = Path(sys.executable).parent
# A shorter period of the tiny demo (conftest's short_run) for runs from scratch that need not cover its
# 21 years: nine define every statistic (a partial correlation needs five)
SHORT_YEARS = (2000, 2008)
SHORT_CONFIG = f"years={{start: {SHORT_YEARS[0]}, end: {SHORT_YEARS[1]}}}"


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("MPLBACKEND", "Agg")
    return e


def snakemake(workdir, *args, configfile=TINY, check=True, timeout=1200, config=None, snakefile=None):
    """Run snakemake on the project's Snakefile (or ``snakefile``) in ``workdir``; return the CompletedProcess."""
    cmd = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(snakefile or ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    # --configfile and --config take several values: they go last, after any targets
    if configfile:
        cmd += ["--configfile", str(configfile)]
    if config:
        cmd += ["--config", *config]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def scheduled_jobs(workdir, *args, **kw) -> dict[str, int]:
    """Rule -> job count of a dry run (``snakemake -n``)."""
    proc = snakemake(workdir, "-n", "--quiet", "rules", *args, **kw)
    counts = {}
    in_table = False
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"}:
                in_table = False
    return counts


def keep_years(workdir, first: int, last: int) -> None:
    """Delete from the run in ``workdir`` every file or folder named by a year outside ``first``-``last``:
    per-year outputs, logs and benchmarks under results/, downloads under data/."""
    for top in ("results", "data"):
        for path in sorted((Path(workdir) / top).rglob("*"), reverse=True):  # a folder's files first
            if len(path.stem) == 4 and path.stem.isdigit() and not first <= int(path.stem) <= last:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
