"""The demo workflow through a real single-node Slurm cluster (slurm-wlm 22.05 + slurmdbd + MariaDB).

Skipped only where Slurm is not installed (.ci/slurm/install.sh installs it).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import slurm_cluster
from nepflow import provenance
from workflow import ROOT, SHORT_CONFIG, SHORT_YEARS, TINY, BIN, env

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

# The tiny demo over SHORT_YEARS (nine): every grouped member costs the cluster two Snakemake start-ups
# (the group job's and an `srun` per rule), so the run's length goes with the years.
FIRST, LAST = SHORT_YEARS


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    yield c
    slurm_cluster.stop(c)


def checksums(run_dir):
    return {p.relative_to(run_dir).as_posix(): provenance.data_checksum(p) for p in sorted(run_dir.rglob("*.nc"))}


def test_demo_through_slurm_equals_local_run(cluster, short_run, tmp_path):
    import subprocess

    wd = tmp_path / "slurm_run"
    wd.mkdir()
    e = {**env(), **{k: v for k, v in cluster.env.items() if k.startswith("SLURM")}}
    cmd = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(wd),
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--jobs",
        "8",
        # the per-year chain in three Slurm jobs of three years each, the four statistics in another:
        # fewer Slurm jobs than tiny jobs (what a user does for small grids, as the README shows). The
        # executor plugin runs a group's members one after another (`--jobs 1` in the group job), so
        # three groups run side by side where one group of all 21 years took 250 s alone.
        "--groups",
        "regrid=peryear",
        "carbon=peryear",
        "trend=stats",
        "hurst=stats",
        "stability=stats",
        "correlation=stats",
        "--group-components",
        "peryear=3",
        "stats=4",
        "--configfile",
        str(TINY),
        "--config",
        SHORT_CONFIG,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=1500, cwd=wd)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-6000:])
    # the jobs went through Slurm: sacct lists them (the plugin puts the rule in the comment), all completed
    acct = cluster.run("sacct", "-X", "-n", "-P", "-S", "now-1hour", "-o", "JobName,Comment,State").stdout.splitlines()
    rows = [line.split("|") for line in acct if line.startswith("nepflow")]
    rules = [comment for _, comment, _ in rows]
    for rule in ("grid", "series", "classes", "area_stats", "figures"):
        assert any(c.startswith(f"rule_{rule}") for c in rules), (rule, acct[:20])
    # the groups: nine years' regrid + carbon in three Slurm jobs, the four statistics in one
    assert sum(c.startswith("rule_peryear") for c in rules) == 3, rules
    assert sum(c.startswith("rule_stats") for c in rules) == 1, rules
    assert len(rows) == 9, rules
    assert all(state == "COMPLETED" for *_, state in rows), acct
    # retrieval and the report's HTML tables stay local (localrule): not in the accounting
    assert not any("retrieve" in c or "report_tables" in c for c in rules)
    # identical to the local run, checksum for checksum
    local = checksums(short_run / "results" / "tiny")
    remote = checksums(wd / "results" / "tiny")
    assert set(remote) == set(local)
    assert {f"carbon/{year}.nc" for year in range(FIRST, LAST + 1)} <= set(local)
    assert [k for k in local if local[k] != remote[k]] == []
    # and what is compared has values: no statistic is NaN everywhere over the nine years
    for name in ("trend", "hurst", "stability", "correlation"):
        with xr.open_dataset(short_run / "results" / "tiny" / "analysis" / f"{name}.nc") as ds:
            empty = [v for v in ds.data_vars if ds[v].dtype.kind == "f" and not np.isfinite(ds[v].values).any()]
        assert not empty, (name, empty)
