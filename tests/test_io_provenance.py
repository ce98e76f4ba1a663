"""Atomic writes, one-line read errors, provenance without timestamps."""
import numpy as np
import pytest
import xarray as xr

from nepflow import io, provenance, variables
from nepflow.errors import NepflowError


def small():
    ds = xr.Dataset({"nep": (("y", "x"), np.arange(6, dtype="float64").reshape(2, 3))},
                    coords={"y": [1.0, 0.0], "x": [0.0, 1.0, 2.0]})
    ds = ds.rio.write_crs("EPSG:4326")
    variables.annotate(ds)
    return ds


def test_write_and_read_back(tmp_path):
    p = io.write_netcdf(small(), tmp_path / "a.nc")
    back = io.open_dataset(p, ["nep"])
    assert back["nep"].dtype == np.float32
    assert back["nep"].attrs["units"] == "g C m-2 yr-1"
    assert back.attrs["Conventions"] == "CF-1.8"
    assert back.rio.crs.to_epsg() == 4326


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    target = tmp_path / "a.nc"
    io.write_netcdf(small(), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


def test_unwritable_folder_is_one_line_error(tmp_path):
    # a file where the output folder should be: mkdir fails for root too
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(NepflowError, match="cannot write .*results/a.nc"):
        io.write_netcdf(small(), tmp_path / "results" / "a.nc")
    assert (tmp_path / "results").read_text() == "not a folder"


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(NepflowError, match="missing.nc: file not found"):
        io.open_dataset(tmp_path / "missing.nc")
    bad = tmp_path / "truncated.nc"
    good = io.write_netcdf(small(), tmp_path / "good.nc")
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(NepflowError, match="truncated.nc: not a readable NetCDF file"):
        io.open_dataset(bad)
    with pytest.raises(NepflowError, match="missing variable"):
        io.open_dataset(good, ["nep", "gpp"])


def test_provenance_is_deterministic_and_complete(tmp_path):
    a = provenance.attach(small(), "carbon", ["forcing/2000.nc"], {"cue": 0.5})
    b = provenance.attach(small(), "carbon", ["forcing/2000.nc"], {"cue": 0.5})
    assert a.attrs == b.attrs
    assert "numpy" in a.attrs["nepflow_software"]
    assert a.attrs["nepflow_params"] == '{"cue":0.5}'
    io.write_netcdf(a, tmp_path / "1.nc")
    io.write_netcdf(b, tmp_path / "2.nc")
    assert provenance.data_checksum(tmp_path / "1.nc") == provenance.data_checksum(tmp_path / "2.nc")
    c = provenance.attach(small(), "carbon", ["forcing/2000.nc"], {"cue": 0.55})
    io.write_netcdf(c, tmp_path / "3.nc")
    assert provenance.data_checksum(tmp_path / "3.nc") != provenance.data_checksum(tmp_path / "1.nc")


def test_cog_roundtrip(tmp_path):
    import rasterio

    p = io.write_cog(small()["nep"], tmp_path / "nep.tif")
    with rasterio.open(p) as src:
        assert src.crs.to_epsg() == 4326
        np.testing.assert_array_equal(src.read(1), np.arange(6).reshape(2, 3))
        assert src.tags()["units"] == "g C m-2 yr-1"


def test_variables_table_covers_contracts():
    for name in ["fpar", "par", "tas", "pr", "sund", "rn", "evap", "c4_frac", "gpp", "npp", "rh", "nep",
                 "ols_slope", "ols_p", "sen_slope", "mk_z", "mk_p", "hurst", "nep_mean", "nep_std", "cv",
                 "r_pr", "p_r_pr", "pr_tas", "p_pr_sund"]:
        assert variables.attrs(name)["units"]
    with pytest.raises(NepflowError, match="not in nepflow's variables table"):
        variables.attrs("nonsense")
