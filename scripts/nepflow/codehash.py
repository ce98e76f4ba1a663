"""The library code a job runs, as one hash: the rerun trigger for library edits.

Snakemake reruns a job when its entry script is newer than its outputs, but it does not see
the library the script imports. Each rule therefore carries a ``code`` param (``rules/common.smk``):
a hash of its entry script and of every module of the ``nepflow`` package that script imports,
transitively, found statically with :mod:`ast` (nothing is imported or run). An edit of
``nepflow/carbon/tec.py`` changes the hash of the rules whose scripts reach it (``carbon``),
and so reruns them and what follows, through Snakemake's params trigger; other rules keep
their hash.

What counts as an import of a module:

- ``import nepflow.x``, ``from nepflow import x``, ``from . import x``, ``from .x import y``,
  at the top of the module or inside a function (a lazy import is still code the job may run);
  the packages above a module count too (their ``__init__.py`` runs first);
- an import by a computed name (``importlib.import_module(f"{__name__}.{source}")``, the
  source registry) counts as importing every module of that package, following their top-level
  imports only (and those modules' top-level imports): a source module's lazy imports serve
  its ``retrieve``, and retrieval is not code-triggered (its files are defined by the request
  and, for the demo, by the generator version in the cache key);
- a module run as a program (``[sys.executable, "-m", "snakemake", ...]``);
- a data file beside a module whose name the module spells out (``variables.yml``).

Not followed: :data:`NOT_RUN_BY_JOBS`, the command line's own module (``nepflow.cli``: a script run from
a shell builds its job object there, from the config; a job gets Snakemake's object and never runs it).
Following it would put the plan-time config checks and the rules' params table into every rule's hash
(an edit of them would rerun every job) and their imports into every rule's environment.

The hash depends only on the files' contents and their paths relative to ``scripts/``, so it
is the same in any clone and on any machine. Each file is parsed once (the scans are kept in
``__pycache__``, by file digest) and hashed once per process.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

PACKAGE = "nepflow"
#: Modules no job runs (see the module's doc): not followed.
NOT_RUN_BY_JOBS = frozenset({"nepflow.cli"})


#: Scan results by file digest, kept between runs in the package's __pycache__ (a no-op
#: ``snakemake -n`` parses nothing; an edited file is parsed again).
CACHE = Path("__pycache__") / "codehash-2.json"
_DATA_NAME = re.compile(r"[\w.-]+\.\w+")


def _stamp(path: Path) -> tuple:
    """What identifies a file's version for the in-process caches."""
    st = path.stat()
    return path, st.st_mtime_ns, st.st_size


@lru_cache(maxsize=None)
def _digest(stamp: tuple) -> str:
    return hashlib.sha256(stamp[0].read_bytes()).hexdigest()


@lru_cache(maxsize=None)
def _module_file(root: Path, name: str) -> Path | None:
    """The file of module ``name`` (``nepflow.carbon.tec``) under ``root`` (``scripts/``), if any."""
    base = root.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _computed_import(node: ast.Call) -> bool:
    """``importlib.import_module(<not a literal>)`` or ``__import__(<not a literal>)``."""
    f = node.func
    called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    return called in ("import_module", "__import__") and bool(node.args) and not isinstance(node.args[0], ast.Constant)


def _parse(source: bytes, path: Path, name: str) -> list:
    """[top-level imports, lazy imports, computed import?, names of possible data files] of one
    file: imports as written (absolute, or ``.``-prefixed relative module names)."""
    tree = ast.parse(source, filename=str(path))
    top_nodes = {id(n) for n in tree.body}
    top, lazy, computed, strings = set(), set(), False, set()
    for node in ast.walk(tree):
        into = top if id(node) in top_nodes else lazy
        if isinstance(node, ast.Import):
            into.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            into.add(base)
            into.update(f"{base}{'' if base.endswith('.') else '.'}{alias.name}" for alias in node.names)
        elif isinstance(node, (ast.List, ast.Tuple)):  # a module run as a program: [..., "-m", "name", ...]
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            into.update(v for m, v in zip(values, values[1:]) if m == "-m" and isinstance(v, str))
        elif isinstance(node, ast.Call) and _computed_import(node):
            computed = True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DATA_NAME.fullmatch(node.value):
            strings.add(node.value)
    return [sorted(top), sorted(lazy), computed, sorted(s for s in strings if not s.endswith(".py"))]


