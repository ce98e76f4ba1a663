"""nepflow.codehash: which library files an entry script runs, and the hash that reruns it."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from nepflow import codehash, provenance

ROOT = codehash.Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"

PLANTED = {
    "entry.py": "from nepflow import a\nimport nepflow.reg\n",
    "other.py": "from nepflow import d\n",
    "nepflow/__init__.py": "",
    "nepflow/a.py": """\
        from . import b
        from .b import helper  # a name, not a module
        TABLE = "table.yml"

        def lazy():
            from .sub.c import f
            return f
        """,
    "nepflow/b.py": "def helper():\n    return 1\n",
    "nepflow/d.py": "import numpy\n",
    "nepflow/table.yml": "k: 1\n",
    "nepflow/unread.yml": "k: 2\n",
    "nepflow/sub/__init__.py": "",
    "nepflow/sub/c.py": "def f():\n    return 2\n",
    "nepflow/reg/__init__.py": """\
        import importlib

        def module(name):
            return importlib.import_module(f"{__name__}.{name}")
        """,
    "nepflow/reg/x.py": """\
        from .. import b

        def fetch():
            from .. import d  # a lazy import of a registry module: not followed
        """,
}


def plant(root):
    for rel, text in PLANTED.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def tree(tmp_path):
    return plant(tmp_path / "scripts")


def test_dependencies_follow_imports_lazy_imports_packages_registries_and_data(tree):
    assert codehash.dependencies(tree / "entry.py") == (
        "entry.py",
        "nepflow/__init__.py",
        "nepflow/a.py",
        "nepflow/b.py",
        "nepflow/reg/__init__.py",
        "nepflow/reg/x.py",
        "nepflow/sub/__init__.py",
        "nepflow/sub/c.py",
        "nepflow/table.yml",
    )
    assert codehash.dependencies(tree / "other.py") == ("nepflow/__init__.py", "nepflow/d.py", "other.py")


@pytest.mark.parametrize(
    "edited, changes",
    [
        ("nepflow/sub/c.py", True),
        ("nepflow/table.yml", True),
        ("nepflow/reg/x.py", True),
        ("nepflow/d.py", False),
        ("nepflow/unread.yml", False),
    ],
)
def test_an_edit_changes_the_hash_of_the_scripts_that_run_it_only(tree, edited, changes):
    before = codehash.script_hash(tree / "entry.py"), codehash.script_hash(tree / "other.py")
    path = tree / edited
    path.write_text(path.read_text() + "# edited\n")
    after = codehash.script_hash(tree / "entry.py"), codehash.script_hash(tree / "other.py")
    assert (after[0] != before[0]) == changes
    assert (after[1] != before[1]) == (edited == "nepflow/d.py")


def test_hash_depends_on_contents_not_location_or_cache(tree, tmp_path):
    h = codehash.script_hash(tree / "entry.py")
    assert (tree / "nepflow" / codehash.CACHE).is_file()  # the scans, for the next run
    elsewhere = tmp_path / "clone" / "scripts"
    shutil.copytree(tree, elsewhere, ignore=shutil.ignore_patterns("__pycache__"))
    assert codehash.script_hash(elsewhere / "entry.py") == h
    (tree / "nepflow" / codehash.CACHE).write_text("not json")  # a broken cache is parsed again
    codehash._scanner.cache_clear()
    assert codehash.script_hash(tree / "entry.py") == h


def test_real_scripts_run_the_modules_their_rules_are_about():
    deps = {s.stem: codehash.dependencies(s) for s in SCRIPTS.glob("*.py")}
    runs = lambda module: {name for name, files in deps.items() if module in files}  # noqa: E731
    assert "carbon" in runs("nepflow/carbon/tec.py")
    assert not {"grid", "regrid", "series", "statistic", "classes"} & runs("nepflow/carbon/tec.py")
    assert "statistic" in runs("nepflow/stats/__init__.py")
    assert "statistic" in runs("nepflow/stats/_trend.py")  # imported on first use (a computed import)
    assert not {"grid", "regrid", "carbon", "series", "classes"} & runs("nepflow/stats/__init__.py")
    assert "figures" in runs("nepflow/classify.py")  # a lazy import
    assert "nepflow/variables.yml" in deps["carbon"]  # a data file
    # the command line's module (a script run from a shell builds its job there; no job runs it) is not followed:
    # the config checks and the rules' params table are in no rule's hash
    for files in deps.values():
        assert not {"nepflow/cli.py", "nepflow/ruleparams.py", "nepflow/config.py"} & set(files), files
    assert provenance.attrs("x", [], {provenance.CODE_PARAM: "abc", "k": 1})["nepflow_params"] == '{"k":1}'


def test_every_rule_but_retrieval_hashes_its_own_script():
    """Each rule's params come from nepflow.ruleparams' table (``**rule_params(name)``), whose script is the
    one the rule runs, and every rule but retrieval gets its script's hash as ``code``."""
    import re

    from nepflow import config as nconfig, ruleparams
    from test_envs import rule_blocks

    config = nconfig.defaults()
    checked = []
    for name, block in rule_blocks():
        script = re.search(r'script:\s*"\.\./scripts/([\w.]+)"', block)
        if not script:
            continue
        assert re.search(r"params:\s*\*\*rule_params\((\"\w+\"|statistic|_name)\),\s*log:", block), (
            f"rule {name}: params not from rule_params"
        )
        if script.group(1) == "retrieve.py":
            continue  # retrieval (rules defined in a loop too) is not code-triggered
        rule = name.split()[0] if "(loop)" not in name else ruleparams.STATISTICS[0]
        checked.append(name)
        assert ruleparams.TABLE[rule][0] == script.group(1), f"rule {name}: runs {script.group(1)}"
        params = ruleparams.rule_params(rule, config)
        assert params["code"] == codehash.script_hash(SCRIPTS / script.group(1)), name
    assert len(checked) >= 12 and "statistic (loop)" in checked
    assert "code" not in ruleparams.rule_params("retrieve_meteo_fpar_landcover_sunshine", config)
