"""The target grid, the region raster and true pixel areas.

One grid for the whole run, from config: a CRS, a resolution (CRS units) and
bounds (``[west, south, east, north]`` in the CRS; by default the region's
bounding box, snapped outward to the resolution). Pixel centres are the
coordinates ``x`` (ascending) and ``y`` (descending, north up), as GDAL writes.
"""

from __future__ import annotations

import math

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from . import variables
from .errors import NepflowError

#: Authalic radius of the WGS84 ellipsoid (m), for areas on a geographic grid.
R_AUTHALIC = 6371007.181


def parse_crs(text: str, key: str = "grid.crs") -> CRS:
    """A pyproj CRS from config text; one-line error naming ``key`` if PROJ rejects it."""
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise NepflowError(f"config key {key}: PROJ does not accept {text!r} as a CRS ({exc})") from None


def region_bounds(shapes: dict, crs: CRS) -> tuple[float, float, float, float]:
    """Bounding box of the region outlines (lon/lat) in ``crs``."""
    if not shapes:
        raise NepflowError("config key region: the region is empty (no provinces and no vector file)")
    b = np.array([g.bounds for g in shapes.values()], dtype=float)  # the union's box, without the union
    w, s, e, n = np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])
    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return t.transform_bounds(w, s, e, n, densify_pts=21)


def snapped_bounds(shapes: dict, crs: CRS, resolution: float) -> tuple[float, float, float, float]:
    """The region's bounding box in ``crs`` snapped outward to ``resolution``: the grid's default bounds."""
    w, s, e, n = region_bounds(shapes, crs)
    return (
        math.floor(w / resolution) * resolution,
        math.floor(s / resolution) * resolution,
        math.ceil(e / resolution) * resolution,
        math.ceil(n / resolution) * resolution,
    )


def target_grid(crs_text: str, resolution: float, bounds=None, shapes=None) -> xr.Dataset:
    """An empty dataset holding the target grid's coordinates and CRS.

    Parameters
    ----------
    crs_text : CRS as EPSG code, WKT or PROJ string.
    resolution : pixel size in CRS units (degrees for a geographic CRS, m otherwise); > 0.
    bounds : [west, south, east, north] in the CRS, or None for the region's bounding box.
    shapes : region outlines (lon/lat), used when ``bounds`` is None.
    """
    crs = parse_crs(crs_text)
    x, y = grid_axes(grid_bounds(crs, resolution, bounds, shapes), resolution)
    ds = xr.Dataset(coords={"y": ("y", y), "x": ("x", x)})
    ds = ds.rio.write_crs(crs.to_wkt())
    _coord_attrs(ds, crs)
    return ds


def grid_bounds(crs: CRS, resolution: float, bounds=None, shapes=None) -> tuple[float, float, float, float]:
    """[west, south, east, north] of the grid: ``bounds`` (checked), or the region's bounding box
    snapped outward to ``resolution``; one-line errors naming the key."""
    if not resolution or resolution <= 0:
        raise NepflowError(f"config key grid.resolution: expected a positive number, got {resolution!r}")
    if bounds is None:
        w, s, e, n = snapped_bounds(shapes or {}, crs, resolution)
    else:
        w, s, e, n = (float(b) for b in bounds)
        check_bounds([w, s, e, n])
    if not (e > w and n > s):  # a region outline without area (e.g. a point)
        raise NepflowError(
            f"config key region: the region's outline has no area (bounding box {[w, s, e, n]}); expected polygons"
        )
    return w, s, e, n


def grid_shape(bounds, resolution: float) -> tuple[int, int]:
    """(nx, ny) of a grid of ``resolution`` over ``bounds``; one-line error if it has no pixel."""
    w, s, e, n = bounds
    nx, ny = int(round((e - w) / resolution)), int(round((n - s) / resolution))
    if nx < 1 or ny < 1:
        raise NepflowError(
            f"config key grid.resolution: {resolution} is larger than the bounds {[w, s, e, n]}; "
            "expected a resolution below the grid's width and height"
        )
    return nx, ny


