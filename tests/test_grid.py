"""Target grid, region raster and true pixel areas."""

import numpy as np
import pytest

from nepflow import grid, regions
from nepflow.errors import NepflowError


def test_geographic_grid_snaps_region_bbox():
    shapes = regions.province_shapes(["Beijing"])
    g = grid.target_grid("EPSG:4326", 0.25, None, shapes)
    # Beijing spans 115.42–117.51 E, 39.44–41.06 N: snapped outward to 0.25°
    assert g.x.values[0] == pytest.approx(115.375) and g.x.values[-1] == pytest.approx(117.625)
    assert g.y.values[0] == pytest.approx(41.125) and g.y.values[-1] == pytest.approx(39.375)
    assert g.rio.crs.to_epsg() == 4326
    assert g.rio.resolution() == pytest.approx((0.25, -0.25))


def test_spherical_pixel_area_sums_to_band_area():
    g = grid.target_grid("EPSG:4326", 1.0, [0, 0, 360, 90])
    area = grid.pixel_area(g)
    # a hemisphere of the authalic sphere: 2 pi R^2
    assert float(area.sum()) == pytest.approx(2 * np.pi * grid.R_AUTHALIC**2 / 1e6, rel=1e-12)
    assert area.attrs["units"] == "km2"


def test_equal_area_projection_gives_constant_area():
    albers = "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +ellps=WGS84 +units=m"
    g = grid.target_grid(albers, 1000.0, [0, 4_000_000, 10_000, 4_010_000])
    area = grid.pixel_area(g)
    np.testing.assert_allclose(area.values, 1.0, rtol=1e-9)


def test_region_raster_codes_and_flags():
    shapes = regions.province_shapes(["Beijing", "Tianjin"])
    g = grid.target_grid("EPSG:4326", 0.05, None, shapes)
    r = grid.region_raster(g, shapes)
    assert set(np.unique(r.values)) == {0, 1, 2}
    assert r.attrs["flag_meanings"] == "Beijing Tianjin"
    # Beijing's centre is Beijing
    assert int(r.sel(x=116.4, y=39.9, method="nearest")) == 1
    assert int(r.sel(x=117.2, y=39.1, method="nearest")) == 2
    # true area of Beijing is about 16,410 km2
    area = grid.pixel_area(g).values
    assert area[r.values == 1].sum() == pytest.approx(16410, rel=0.03)


@pytest.mark.parametrize("crs", ["EPSG:999999", "+proj=nonsense", "not a crs"])
def test_bad_crs_is_one_line_error(crs):
    with pytest.raises(NepflowError, match="config key grid.crs"):
        grid.parse_crs(crs)


def test_bad_resolution_and_bounds():
    with pytest.raises(NepflowError, match="grid.resolution"):
        grid.target_grid("EPSG:4326", 0, [0, 0, 1, 1])
    with pytest.raises(NepflowError, match="grid.bounds"):
        grid.target_grid("EPSG:4326", 0.1, [1, 0, 0, 1])


def test_grid_outside_region_is_an_error():
    shapes = regions.province_shapes(["Beijing"])
    g = grid.target_grid("EPSG:4326", 0.1, [0, 0, 1, 1])
    with pytest.raises(NepflowError, match="does not cover the region"):
        grid.region_raster(g, shapes)


@pytest.mark.parametrize(
    "provinces, crs, res, bounds",
    [
        (["Beijing"], "EPSG:4326", 2.0, None),  # one 2° pixel, its centre south-east of Beijing
        (["Beijing"], "EPSG:4326", 1.0, None),
        (["Tianjin"], "EPSG:4326", 0.7, None),
        (["Beijing"], "EPSG:4326", 0.1, [0, 0, 1, 1]),  # bounds beside the region
        (["Beijing"], "EPSG:4326", 0.25, [116.0, 39.9, 116.5, 40.4]),  # inside, 2 x 2 pixels
        (["Beijing", "Hebei"], "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m", 150e3, None),
        (["Beijing", "Hebei"], "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m", 5000, None),
    ],
)
def test_plan_coverage_check_agrees_with_the_region_raster(provinces, crs, res, bounds):
    """The plan-time check (no raster of the grid) says what the grid job's region raster says."""
    shapes = regions.province_shapes(provinces)
    g = grid.target_grid(crs, res, bounds, shapes)
    x, y = grid.grid_axes(grid.grid_bounds(grid.parse_crs(crs), res, bounds, shapes), res)
    assert np.array_equal(x, g.x.values) and np.array_equal(y, g.y.values)
    try:
        grid.region_raster(g, shapes)
        covered = True
    except NepflowError as exc:
        assert str(exc) == grid.NOT_COVERED
        covered = False
    if covered:
        grid.check_covers(x, y, res, grid.parse_crs(crs), shapes)
    else:
        with pytest.raises(NepflowError, match="does not cover the region"):
            grid.check_covers(x, y, res, grid.parse_crs(crs), shapes)


def test_resolution_above_the_extent_is_one_line():
    with pytest.raises(NepflowError, match=r"config key grid.resolution: 5 is larger than the bounds"):
        grid.target_grid("EPSG:4326", 5, [110, 34, 111, 35])
