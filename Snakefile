# nepflow: net ecosystem productivity (NEP = NPP - Rh) per year, and how the carbon sink changes.
#
#   per year Y:  retrieve -> regrid -> carbon           (independent per year)
#   aggregate:   series -> trend | hurst | stability | correlation -> classes -> tables, figures
#
# Config: config/config.yaml (the offline demo) validated against config/schema.yaml.
# Run: snakemake --cores N          (see README.md)
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from nepflow import config as nepflow_config  # noqa: E402
from nepflow.errors import NepflowError  # noqa: E402


configfile: Path(workflow.basedir) / "config" / "config.yaml"


report: "report/workflow.rst"


try:
    nepflow_config.check(config, Path(workflow.basedir) / "config" / "schema.yaml")
    validate(config, Path(workflow.basedir) / "config" / "schema.yaml", set_default=True)
    nepflow_config.check_semantics(config)
except NepflowError as exc:
    sys.stderr.write(f"ERROR: {exc}\n")
    sys.exit(1)


include: "rules/common.smk"
include: "rules/retrieve.smk"
include: "rules/regrid.smk"
include: "rules/carbon.smk"
include: "rules/analysis.smk"
include: "rules/report.smk"
include: "rules/ensemble.smk"
include: "rules/uncertainty.smk"
include: "rules/validation.smk"


rule all:
    """Every output of the run: per-year carbon, analyses, class maps, tables and figures."""
    input:
        all_outputs(),
    default_target: True


rule demo:
    """The same as `all` (the default config is the demo)."""
    input:
        all_outputs(),
