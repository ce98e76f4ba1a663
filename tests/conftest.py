"""Test configuration: put scripts/ on sys.path, as Snakemake does for scripts."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A completed run of the tiny demo (tests/configs/tiny.yaml), shared by the workflow tests."""
    from workflow import snakemake

    wd = tmp_path_factory.mktemp("tiny")
    snakemake(wd, "--cores", "2")
    return wd
