"""Config validation with one-line errors naming the key.

The Snakefile calls :func:`check` before building the DAG: JSON-Schema
validation (``config/schema.yaml``), then :func:`check_semantics`: every
constraint a job would enforce, checked by the very function the job calls
(carbon parameters, class thresholds, grid bounds and size, the years the
statistics need, the vector and station files, the years a product covers),
so a config error never costs a finished result (Snakemake deletes a job's old
outputs before running it). The schema is the one place of every default: :func:`fill`
puts them in (jsonschema validates the config once per process, in :func:`check`), and
:func:`defaults` gives them to code that runs without a config (tests, benchmarks).
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePath

import yaml

from .errors import NepflowError
from .schema import SCHEMA, defaults, fill, load_schema  # noqa: F401  (nepflow.config.defaults for tests)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def schema_errors(config: dict, schema: dict) -> list[str]:
    """One line per schema violation, most relevant first."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path))))
    lines = []
    for err in errors:
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            allowed = ", ".join(err.schema.get("properties", {}))
            for name in extra:
                hint = ""
                if ":" in str(name):  # --config 'grid={resolution:0.1}': YAML reads one key without the space
                    hint = "; a key: value pair needs a space after the colon (--config 'grid={resolution: 0.1}')"
                lines.append(f"config key {_key([*err.path, name])}: unknown key; expected one of {allowed}{hint}")
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
    schema = load_schema(str(schema_path))
    errs = schema_errors(config, schema)
    if errs:
        raise NepflowError(errs[0] + (f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""))


def load_yaml(path) -> dict:
    """A YAML config file as a mapping; one-line errors naming the file (and line) otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise NepflowError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise NepflowError(
            f"{path}:{where}: not valid YAML ({problem}); expected 'key: value' lines (indent with spaces, not tabs)"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NepflowError(
            f"{path}: the config is a {type(data).__name__}, not a mapping; expected 'key: value' "
            "lines at the top level"
        )
    return data


def _subschema(schema: dict, key) -> dict | None:
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _types(schema: dict) -> set[str]:
    t = schema.get("type")
    if t is None and "oneOf" in schema:
        return set().union(*(_types(s) for s in schema["oneOf"]))
    return {t} if isinstance(t, str) else set(t or [])


def coerce(value, schema: dict):
    """``value`` of a ``--config`` override with its strings read as the types the schema declares.

    Snakemake reads nested ``--config`` values (``years={start: 2005}``) as strings; a string
    where the schema declares no string is read as YAML (``"2005"`` -> 2005, ``"null"`` -> None),
    and a top-level number where it declares a string becomes that string (``run_name=2024``).
    """
    if schema is None:
        return value
    if "$ref" in schema:  # the one kind of reference the schema uses: a collection (strings)
        return value
    types = _types(schema)
    if isinstance(value, dict):
        return {k: coerce(v, _subschema(schema, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if "array" not in types and "oneOf" in schema:
            items = next((s.get("items", {}) for s in schema["oneOf"] if s.get("type") == "array"), {})
        return [coerce(v, items) for v in value]
    if isinstance(value, str) and types and "string" not in types:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return coerce(parsed, schema) if isinstance(parsed, (dict, list)) else parsed
    if isinstance(value, (int, float)) and not isinstance(value, bool) and types == {"string"}:
        return str(value)
    return value


def apply_overrides(config: dict, overrides: dict, schema_path) -> None:
    """Re-apply the ``--config`` overrides onto ``config`` with the schema's types (see :func:`coerce`)."""
    if not overrides:
        return
    schema = load_schema(str(schema_path))

    def merge(into, new, sub):
        for k, v in new.items():
            s = _subschema(sub, k) if sub else None
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v, s)
            else:
                into[k] = coerce(v, s)

    merge(config, overrides, schema)


def job_mem_mb(resources: dict, per_mpixel: float, pixels: int, attempt: int = 1) -> int:
    """mem_mb of a job: max(min_mem_mb, base_mem_mb + per_mpixel x pixels / 1e6), times the attempt number.

    The formula of every rule's mem_mb (rules/common.smk) and of the plan-time size check.
    """
    mb = resources["base_mem_mb"] + per_mpixel * pixels / 1e6
    return int(max(resources["min_mem_mb"], math.ceil(mb)) * attempt)


def _size(mb: float) -> str:
    for unit, scale in (("PB", 1e9), ("TB", 1e6), ("GB", 1e3)):
        if mb >= scale:
            return f"{mb / scale:.3g} {unit}"
    return f"{mb:.0f} MB"


