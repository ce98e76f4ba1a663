"""Config validation with one-line errors naming the key.

The Snakefile calls :func:`check` before building the DAG: JSON-Schema
validation (``config/schema.yaml``), then checks a schema cannot express
(years in order, provinces known, CRS accepted by PROJ, paths inside the
work directory). Defaults are filled in by ``snakemake.utils.validate``.
"""
from __future__ import annotations

from pathlib import Path, PurePath

import jsonschema
import yaml

from .errors import NepflowError


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def schema_errors(config: dict, schema: dict) -> list[str]:
    """One line per schema violation, most relevant first."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path))))
    lines = []
    for err in errors:
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            allowed = ", ".join(err.schema.get("properties", {}))
            for name in extra:
                lines.append(f"config key {_key([*err.path, name])}: unknown key; expected one of {allowed}")
            continue
        msg = err.message
        if err.validator == "enum":
            msg = f"{err.instance!r} is not allowed; expected one of {', '.join(map(repr, err.validator_value))}"
        elif err.validator == "type":
            msg = f"expected {err.validator_value}, got {err.instance!r}"
        lines.append(f"config key {_key(err.path)}: {msg}")
    return [" ".join(line.split()) for line in lines]


def check(config: dict, schema_path) -> None:
    """Raise NepflowError (one line naming the key) for an invalid config."""
    schema = yaml.safe_load(open(schema_path))
    errs = schema_errors(config, schema)
    if errs:
        raise NepflowError(errs[0] + (f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""))


def check_semantics(config: dict) -> None:
    """Checks beyond the schema; ``config`` has its defaults filled in."""
    from . import grid, regions, sources

    y = config["years"]
    if y["start"] > y["end"]:
        raise NepflowError(f"config key years: start {y['start']} is after end {y['end']}; expected start <= end")
    if config["region"].get("vector_file") is None:
        if not config["region"]["provinces"]:
            raise NepflowError("config key region.provinces: the region is empty; expected at least one province")
        for name in config["region"]["provinces"]:
            regions.english_name(name)
    grid.parse_crs(config["grid"]["crs"])
    if config["grid"]["resolution"] <= 0:
        raise NepflowError(f"config key grid.resolution: expected a positive number, got {config['grid']['resolution']}")
    for product in sources.PRODUCTS:  # sources.* also holds settings (bbox, download, cds, ...)
        source = config["sources"].get(product)
        if source is not None:
            sources.check_choice(product, source)
    from .carbon import annual as carbon_annual

    models = carbon_annual.ensemble(carbon_annual.with_defaults(config["carbon"]))
    if "mod17" in models and not config["sources"].get("npp"):
        raise NepflowError("config key sources.npp: carbon.npp or carbon.models has mod17 but no NPP source is set; "
                           "expected earthdata or local")
    if config["validation"]["window"] % 2 == 0:
        raise NepflowError(f"config key validation.window: {config['validation']['window']}; expected an odd number "
                           "of pixels (the window is centred on the site)")
    ids = [s["id"] for s in config["validation"]["sites"]]
    for site in config["validation"]["sites"]:
        if ids.count(site["id"]) > 1:
            raise NepflowError(f"config key validation.sites: site id {site['id']!r} appears twice; expected unique ids")
        if not config.get("allow_outside_paths"):
            check_inside(site["file"], f"config key validation.sites ({site['id']}).file")
        if not Path(site["file"]).is_file():
            raise NepflowError(f"config key validation.sites ({site['id']}): {site['file']}: file not found; expected "
                               "a FLUXNET2015-format CSV")
    if not config.get("allow_outside_paths"):
        for key in ("results_dir", "data_dir"):
            check_inside(config[key], f"config key {key}")


def check_inside(path: str, what: str) -> None:
    """Reject absolute paths and '..' (paths must stay inside the work directory)."""
    p = PurePath(path)
    if p.is_absolute() or ".." in p.parts:
        raise NepflowError(
            f"{what}: {path!r} points outside the work directory; expected a relative path without '..' "
            "(set allow_outside_paths: true to allow it)"
        )
