"""Writing files atomically: a file is written under a temporary name in the same folder and moved
into place only when complete, so a killed job never leaves a file that looks finished; a set of
files appears together or not at all (:func:`staged`). Write errors are one line naming the file.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from pathlib import Path

from .errors import NepflowError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None, clean_stale: bool = True):
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    Errors writing to the folder (missing permission, disk full) become a
    one-line NepflowError naming ``path``. ``clean_stale`` first removes the
    temporary files of earlier attempts killed with SIGKILL; a shared download
    cache sets it False, since another job may be fetching the same file now.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # leftovers of an attempt killed with SIGKILL (no cleanup ran) go first
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*") if clean_stale else ():
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise NepflowError(f"cannot write {path}: {_why(exc, path.parent)}") from exc
    tmp = Path(tmp)
    try:
        # mkstemp makes 0600 files; outputs get the usual permissions (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise NepflowError(f"cannot write {path}: {_why(exc, path.parent)}") from exc
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        # netCDF4 ("NetCDF: HDF error") and GDAL report a full disk without errno: say what it is
        if isinstance(exc, Exception) and _disk_full(path.parent):
            raise NepflowError(f"cannot write {path}: no space left on device") from exc
        raise


@contextlib.contextmanager
def staged(paths):
    """Yield a hidden staging path beside each of ``paths``; move them all into place only if the
    block succeeds (a set of outputs appears together or not at all; earlier files stay untouched
    on failure). Write each staging path with :func:`atomic_path` (as :func:`nepflow.netcdf.write_netcdf` and
    :func:`nepflow.cog.write_cog` do); hidden files left by a SIGKILL are overwritten or removed by the next
    write of the same set."""
    paths = [Path(p) for p in paths]
    stage = [p.parent / f".{p.name}.staged{p.suffix}" for p in paths]
    try:
        yield stage
    except BaseException as exc:
        for s in stage:
            with contextlib.suppress(OSError):  # e.g. a folder that could not be made
                s.unlink(missing_ok=True)
        if isinstance(exc, NepflowError):  # name the output, not its staging file
            msg = str(exc)
            for s, p in zip(stage, paths):
                msg = msg.replace(str(s), str(p))
            raise NepflowError(msg) from exc
        raise
    for s, p in zip(stage, paths):
        os.replace(s, p)


def _why(exc: OSError, folder: Path) -> str:
    """The reason of a failed write; HDF5 reports a full disk as 'Permission denied'."""
    return "no space left on device" if _disk_full(folder) else (exc.strerror or str(exc))


def _disk_full(folder: Path, floor: int = 1 << 20) -> bool:
    """True if ``folder``'s file system has less than ``floor`` bytes free."""
    try:
        return shutil.disk_usage(folder).free < floor
    except OSError:
        return False


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
