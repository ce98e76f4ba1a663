"""The publication archive: complete, verifiable, secret-free, and it reproduces the run."""

from __future__ import annotations

import json
import os
import shutil
import tarfile

import pytest

from nepflow import archive, provenance
from workflow import SHORT_CONFIG, SHORT_YEARS, snakemake

pytestmark = pytest.mark.workflow
FAKE = {
    "EARTHDATA_PASSWORD": "fake-edl-pass-8731",
    "EARTHDATA_TOKEN": "fake-edl-token-5527",
    "CDSAPI_KEY": "fake-cds-key-4410",
}


@pytest.fixture(scope="module")
def archived(short_run, tmp_path_factory):
    # the archive of the tiny demo's shorter period: the rerun from it is a run from scratch of nine years
    wd = tmp_path_factory.mktemp("archived") / "run"
    shutil.copytree(short_run, wd, symlinks=True)
    old = {k: os.environ.get(k) for k in FAKE}
    os.environ.update(FAKE)
    try:
        snakemake(wd, "archive", "--cores", "1", config=[SHORT_CONFIG])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return wd, wd / "results/tiny/archive/nepflow-tiny.tar.gz"


def test_archive_verifies_and_has_everything(archived):
    wd, tar_path = archived
    archive.verify(tar_path, tar_path.parent / "SHA256SUMS")
    with tarfile.open(tar_path) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers()}
        crate = json.loads(tar.extractfile("nepflow-tiny/ro-crate-metadata.json").read())
        prov = json.loads(tar.extractfile("nepflow-tiny/provenance.json").read())
        git = tar.extractfile("nepflow-tiny/workflow/GIT.txt").read().decode()
    for required in (
        "workflow/Snakefile",
        "workflow/rules/carbon.smk",
        "workflow/scripts/nepflow/carbon/rh.py",
        "workflow/requirements.lock",
        "workflow/envs/stats.yaml",
        "workflow/config/schema.yaml",
        "config.effective.yaml",
        "checksums.json",
        "MANIFEST.tsv",
        "results/tiny/analysis/trend.nc",
        "results/tiny/tables/area_stats.csv",
        "results/tiny/carbon/2000.nc",
        "results/tiny/logs/carbon/2000.log",
        "results/tiny/report.zip",
        "results/tiny/figures/nep_mean.png",
    ):
        assert required in names, required
    assert "commit:" in git
    graph = {e["@id"]: e for e in crate["@graph"]}
    assert graph["#run"]["@type"] == "CreateAction"
    assert any(e.get("name") == "numpy" for e in crate["@graph"])
    rec = prov["results/tiny/carbon/2000.nc"]
    assert rec["rule"] == "carbon" and "results/tiny/forcing/2000.nc" in rec["inputs"]
    assert "cue" in json.dumps(rec["params"])


def test_no_secret_anywhere(archived):
    wd, tar_path = archived
    with tarfile.open(tar_path) as tar:
        blobs = [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]
    produced = [p.read_bytes() for p in wd.rglob("*") if p.is_file()]
    for secret in FAKE.values():
        for data in blobs + produced:
            assert secret.encode() not in data


def test_archive_refuses_a_secret(tmp_path):
    with pytest.raises(Exception, match="contains a credential"):
        archive.scan_for_secrets({"x.log": b"token=abcd1234"}, secrets=["abcd1234"])


def test_rerun_from_the_archive_reproduces_every_data_output(archived, tmp_path):
    wd, tar_path = archived
    with tarfile.open(tar_path) as tar:
        tar.extractall(tmp_path, filter="data")
    unpacked = tmp_path / "nepflow-tiny"
    expected = json.loads((unpacked / "checksums.json").read_text())
    fresh = tmp_path / "rerun"
    fresh.mkdir()
    from workflow import BIN, env
    import subprocess

    proc = subprocess.run(
        [
            str(BIN / "snakemake"),
            "--snakefile",
            str(unpacked / "workflow/Snakefile"),
            "--directory",
            str(fresh),
            "--configfile",
            str(unpacked / "config.effective.yaml"),
            "--cores",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env(),
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, last = SHORT_YEARS
    assert len(expected) == (last - first + 1) + 7  # carbon per year, grid, series, 4 statistics, classes
    for rel, checksum in expected.items():
        assert provenance.data_checksum(fresh / "results/tiny" / rel) == checksum, rel
