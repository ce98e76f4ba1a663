"""Atomic writes, one-line read errors, provenance without timestamps."""

import numpy as np
import pytest
import xarray as xr

from nepflow import cog, files, jobs, netcdf, provenance, variables
from nepflow.errors import NepflowError


def small():
    ds = xr.Dataset(
        {"nep": (("y", "x"), np.arange(6, dtype="float64").reshape(2, 3))},
        coords={"y": [1.0, 0.0], "x": [0.0, 1.0, 2.0]},
    )
    ds = ds.rio.write_crs("EPSG:4326")
    variables.annotate(ds)
    return ds


def test_write_and_read_back(tmp_path):
    p = netcdf.write_netcdf(small(), tmp_path / "a.nc")
    back = netcdf.open_dataset(p, ["nep"])
    assert back["nep"].dtype == np.float32
    assert back["nep"].attrs["units"] == "g m-2 yr-1"
    assert back.attrs["Conventions"] == "CF-1.8"
    assert back.rio.crs.to_epsg() == 4326


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    target = tmp_path / "a.nc"
    netcdf.write_netcdf(small(), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


def _maps():
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {v: (("y", "x"), rng.normal(size=(40, 50))) for v in ("ols_slope", "ols_p", "mk_p")},
        coords={"y": 40.0 - np.arange(40) * 0.1, "x": 110.0 + np.arange(50) * 0.1},
    )
    ds["ols_p"].values[:5] = np.nan
    variables.annotate(ds)
    return ds


def test_analysis_files_written_concurrently_equal_a_serial_write(tmp_path):
    import rasterio

    from nepflow import analysis

    ds = _maps()
    for threads in (1, 3):
        d = tmp_path / str(threads)
        analysis.write(ds, d / "trend.nc", [d / "tif" / f"{v}.tif" for v in ds.data_vars], "EPSG:4326", threads=threads)
    xr.testing.assert_identical(
        xr.open_dataset(tmp_path / "1" / "trend.nc"), xr.open_dataset(tmp_path / "3" / "trend.nc")
    )
    for v in ds.data_vars:
        with (
            rasterio.open(tmp_path / "1" / "tif" / f"{v}.tif") as a,
            rasterio.open(tmp_path / "3" / "tif" / f"{v}.tif") as b,
        ):
            np.testing.assert_array_equal(a.read(1), b.read(1))
            np.testing.assert_array_equal(a.read(1), ds[v].values.astype("float32"))
            assert a.tags()["units"] == ds[v].attrs["units"] and a.descriptions[0] == ds[v].attrs["long_name"]
            assert a.units[0] == ds[v].attrs["units"] and a.crs.to_epsg() == 4326
            assert a.transform.c == pytest.approx(109.95) and a.transform.f == pytest.approx(40.05)
            assert a.profile["compress"].lower() == "deflate" and a.profile["blockxsize"] == 256


def test_a_failed_analysis_write_moves_no_file_and_keeps_the_earlier_ones(tmp_path):
    from nepflow import analysis

    ds = _maps()
    tifs = [tmp_path / "tif" / f"{v}.tif" for v in ds.data_vars]
    analysis.write(ds, tmp_path / "trend.nc", tifs, "EPSG:4326", threads=2)
    before = {p: p.read_bytes() for p in [tmp_path / "trend.nc", *tifs]}
    (tmp_path / "blocked").write_text("a file where a folder should be")
    later = ds * 2
    for v in later.data_vars:
        later[v].attrs = ds[v].attrs
    with pytest.raises(NepflowError, match=r"cannot write .*/blocked/mk_p\.tif: "):
        analysis.write(
            later, tmp_path / "trend.nc", tifs[:-1] + [tmp_path / "blocked" / "mk_p.tif"], "EPSG:4326", threads=2
        )
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in tmp_path.rglob(".*")], "staging files left behind"


def test_unwritable_folder_is_one_line_error(tmp_path):
    # a file where the output folder should be: mkdir fails for root too
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(NepflowError, match="cannot write .*results/a.nc"):
        netcdf.write_netcdf(small(), tmp_path / "results" / "a.nc")
    assert (tmp_path / "results").read_text() == "not a folder"


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(NepflowError, match="missing.nc: file not found"):
        netcdf.open_dataset(tmp_path / "missing.nc")
    bad = tmp_path / "truncated.nc"
    good = netcdf.write_netcdf(small(), tmp_path / "good.nc")
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(NepflowError, match="truncated.nc: not a readable NetCDF file"):
        netcdf.open_dataset(bad)
    with pytest.raises(NepflowError, match="missing variable"):
        netcdf.open_dataset(good, ["nep", "gpp"])


def test_provenance_is_deterministic_and_complete(tmp_path):
    a = provenance.attach(small(), "carbon", ["forcing/2000.nc"], {"cue": 0.5})
    b = provenance.attach(small(), "carbon", ["forcing/2000.nc"], {"cue": 0.5})
    assert a.attrs == b.attrs
    assert "numpy" in a.attrs["nepflow_software"]
    assert a.attrs["nepflow_params"] == '{"cue":0.5}'
    netcdf.write_netcdf(a, tmp_path / "1.nc")
    netcdf.write_netcdf(b, tmp_path / "2.nc")
    assert provenance.data_checksum(tmp_path / "1.nc") == provenance.data_checksum(tmp_path / "2.nc")
    c = provenance.attach(small(), "carbon", ["forcing/2000.nc"], {"cue": 0.55})
    netcdf.write_netcdf(c, tmp_path / "3.nc")
    assert provenance.data_checksum(tmp_path / "3.nc") != provenance.data_checksum(tmp_path / "1.nc")


def test_cog_roundtrip(tmp_path):
    import rasterio

    p = cog.write_cog(small()["nep"], tmp_path / "nep.tif")
    with rasterio.open(p) as src:
        assert src.crs.to_epsg() == 4326
        np.testing.assert_array_equal(src.read(1), np.arange(6).reshape(2, 3))
        assert src.tags()["units"] == "g m-2 yr-1"


def test_variables_table_covers_contracts():
    for name in [
        "fpar",
        "par",
        "tas",
        "pr",
        "sund",
        "rn",
        "evap",
        "c4_frac",
        "gpp",
        "npp",
        "rh",
        "nep",
        "ols_slope",
        "ols_p",
        "sen_slope",
        "mk_z",
        "mk_p",
        "hurst",
        "nep_mean",
        "nep_std",
        "cv",
        "r_pr",
        "p_r_pr",
        "pr_tas",
        "p_pr_sund",
    ]:
        assert variables.attrs(name)["units"]
    with pytest.raises(NepflowError, match="not in nepflow's variables table"):
        variables.attrs("nonsense")


def test_command_line_job_object():
    job = jobs.cli_args(
        "doc",
        [
            "--input",
            "carbon=a.nc",
            "--input",
            "carbon=b.nc",
            "--input",
            "grid=g.nc",
            "--output",
            "figures=out",
            "--param",
            "years=[2000, 2001]",
            "--threads",
            "2",
        ],
    )
    assert job.input["carbon"] == ["a.nc", "b.nc"] and job.input.grid == "g.nc"
    assert job.output["figures"] == "out" and job.params["years"] == [2000, 2001] and job.threads == 2
    assert jobs.all_paths(job.input) == ["a.nc", "b.nc", "g.nc"]
