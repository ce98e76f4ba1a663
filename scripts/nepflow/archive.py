"""The publication archive: code, config, environments, inputs' manifests, outputs, provenance.

``results/{run}/archive/nepflow-{run}.tar.gz`` with ``SHA256SUMS`` beside it.
Inside, under ``nepflow-{run}/``:

- ``workflow/``: the code as it ran (Snakefile, rules, scripts, config,
  envs, profiles, report captions, lock, README, Makefile) and ``GIT.txt``
  with the commit and a warning when the tree had uncommitted changes;
- ``config.effective.yaml``: the run's config with every default filled in;
- ``inputs/``: the retrieval manifests (URLs, product versions, sha256) of
  real sources; demo inputs are regenerated offline from the archived code
  and config (deterministic), or included with ``include_inputs``;
- ``results/{run}/``: every output but the per-year forcing (large, and
  recomputed from the inputs), with logs and benchmarks;
- ``MANIFEST.tsv``: every archived file with its size and SHA-256, and
  ``checksums.json``: the data checksum of every NetCDF output
  (``provenance.data_checksum``), which a rerun from the archive reproduces;
- ``provenance.json``: per output, the rule, inputs with sha256, params and
  software versions (from the file's own attributes);
- ``ro-crate-metadata.json``: RO-Crate 1.1 (Workflow Run Crate profile)
  describing the workflow, the run, its inputs and outputs.

Secrets never enter: credentials are read from the environment or ~/.netrc /
~/.cdsapirc by the sources and never stored in config, params or files, and
:func:`scan_for_secrets` refuses to finish an archive containing a known one.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import yaml

from . import files, provenance
from .errors import NepflowError

CODE = [
    "Snakefile",
    "rules",
    "scripts",
    "config",
    "envs",
    "profiles",
    "report",
    "requirements.txt",
    "requirements.lock",
    "README.md",
    "Makefile",
    "docs",
]
SECRET_ENV = ("EARTHDATA_PASSWORD", "EARTHDATA_TOKEN", "CDSAPI_KEY")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def git_commit(root: Path) -> tuple[str, str] | None:
    """(commit, ``git status --porcelain`` of the tracked files: empty when clean) of the code at ``root``;
    None when ``root`` is not the top of a git checkout (an unpacked archive, even inside another
    repository) or git is missing."""
    try:
        if Path(_git(root, "rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return None
        return _git(root, "rev-parse", "HEAD"), _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None


def git_state(root: Path) -> str:
    """Commit and cleanliness of the code tree, as text."""
    state = git_commit(root)
    if state is None:
        return "commit: unknown (not a git checkout)\n"
    commit, dirty = state
    text = f"commit: {commit}\n"
    if dirty:
        text += "WARNING: the code had uncommitted changes when this archive was made:\n" + dirty + "\n"
    return text


def code_version(root: Path) -> dict[str, str]:
    """The nepflow version (``nepflow.__version__``, the one CITATION.cff states) and the commit of the code
    at ``root``: its short hash, with ``dirty`` when tracked files have uncommitted changes (the report's
    landing page shows both)."""
    from . import __version__

    state = git_commit(root)
    if state is None:
        commit = "unknown (not a git checkout)"
    else:
        commit = state[0][:7] + (", dirty (uncommitted changes)" if state[1] else "")
    return {"version": __version__, "commit": commit}


def code_files(root: Path) -> list[Path]:
    """Files of the workflow's code, relative to ``root`` (no caches)."""
    out = []
    for name in CODE:
        p = root / name
        if p.is_file():
            out.append(Path(name))
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and not f.name.endswith(".pyc"):
                    out.append(f.relative_to(root))
    return out


def output_files(run_dir: Path, exclude=("forcing", "archive")) -> list[Path]:
    """Every file of a run's results folder but the excluded subfolders, sorted."""
    return sorted(
        f
        for f in run_dir.rglob("*")
        if f.is_file()
        and f.relative_to(run_dir).parts[0] not in exclude
        and not f.name.startswith(".")
        and f.relative_to(run_dir).as_posix() != "logs/archive.log"
    )


def provenance_records(paths, workdir: Path) -> dict:
    """Per NetCDF output: rule, inputs with sha256, params, software (from its attributes)."""
    import xarray as xr

    records = {}
    for f in paths:
        if f.suffix != ".nc":
            continue
        with xr.open_dataset(f, engine="netcdf4", decode_cf=False) as ds:
            a = ds.attrs
        if "nepflow_rule" not in a:
            continue
        inputs = json.loads(a.get("nepflow_inputs", "[]"))
        records[str(f.relative_to(workdir))] = {
            "rule": a["nepflow_rule"],
            "inputs": {p: (provenance.file_sha256(workdir / p) if (workdir / p).is_file() else None) for p in inputs},
            "params": json.loads(a.get("nepflow_params", "{}")),
            "software": json.loads(a.get("nepflow_software", "{}")),
            "sha256": provenance.file_sha256(f),
        }
    return records


