"""Provenance: how an output was made, recorded in its global attributes.

Every output carries the nepflow version, the versions of the libraries that
computed it, the job's inputs (as given, relative to the work directory), the
job's parameters as canonical JSON and their SHA-256. No wall-clock time is
recorded, so the same inputs and config give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata

#: The params key of a rule's code hash (nepflow.ruleparams, nepflow.codehash).
CODE_PARAM = "code"
SOFTWARE = ("numpy", "scipy", "pandas", "xarray", "rioxarray", "rasterio", "netCDF4", "numba", "dask", "snakemake")


def canonical_json(obj) -> str:
    """JSON with sorted keys and no whitespace: the same object gives the same text."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(obj):
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): _plain(v) for k, v in dict(obj).items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def config_hash(config) -> str:
    """SHA-256 of the canonical JSON of a config (or any params mapping)."""
    return sha256_text(canonical_json(config))


def file_sha256(path, block=1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of Python, nepflow and the scientific libraries."""
    from . import __version__

    out = {"python": platform.python_version(), "nepflow": __version__}
    for name in SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def attrs(rule: str, inputs=(), params=None, kind: str | None = None) -> dict[str, str]:
    """Global attributes recording how an output was made (with CF's ``title``, ``history`` and
    ``references`` of the file ``kind``, by default the rule's: :data:`nepflow.cf.TITLES`). The rule's
    code hash is left out of the params (a rerun trigger, not a setting: a library edit that changes
    no number leaves the file's checksum alone; the archive records the code itself)."""
    from . import cf

    params = {k: v for k, v in dict(params or {}).items() if k != CODE_PARAM}
    version = software_versions()["nepflow"]
    return {
        **cf.file_attrs(kind or rule, version),
        "source": f"nepflow {version}, rule {rule}",
        "nepflow_rule": rule,
        "nepflow_inputs": canonical_json([str(p) for p in inputs]),
        "nepflow_params": canonical_json(params),
        "nepflow_params_sha256": config_hash(params),
        "nepflow_software": canonical_json(software_versions()),
    }


def attach(ds, rule: str, inputs=(), params=None):
    """Add provenance attributes to ``ds`` (in place) and return it."""
    ds.attrs.update(attrs(rule, inputs, params))
    ds.attrs.setdefault("Conventions", "CF-1.8")
    return ds


def data_checksum(path) -> str:
    """SHA-256 over a NetCDF file's variables: names, values (bytes) and attributes.

    Independent of HDF5 layout details; two runs that computed the same
    numbers with the same metadata give the same checksum.
    """
    import numpy as np
    import xarray as xr

    h = hashlib.sha256()
    with xr.open_dataset(path, engine="netcdf4", decode_cf=False) as ds:
        h.update(canonical_json(ds.attrs).encode())
        for name in sorted(ds.variables):
            v = ds[name]
            h.update(name.encode())
            h.update(canonical_json({k: str(a) for k, a in v.attrs.items()}).encode())
            h.update(np.ascontiguousarray(v.values).tobytes())
    return h.hexdigest()
