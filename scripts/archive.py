"""The publication archive of a run (rule `archive`). Outputs: {run}/archive/nepflow-{run}.tar.gz and SHA256SUMS.

What goes in is documented in scripts/nepflow/archive.py.
"""
from pathlib import Path

from nepflow import archive, io, logs


def main(smk):
    p = smk.params
    archive.build(
        workdir=Path("."), code_root=Path(p["code_root"]), run=p["run"], run_dir=Path(p["run_dir"]),
        config=p["config"], data_dir=Path(p["data_dir"]), out_tar=Path(smk.output["archive"]),
        out_sums=Path(smk.output["sums"]), include_inputs=p["include_inputs"],
    )
    archive.verify(Path(smk.output["archive"]), Path(smk.output["sums"]))


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
