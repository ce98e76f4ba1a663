"""Regridding every product onto the one target grid.

The method of each variable is a config value (``regrid.methods``) and is
recorded in the output attributes:

- ``bilinear``: intensive fields (temperature), and any field refined from a
  coarser grid;
- ``average``: area average of the source pixels inside a target pixel (GDAL's
  "average" resampling), for FPAR and C4 fraction when coarsening, and for
  accumulated fields (precipitation, radiation) when coarsening;
- ``nearest`` / ``mode``: categorical fields (land cover classes).

Reprojection is rasterio's (GDAL warp) through rioxarray, so any source CRS
(lon/lat, MODIS sinusoidal) goes onto any target CRS.
"""

from __future__ import annotations

import hashlib

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling

from . import blocks
from .errors import NepflowError
from .grid import cell_edges

METHODS = {
    "bilinear": Resampling.bilinear,
    "average": Resampling.average,
    "nearest": Resampling.nearest,
    "mode": Resampling.mode,
    "cubic": Resampling.cubic,
}

#: Variables whose method is fixed, not configured: the land cover class map (CASA's per-class eps_max)
#: is regridded to the dominant class, never a mean of class codes.
FIXED_METHODS = {"landcover": "mode"}


def check_method(name: str, method: str, projected: bool, what: str) -> None:
    """One-line error if ``method`` cannot regrid variable ``name`` from its source: conservative
    needs a lon/lat source grid (``projected``: the source's grid is not lon/lat, e.g. MODIS
    sinusoidal; ``what`` names that source), and a fixed method (:data:`FIXED_METHODS`) is not
    configurable. The same check for the plan (a source's ``PROJECTED`` declaration) and for the
    regrid job (the opened field's CRS)."""
    if method not in METHODS and method != "conservative":
        raise NepflowError(
            f"config key regrid.methods.{name}: unknown method {method!r}; expected one of "
            f"{', '.join(METHODS)}, conservative"
        )
    fixed = FIXED_METHODS.get(name)
    if fixed is not None and method != fixed:
        raise NepflowError(
            f"config key regrid.methods.{name}: {method}; expected {fixed} or no entry (the class "
            f"map is regridded to the dominant class, never a mean of class codes)"
        )
    if method == "conservative" and projected:
        raise NepflowError(
            f"config key regrid.methods.{name}: conservative needs a lon/lat source grid and {what} "
            "is on a projected grid (e.g. MODIS sinusoidal); expected average, bilinear, nearest or mode"
        )


def to_target(da: xr.DataArray, target: xr.Dataset, method: str) -> xr.DataArray:
    """Reproject ``da`` (…, y, x) with a CRS onto the ``target`` grid with ``method``.

    NaN is the nodata value in both directions. Attributes are kept and the
    method is added as ``regrid_method``.
    """
    if method not in METHODS:
        raise NepflowError(
            f"config key regrid.methods: unknown method {method!r}; expected one of {', '.join(METHODS)}"
        )
    if da.rio.crs is None:
        raise NepflowError(f"variable {da.name}: source grid has no CRS; expected a georeferenced field")
    src = da.astype("float64").rio.write_nodata(np.nan, encoded=False)
    out = src.rio.reproject_match(target, resampling=METHODS[method], nodata=np.nan)
    out = out.assign_coords(x=target.x, y=target.y)
    out.attrs = {**da.attrs, "regrid_method": method}
    out.attrs.pop("_FillValue", None)
    return out


def check_coverage(da: xr.DataArray, inside: np.ndarray, what: str) -> None:
    """Raise a one-line error if ``da`` has no value in some month inside the region."""
    vals = np.asarray(da.values)
    if vals.ndim == 2:
        vals = vals[None]
    missing = ~np.isfinite(vals[:, inside])
    if missing.any():
        frac = missing.mean()
        km = da.attrs.get("coastal_fill_km")
        coast = f" and every region pixel within regrid.coast_fill_km ({km:g} km) of one with a value" if km else ""
        raise NepflowError(
            f"{what}: variable {da.name} does not cover the region on the target grid "
            f"({frac:.1%} of region pixel-months missing); expected the source to cover the grid bounds{coast}"
        )


