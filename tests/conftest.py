"""Test configuration: put scripts/ on sys.path, as Snakemake does for scripts."""

import shutil
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


@pytest.fixture(scope="session")
def short_run(tiny_run, tmp_path_factory):
    """The tiny demo over workflow.SHORT_YEARS: a copy of tiny_run without the other years' files, its
    aggregates (series, statistics, classes, tables, figures) redone over the shorter period."""
    from workflow import SHORT_CONFIG, SHORT_YEARS, keep_years, snakemake

    wd = tmp_path_factory.mktemp("short")
    shutil.copytree(tiny_run, wd, symlinks=True, dirs_exist_ok=True)
    keep_years(wd, *SHORT_YEARS)
    snakemake(wd, "--cores", "2", config=[SHORT_CONFIG])
    return wd
