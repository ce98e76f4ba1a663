"""Generate one year of the offline demo's products (rule `retrieve_demo`).

Outputs: data/demo/{key}/{year}/{meteo,sunshine,fpar,landcover}.nc, each on
its own native lon/lat grid, as a real source would deliver them.
"""
from nepflow import grid, io, logs, regions
from nepflow.sources import demo


def demo_bounds(params) -> list[float]:
    """The generated domain: demo.bounds, or the target grid's lon/lat bounds padded by 0.5°."""
    if params["demo"].get("bounds"):
        return params["demo"]["bounds"]
    g = params["grid"]
    crs = grid.parse_crs(g["crs"])
    if g.get("bounds"):
        from pyproj import Transformer

        w, s, e, n = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(*g["bounds"])
    else:
        shapes = regions.shapes_from_config(params["region"])
        w, s, e, n = grid.region_bounds(shapes, grid.parse_crs("EPSG:4326"))
    return [w - 0.5, s - 0.5, e + 0.5, n + 0.5]


def main(smk):
    year = int(smk.wildcards.year)
    mem_mb, rows = io.job_resources(smk)
    demo.retrieve(year, smk.params["demo"], demo_bounds(smk.params), dict(smk.output), rows=rows, mem_mb=mem_mb)


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