# ---------------------------------------------------------------- projected sources and conservative remapping
def sinusoidal_to_target(ds, target: xr.Dataset, method: str = "average"):
    """MODIS fields on the sinusoidal tile grid (or any projected grid) onto the target grid.

    Each 2-D slice (one month) is warped on its own with GDAL (rasterio) so
    memory stays bounded by one month of the 463 m mosaic. ``average`` is the
    area-weighted mean of the source pixels overlapping a target pixel (GDAL
    weights partial pixels by their overlap; use it when coarsening FPAR, C4
    fraction, NPP); ``mode`` (majority) or ``nearest`` suit class maps. NaN is
    nodata in both directions; a Dataset gives a Dataset. The method is
    recorded in ``regrid_method``.

    Expected error of ``average`` on a smooth field: the difference between a
    cell mean and the point value at the cell centre, about (h²/24)|∇²f| for
    cell size h, plus the sub-pixel misalignment of the two grids.
    """
    if isinstance(ds, xr.Dataset):
        out = xr.Dataset({name: sinusoidal_to_target(da, target, method) for name, da in ds.data_vars.items()})
        return out.rio.write_crs(target.rio.crs)
    da = ds
    if method not in METHODS:
        raise NepflowError(
            f"config key regrid.methods: unknown method {method!r}; expected one of {', '.join(METHODS)}"
        )
    if da.rio.crs is None:
        raise NepflowError(f"variable {da.name}: source grid has no CRS; expected a georeferenced field")
    lead = [d for d in da.dims if d not in ("y", "x")]
    if len(lead) > 1:
        raise NepflowError(f"variable {da.name}: dims {da.dims}; expected (time, y, x) or (y, x)")
    # rasterio's warp on plain float32 arrays, one 2-D slice at a time: the only copies are one
    # month of the source (a 4-tile MODIS mosaic: 40 MB) and the target-sized result.
    from rasterio.warp import reproject

    src_transform, src_crs = da.rio.transform(recalc=True), da.rio.crs
    dst_transform, dst_crs = target.rio.transform(recalc=True), target.rio.crs
    shape = (target.sizes["y"], target.sizes["x"])
    n = da.sizes[lead[0]] if lead else 1
    out = np.full((n,) + shape, np.nan, "float32")
    for i in range(n):
        src = np.ascontiguousarray((da.isel({lead[0]: i}) if lead else da).transpose("y", "x").values, "float32")
        reproject(
            source=src,
            destination=out[i],
            src_transform=src_transform,
            src_crs=src_crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=dst_crs,
            dst_nodata=np.nan,
            resampling=METHODS[method],
        )
    coords = {"y": target.y, "x": target.x}
    if lead:
        coords[lead[0]] = da[lead[0]].values
    res = xr.DataArray(out if lead else out[0], coords=coords, dims=(*lead, "y", "x"), name=da.name)
    res.attrs = {**da.attrs, "regrid_method": method}
    res.attrs.pop("_FillValue", None)
    res.rio.write_crs(dst_crs, inplace=True)
    return res


def _overlap(a_edges: np.ndarray, b_edges: np.ndarray):
    """Sparse matrix (len(a)-1, len(b)-1) of the overlap lengths of two sets of 1-D cells."""
    from scipy import sparse

    a0, a1 = np.minimum(a_edges[:-1], a_edges[1:]), np.maximum(a_edges[:-1], a_edges[1:])
    b0, b1 = np.minimum(b_edges[:-1], b_edges[1:]), np.maximum(b_edges[:-1], b_edges[1:])
    rows, cols, vals = [], [], []
    order = np.argsort(b0)
    sb0, sb1 = b0[order], b1[order]
    for i in range(len(a0)):
        j0 = np.searchsorted(sb1, a0[i], side="right")
        j1 = np.searchsorted(sb0, a1[i], side="left")
        for j in range(max(j0 - 1, 0), min(j1 + 1, len(sb0))):
            ov = min(a1[i], sb1[j]) - max(a0[i], sb0[j])
            if ov > 0:
                rows.append(i)
                cols.append(order[j])
                vals.append(ov)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(a0), len(b0)))