class _Scanner:
    """Scans of the files under one ``scripts/`` folder, cached by digest on disk."""

    def __init__(self, root: Path):
        self.root = root
        self.cache_file = root / PACKAGE / CACHE
        try:
            self.cache = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            self.cache = {}
        self.used, self.dirty = {}, False
        self.written = {}  # path -> (top-level, lazy) imports as written

    def scan(self, path: Path, name: str) -> tuple[set, set, bool, set]:
        """(top-level imports, lazy imports, computed import?, data files) of one file; imports
        are module names inside the package, data files paths beside it."""
        digest = _digest(_stamp(path))
        raw = self.cache.get(digest)
        if raw is None:
            raw = _parse(path.read_bytes(), path, name)
            self.dirty = True
        self.used[digest] = raw
        self.written[path] = raw[:2]
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        top, lazy = (self._resolve(written, package) for written in raw[:2])
        beside = {s: path.parent / s for s in raw[3]}
        return top, lazy, raw[2], {p for p in beside.values() if p.is_file()}

    def _resolve(self, written, package: str) -> set:
        out = set()
        for w in written:
            level = len(w) - len(w.lstrip("."))
            if level:
                parts = package.split(".")
                w = ".".join(parts[: len(parts) - level + 1] + ([w[level:]] if w[level:] else []))
            if w.split(".")[0] == PACKAGE and (w.count(".") == 0 or _module_file(self.root, w)):
                out.update(_parents(w))
        return out

    def save(self):
        if not self.dirty:
            return
        try:
            self.cache_file.parent.mkdir(exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.cache_file.parent, delete=False) as f:
                json.dump(self.used, f, sort_keys=True)
            os.replace(f.name, self.cache_file)
            self.dirty = False
        except OSError:  # a read-only checkout: parse again next time
            pass


@lru_cache(maxsize=None)
def _scanner(root: Path) -> _Scanner:
    return _Scanner(root)


def _package_modules(root: Path, package: str) -> list[str]:
    folder = root.joinpath(*package.split("."))
    names = []
    for f in sorted(folder.rglob("*.py")):
        rel = f.relative_to(root).with_suffix("").parts
        names.append(".".join(rel[:-1] if rel[-1] == "__init__" else rel))
    return names


def _walk(script: Path) -> tuple[_Scanner, dict[Path, bool]]:
    """The files ``script`` runs -> whether all their imports are followed (False: top-level only)."""
    root = script.parent
    scanner = _scanner(root)
    reached = {script: True}
    full: set[str] = set()  # modules whose every import is followed
    shallow: set[str] = set()  # reached only through a computed import: top-level imports followed
    top, lazy, _, _ = scanner.scan(script, "__main__")
    todo = [(m, True) for m in top | lazy]
    while todo:
        name, deep = todo.pop()
        if name in full or (not deep and name in shallow) or name in NOT_RUN_BY_JOBS:
            continue
        path = _module_file(root, name)
        if path is None:  # a name imported from a module (``from nepflow.x import f``), not a module
            continue
        (full if deep else shallow).add(name)
        reached[path] = reached.get(path, False) or deep
        top, lazy, computed, data = scanner.scan(path, name)
        reached.update({d: True for d in data})
        todo += [(m, deep) for m in top] + ([(m, True) for m in lazy] if deep else [])
        if computed:
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            todo += [(m, False) for m in _package_modules(root, package) if m != name]
    scanner.save()
    return scanner, reached


def dependencies(script: str | Path) -> tuple[str, ...]:
    """The files (relative to ``scripts/``, sorted) that ``script`` runs: itself, the library
    modules it imports (transitively) and their data files."""
    script = Path(script).resolve()
    _, reached = _walk(script)
    return tuple(sorted(f.relative_to(script.parent).as_posix() for f in reached))


def external_imports(script: str | Path) -> tuple[str, ...]:
    """The top-level names of the modules outside the package and the standard library that
    ``script`` imports or runs, through the same files as :func:`dependencies` (for checking
    a rule's environment)."""
    scanner, reached = _walk(Path(script).resolve())
    names = set()
    for path, deep in reached.items():
        top, lazy = scanner.written.get(path, ((), ()))
        names.update(w.split(".")[0] for w in (*top, *(lazy if deep else ())) if not w.startswith("."))
    return tuple(sorted(n for n in names if n != PACKAGE and n not in sys.stdlib_module_names))


def script_hash(script: str | Path) -> str:
    """A short SHA-256 over the paths and contents of :func:`dependencies` of ``script``."""
    root = Path(script).resolve().parent
    h = hashlib.sha256()
    for rel in dependencies(script):
        h.update(rel.encode() + b"\0" + bytes.fromhex(_digest(_stamp(root / rel))))
    return h.hexdigest()[:16]
