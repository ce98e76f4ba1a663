"""Annual carbon fluxes of one year (rule `carbon`). Output: {run}/carbon/{year}.nc (DESIGN.md)."""
import logging

from nepflow import carbon, checks, forcing, io, logs, provenance

log = logging.getLogger("nepflow.carbon")


def main(smk):
    path = smk.input["forcing"]
    drivers = io.open_dataset(path, list(forcing.FORCING_VARS)).load()
    drivers, warnings = checks.check_forcing(drivers, path, smk.params["strictness"])
    for w in warnings:
        log.warning("%s", w)
    params = dict(smk.params["carbon"])
    monthly = "monthly" in dict(smk.output)
    result = carbon.annual_fluxes(drivers, params, monthly=monthly)
    annual, per_month = result if monthly else (result, None)
    annual = annual.rio.write_crs(drivers.rio.crs)
    provenance.attach(annual, "carbon", [path], {**params, "check_warnings": warnings})
    io.write_netcdf(annual, smk.output["carbon"])
    if per_month is not None:
        per_month = per_month.rio.write_crs(drivers.rio.crs)
        provenance.attach(per_month, "carbon", [path], params)
        io.write_netcdf(per_month, smk.output["monthly"])


if __name__ == "__main__":
    smk = snakemake if "snakemake" in globals() else io.cli_args(__doc__)  # noqa: F821
    logs.to_file(smk.log[0] if smk.log else None)
    logs.run(main, smk)