def conservative(ds, target: xr.Dataset, subdivisions: int = 8, min_cover: float = 0.5):
    """First-order conservative remapping of a lon/lat field onto the target grid.

    For accumulated meteorology (precipitation, radiation, evaporation per unit
    area): each target cell gets the area-weighted mean of the source cells it
    overlaps, v_t = Σ_s A_ts v_s / Σ_s A_ts over valid sources, so the areal
    integral Σ_t v_t A_t equals Σ_s v_s A_s over the covered area (Jones 1999,
    Mon. Wea. Rev. 127, 2204–2210). Target cells less than ``min_cover`` covered
    by valid source cells are NaN.

    - Geographic target: exact overlap areas on the sphere, which factorise as
      A_ts = R² Δλ_ts · Δ(sin φ)_ts for two regular lon/lat grids.
    - Projected target: each target cell is split into ``subdivisions``²
      sub-cells whose centres are located in the source grid; A_ts is the
      summed true area of the sub-cells falling in source cell s (error
      O(1/subdivisions) at cell edges only).

    ``ds``: a DataArray or Dataset on a regular lon/lat grid (dims …, y, x, CRS
    geographic). Returns the same kind on the target grid.
    """
    if isinstance(ds, xr.Dataset):
        out = xr.Dataset({n: conservative(da, target, subdivisions, min_cover) for n, da in ds.data_vars.items()})
        return out.rio.write_crs(target.rio.crs)
    da = ds
    crs = da.rio.crs
    if crs is None or not crs.is_geographic:
        raise NepflowError(f"variable {da.name}: conservative regridding needs a lon/lat source grid")
    sx, sy = cell_edges(da.x.values), cell_edges(da.y.values)
    lead = [d for d in da.dims if d not in ("y", "x")]
    vals = da.transpose(*lead, "y", "x").values.astype("float64")
    flat = vals.reshape((-1,) + vals.shape[-2:])
    tcrs = target.rio.crs
    rx, ry = target.rio.resolution()
    tx_edges, ty_edges = cell_edges(target.x.values, rx), cell_edges(target.y.values, ry)
    if tcrs.is_geographic:
        wx = _overlap(tx_edges, sx)  # degrees of longitude
        wy = _overlap(np.sin(np.deg2rad(ty_edges)), np.sin(np.deg2rad(sy)))
        full = np.outer(np.abs(np.diff(np.sin(np.deg2rad(ty_edges)))), np.abs(np.diff(tx_edges)))

        def remap(v):
            ok = np.isfinite(v)
            num = wy @ (wx @ np.where(ok, v, 0).T).T
            den = wy @ (wx @ ok.astype(float).T).T
            return num, den
    else:
        from pyproj import Transformer
        from scipy import sparse

        from .grid import pixel_area

        k = int(subdivisions)
        tx, ty = tx_edges, ty_edges
        fx = (np.arange(k) + 0.5) / k
        px = (tx[:-1, None] + np.outer(np.diff(tx), fx)).ravel()  # (nx*k)
        nyt, nxt = target.sizes["y"], target.sizes["x"]
        nsx, nsy = len(sx) - 1, len(sy) - 1
        to_src = Transformer.from_crs(tcrs, crs, always_xy=True)
        pa = pixel_area(target).values / k**2  # true area of each sub-cell: the pixel's area split evenly
        # Built in blocks of target rows, so memory stays bounded by a block of sub-cells
        # (about 2 million), not by the grid's pixels x subdivisions² (1e8 at 1 km over North China).
        step = blocks.rows_for_pixels(nxt * k * k, blocks.INNER_PIXELS["conservative_subcells"])
        weights = []
        for s in blocks.row_slices(nyt, step):
            r0, r1 = s.start, s.stop
            py = (ty[r0:r1, None] + np.outer(np.diff(ty)[r0:r1], fx)).ravel()  # ((r1-r0)*k)
            xx, yy = np.meshgrid(px, py)
            lon, lat = to_src.transform(xx, yy)
            del xx, yy
            ix = np.floor((lon - min(sx[0], sx[-1])) / abs(sx[1] - sx[0])).astype(np.int64)
            iy = np.floor((lat - min(sy[0], sy[-1])) / abs(sy[1] - sy[0])).astype(np.int64)
            del lon, lat
            if sx[0] > sx[-1]:
                ix = nsx - 1 - ix
            if sy[0] > sy[-1]:
                iy = nsy - 1 - iy
            inside = (ix >= 0) & (ix < nsx) & (iy >= 0) & (iy < nsy)
            rows = r0 + np.arange((r1 - r0) * k) // k
            cols = np.arange(nxt * k) // k
            trow = (rows[:, None] * nxt + cols[None, :])[inside]
            area = pa[rows[:, None], cols[None, :]][inside]
            src = (iy * nsx + ix)[inside]
            weights.append(sparse.coo_matrix((area, (trow, src)), shape=(nyt * nxt, nsy * nsx)).tocsr())
        m = weights[0]
        for b in weights[1:]:
            m = m + b
        full = pa.reshape(nyt, nxt) * k**2

        def remap(v):
            ok = np.isfinite(v).ravel()
            num = (m @ np.where(ok, v.ravel(), 0)).reshape(nyt, nxt)
            den = (m @ ok.astype(float)).reshape(nyt, nxt)
            return num, den

    out = np.empty((flat.shape[0], target.sizes["y"], target.sizes["x"]))
    for i, v in enumerate(flat):
        num, den = remap(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.where(den >= min_cover * full, num / den, np.nan)
    out = out.reshape(vals.shape[:-2] + out.shape[-2:])
    coords = {d: da[d] for d in lead}
    coords.update(y=target.y, x=target.x)
    res = xr.DataArray(out, coords=coords, dims=(*lead, "y", "x"), name=da.name)
    res.attrs = {**da.attrs, "regrid_method": "conservative"}
    res.attrs.pop("_FillValue", None)
    return res.rio.write_crs(tcrs)


# ---------------------------------------------------------------- blocks of target rows
def source_window(da: xr.DataArray, target: xr.Dataset, pad: int = 3) -> xr.DataArray:
    """The part of ``da`` (…, y, x, with a CRS) that covers ``target`` (a block of the target grid).

    The target's bounds are transformed into the source CRS (densified edges)
    and widened by ``pad`` source pixels, enough for every resampling kernel
    (bilinear 1, cubic 2 pixels) and for the footprints of ``average``. A
    lazily opened ``da`` reads only the window.
    """
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds(target.rio.crs, da.rio.crs, *target.rio.bounds(), densify_pts=21)
    out = {}
    for dim, lo, hi in (("x", w, e), ("y", s, n)):
        c = np.asarray(da[dim].values, dtype="float64")
        step = abs(float(c[1] - c[0])) if c.size > 1 else 0.0
        keep = np.nonzero((c >= lo - pad * step) & (c <= hi + pad * step))[0]
        if keep.size < 2:  # the block lies outside the source (or in one pixel): keep the nearest pixels
            i = int(np.argmin(np.abs(c - (lo + hi) / 2)))
            keep = np.arange(max(0, i - pad), min(c.size, i + pad + 1))
        out[dim] = slice(int(keep[0]), int(keep[-1]) + 1)
    return da.isel(out)


# ---------------------------------------------------------------- coastal pixels
#: Mean Earth radius (km) for the great-circle distances of :func:`fill_coastal`.
EARTH_RADIUS_KM = 6371.0088


def _reach_pixels(x: np.ndarray, y: np.ndarray, crs, max_km: float) -> tuple[int, int]:
    """(rows, columns) a pixel ``max_km`` away can be at most, from a lower bound of the pixel size (km)."""

    def step(c):
        return float(np.abs(np.diff(c)).min()) if c.size > 1 else 0.0

    dx, dy = step(x), step(y)
    if crs is None or crs.is_geographic:
        km = np.pi / 180 * EARTH_RADIUS_KM
        coslat = np.cos(np.deg2rad(min(90.0, float(np.abs(y).max()) + dy)))
        dx_km, dy_km = dx * km * coslat, dy * km
    else:  # projected units to km; 0.9 allows for the projection's scale error
        from pyproj import CRS

        axes = CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs).axis_info
        to_km = axes[0].unit_conversion_factor / 1000 if axes else 1e-3
        dx_km, dy_km = 0.9 * dx * to_km, 0.9 * dy * to_km
    rows = int(np.ceil(max_km / dy_km)) + 1 if dy_km > 0 else y.size
    cols = int(np.ceil(max_km / dx_km)) + 1 if dx_km > 0 else x.size
    return min(rows, y.size), min(cols, x.size)


