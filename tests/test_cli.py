"""The entry scripts from a shell: README's example runs as written; --help points to the repository's docs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    (tmp_path / "config").symlink_to(ROOT / "config")
    argv = shlex.split(line)
    argv = [sys.executable, str(ROOT / argv[1]), *[a.replace("/tmp/", f"{tmp_path}/") for a in argv[2:]]]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = [a.split("=", 1)[1] for a, prev in zip(argv[1:], argv) if prev == "--output"]
    for out in outputs:
        with xr.open_dataset(out) as ds:
            assert ds.data_vars
            if "--config" not in argv and "--param" not in argv:  # the workflow's params: the workflow's numbers
                name = Path(out).name
                with xr.open_dataset(tiny_run / "results" / "tiny" / "carbon" / name) as ref:
                    for v in ref.data_vars:
                        np.testing.assert_array_equal(ds[v].values, ref[v].values, err_msg=f"{line}: {v}")


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
        "missing param 'carbon': give it with --configfile config/config.yaml (the rule's params from the "
        "config), --param carbon=YAML or in a --params YAML file"
    )


# ---------------------------------------------------------------- --configfile: the rules' own params
#: --config entries as a user types them (nested values: Snakemake passes them as strings), turning on every
#: param a rule has only under some config (ensemble, uncertainty, validation, CASA's land-cover class).
EXTRAS = [
    "years={start: 2000, end: 2007}",
    "carbon={models: [tec, casa], monthly_output: true}",
    "uncertainty={draws: 100}",
    "validation={demo_sites: true}",
    "analysis={min_valid_years: 5, mk_variant: hamed_rao}",
    "checks={strictness: strict}",
]

_RULE_PARAMS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.cli import parse_config
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

snakefile, configfile, *entries = sys.argv[1:]
settings = ConfigSettings(configfiles=[Path(configfile)], config=parse_config(entries))
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(ResourceSettings(), settings, snakefile=Path(snakefile), workdir=Path.cwd())._workflow
    rules = {r.name: [Path(r.script).name, {k: repr(v) for k, v in r.params.items()}] for r in workflow.rules if r.script}
print(json.dumps(rules))
"""


def workflow_rule_params(workdir, configfile, entries) -> dict:
    """rule -> (script, {param: repr}) as the workflow declares them for a config (Snakemake's API: the
    Snakefile parsed, its rules built, no job planned)."""
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _RULE_PARAMS, str(ROOT / "Snakefile"), str(configfile), *entries],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("entries", [[], EXTRAS], ids=["tiny", "tiny+extras"])
def test_configfile_gives_every_script_its_rules_params(entries, tmp_path, monkeypatch):
    """For every rule that runs a script, the params a shell run builds from --configfile/--config are the
    ones the workflow gives the rule (the same repr: Snakemake's params trigger compares reprs)."""
    from workflow import TINY

    from nepflow import jobs, ruleparams

    rules = workflow_rule_params(tmp_path, TINY, entries)
    assert {"grid", "regrid", "carbon", *ruleparams.STATISTICS, "classes", "figures", "archive"} <= set(rules)
    if entries:
        assert {"ensemble", "uncertainty", "demo_sites", "validate"} <= set(rules)
        assert {"uncertainty"} <= set(rules["carbon"][1]) and {"landcover_class"} <= set(rules["regrid"][1])
    monkeypatch.chdir(tmp_path)
    shared = {s for s, _ in rules.values() if sum(t == s for t, _ in rules.values()) > 1}
    for rule, (script, expected) in rules.items():
        argv = ["--configfile", str(TINY), *(["--config", *entries] if entries else [])]
        argv += ["--rule", rule] if script in shared else []  # statistic.py runs four rules
        smk = jobs.cli_args("doc", argv, script=script)
        got = {k: repr(v) for k, v in smk.params.items()}
        assert got == expected, f"rule {rule} ({script})"
        assert smk.config["run_name"] == "tiny"


def test_config_entries_are_parsed_as_snakemake_parses_them():
    from snakemake.cli import parse_config

    from nepflow.cli import parse_config_entries

    entries = [
        "run_name=2024",
        "years={start: 2005, end: 2008}",
        "grid={resolution: 0.1}",
        "analysis={detrend_correlation: true}",
        "checks={strictness: strict}",
        "allow_outside_paths=True",
        "uncertainty={draws: 1e2}",
        "region={provinces: [Beijing, Hebei]}",
        "demo=",
        "results_dir=out/x",
        "carbon={cue: 0.4}",
        "carbon={rh: {b: 0.1}}",
    ]
    assert parse_config_entries(entries) == parse_config(entries)


def test_nested_config_reaches_the_params_with_the_schemas_types(monkeypatch, tmp_path):
    from workflow import TINY

    from nepflow import jobs

    monkeypatch.chdir(tmp_path)
    argv = ["--configfile", str(TINY), "--config", "carbon={cue: 0.45, rh: {b: 0.1}}", "checks={strictness: strict}"]
    smk = jobs.cli_args("doc", argv, script="carbon.py")
    assert smk.params["carbon"]["cue"] == 0.45 and smk.params["carbon"]["rh"]["b"] == 0.1
    assert smk.params["carbon"]["rh"]["a"] == 0.22  # the rest of the section: the schema's default
    assert smk.params["strictness"] == "strict"
    # later config files win; --param sets a param over the config's
    later = tmp_path / "later.yaml"
    later.write_text("carbon:\n  cue: 0.55\n")
    smk = jobs.cli_args("doc", ["--configfile", str(TINY), str(later), "--param", "strictness=lenient"], "carbon.py")
    assert smk.params["carbon"]["cue"] == 0.55 and smk.params["strictness"] == "lenient"


@pytest.mark.parametrize(
    "argv, script, message",
    [
        (
            ["--config", "years={start: 2005, end: abc}"],
            "series.py",
            "config key years.end: expected integer, got 'abc'",
        ),
        (["--config", "grid={resolutoin: 0.1}"], "grid.py", "config key grid.resolutoin: unknown key; expected one of"),
        (["--configfile", "missing.yaml"], "grid.py", "missing.yaml: cannot read the config file"),
        (["--config", "years={start: 2009, end: 2005}"], "grid.py", "config key years: start 2009 is after end 2005"),
        (["--config", "carbon={cue: 0.4}"], "statistic.py", "scripts/statistic.py runs rules trend, hurst"),
        (["--config", "carbon={cue: 0.4}", "--rule", "trend"], "carbon.py", "--rule trend: runs scripts/statistic.py"),
        (["--rule", "trend"], "statistic.py", "--rule needs --configfile or --config"),
    ],
)
def test_config_errors_on_the_command_line_are_one_line(argv, script, message, capsys, monkeypatch, tmp_path):
    from nepflow import jobs

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        jobs.cli_args("doc", argv, script=script)
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and err.startswith(f"ERROR: {message}") and err.count("\n") == 1, err


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
