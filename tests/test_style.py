"""The declared style (pyproject.toml): ``ruff check``, ``ruff format --check`` and ``snakefmt --check`` report
nothing (a second each).

The tools are the pinned ones of the lock, run from the test's own environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow import ROOT, env

BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / cmd[0]), *cmd[1:]], cwd=ROOT, capture_output=True, text=True, env=env(), timeout=300
    )


def test_ruff_check_is_clean():
    proc = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert proc.returncode == 0, f"ruff check . found:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"


def test_snakefmt_check_is_clean():
    proc = run("snakefmt", "--check", "Snakefile", "rules")
    assert proc.returncode == 0, (
        f"snakefmt --check Snakefile rules: these would change (run `snakefmt Snakefile rules`):\n{proc.stderr[-4000:]}"
    )


def test_ruff_format_check_is_clean():
    proc = run("ruff", "format", "--check", "--no-cache", ".")
    assert proc.returncode == 0, f"ruff format --check . would reformat (run `ruff format .`):\n{proc.stdout[-4000:]}"
