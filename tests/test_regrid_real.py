"""Regridding real-data grids: MODIS sinusoidal to the target grid, conservative meteorology."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import grid, regrid
from nepflow.sources import modis

R = 6371007.181


def field(lon, lat):
    """A smooth analytic field (values 0.2-0.8)."""
    return 0.5 + 0.2 * np.sin(np.deg2rad(lon - 116) * 6) * np.cos(np.deg2rad(lat - 39) * 5)


def sinusoidal_source(fn, months=2, dtype="float64"):
    """A 463 m MODIS-like field over 115.4-116.9 E, 38.5-39.6 N on the real tile grid (tile h26v05)."""
    w, _, _, n = modis.tile_bounds(26, 5)
    px = modis.TILE_WIDTH / 2400
    bw, bs, be, bn = modis.sinusoidal_bounds([115.4, 38.5, 116.9, 39.6])  # the box is sheared in sinusoidal x
    x = w + (np.arange(int((bw - w) // px), int((be - w) // px) + 1) + 0.5) * px
    y = n - (np.arange(int((n - bn) // px), int((n - bs) // px) + 1) + 0.5) * px
    xx, yy = np.meshgrid(x, y)
    lon, lat = modis.sinusoidal_to_lonlat(xx, yy)
    data = np.stack([fn(lon, lat) * (1 + 0.1 * m) for m in range(months)]).astype(dtype)
    time = pd.date_range("2001-01-01", periods=months, freq="MS")
    da = xr.DataArray(data, coords={"time": time, "y": y, "x": x}, dims=("time", "y", "x"), name="fpar")
    return da.rio.write_crs(modis.SINUSOIDAL)


def test_sinusoidal_average_reproduces_analytic_field():
    src = sinusoidal_source(field)
    target = grid.target_grid("EPSG:4326", 0.01, bounds=[115.5, 38.6, 116.8, 39.5])
    out = regrid.sinusoidal_to_target(src, target, "average")
    assert out.dims == ("time", "y", "x") and out.attrs["regrid_method"] == "average"
    lon, lat = np.meshgrid(target.x, target.y)
    for m in range(2):
        err = np.abs(out.values[m] - field(lon, lat) * (1 + 0.1 * m))
        # cell means of a field varying by < 0.004 per 0.01 degree: within 1e-3 of the centre value
        assert np.nanmax(err) < 1e-3 and np.isfinite(out.values[m]).all()


def test_sinusoidal_mode_keeps_classes():
    def classes(lon, lat):
        return np.where(lon < 116.0, 12.0, np.where(lat < 39.0, 10.0, 4.0))

    src = sinusoidal_source(classes, months=1).isel(time=0)
    target = grid.target_grid("EPSG:4326", 0.01, bounds=[115.5, 38.6, 116.8, 39.5])
    out = regrid.sinusoidal_to_target(src, target, "mode")
    lon, lat = np.meshgrid(target.x, target.y)
    want = classes(lon, lat)
    far = (np.abs(lon - 116.0) > 0.01) & (np.abs(lat - 39.0) > 0.01)
    assert (out.values[far] == want[far]).all()
    assert set(np.unique(out.values)) == {4.0, 10.0, 12.0}


def era5_like(res=0.1, bounds=(113.0, 36.0, 119.0, 42.0), months=3, seed=3):
    w, s, e, n = bounds
    x = w + (np.arange(round((e - w) / res)) + 0.5) * res
    y = n - (np.arange(round((n - s) / res)) + 0.5) * res
    rng = np.random.default_rng(seed)
    pr = rng.gamma(2.0, 20.0, (months, len(y), len(x)))  # mm month-1, rough as real precipitation
    da = xr.DataArray(
        pr,
        coords={"time": pd.date_range("2001-06-01", periods=months, freq="MS"), "y": y, "x": x},
        dims=("time", "y", "x"),
        name="pr",
        attrs={"units": "mm month-1"},
    )
    return da.rio.write_crs("EPSG:4326")


def total(da, target_or_grid):
    area = grid.pixel_area(target_or_grid).values  # km2
    return np.nansum(da.values * area, axis=(-2, -1))


@pytest.mark.parametrize("res", [0.01, 0.025, 0.25])
def test_conservative_keeps_the_regional_total(res):
    src = era5_like()
    box = [114.0, 37.0, 118.0, 41.0]  # on source cell edges
    target = grid.target_grid("EPSG:4326", res, bounds=box)
    out = regrid.conservative(src, target)
    inner = src.sel(x=slice(box[0], box[2]), y=slice(box[3], box[1]))
    want = total(inner, inner.to_dataset())
    got = total(out, target)
    np.testing.assert_allclose(got, want, rtol=1e-9)  # exact overlaps: conserved to rounding
    assert out.attrs["regrid_method"] == "conservative"


def test_conservative_onto_an_equal_area_grid_and_region():
    src = era5_like()
    albers = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=WGS84 +units=m +no_defs"
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", albers, always_xy=True)
    x0, y0 = t.transform(116.0, 39.0)
    target = grid.target_grid(albers, 5000, bounds=[x0 - 150e3, y0 - 150e3, x0 + 150e3, y0 + 150e3])
    out = regrid.conservative(src, target, subdivisions=8)
    got = total(out, target)
    # the same area integral on the source grid, by dense sub-sampling of the target region
    k = 40
    tx = target.x.values[0] - 2500 + (np.arange(target.sizes["x"] * k) + 0.5) * 5000 / k
    ty = target.y.values[0] + 2500 - (np.arange(target.sizes["y"] * k) + 0.5) * 5000 / k
    xx, yy = np.meshgrid(tx, ty)
    lon, lat = Transformer.from_crs(albers, "EPSG:4326", always_xy=True).transform(xx, yy)
    sub = src.sel(x=xr.DataArray(lon.ravel()), y=xr.DataArray(lat.ravel()), method="nearest").values
    cell = np.repeat(np.repeat(grid.pixel_area(target).values, k, 0), k, 1).ravel() / k**2
    want = (sub * cell).sum(axis=-1)
    np.testing.assert_allclose(got, want, rtol=5e-3)  # within 0.5 %
    # bilinear interpolation does not conserve the total of a rough field to that level everywhere: compare
    bil = regrid.to_target(src.isel(time=0), target, "bilinear")
    assert abs(total(bil, target) / want[0] - 1) > abs(got[0] / want[0] - 1)


def test_conservative_masks_uncovered_cells():
    src = era5_like(bounds=(114.0, 37.0, 116.0, 39.0))
    src[:, :, :3] = np.nan  # 114.0-114.3 missing
    target = grid.target_grid("EPSG:4326", 0.25, bounds=[114.0, 37.0, 116.5, 39.0])
    out = regrid.conservative(src, target)
    assert np.isnan(out.values[:, :, 0]).all()  # 114.0-114.25: no valid source
    assert np.isfinite(out.values[:, :, 2]).all()  # 114.5-114.75: fully covered
    assert np.isnan(out.values[:, :, -1]).all()  # 116.25-116.5: outside the source
    assert np.isfinite(out.values[:, :, 1]).all()  # 114.25-114.5: 0.05 of 0.25 missing, mean of the rest
    covered = src.values[:, :, 3:5]
    assert (out.values[:, :, 1] >= covered.min()).all() and (out.values[:, :, 1] <= covered.max()).all()


def _coast(target, sea_from_x):
    """A field 10 + x on the target grid, NaN (sea) east of ``sea_from_x``, 12 identical-mask months."""
    xx = np.broadcast_to(target.x.values[None, :], (target.sizes["y"], target.sizes["x"]))
    v = np.where(xx >= sea_from_x, np.nan, 10 + xx)
    da = xr.DataArray(
        np.stack([v + m for m in range(12)]),
        coords={"time": range(12), "y": target.y, "x": target.x},
        dims=("time", "y", "x"),
        name="tas",
    )
    return da.rio.write_crs(target.rio.crs)


def test_fill_coastal_takes_the_nearest_land_pixel_within_the_distance():
    target = grid.target_grid("EPSG:4326", 0.1, bounds=[117.0, 38.5, 118.0, 39.5])
    da = _coast(target, 117.75)  # columns 117.75, 117.85, 117.95 are sea
    inside = np.zeros((10, 10), bool)
    inside[:, :9] = True  # the region reaches two sea columns (117.75, 117.85) but not the last
    # one column east of the land is 0.1 deg of longitude at 38.5-39.5 N: 8.6-8.7 km; two columns 17.3 km
    out, n = regrid.fill_coastal(da, inside, 12.0)
    assert n == 10 and out.attrs["coastal_fill_pixels"] == 10 and out.attrs["coastal_fill_km"] == 12.0
    np.testing.assert_array_equal(out.values[:, :, 7], da.values[:, :, 6])  # the nearest land pixel, each month
    assert np.isnan(out.values[:, :, 8]).all() and np.isnan(out.values[:, :, 9]).all()  # beyond 12 km; outside
    with pytest.raises(
        Exception, match=r"variable tas does not cover the region .*11\.1% of region.*regrid.coast_fill_km \(12 km\)"
    ):
        regrid.check_coverage(out, inside, "era5.nc")
    out, n = regrid.fill_coastal(da, inside, 20.0)
    assert n == 20 and np.isfinite(out.values[:, inside]).all()
    np.testing.assert_array_equal(out.values[:, :, 8], da.values[:, :, 6])
    assert np.isnan(out.values[:, :, 9]).all()  # outside the region: left alone
    regrid.check_coverage(out, inside, "era5.nc")
    np.testing.assert_array_equal(out.values[:, :, :7], da.values[:, :, :7])  # land untouched
    same, n = regrid.fill_coastal(da, inside, 0.0)
    assert n == 0 and np.isnan(same.values[:, :, 7]).all()


def test_fill_coastal_on_a_projected_grid():
    target = grid.target_grid("EPSG:32650", 5000.0, bounds=[500000, 4300000, 550000, 4350000])
    da = _coast(target, 537000)  # the last three 5 km columns are sea
    inside = np.ones((10, 10), bool)
    out, n = regrid.fill_coastal(da, inside, 11.0)  # two columns (5, 10 km), not the third (15 km)
    assert n == 20
    np.testing.assert_array_equal(out.values[:, :, 8], da.values[:, :, 6])
    assert np.isnan(out.values[:, :, 9]).all()


def test_conservative_float32_coordinates_of_older_cds_files():
    """latitude/longitude stored as float32 (older CDS NetCDF): cell edges from the rounded 0.1 step,
    the same result as with float64 coordinates."""
    lat = np.round(np.arange(41.0, 37.95, -0.1), 6)
    lon = np.round(np.arange(114.0, 118.05, 0.1), 6)
    lo, la = np.meshgrid(lon, lat)
    vals = np.stack([field(lo, la), 2 * field(lo, la)])
    time = pd.date_range("2001-01-01", periods=2, freq="MS")

    def src(dtype):
        da = xr.DataArray(
            vals,
            coords={"time": time, "y": lat.astype(dtype), "x": lon.astype(dtype)},
            dims=("time", "y", "x"),
            name="pr",
        )
        return da.rio.write_crs("EPSG:4326")

    assert not np.allclose(np.diff(lat.astype("float32").astype(float)), -0.1, rtol=1e-6, atol=1e-9)  # irregular
    target = grid.target_grid("EPSG:4326", 0.05, bounds=[114.5, 38.5, 117.5, 40.5])
    ref = regrid.conservative(src("float64"), target)
    out = regrid.conservative(src("float32"), target)
    np.testing.assert_allclose(out.values, ref.values, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grid.cell_edges(lat.astype("float32"))[:3], [41.05, 40.95, 40.85], atol=1e-12)
    with pytest.raises(Exception, match="needs a regular grid"):  # truly irregular float32 axes still stop
        grid.cell_edges(np.array([40.0, 39.9, 39.7, 39.6], "float32"))


def test_fill_coastal_copy_false_fills_the_callers_array():
    target = grid.target_grid("EPSG:4326", 0.1, bounds=[117.0, 38.5, 118.0, 39.5])
    da = _coast(target, 117.75).astype("float32")
    ref, n_ref = regrid.fill_coastal(da, np.ones((10, 10), bool), 20.0)
    assert np.isnan(da.values[:, :, 7]).all()  # copy=True left the input alone
    out, n = regrid.fill_coastal(da, np.ones((10, 10), bool), 20.0, copy=False)
    assert n == n_ref == 20 and np.shares_memory(out.values, da.values)
    np.testing.assert_array_equal(out.values, ref.values)
    assert out.attrs["coastal_fill_pixels"] == 20


def test_conservative_from_a_projected_field_stops_the_regrid_job_as_the_plan_does():
    """A projected field (a local file the plan cannot know) with regrid.methods: conservative: the regrid job's
    one line is the plan's (nepflow.regrid.check_method), naming the key and the file; average goes through."""
    from nepflow import drivers
    from nepflow.errors import NepflowError

    src = sinusoidal_source(field, months=1)
    target = grid.target_grid("EPSG:4326", 0.05, bounds=[115.5, 38.6, 116.5, 39.4])
    with pytest.raises(
        NepflowError,
        match=r"^config key regrid\.methods\.fpar: conservative needs a lon/lat source "
        r"grid and local/fpar/2001\.nc is on a projected grid",
    ):
        drivers.regrid_variable(src, target, "conservative", "local/fpar/2001.nc")
    assert drivers.regrid_variable(src, target, "average", "x").attrs["regrid_method"] == "average"