def coastal_search(x: np.ndarray, y: np.ndarray, crs, max_km: float):
    """The nearest-land search of :func:`fill_coastal` on the grid of pixel centres ``x``, ``y`` (``crs``).

    Returns ``search(ok, holes) -> (dst, src)``: ``ok`` (y, x) the pixels with a value, ``holes``
    the region pixels without one; ``dst`` the flat indices of the holes whose nearest pixel with a
    value (great-circle distance between pixel centres) lies within ``max_km``, ``src`` that pixel's.
    """
    from pyproj import Transformer  # only where there is something to fill (scipy's import is ~0.3 CPU-s)
    from scipy import ndimage
    from scipy.spatial import cKDTree

    x, y = np.asarray(x, float), np.asarray(y, float)
    to_lonlat = (
        Transformer.from_crs(crs, "EPSG:4326", always_xy=True) if crs is not None and not crs.is_geographic else None
    )

    def unit_vectors(idx):  # pixel centres (flat indices) as unit vectors on the sphere
        px, py = x[idx % len(x)], y[idx // len(x)]
        if to_lonlat is not None:
            px, py = to_lonlat.transform(px, py)
        lon, lat = np.deg2rad(px), np.deg2rad(py)
        return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])

    reach = _reach_pixels(x, y, crs, max_km)
    chord = 2 * np.sin(min(max_km / EARTH_RADIUS_KM, np.pi) / 2)  # the chord of max_km on the sphere

    def search(ok, holes):
        # candidates: valid pixels within ``reach`` rows/columns of a hole, so memory follows the
        # coast, not the grid (a 500 m grid has millions of valid pixels)
        near = ndimage.maximum_filter(holes, size=(2 * reach[0] + 1, 2 * reach[1] + 1), mode="constant")
        src = np.flatnonzero(ok & near)
        dst = np.flatnonzero(holes)
        if not src.size:
            return dst[:0], dst[:0]
        dist, j = cKDTree(unit_vectors(src)).query(unit_vectors(dst), distance_upper_bound=chord * (1 + 1e-9))
        hit = np.isfinite(dist)
        return dst[hit], src[j[hit]]

    return search