def check_grid_size(config: dict, pixels: int, shape) -> None:
    """One-line error when the biggest job the grid asks for exceeds ``resources.max_mem_mb``."""
    r = config["resources"]
    need = job_mem_mb(r, max(r["mem_mb_per_mpixel"], r["aggregate_mem_mb_per_mpixel"]), pixels)
    ceiling = r["max_mem_mb"]
    if need > ceiling:
        g = config["grid"]
        raise NepflowError(
            f"config key resources.max_mem_mb: the grid of {shape[0]} x {shape[1]} = {pixels:.4g} pixels "
            f"(grid.resolution {g['resolution']} in {g['crs']} units) needs {_size(need)} per job, above "
            f"resources.max_mem_mb = {ceiling}; expected a coarser grid.resolution (or smaller grid.bounds), "
            "or raise resources.max_mem_mb"
        )


def planned_grid(config: dict, shapes) -> tuple[tuple, tuple[int, int]]:
    """(bounds, (nx, ny)) of the run's grid, by the functions nepflow.grid.target_grid builds it with,
    without building it."""
    from . import grid

    g = config["grid"]
    bounds = grid.grid_bounds(grid.parse_crs(g["crs"]), g["resolution"], g["bounds"], shapes)
    return bounds, grid.grid_shape(bounds, g["resolution"])


def check_semantics(config: dict) -> dict:
    """Checks beyond the schema; ``config`` has its defaults filled in.

    Returns what the plan needs from the checks (``shapes``: the region's outlines,
    ``grid_pixels``), so the Snakefile reads the region once.
    """
    from . import classify, grid, regions, series, sources
    from .carbon import annual

    y = config["years"]
    if y["start"] > y["end"]:
        raise NepflowError(f"config key years: start {y['start']} is after end {y['end']}; expected start <= end")
    n_years = y["end"] - y["start"] + 1
    series.check_year_count(n_years, f"config key years: {y['start']} to {y['end']}")
    series.min_valid_years(n_years, config["analysis"]["min_valid_years"])
    region = config["region"]
    if region.get("vector_file") is None:
        if not region["provinces"]:
            raise NepflowError("config key region.provinces: the region is empty; expected at least one province")
        for name in region["provinces"]:
            regions.english_name(name)
    elif not os.path.exists(region["vector_file"]):
        raise NepflowError(
            f"config key region.vector_file: {region['vector_file']} not found; "
            "expected a vector file (any format GDAL reads) with the region's outline"
        )
    elif not config.get("allow_outside_paths"):
        check_inside(region["vector_file"], "config key region.vector_file")
    grid.parse_crs(config["grid"]["crs"])
    if config["grid"]["resolution"] <= 0:
        raise NepflowError(
            f"config key grid.resolution: expected a positive number, got {config['grid']['resolution']}"
        )
    for key, bounds in (
        ("grid.bounds", config["grid"]["bounds"]),
        ("sources.bbox", config["sources"]["bbox"]),
        ("demo.bounds", config["demo"]["bounds"]),
    ):
        if bounds is not None:
            grid.check_bounds(bounds, key)
    annual.validate(config["carbon"])
    classify.validate(config["classes"])
    from . import landcover

    landcover.monthly_rules(config["landcover"]["c4_fraction"])
    for product in sources.PRODUCT_VARIABLES:  # sources.* also holds settings (bbox, download, cds, ...)
        source = config["sources"].get(product)
        if source is not None:
            sources.check_choice(product, source)
    models = annual.ensemble(config["carbon"])
    if "mod17" in models and not config["sources"].get("npp"):
        raise NepflowError(
            "config key sources.npp: carbon.npp or carbon.models has mod17 but no NPP source is set; "
            "expected earthdata or local"
        )
    if config["validation"]["window"] % 2 == 0:
        raise NepflowError(
            f"config key validation.window: {config['validation']['window']}; expected an odd number "
            "of pixels (the window is centred on the site)"
        )
    ids = [s["id"] for s in config["validation"]["sites"]]
    for site in config["validation"]["sites"]:
        if ids.count(site["id"]) > 1:
            raise NepflowError(
                f"config key validation.sites: site id {site['id']!r} appears twice; expected unique ids"
            )
        if not config.get("allow_outside_paths"):
            check_inside(site["file"], f"config key validation.sites ({site['id']}).file")
        if not Path(site["file"]).is_file():
            raise NepflowError(
                f"config key validation.sites ({site['id']}): {site['file']}: file not found; expected "
                "a FLUXNET2015-format CSV"
            )
    _check_sources(config)
    if not config.get("allow_outside_paths"):
        for key in ("results_dir", "data_dir"):
            check_inside(config[key], f"config key {key}")
    # the region's outline: the grid's default bounds, and what the grid must cover (a vector file's
    # errors are the user's to see now, not in the grid job)
    shapes = regions.shapes_from_config(region)
    bounds, shape = planned_grid(config, shapes)
    pixels = shape[0] * shape[1]
    check_grid_size(config, pixels, shape)  # before the axes: a grid of petabytes has axes of gigabytes
    g = config["grid"]
    crs = grid.parse_crs(g["crs"])
    x, y = grid.grid_axes(bounds, g["resolution"])
    grid.check_covers(x, y, g["resolution"], crs, shapes)
    _check_sites(config, x, y, crs)
    return {"shapes": shapes, "grid_pixels": pixels}


