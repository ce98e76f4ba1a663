"""What triggers a rerun, on a completed tiny demo run: config changes and library edits."""

from __future__ import annotations

import shutil

import pytest
import yaml

from workflow import ROOT, TINY, scheduled_jobs, snakemake

pytestmark = pytest.mark.workflow
AGGREGATES = ("series", "trend", "hurst", "stability", "correlation", "classes", "area_stats", "figures")


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    wd = tmp_path / "run"
    shutil.copytree(tiny_run, wd, symlinks=True)
    return wd


def config_with(tmp_path, **changes):
    cfg = yaml.safe_load(TINY.read_text())
    for key, value in changes.items():
        section, _, sub = key.partition("__")
        if sub:
            cfg.setdefault(section, {})[sub] = value
        else:
            cfg[section] = value
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_carbon_parameter_reruns_carbon_and_downstream_only(run_copy, tmp_path):
    counts = scheduled_jobs(run_copy, configfile=config_with(tmp_path, carbon__cue=0.45))
    assert counts.get("carbon") == 21
    assert "retrieve_meteo_fpar_landcover_sunshine" not in counts and "regrid" not in counts and "grid" not in counts
    for rule in AGGREGATES:
        assert counts.get(rule) == 1, rule


def test_plotting_option_reruns_only_figures(run_copy, tmp_path):
    counts = scheduled_jobs(run_copy, configfile=config_with(tmp_path, figures__dpi=150))
    assert set(counts) - {"all"} == {"figures"}


def test_analysis_option_reruns_only_that_statistic_and_after(run_copy, tmp_path):
    counts = scheduled_jobs(run_copy, configfile=config_with(tmp_path, analysis__cv_ddof=0))
    # every statistic reads the analysis section, but nothing per year reruns
    assert not {"retrieve_meteo_fpar_landcover_sunshine", "regrid", "carbon", "series"} & set(counts)
    assert counts.get("stability") == 1 and counts.get("classes") == 1


def test_adding_a_year_adds_its_chain_and_reruns_aggregates(run_copy, tmp_path):
    counts = scheduled_jobs(run_copy, configfile=config_with(tmp_path, years={"start": 2000, "end": 2021}))
    assert (
        counts.get("retrieve_meteo_fpar_landcover_sunshine") == 1
        and counts.get("regrid") == 1
        and counts.get("carbon") == 1
    )
    for rule in AGGREGATES:
        assert counts.get(rule) == 1, rule


def test_interrupted_series_is_rebuilt_by_the_next_run(run_copy):
    """Ctrl-C while `series` runs: Snakemake removes its unfinished output; the next plain run rebuilds it
    (it is a target of `all`), byte for byte as before, and no per-year job."""
    import os
    import signal
    import subprocess
    import time

    from nepflow import provenance
    from workflow import BIN, ROOT, env

    cube = run_copy / "results/tiny/series/annual.nc"
    before = provenance.file_sha256(cube)
    log = run_copy / "results/tiny/logs/series.log"
    log.unlink()
    cmd = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(run_copy),
        "--cores",
        "1",
        "--forcerun",
        "series",
        "--until",
        "series",
        "--configfile",
        str(TINY),
    ]
    proc = subprocess.Popen(
        cmd, env=env(), cwd=run_copy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "series finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    proc.wait(timeout=120)
    assert proc.returncode != 0
    assert not cube.exists()
    counts = scheduled_jobs(run_copy)
    assert counts.get("series") == 1 and not {
        "retrieve_meteo_fpar_landcover_sunshine",
        "regrid",
        "carbon",
        "grid",
    } & set(counts), counts
    from workflow import snakemake

    snakemake(run_copy, "--cores", "1")
    assert provenance.file_sha256(cube) == before


# ---------------------------------------------------------------- library edits
@pytest.fixture
def repo_copy(tmp_path):
    """The workflow's code, copied with its timestamps (a copy alone is no change)."""
    repo = tmp_path / "repo"
    for name in ("Snakefile", "rules", "scripts", "config", "report", "envs"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            repo.mkdir(exist_ok=True)
            shutil.copy2(src, repo / name)
    return repo


def edit(repo, module):
    path = repo / "scripts" / "nepflow" / module
    path.write_text(path.read_text() + "\n# an edit that changes no behaviour\n")


def rerun_for_params(run_copy, repo):
    """The rules a dry run reruns because their params changed (its summary of reasons)."""
    proc = snakemake(run_copy, "-n", "--quiet", "rules", snakefile=repo / "Snakefile")
    lines = (proc.stdout + proc.stderr).splitlines()
    for header, rules in zip(lines, lines[1:]):
        if header.strip().lower().startswith("params") and header.strip().endswith(":"):
            return {r.strip() for r in rules.split(",")}
    return set()


def test_unchanged_code_copy_reruns_nothing(run_copy, repo_copy):
    assert set(scheduled_jobs(run_copy, snakefile=repo_copy / "Snakefile")) <= {"all"}


def test_carbon_model_edit_reruns_carbon_and_downstream_only(run_copy, repo_copy):
    edit(repo_copy, "carbon/tec.py")
    counts = scheduled_jobs(run_copy, snakefile=repo_copy / "Snakefile")
    assert counts.get("carbon") == 21
    assert not {"retrieve_meteo_fpar_landcover_sunshine", "grid", "regrid"} & set(counts)
    for rule in AGGREGATES:
        assert counts.get(rule) == 1, rule
    assert rerun_for_params(run_copy, repo_copy) == {"carbon"}  # the rest only because its input is new


def test_statistics_edit_reruns_the_statistics_and_downstream_only(run_copy, repo_copy):
    edit(repo_copy, "stats/__init__.py")
    counts = scheduled_jobs(run_copy, snakefile=repo_copy / "Snakefile")
    assert not {"retrieve_meteo_fpar_landcover_sunshine", "grid", "regrid", "carbon", "series"} & set(counts)
    for rule in ("trend", "hurst", "stability", "correlation", "classes", "area_stats", "figures"):
        assert counts.get(rule) == 1, rule
    assert rerun_for_params(run_copy, repo_copy) == {"trend", "hurst", "stability", "correlation"}
