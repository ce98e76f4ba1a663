"""One logging helper for entry scripts: the rule's log file plus stderr."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from pathlib import Path

from .errors import NepflowError

log = logging.getLogger("nepflow")


def to_file(path: str | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send nepflow's log records to ``path`` (if given) and to stderr.

    Uncaught exceptions are written to the log with their traceback (a NepflowError
    never gets here: :func:`run` turns it into one line, ``ERROR: ...``).
    """
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    logging.captureWarnings(True)
    warnings.filterwarnings("default")

    def _hook(exc_type, exc, tb):
        log.error("uncaught exception", exc_info=(exc_type, exc, tb))
        for h in handlers:
            h.flush()

    sys.excepthook = _hook
    return log


def run(main, *args, **kwargs):
    """Call ``main``; exit 1 with a one-line message on NepflowError."""
    try:
        return main(*args, **kwargs)
    except NepflowError as exc:
        log.error("%s", exc)
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(1)


@contextlib.contextmanager
def phase(name: str):
    """Log the wall seconds of the enclosed step as ``phase <name>: <s> s``.

    The scale benchmark (benchmarks/run_scale.py) reads these lines from the
    jobs' logs to split a rule's time into reading, computing and writing.
    """
    t0 = time.perf_counter()
    try:
        yield
    finally:
        log.info("phase %s: %.3f s", name, time.perf_counter() - t0)