def _check_sites(config: dict, x, y, crs) -> None:
    """What the validate job would reject of a site, said at plan time: its place, a pixel of the grid
    (validation.site_pixel), its land cover (an IGBP class: validation.igbp_class) and its CSV (the columns,
    the timestamps, −9999 everywhere: validation.read_site)."""
    v = config["validation"]
    if not v["sites"] and not v["demo_sites"]:
        return
    from . import demo_sites, validation

    for site in v["sites"]:
        validation.site_pixel(site, x, y, crs)
        validation.igbp_class(site)
        validation.read_site(site["file"], site["id"])
    if v["demo_sites"]:
        for site in demo_sites.SITES:
            validation.site_pixel(site, x, y, crs, key="validation.demo_sites")


def products(config: dict) -> list[str]:
    """The products a run retrieves: the four drivers, NPP when a model is mod17 (carbon.npp or
    carbon.models), and evapotranspiration when sources.evap is set (rules/common.smk's RUN_PRODUCTS)."""
    models = [config["carbon"]["npp"], *config["carbon"]["models"]]
    return (
        ["meteo", "fpar", "landcover", "sunshine"]
        + (["npp"] if "mod17" in models else [])
        + (["evap"] if config["sources"].get("evap") else [])
    )


def _check_sources(config: dict) -> None:
    """What the sources' jobs would reject: their settings, a year before a product starts, a station file."""
    from . import sources

    src = config["sources"]
    used = {p: src.get(p) for p in products(config)}
    for source in sorted(set(used.values())):  # each source's own check of its settings (e.g. proxy a + b <= 1)
        check = getattr(sources.module(source), "settings", None)
        if check is not None:
            check(src)
    cfg = sources.source_config(config)
    for product, source in used.items():  # what rules/common.smk asks each source while it builds the rules
        sources.module(source).outputs(product, "{year}", cfg)
    _check_methods(config, used)
    if "earthdata" in used.values():
        from .sources import earthdata

        s = earthdata.settings(src)
        for product, source in used.items():
            if source == "earthdata":
                earthdata.data_year(product, config["years"]["start"], s["products"][product]["short_name"])
    if used["sunshine"] == "stations":
        from .sources import stations

        f = src["stations"]["file"]
        if not f:
            stations.settings(src)  # its one line: no station file set
        elif str(f).startswith(("http://", "https://")):  # a URL is read by the job (no network at plan time)
            pass
        elif (src.get("stations") or {}).get("format") == "cma_daily":  # no header; the job reads every line
            if not Path(f).is_file():
                raise NepflowError(
                    f"config key sources.stations.file: {f} not found; expected the CMA daily "
                    "sunshine file (sources.stations.format: cma_daily)"
                )
        else:
            stations.check_header(f)


def _check_methods(config: dict, used: dict[str, str]) -> None:
    """What the regrid job would reject of ``regrid.methods``: a name that is no variable of the run's
    products, a fixed method changed, conservative for a product its source delivers on a projected grid
    (the sources' ``PROJECTED``; the regrid job checks the same of each field's CRS)."""
    from . import regrid, sources

    methods = config["regrid"]["methods"]
    names = {n: p for p in sources.PRODUCT_VARIABLES for n in sources.variables(p, {})}
    for name in methods:
        if name not in names:
            raise NepflowError(f"config key regrid.methods.{name}: not a variable; expected one of {', '.join(names)}")
    for product, source in used.items():
        for name in sources.variables(product, used):
            method = methods.get(name, regrid.FIXED_METHODS.get(name, "bilinear"))
            regrid.check_method(
                name, method, sources.projected(product, source), f"{product} from {source} (sources.{product})"
            )


def validate(config: dict, schema_path, overrides: dict | None = None) -> dict:
    """The Snakefile's validation, in order: ``--config`` overrides typed by the schema, the schema
    (one line naming the key; the one jsonschema pass), the defaults filled in (:func:`fill`),
    :func:`check_semantics`. Returns its plan."""
    apply_overrides(config, overrides or {}, schema_path)
    check(config, schema_path)
    fill(config, load_schema(str(schema_path)))
    return check_semantics(config)


def check_inside(path: str, what: str) -> None:
    """Reject absolute paths and '..' (paths must stay inside the work directory)."""
    p = PurePath(path)
    if p.is_absolute() or ".." in p.parts:
        raise NepflowError(
            f"{what}: {path!r} points outside the work directory; expected a relative path without '..' "
            "(set allow_outside_paths: true to allow it)"
        )
