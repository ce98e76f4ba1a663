"""Faults and determinism: a killed job is redone, results equal an uninterrupted run's."""

from __future__ import annotations

import subprocess
import time

import psutil
import pytest

from nepflow import provenance
from workflow import BIN, ROOT, TINY, env, snakemake

pytestmark = pytest.mark.workflow


def data_checksums(run_dir):
    out = {}
    for f in sorted(run_dir.rglob("*")):
        rel = f.relative_to(run_dir).as_posix()
        if not f.is_file() or rel.startswith(("logs/", "benchmarks/", "figures/", "archive/")):
            continue
        out[rel] = provenance.data_checksum(f) if f.suffix == ".nc" else provenance.file_sha256(f)
    return out


def kill_job(proc: subprocess.Popen, script: str, timeout=1800) -> bool:
    """SIGKILL the first job process running ``script`` under ``proc``; True if one was killed."""
    parent = psutil.Process(proc.pid)
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        for child in parent.children(recursive=True):
            try:
                if any(script in part for part in child.cmdline()):
                    child.kill()
                    return True
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    return False


def start(wd, *args):
    """Start snakemake in the background, its output to a file (a pipe nobody reads would block it)."""
    cmd = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(wd),
        *args,
        "--configfile",
        str(TINY),
    ]
    log = open(wd.parent / f"{wd.name}.{len(list(wd.parent.glob('*.out')))}.out", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env(), cwd=wd)


def test_killed_jobs_are_redone_and_results_equal_an_uninterrupted_run(tiny_run, tmp_path):
    wd = tmp_path / "faults"
    wd.mkdir()
    # 1. kill a per-year carbon job
    proc = start(wd, "--cores", "1")
    assert kill_job(proc, "carbon.py"), "no carbon job seen"
    proc.wait(timeout=900)
    assert proc.returncode != 0
    # 2. kill an aggregate job on the rerun
    proc = start(wd, "--cores", "1", "--rerun-incomplete")
    assert kill_job(proc, "statistic.py"), "no statistic job seen"
    proc.wait(timeout=900)
    assert proc.returncode != 0
    # 3. finish: Snakemake redoes what was incomplete
    snakemake(wd, "--cores", "1", "--rerun-incomplete")
    # no temporary files left behind by the atomic writes
    assert not [p for p in (wd / "results").rglob(".*") if p.is_file() and p.name != ".snakemake_timestamp"]
    # identical to the uninterrupted --cores 2 run, checksum for checksum
    expected = data_checksums(tiny_run / "results" / "tiny")
    got = data_checksums(wd / "results" / "tiny")
    assert set(got) == set(expected)
    differing = [k for k in expected if expected[k] != got[k]]
    assert not differing, differing
