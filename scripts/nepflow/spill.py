"""Whole-grid fields kept on disk instead of in memory: one temporary NetCDF4 file of float32
variables chunked along the rows, written and read in blocks of rows (the regrid job's drivers
between their regridding and the forcing's assembly; docs/architecture.md, "How memory is bounded").

The file lies beside the output it serves, under a hidden name (``.<stem>.spill-*.nc``), and is
removed when the job ends, on success or failure (:func:`spill_beside`); leftovers of a job killed
with SIGKILL are removed by the next attempt. Values are stored as given, without compression or
fill values (the file is read once, by the same job).
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import NepflowError


class Spill:
    """Float32 fields (…, y, x) of a ``ny`` x ``nx`` grid in one NetCDF4 file, chunked by ``rows``
    rows (one leading index, e.g. a month, per chunk), so a block of rows reads and writes whole
    chunks."""

    def __init__(self, path: Path, ny: int, nx: int, rows: int):
        import netCDF4

        self.path, self.ny, self.nx, self.rows = Path(path), int(ny), int(nx), max(1, min(int(rows), int(ny)))
        self._nc = netCDF4.Dataset(self.path, "w", format="NETCDF4")
        self._nc.set_fill_off()  # every value is written before it is read
        self._nc.createDimension("y", self.ny)
        self._nc.createDimension("x", self.nx)

    def create(self, name: str, lead: tuple[int, ...] = ()) -> None:
        """A variable ``name`` of shape ``lead + (ny, nx)``."""
        dims = []
        for n in lead:
            dim = f"lead{n}"
            if dim not in self._nc.dimensions:
                self._nc.createDimension(dim, n)
            dims.append(dim)
        var = self._nc.createVariable(
            name, "f4", (*dims, "y", "x"), chunksizes=(*(1 for _ in lead), self.rows, self.nx), fill_value=False
        )
        var.set_auto_maskandscale(False)
        # no chunk cache: blocks read and write whole chunks, and the library's default cache (64 MB a
        # variable, filled with the chunks written) would keep up to that much of every driver in
        # memory. Set after the definition ends (sync): netCDF-C resets it when the definition ends.
        self._nc.sync()
        var.set_var_chunk_cache(size=0, nelems=0, preemption=1.0)

    def write(self, name: str, rows: slice, values: np.ndarray) -> None:
        """Store ``values`` (lead…, rows, x) as rows ``rows`` of ``name``."""
        self._nc[name][..., rows, :] = np.asarray(values, "float32")

    def read(self, name: str, rows: slice = slice(None)) -> np.ndarray:
        """Rows ``rows`` of ``name`` (lead…, rows, x), float32."""
        return np.asarray(self._nc[name][..., rows, :])

    def read_at(self, name: str, lead: int) -> np.ndarray:
        """One leading index (e.g. a month) of ``name`` on the whole grid (y, x)."""
        return np.asarray(self._nc[name][lead])

    def write_at(self, name: str, lead: int, values: np.ndarray) -> None:
        """Store ``values`` (y, x) as leading index ``lead`` of ``name``."""
        self._nc[name][lead] = np.asarray(values, "float32")

    def close(self) -> None:
        if self._nc.isopen():
            self._nc.close()


@contextlib.contextmanager
def spill_beside(output, ny: int, nx: int, rows: int):
    """A :class:`Spill` in a hidden file beside ``output`` (its folder is made if missing), removed
    when the block ends, whether it succeeds or raises."""
    output = Path(output)
    prefix = f".{output.stem}.spill-"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        for stale in output.parent.glob(f"{glob.escape(prefix)}*.nc"):  # a killed attempt's leftover
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".nc", dir=output.parent)
        os.close(fd)
    except OSError as exc:
        raise NepflowError(f"cannot write a temporary file beside {output}: {exc.strerror or exc}") from exc
    tmp = Path(tmp)
    spill = None
    try:
        spill = Spill(tmp, ny, nx, rows)
        yield spill
    finally:
        if spill is not None:
            spill.close()
        tmp.unlink(missing_ok=True)
