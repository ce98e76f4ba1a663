"""Helpers to run the real Snakemake workflow in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
BIN = Path(sys.executable).parent


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
