"""The entry scripts from a shell: README's example runs as written; --help points to the repository's docs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from workflow import ROOT, env

SCRIPTS = sorted(p.name for p in (ROOT / "scripts").glob("*.py"))


def readme_script_examples() -> list[str]:
    """The `python scripts/...` command lines of README's code blocks."""
    blocks = re.findall(r"```\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip().startswith("python scripts/")]


def test_readme_has_a_script_example():
    assert readme_script_examples()


@pytest.mark.workflow
@pytest.mark.parametrize("line", readme_script_examples())
def test_readme_script_examples_run_as_written(line, tiny_run, tmp_path):
    # the example's results/demo is the tiny run's results (the same layout); scripts/ is the repository's
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "demo").symlink_to(tiny_run / "results" / "tiny")
    argv = shlex.split(line)
    argv = [sys.executable, str(ROOT / argv[1]), *[a.replace("/tmp/", f"{tmp_path}/") for a in argv[2:]]]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = [a.split("=", 1)[1] for a, prev in zip(argv[1:], argv) if prev == "--output"]
    for out in outputs:
        with xr.open_dataset(out) as ds:
            assert ds.data_vars


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_points_to_documents_inside_the_repository(script):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--help"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )
    if "usage:" not in proc.stdout:  # a script without a command line of its own
        pytest.skip(f"{script}: no --help")
    docs = re.findall(r"(/\S+\.(?:md|yaml))", proc.stdout.split("documentation:", 1)[-1])
    assert docs and all(Path(d).is_file() and Path(d).is_relative_to(ROOT) for d in docs), proc.stdout


def test_a_missing_param_is_one_line():
    from nepflow import jobs
    from nepflow.errors import NepflowError

    smk = jobs.cli_args("doc", ["--input", "forcing=f.nc", "--param", "strictness=default"])
    assert smk.params["strictness"] == "default"
    with pytest.raises(NepflowError) as err:
        smk.params["carbon"]
    assert str(err.value) == (
        "missing param 'carbon': give it with --param carbon=YAML or in a --params YAML file "
        "(the rule's params: snakemake -n -p, or the job's log)"
    )


def readme_block(heading: str, lang: str = "") -> str:
    """The first code block (```lang) after ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def test_readme_config_example_is_a_valid_config():
    """README's "keys you change most" block, merged over the default config, passes the Snakefile's checks."""
    import copy

    import yaml
    from snakemake.utils import update_config

    from nepflow import config as nconfig

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    example = yaml.safe_load(readme_block("## Configuration", "yaml"))
    assert {"run_name", "years", "region", "grid", "carbon", "analysis", "classes"} <= set(example)
    merged = copy.deepcopy(cfg)
    update_config(merged, example)
    nconfig.validate(merged, ROOT / "config" / "schema.yaml")
    assert merged["run_name"] == "my_run" and merged["carbon"]["rh"]["b"] == example["carbon"]["rh"]["b"]


@pytest.mark.workflow
def test_readme_snakemake_examples_plan_as_written(tmp_path):
    """Each `snakemake ...` line of "Running the workflow yourself" plans (`-n`) as written, `my_run.yaml` being
    the tiny demo's config; the report line needs a finished run (tests/test_report.py builds one)."""
    from workflow import TINY, snakemake

    (tmp_path / "my_run.yaml").write_text(TINY.read_text())
    lines = [line.split("#")[0].strip() for line in readme_block("## Running the workflow yourself").splitlines()]
    lines = [line for line in lines if line.startswith("snakemake ")]
    assert len(lines) >= 5, lines
    for line in lines:
        if "--report" in line:
            continue
        args = shlex.split(line)[1:]
        proc = snakemake(tmp_path, "-n", *args, configfile=None, check=False)
        assert proc.returncode == 0, f"{line}:\n{proc.stderr[-3000:]}"
        assert "Nothing to be done" in proc.stdout + proc.stderr or "Job stats" in proc.stdout + proc.stderr, line
