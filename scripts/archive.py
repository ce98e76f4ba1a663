"""The publication archive of a run (rule `archive`). Outputs: {run}/archive/nepflow-{run}.tar.gz and SHA256SUMS.

What goes in is documented in scripts/nepflow/archive.py.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from nepflow import archive, files, jobs, logs


def make_report(snakefile, config, out):
    """`snakemake --report out` for the run (read-only: --nolock beside the running workflow)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(config, f)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--nolock",
        "--report",
        str(out),
        "--configfile",
        f.name,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    Path(f.name).unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake --report failed: {proc.stderr[-2000:]}")


def main(smk):
    p = smk.params
    run_dir = Path(smk.output["archive"]).parent.parent  # results/{run}/archive/… -> results/{run}
    report = run_dir / "report.zip"
    with files.atomic_path(report, suffix=".zip") as tmp:
        make_report(Path(p["code_root"]) / "Snakefile", p["config"], tmp)
    archive.build(
        workdir=Path("."),
        code_root=Path(p["code_root"]),
        run=p["run"],
        run_dir=run_dir,
        config=p["config"],
        data_dir=Path(p["data_dir"]),
        out_tar=Path(smk.output["archive"]),
        out_sums=Path(smk.output["sums"]),
        include_inputs=p["include_inputs"],
    )
    archive.verify(Path(smk.output["archive"]), Path(smk.output["sums"]))


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
