"""Outputs that standard tools read right: the IOOS compliance checker's cf:1.8 test on every NetCDF
nepflow writes (tiny demo), units UDUNITS reads, time axes, and class GeoTIFFs with colour tables."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nepflow import classify, variables
from workflow import ROOT

pytestmark = pytest.mark.workflow
RUN = "results/tiny"
CHECKER = Path(sys.executable).parent / "compliance-checker"
#: The checker's one warning nepflow keeps (README, "Outputs"): CF 1.8 §7.1 gives the bounds of a scalar
#: time coordinate one dimension, the checker asks for two.
ACCEPTED_WARNINGS = ("Boundary variable time_bnds specified by time should have at least two dimensions",)


def checker(path: Path, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) of ``compliance-checker --test=cf:1.8`` on ``path``: its high and medium priorities."""
    out = tmp_path / (path.name + ".json")
    subprocess.run(
        [str(CHECKER), "--test=cf:1.8", "-f", "json", "-o", str(out), str(path)],
        capture_output=True,
        check=False,
        timeout=300,
    )
    report = json.loads(out.read_text())["cf:1.8"]
    return (
        [m for c in report["high_priorities"] for m in c["msgs"]],
        [m for c in report["medium_priorities"] for m in c["msgs"]],
    )


@pytest.fixture(scope="module")
def monthly_carbon(tiny_run, tmp_path_factory):
    """carbon/monthly/2010.nc of the tiny run, written by the entry script from the shell."""
    out = tmp_path_factory.mktemp("monthly")
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "carbon.py"),
        "--input",
        f"forcing={tiny_run / RUN / 'forcing' / '2010.nc'}",
        "--output",
        f"carbon={out / 'annual.nc'}",
        "--output",
        f"monthly={out / 'monthly.nc'}",
        "--param",
        "carbon={}",
        "--param",
        "strictness=default",
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    return out


FILES = [
    "grid.nc",
    "forcing/2010.nc",
    "carbon/2010.nc",
    "series/annual.nc",
    "analysis/trend.nc",
    "analysis/hurst.nc",
    "analysis/stability.nc",
    "analysis/correlation.nc",
    "analysis/classes.nc",
]


@pytest.mark.parametrize("rel", FILES + ["monthly"])
def test_every_netcdf_passes_the_cf_checker(rel, tiny_run, monthly_carbon, tmp_path):
    path = monthly_carbon / "monthly.nc" if rel == "monthly" else tiny_run / RUN / rel
    errors, warnings = checker(path, tmp_path)
    assert errors == [], f"{rel}: {errors}"
    assert [w for w in warnings if not w.startswith(ACCEPTED_WARNINGS)] == [], f"{rel}: {warnings}"


def test_file_attributes_and_time_axes(tiny_run, monthly_carbon):
    import cf_units

    for rel in FILES:
        with xr.open_dataset(tiny_run / RUN / rel, decode_coords="all") as ds:
            for key in ("title", "history", "source", "references", "Conventions"):
                assert ds.attrs.get(key), (rel, key)
            assert not re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d", ds.attrs["history"]), rel  # no timestamp
            assert ds["spatial_ref"].dtype == np.int32, rel
            for name, var in ds.data_vars.items():
                if "units" in var.attrs:
                    cf_units.Unit(var.attrs["units"])  # UDUNITS reads every unit
    with xr.open_dataset(tiny_run / RUN / "carbon/2010.nc", decode_coords="all") as c:
        assert c["time"].dt.year == 2010 and c["nep"].attrs["units"] == "g m-2 yr-1"
        np.testing.assert_array_equal(c["time_bnds"].values, np.array(["2010-01-01", "2011-01-01"], "M8[ns]"))
        assert c["nep"].attrs["standard_name"] == "net_ecosystem_production_expressed_as_carbon_per_unit_area"
        assert c["npp"].attrs["standard_name"] != c["nep"].attrs["standard_name"]
    with xr.open_dataset(tiny_run / RUN / "series/annual.nc", decode_coords="all") as s:
        assert s["time"].dims == ("year",) and s["time"].attrs["standard_name"] == "time"
        assert list(s["time"].dt.year.values) == list(s["year"].values) == list(range(2000, 2021))
        assert s["time_bnds"].shape == (21, 2)
        assert s["nep"].attrs["cell_methods"] == "year: mean"
    with xr.open_dataset(tiny_run / RUN / "analysis/stability.nc", decode_coords="all") as a:
        np.testing.assert_array_equal(a["time_bnds"].values, np.array(["2000-01-01", "2021-01-01"], "M8[ns]"))
        assert a["nep_std"].attrs["cell_methods"] == "time: standard_deviation"
        assert a["nep_mean"].attrs["method"] != a["cv"].attrs["method"] != a["nep_std"].attrs["method"]
    with xr.open_dataset(monthly_carbon / "monthly.nc", decode_coords="all") as m:
        assert m["time"].sizes["time"] == 12 and m["time_bnds"].shape == (12, 2)
        assert m["nep"].attrs["units"] == "g m-2 month-1" and m["nep"].attrs["long_name"]


