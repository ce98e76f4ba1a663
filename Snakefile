# nepflow: net ecosystem productivity (NEP = NPP - Rh) per year, and how the carbon sink changes.
#
#   per year Y:  retrieve -> regrid -> carbon           (independent per year)
#   aggregate:   series -> trend | hurst | stability | correlation -> classes -> tables, figures
#
# Config: config/config.yaml (the offline demo) validated against config/schema.yaml.
# Run: snakemake --cores N          (see README.md)
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from nepflow import archive as nepflow_archive, config as nepflow_config  # noqa: E402
from nepflow.errors import NepflowError  # noqa: E402

DEFAULT_CONFIG = Path(workflow.basedir) / "config" / "config.yaml"
SCHEMA = Path(workflow.basedir) / "config" / "schema.yaml"
try:  # Snakemake's own message for a broken config file names neither the file nor the line
    nepflow_config.load_yaml(DEFAULT_CONFIG)
except NepflowError as exc:
    sys.stderr.write(f"ERROR: {exc}\n")
    sys.exit(1)


configfile: DEFAULT_CONFIG


report: "report/workflow.rst"


# Every config error stops the run here, before any job: Snakemake deletes a job's old outputs
# before it runs the job, so an error found inside one would cost the user that result.
try:
    # nested --config values arrive as strings: they are read as the types the schema declares
    PLAN = nepflow_config.validate(config, SCHEMA, workflow.config_settings.overwrite_config)
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


# What the report's landing page (report/workflow.rst) says of the code: the nepflow version and the commit.
# Set after the rules took their params from the config (it is no param: a new commit reruns nothing) and
# never validated (no user key: the schema rejects one of this name).
config["nepflow"] = nepflow_archive.code_version(Path(workflow.basedir))


rule all:
    """Every output of the run: per-year carbon, analyses, class maps, tables and figures."""
    input:
        all_outputs(),
    default_target: True


rule demo:
    """The same as `all` (the default config is the demo)."""
    input:
        all_outputs(),
