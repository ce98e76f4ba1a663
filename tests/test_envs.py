"""Pinned environments: the lock pins everything; every envs/*.yaml pin equals the lock."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def lock():
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"requirements.lock: {line!r} is not an exact pin"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_lock_pins_every_requirement():
    pins = lock()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>\[ #]", line.strip(), maxsplit=1)[0]
        if name:
            assert name.lower().replace("_", "-") in pins, f"{name} is in requirements.txt but not in the lock"


def load_make_envs():
    from importlib import util

    spec = util.spec_from_file_location("make_envs", ROOT / "envs" / "make_envs.py")
    make_envs = util.module_from_spec(spec)
    spec.loader.exec_module(make_envs)
    return make_envs


def test_env_files_equal_the_lock():
    make_envs = load_make_envs()
    reverse = {v: k for k, v in make_envs.CONDA_NAME.items()}
    pins = lock()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert {p.stem for p in envs} == set(make_envs.GROUPS)
    for path in envs:
        env = yaml.safe_load(path.read_text())
        assert env["channels"][0] == "conda-forge"
        specs = [d for d in env["dependencies"] if isinstance(d, str)]
        specs += [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
        for spec in specs:
            name, sep, version = spec.partition("==")
            if name == "pip":
                continue
            assert sep, f"{path.name}: {spec} is not an exact == pin"
            if name == "python":
                continue
            key = reverse.get(name, name).lower().replace("_", "-")
            assert pins.get(key) == version, f"{path.name}: {spec} differs from the lock ({pins.get(key)})"


def rule_blocks():
    """(name, text) of every rule definition in rules/*.smk, the statistics' one (defined in a loop,
    ``rule:`` with a ``name:``) included."""
    text = "".join(p.read_text() for p in sorted((ROOT / "rules").glob("*.smk")))
    out = []
    for block in re.split(r"^\s*rule\b", text, flags=re.M)[1:]:
        name = block.split(":")[0].strip()
        if not name:
            m = re.search(r"^\s*name:\s*(\S+)", block, flags=re.M)
            name = f"{m.group(1)} (loop)" if m else "(anonymous)"
        out.append((name, block))
    return out


def test_every_rule_has_a_conda_env_and_log():
    blocks = rule_blocks()
    assert len(blocks) >= 12
    assert "statistic (loop)" in dict(blocks), "the statistics' rule definition is not seen"
    for name, block in blocks:
        assert "conda:" in block, f"rule {name} has no conda env"
        assert "log:" in block, f"rule {name} has no log"
        assert "resources:" in block, f"rule {name} has no resources"
        for env in re.findall(r'"\.\./(envs/[\w.]+)"', block):
            assert (ROOT / env).exists(), f"rule {name}: {env} missing"


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_closure(names):
    """``names`` and everything they require (without extras), from the installed metadata."""
    from importlib import metadata

    from packaging.requirements import Requirement

    todo, seen = [_norm(n) for n in names], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def rule_scripts_and_envs():
    """(rule, entry script, env file) of every rule with a script."""
    out = []
    for name, block in rule_blocks():
        script = re.search(r'script:\s*"\.\./scripts/([\w.]+)"', block)
        env = re.search(r'conda:\s*"\.\./(envs/[\w.]+)"', block)
        if script:
            out.append((name, script.group(1), env and env.group(1)))
    return out


def test_every_rule_env_holds_what_its_script_imports():
    from importlib import metadata

    from nepflow import codehash

    reverse = {v: k for k, v in load_make_envs().CONDA_NAME.items()}
    dists = metadata.packages_distributions()  # import name -> distributions
    checked = rule_scripts_and_envs()
    assert len(checked) >= 12
    covered = {rule: (script, env) for rule, script, env in checked}
    # the statistics (one definition in a loop) and the archive (snakemake, rocrate) are among the checked
    assert covered["statistic (loop)"] == ("statistic.py", "envs/stats.yaml")
    assert covered["archive"] == ("archive.py", "envs/archive.yaml")
    missing = []
    for rule, script, env_file in checked:
        env = yaml.safe_load((ROOT / env_file).read_text())
        listed = [d for d in env["dependencies"] if isinstance(d, str)]
        listed += [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
        names = [reverse.get(n, n) for n in (s.partition("==")[0] for s in listed) if n not in ("python", "pip")]
        available = _installed_closure(names)
        for module in codehash.external_imports(ROOT / "scripts" / script):
            assert module in dists, f"{script} imports {module}, which is not installed"
            if not {_norm(d) for d in dists[module]} & available:
                missing.append(
                    f"rule {rule}: {script} imports {module} ({', '.join(dists[module])}), not in {env_file}"
                )
    assert not missing, "\n".join(missing)