def ro_crate(
    run: str, code: list[Path], outputs: list[Path], manifests: list[Path], config: dict, software: dict
) -> str:
    """RO-Crate metadata (JSON text) of the run, built with the ``rocrate`` package."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    crate = ROCrate()
    crate.name = f"nepflow run {run}"
    crate.description = (
        "Net ecosystem productivity (NEP = NPP - Rh) per year and its trend, persistence, "
        "stability and climate correlations, computed by the nepflow Snakemake workflow."
    )
    crate.license = "https://spdx.org/licenses/MIT"
    wf = crate.add_workflow(
        dest_path="workflow/Snakefile",
        main=True,
        lang="snakemake",
        properties={"name": "nepflow", "version": software.get("nepflow")},
    )
    for p in code:
        if str(p) != "Snakefile":
            crate.add_file(dest_path=f"workflow/{p}", properties={"encodingFormat": "text/plain"})
    ins = [crate.add_file(dest_path=f"inputs/{m}", properties={"name": f"retrieval manifest {m}"}) for m in manifests]
    cfg = crate.add_file(
        dest_path="config.effective.yaml",
        properties={"name": "effective configuration", "encodingFormat": "application/yaml"},
    )
    outs = [crate.add_file(dest_path=f"results/{run}/{p}", properties={"encodingFormat": _format(p)}) for p in outputs]
    tools = [
        crate.add(
            ContextEntity(
                crate,
                f"#software-{name}",
                properties={"@type": "SoftwareApplication", "name": name, "version": version},
            )
        )
        for name, version in sorted(software.items())
    ]
    crate.add_action(
        wf,
        identifier="#run",
        properties={"name": f"nepflow run {run}", "description": f"config sha256 {provenance.config_hash(config)}"},
        object=[cfg, *ins],
        result=outs,
    )
    crate.root_dataset["mentions"] = [{"@id": "#run"}]
    wf["softwareRequirements"] = tools
    text = json.dumps(crate.metadata.generate(), indent=2, sort_keys=True)
    return text


def _format(p: Path) -> str:
    return {
        ".nc": "application/netcdf",
        ".tif": "image/tiff",
        ".png": "image/png",
        ".pdf": "application/pdf",
        ".csv": "text/csv",
        ".md": "text/markdown",
        ".tsv": "text/tab-separated-values",
        ".log": "text/plain",
        ".zip": "application/zip",
        ".html": "text/html",
    }.get(p.suffix, "application/octet-stream")


def scan_for_secrets(blobs: dict[str, bytes], secrets=None) -> None:
    """Raise if any archived file contains a credential from the environment."""
    secrets = [
        s for s in (secrets if secrets is not None else [os.environ.get(k) for k in SECRET_ENV]) if s and len(s) >= 4
    ]
    for name, data in blobs.items():
        for s in secrets:
            if s.encode() in data:
                raise NepflowError(f"archive: {name} contains a credential; refusing to write the archive")


def build(
    workdir: Path,
    code_root: Path,
    run: str,
    run_dir: Path,
    config: dict,
    data_dir: Path,
    out_tar: Path,
    out_sums: Path,
    include_inputs: bool = False,
) -> None:
    """Write the archive ``out_tar`` and its ``SHA256SUMS`` (``out_sums``)."""
    prefix = f"nepflow-{run}"
    blobs: dict[str, bytes] = {}
    code = code_files(code_root)
    for p in code:
        blobs[f"workflow/{p}"] = (code_root / p).read_bytes()
    blobs["workflow/GIT.txt"] = git_state(code_root).encode()
    blobs["config.effective.yaml"] = yaml.safe_dump(config, sort_keys=True, allow_unicode=True).encode()
    manifests = sorted(data_dir.rglob("manifest*.json")) if data_dir.exists() else []
    rel_manifests = [m.relative_to(data_dir) for m in manifests]
    for m, rel in zip(manifests, rel_manifests):
        blobs[f"inputs/{rel}"] = m.read_bytes()
    if include_inputs and data_dir.exists():
        for f in sorted(data_dir.rglob("*")):
            if f.is_file():
                blobs[f"inputs/{f.relative_to(data_dir)}"] = f.read_bytes()
    outputs = output_files(run_dir)
    for f in outputs:
        blobs[f"results/{run}/{f.relative_to(run_dir)}"] = f.read_bytes()
    checksums = {str(f.relative_to(run_dir)): provenance.data_checksum(f) for f in outputs if f.suffix == ".nc"}
    blobs["checksums.json"] = json.dumps(checksums, indent=1, sort_keys=True).encode()
    blobs["provenance.json"] = json.dumps(provenance_records(outputs, workdir), indent=1, sort_keys=True).encode()
    software = provenance.software_versions()
    blobs["ro-crate-metadata.json"] = ro_crate(
        run, code, [f.relative_to(run_dir) for f in outputs], rel_manifests, config, software
    ).encode()
    manifest = "path\tbytes\tsha256\n" + "".join(
        f"{name}\t{len(data)}\t{provenance.sha256_bytes(data)}\n" for name, data in sorted(blobs.items())
    )
    blobs["MANIFEST.tsv"] = manifest.encode()
    scan_for_secrets(blobs)

    with files.atomic_path(out_tar, suffix=".tar.gz") as tmp:
        with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            for name, data in sorted(blobs.items()):
                info = tarfile.TarInfo(f"{prefix}/{name}")
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0  # no timestamps: the same run gives the same archive members
                tar.addfile(info, io.BytesIO(data))
    files.write_text(f"{provenance.file_sha256(out_tar)}  {out_tar.name}\n", out_sums)


def verify(tar_path: Path, sums_path: Path) -> None:
    """Check an archive against its SHA256SUMS and its internal MANIFEST.tsv."""
    expected = sums_path.read_text().split()[0]
    if provenance.file_sha256(tar_path) != expected:
        raise NepflowError(f"{tar_path}: SHA-256 differs from {sums_path}")
    with tarfile.open(tar_path) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if m.isfile()}
        manifest = tar.extractfile(members["MANIFEST.tsv"]).read().decode().splitlines()[1:]
        for line in manifest:
            name, size, sha = line.split("\t")
            data = tar.extractfile(members[name]).read()
            if len(data) != int(size) or provenance.sha256_bytes(data) != sha:
                raise NepflowError(f"{tar_path}: member {name} differs from MANIFEST.tsv")