def grid_axes(bounds, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """The pixel centres (x ascending, y descending) of the grid over ``bounds`` (:func:`grid_bounds`), as
    :func:`target_grid` has them; cheap (two 1-D arrays): the plan-time checks use them without building the grid."""
    w, s, e, n = bounds
    nx, ny = grid_shape(bounds, resolution)
    return (np.round(w + (np.arange(nx) + 0.5) * resolution, 10), np.round(n - (np.arange(ny) + 0.5) * resolution, 10))


def check_bounds(bounds, key: str = "grid.bounds") -> None:
    """One-line error naming ``key`` unless ``bounds`` is [west, south, east, north] with west < east, south < north."""
    w, s, e, n = (float(b) for b in bounds)
    if not (e > w and n > s):
        raise NepflowError(f"config key {key}: expected west < east and south < north, got {[w, s, e, n]}")


def _coord_attrs(ds: xr.Dataset, crs: CRS) -> None:
    if crs.is_geographic:
        ds["x"].attrs.update(standard_name="longitude", long_name="longitude", units="degrees_east", axis="X")
        ds["y"].attrs.update(standard_name="latitude", long_name="latitude", units="degrees_north", axis="Y")
    else:
        ds["x"].attrs.update(
            standard_name="projection_x_coordinate", long_name="x coordinate of projection", units="m", axis="X"
        )
        ds["y"].attrs.update(
            standard_name="projection_y_coordinate", long_name="y coordinate of projection", units="m", axis="Y"
        )


def resolution_of(grid) -> tuple[float, float]:
    """(dx, dy) pixel size in CRS units, both positive."""
    return float(abs(grid.x[1] - grid.x[0])), float(abs(grid.y[1] - grid.y[0]))


def region_raster(grid: xr.Dataset, shapes: dict) -> xr.DataArray:
    """Rasterise region outlines: 0 outside, k inside the k-th shape (1-based, dict order).

    A pixel belongs to a shape when its centre falls inside it (GDAL's default
    rule); where shapes overlap, the later one wins. Attributes ``flag_values``
    and ``flag_meanings`` (names with spaces as underscores) name the codes.
    """
    from rasterio import features

    geoms = [(g, k + 1) for k, g in enumerate(shapes_on_grid(shapes, grid.rio.crs))]
    codes = features.rasterize(
        geoms,
        out_shape=(grid.sizes["y"], grid.sizes["x"]),
        transform=grid.rio.transform(),
        fill=0,
        dtype="int16",
    )
    da = xr.DataArray(codes, coords={"y": grid.y, "x": grid.x}, dims=("y", "x"), name="region")
    da.attrs = {
        "long_name": "region: province code",
        "flag_values": np.arange(1, len(shapes) + 1, dtype="int16"),
        "flag_meanings": " ".join(n.replace(" ", "_") for n in shapes),
        "comment": "0 outside the region; a pixel is inside when its centre is inside the outline",
    }
    if not (codes > 0).any():
        raise NepflowError(NOT_COVERED)
    return da


#: The region raster's one requirement of the grid: a pixel centre inside the region (GDAL's rule).
NOT_COVERED = (
    "config key grid: the grid does not cover the region (no pixel centre inside it); expected "
    "grid.bounds around the region (or null: the region's bounding box) and a grid.resolution finer "
    "than the region"
)


def shapes_on_grid(shapes: dict, crs) -> list:
    """The region outlines (lon/lat) in the grid's CRS, in dict order."""
    import shapely

    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def to_grid(xy):
        return np.column_stack(t.transform(xy[:, 0], xy[:, 1]))

    return [shapely.transform(g, to_grid) for g in shapes.values()]


def check_covers(x: np.ndarray, y: np.ndarray, resolution: float, crs, shapes: dict) -> None:
    """:data:`NOT_COVERED` unless a pixel centre of the grid (``x`` ascending, ``y`` descending, as
    :func:`grid_axes`) lies inside the region, by the rule of :func:`region_raster`, without rasterising
    the whole grid: each outline only over the pixels of its bounding box, stopping at the first hit."""
    import shapely
    from rasterio import features
    from rasterio.transform import from_origin

    for geom in shapes_on_grid(shapes, crs):
        if geom.is_empty:
            continue
        p = geom.representative_point()  # its nearest pixel centre is often inside: no raster needed
        if shapely.contains_xy(geom, x[np.abs(x - p.x).argmin()], y[np.abs(y - p.y).argmin()]):
            return
        w, s, e, n = geom.bounds
        cols = np.flatnonzero((x >= w) & (x <= e))
        rows = np.flatnonzero((y >= s) & (y <= n))
        if not len(cols) or not len(rows):
            continue
        window = from_origin(x[cols[0]] - resolution / 2, y[rows[0]] + resolution / 2, resolution, resolution)
        codes = features.rasterize(
            [(geom, 1)], out_shape=(len(rows), len(cols)), transform=window, fill=0, dtype="uint8"
        )
        if codes.any():
            return
    raise NepflowError(NOT_COVERED)


def cell_edges(c: np.ndarray, step: float | None = None, regular: bool = True) -> np.ndarray:
    """Cell edges of an axis of cell centres (ascending or descending).

    ``regular`` (what conservative regridding needs): the axis must be regular, within float32
    rounding of its coordinates, else a one-line error; ``regular=False`` (a figure of any axis):
    edges half-way between centres, the outer ones mirrored. ``step``: the signed cell size, for an
    axis of one cell (a block of one row of the target grid; its transform knows the size);
    without it, one cell is 1 unit wide when ``regular`` is False.
    """
    raw = np.asarray(c)
    c = np.asarray(c, float)
    if len(c) == 1 and (step or not regular):
        half = step / 2 if step else 0.5
        return np.array([c[0] - half, c[0] + half])
    d = np.diff(c)
    if len(c) >= 2 and not regular:
        mid = (c[1:] + c[:-1]) / 2
        return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    if len(c) >= 2 and np.allclose(d, d[0], rtol=1e-6, atol=1e-9):
        return np.concatenate([c[:1] - d[0] / 2, c[:-1] + d / 2, c[-1:] + d[-1] / 2])
    if len(c) >= 2 and raw.dtype == np.float32:
        # older CDS NetCDF files store latitude/longitude as float32: 0.1 becomes 0.09999847 or 0.10000229,
        # up to half a float32 unit of the largest coordinate either way. The grid is regular at the step
        # rounded to 6 decimals (1e-6 deg, 0.1 m) if every centre lies within float32 rounding of it.
        first, mean = np.round(c[0], 6), np.round((c[-1] - c[0]) / (len(c) - 1), 6)
        ideal = first + np.arange(len(c)) * mean
        if mean != 0 and np.abs(c - ideal).max() <= 4 * np.finfo(np.float32).eps * max(1.0, np.abs(c).max()):
            return first + (np.arange(len(c) + 1) - 0.5) * mean
    raise NepflowError("conservative regridding needs a regular grid with at least 2 cells per axis")


def region_names(region: xr.DataArray) -> list[str]:
    """The names of the codes of a region raster (:func:`region_raster`), in code order, with spaces."""
    return [n.replace("_", " ") for n in region.attrs.get("flag_meanings", "").split()]


def region_masks(region: xr.DataArray) -> dict[str, np.ndarray]:
    """``all`` (every code > 0) plus one boolean mask per named code of a region raster, by its
    ``flag_values`` / ``flag_meanings`` (:func:`region_raster`)."""
    codes = np.asarray(region.values)
    names = region_names(region)
    values = np.atleast_1d(region.attrs.get("flag_values", np.arange(1, len(names) + 1)))
    if len(values) != len(names):
        raise NepflowError(
            f"region: {len(values)} flag_values but {len(names)} flag_meanings; expected one name per code"
        )
    masks = {"all": codes > 0}
    for code, name in zip(values, names):
        masks[name] = codes == int(code)
    return masks


def pixel_area(grid: xr.Dataset) -> xr.DataArray:
    """True area of every pixel (km2).

    Geographic grid: exact spherical cell area on the authalic sphere,
    A = R² Δλ (sin φ_n − sin φ_s). Projected grid: dx·dy divided by the
    projection's areal scale factor at the pixel centre (pyproj's
    ``get_factors``), exact for an equal-area CRS.
    """
    crs = grid.rio.crs
    dx, dy = resolution_of(grid)
    if crs.is_geographic:
        lat = np.deg2rad(grid.y.values)
        half = np.deg2rad(dy) / 2
        band = R_AUTHALIC**2 * np.deg2rad(dx) * (np.sin(lat + half) - np.sin(lat - half)) / 1e6
        area = np.broadcast_to(band[:, None], (grid.sizes["y"], grid.sizes["x"])).copy()
    else:
        from pyproj import Proj

        xx, yy = np.meshgrid(grid.x.values, grid.y.values)
        lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xx, yy)
        factors = Proj(crs).get_factors(lon, lat)
        area = dx * dy / np.asarray(factors.areal_scale) / 1e6
    da = xr.DataArray(area, coords={"y": grid.y, "x": grid.x}, dims=("y", "x"), name="pixel_area")
    da.attrs = variables.attrs("pixel_area")
    return da


def grid_dataset(grid: xr.Dataset, shapes: dict) -> xr.Dataset:
    """``grid.nc``: region codes and pixel areas on the target grid."""
    ds = xr.Dataset({"region": region_raster(grid, shapes), "pixel_area": pixel_area(grid)})
    ds = ds.rio.write_crs(grid.rio.crs)
    for v in ds.data_vars:
        ds[v].attrs["grid_mapping"] = "spatial_ref"
    for c in ("x", "y"):
        ds[c].attrs = dict(grid[c].attrs)
    return ds


def like(grid: xr.Dataset, data: np.ndarray, name: str, dims=("y", "x"), coords=None) -> xr.DataArray:
    """A DataArray on ``grid`` with the table's attributes for ``name``."""
    c = {"y": grid.y, "x": grid.x, **(coords or {})}
    da = xr.DataArray(data, coords={k: c[k] for k in dims}, dims=dims, name=name)
    da.attrs = variables.attrs(name)
    return da