def fill_holes(v: np.ndarray, inside: np.ndarray, search, searched: dict) -> np.ndarray:
    """Fill the region pixels without a value of one month ``v`` (y, x; C-contiguous, filled in
    place) by ``search`` (:func:`coastal_search`); returns the flat indices filled. Months share
    their mask (the land-sea mask): ``searched`` keeps one search per distinct mask."""
    ok = np.isfinite(v)
    holes = inside & ~ok
    if not holes.any() or not ok.any():
        return np.empty(0, np.int64)
    key = hashlib.blake2b(np.packbits(ok).tobytes(), digest_size=20).digest()
    if key not in searched:
        searched[key] = search(ok, holes)
    dst, src = searched[key]
    flat = v.reshape(-1)
    flat[dst] = flat[src]
    return dst


def fill_coastal(da: xr.DataArray, inside: np.ndarray, max_km: float, copy: bool = True) -> tuple[xr.DataArray, int]:
    """Region pixels without a value filled from the nearest pixel with one, up to ``max_km`` away.

    ERA5-Land has no value over the sea (cells whose land-sea mask is below
    0.5), so a coastal region pixel can fall under a masked cell. Such a pixel
    (NaN in ``da`` where ``inside`` is True) takes the value of the nearest
    valid pixel of the same month (great-circle distance between pixel
    centres, on a sphere of radius :data:`EARTH_RADIUS_KM`) if that pixel lies
    within ``max_km``; farther gaps stay NaN for the coverage check to report.
    ``da`` (…, y, x) is on the target grid (with its CRS); a block of rows
    sees only its own pixels, so blocks need ``max_km`` of extra rows to give
    the whole grid's answer (the regrid job fills month by month on the whole
    grid: :func:`nepflow.drivers.fill_spilled`).

    Returns ``(filled, n)``: the field with attributes ``coastal_fill_km``
    and ``coastal_fill_pixels`` (n, the region pixels filled in any month).
    ``copy=False`` fills ``da``'s own array (a caller that owns it saves a copy
    of the field).
    """
    # contiguous, so ``flat`` and its rows are views of it
    vals = np.array(da.values, order="C") if copy else np.ascontiguousarray(da.values)
    flat = vals.reshape((-1,) + vals.shape[-2:])
    inside = np.asarray(inside, bool)
    filled = np.zeros(inside.shape, bool)
    if max_km > 0 and (inside[None] & ~np.isfinite(flat)).any():
        search, searched = coastal_search(da["x"].values, da["y"].values, da.rio.crs, max_km), {}
        for v in flat:
            filled.reshape(-1)[fill_holes(v, inside, search, searched)] = True
    n = int(filled.sum())
    out = da.copy(data=vals) if copy or vals is not da.values else da
    out.attrs = coastal_attrs(da.attrs, max_km, n)
    return out, n


def coastal_attrs(attrs: dict, max_km: float, n: int) -> dict:
    """``attrs`` with the coastal fill's distance and count of filled region pixels."""
    return {**attrs, "coastal_fill_km": float(max_km), "coastal_fill_pixels": n}
