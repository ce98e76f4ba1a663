"""Annual carbon fluxes of one year (rule `carbon`). Output: {run}/carbon/{year}.nc (docs/architecture.md)."""

import logging

import xarray as xr

from nepflow import blocks, carbon, cf, checks, forcing, jobs, logs, netcdf, provenance

log = logging.getLogger("nepflow.carbon")


def main(smk):
    path = smk.input["forcing"]
    drivers = netcdf.open_dataset(path, list(forcing.FORCING_VARS))  # lazy: each block reads its rows
    if "grid" in smk.input.keys():  # a file on another grid is named here, not later on carbon/{year}.nc
        with xr.open_dataset(smk.input["grid"], engine="netcdf4") as grid:
            forcing.check_grid_match(drivers, grid, path)
    grid_mapping = drivers.coords.get("spatial_ref")  # carried to the outputs (no rioxarray import: a job's start-up)
    params = dict(smk.params["carbon"])
    monthly = "monthly" in dict(smk.output)
    draws = "uncertainty" in dict(smk.params)  # passed only with uncertainty.draws > 0 (nepflow.ruleparams)
    warnings = []

    def block(rows):  # one block of rows: checked drivers -> annual (and monthly) fluxes
        d = drivers.isel(y=rows).load()
        d.encoding["source"] = path
        d, found = checks.check_forcing(d, path, smk.params["strictness"])
        warnings.extend(w for w in found if w not in warnings)
        result = carbon.annual_fluxes(d, params, monthly=monthly)
        if draws:  # the sums every uncertainty draw is evaluated from (the uncertainty rule)
            terms = carbon.annual.uncertainty_terms(d, params)
            result = (
                (xr.merge([result[0], terms], combine_attrs="override"), result[1])
                if monthly
                else xr.merge([result, terms], combine_attrs="override")
            )
        if not monthly:
            return with_grid_mapping(result, grid_mapping)
        annual, per_month = result
        merged = xr.merge(
            [annual, per_month.rename({v: f"monthly_{v}" for v in per_month.data_vars})], combine_attrs="drop_conflicts"
        )
        return with_grid_mapping(merged, grid_mapping)

    mem_mb, rows = jobs.job_resources(smk)
    per_pixel = blocks.stage_bytes("carbon_monthly" if monthly else "carbon")
    rows = blocks.block_rows(drivers.sizes["x"], per_pixel, mem_mb, rows=rows, ny=drivers.sizes["y"])
    ds = blocks.blocked(block, drivers["y"], rows)
    annual = cf.with_year(
        ds[[v for v in ds.data_vars if not v.startswith("monthly_")]],  # gpp, npp, rh, nep (+ the ensemble's)
        year_of(drivers, smk),
    )
    late = lambda: provenance.attrs("carbon", [path], {**params, "check_warnings": warnings})  # noqa: E731
    netcdf.write_netcdf(annual, smk.output["carbon"], chunk_rows=rows, late_attrs=late)
    if monthly:  # the blocks are computed again for this file (monthly output is optional)
        per_month = ds[[v for v in ds.data_vars if v.startswith("monthly_")]]
        per_month = per_month.rename({v: v[len("monthly_") :] for v in per_month.data_vars})
        netcdf.write_netcdf(
            cf.with_months(per_month),
            smk.output["monthly"],
            chunk_rows=rows,
            late_attrs=lambda: provenance.attrs("carbon", [path], params, kind="carbon_monthly"),
        )
    for w in warnings:
        log.warning("%s", w)


def with_grid_mapping(ds: xr.Dataset, grid_mapping: xr.DataArray | None) -> xr.Dataset:
    """``ds`` with the forcing's grid mapping variable (``write_netcdf`` points every y/x variable to it)."""
    return ds if grid_mapping is None else ds.assign_coords(spatial_ref=grid_mapping)


def year_of(drivers, smk) -> int:
    """The year of a forcing file: its dates, else the job's ``year`` wildcard."""
    if drivers["time"].dtype.kind == "M":
        return int(drivers["time"].dt.year.values[0])
    return int(smk.wildcards["year"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else jobs.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