def test_spilled_drivers_round_trip_and_leave_nothing_behind(tmp_path):
    """The regrid job's temporary drivers file (nepflow.spill): rows and months read back as
    written; removed on success and on failure; a killed attempt's leftover removed by the next."""
    from nepflow import blocks, spill

    out = tmp_path / "forcing" / "2005.nc"
    out.parent.mkdir()
    stale = out.parent / ".2005.spill-killed.nc"
    stale.write_bytes(b"left by SIGKILL")
    values = np.arange(3 * 5 * 4, dtype="float32").reshape(3, 5, 4)
    values[1, 2, 3] = np.nan
    with spill.spill_beside(out, 5, 4, 2) as store:
        assert not stale.exists()
        store.create("tas", (3,))
        for s in blocks.row_slices(5, 2):
            store.write("tas", s, values[:, s])
        np.testing.assert_array_equal(store.read("tas", slice(1, 4)), values[:, 1:4])
        month = store.read_at("tas", 1)
        np.testing.assert_array_equal(month, values[1])
        store.write_at("tas", 1, np.nan_to_num(month))
        assert store.read("tas")[1, 2, 3] == 0
        first = store.path
        assert first.exists()
    assert not first.exists()
    with pytest.raises(RuntimeError), spill.spill_beside(out, 5, 4, 2) as store:
        second = store.path
        raise RuntimeError("a coverage error")
    assert not second.exists() and list(out.parent.iterdir()) == []