def test_each_variable_has_its_own_method(tiny_run):
    with xr.open_dataset(tiny_run / RUN / "analysis/trend.nc") as t:
        assert "least squares" in t["ols_slope"].attrs["method"] and "Theil-Sen" in t["sen_slope"].attrs["method"]
        assert "Mann-Kendall" in t["mk_z"].attrs["method"]
    with xr.open_dataset(tiny_run / RUN / "analysis/correlation.nc") as c:
        assert c["r_pr"].attrs["method"].startswith("Pearson") and c["pr_pr"].attrs["method"].startswith("partial")
        assert c["p_pr_pr"].attrs["method"] == c["pr_pr"].attrs["method"]


CLASS_MAPS = ["trend_class", "cv_class", "hurst_class", "future_class", "future_sig_class", "corr_pr_class"]


@pytest.mark.parametrize("name", CLASS_MAPS)
def test_class_geotiffs_carry_the_figures_colours_and_the_class_names(name, tiny_run):
    import rasterio

    tif = tiny_run / RUN / "analysis" / "tif" / f"{name}.tif"
    with xr.open_dataset(tiny_run / RUN / "analysis/classes.nc", mask_and_scale=False) as cl:
        codes = cl[name].values
        values = [int(v) for v in cl[name].attrs["flag_values"]]
        meanings = cl[name].attrs["flag_meanings"].split()
    with rasterio.open(tif) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 0
        np.testing.assert_array_equal(src.read(1), np.where(codes >= 1, codes, 0))
        table = src.colormap(1)
    expected = classify.colours(name, len(values))  # what the figures draw (figures.map_classes)
    for v, hexc in zip(values, expected):
        h = hexc.lstrip("#")
        assert table[v] == (int(h[:2], 16), int(h[2:4], 16), int(h[4:6], 16), 255), (name, v)
    assert table[0][3] == 0  # undefined: transparent
    names = [c.text or "" for c in ET.parse(f"{tif}.aux.xml").getroot().iter("Category")]
    assert names == ["undefined", *meanings]
    gdalinfo = shutil.which("gdalinfo")
    if gdalinfo:  # GDAL itself reads the category names (where its tools are installed)
        info = json.loads(subprocess.run([gdalinfo, "-json", str(tif)], capture_output=True, text=True).stdout)
        assert info["bands"][0]["categories"] == names


def test_figure_palettes_are_the_class_tables():
    from nepflow import figures

    assert figures.PALETTES is classify.PALETTES and figures.CLASS_COLOURS is classify.CLASS_COLOURS
    for name in ("trend_class", "cv_class"):
        assert classify.colours(name, 5) == classify.PALETTES[name]


def test_units_of_the_variables_table_are_udunits_and_fit_their_standard_names():
    import cf_units

    canonical = {
        "net_ecosystem_production_expressed_as_carbon_per_unit_area": "kg m-2 s-1",
        "gross_primary_productivity_of_biomass_expressed_as_carbon": "kg m-2 s-1",
        "net_primary_productivity_of_biomass_expressed_as_carbon": "kg m-2 s-1",
        "surface_upward_mass_flux_of_carbon_due_to_heterotrophic_respiration_in_soil": "kg m-2 s-1",
        "lwe_precipitation_rate": "m s-1",
        "air_temperature": "K",
        "cell_area": "m2",
    }
    for name, a in variables.table().items():
        unit = cf_units.Unit(a["units"])
        if a.get("standard_name") in canonical:
            assert unit.is_convertible(canonical[a["standard_name"]]), name
    assert "C" not in variables.units("nep").split()
