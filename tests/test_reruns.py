"""What triggers a rerun, on a completed tiny demo run (issue: incremental reruns)."""
from __future__ import annotations

import shutil

import pytest
import yaml

from workflow import TINY, scheduled_jobs

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
    assert counts.get("retrieve_meteo_fpar_landcover_sunshine") == 1 and counts.get("regrid") == 1 and counts.get("carbon") == 1
    for rule in AGGREGATES:
        assert counts.get(rule) == 1, rule
