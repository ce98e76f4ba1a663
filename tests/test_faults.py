"""Faults and determinism: a killed job is redone, results equal an uninterrupted run's."""

from __future__ import annotations

import shutil
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


# Years whose whole chain (download, forcing, carbon) is taken from the copy of the finished run,
# and a year that loses only its carbon file.
REDONE_CHAINS = (2003, 2011)
REDONE_CARBON = 2017
# what stays of the rest of the run: the grid and the other years' forcing and carbon (and the logs)
KEPT = ("grid.nc", "forcing", "carbon", "logs", "benchmarks")


def unfinish(wd) -> None:
    """Make the copy of a finished run in ``wd`` a run that stopped partway: the next run retrieves,
    regrids and computes the years of REDONE_CHAINS again, the carbon of REDONE_CARBON, then every
    aggregate (series, the four statistics, classes, tables, figures), all under the faults below."""
    run = wd / "results" / "tiny"
    for year in REDONE_CHAINS:
        downloads = [p for p in (wd / "data").rglob(str(year)) if p.is_dir()]
        assert downloads, f"no download folder of {year} under {wd / 'data'}"
        for folder in downloads:
            shutil.rmtree(folder)
        (run / "forcing" / f"{year}.nc").unlink()
    for year in (*REDONE_CHAINS, REDONE_CARBON):
        (run / "carbon" / f"{year}.nc").unlink()
    # every aggregate: a statistic whose input series comes out unchanged is otherwise not redone
    for path in run.iterdir():
        if path.is_dir() and path.name not in KEPT:
            shutil.rmtree(path)
        elif path.name not in KEPT:
            path.unlink()


def test_killed_jobs_are_redone_and_results_equal_an_uninterrupted_run(tiny_run, tmp_path):
    # A copy of the finished run with part of it undone costs a fraction of a run from scratch and
    # puts every kind of job (retrieve, regrid, carbon, series, statistic, classes, tables, figures)
    # under the faults; a from-scratch rerun's determinism is test_archive's and test_slurm's.
    wd = tmp_path / "faults"
    shutil.copytree(tiny_run, wd, symlinks=True)
    unfinish(wd)
    run = wd / "results" / "tiny"
    copied = {p.relative_to(run).as_posix(): p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
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
    got = data_checksums(run)
    assert set(got) == set(expected)
    differing = [k for k in expected if expected[k] != got[k]]
    assert not differing, differing
    # and compared as written by these runs: every output but the grid and the other years' forcing and carbon
    kept = {"grid.nc"} | {rel for rel in copied if rel.startswith(("forcing/", "carbon/"))}
    rewritten = {rel for rel in got if copied.get(rel) != (run / rel).stat().st_mtime_ns}
    assert set(got) - kept <= rewritten, sorted(set(got) - kept - rewritten)
