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


def test_env_files_equal_the_lock():
    from importlib import util

    spec = util.spec_from_file_location("make_envs", ROOT / "envs" / "make_envs.py")
    make_envs = util.module_from_spec(spec)
    spec.loader.exec_module(make_envs)
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


def test_every_rule_has_a_conda_env_and_log():
    text = "".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    rules = re.findall(r"^rule (\w+):", text, flags=re.M)
    assert len(rules) >= 12
    for block in re.split(r"^rule ", text, flags=re.M)[1:]:
        name = block.split(":")[0]
        assert "conda:" in block, f"rule {name} has no conda env"
        assert "log:" in block, f"rule {name} has no log"
        assert "resources:" in block, f"rule {name} has no resources"
        for env in re.findall(r'"\.\./(envs/[\w.]+)"', block):
            assert (ROOT / env).exists(), f"rule {name}: {env} missing"
