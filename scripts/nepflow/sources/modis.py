"""Reading MODIS Collection 6.1 HDF4-EOS sinusoidal tiles with pyhdf.

The rasterio wheel's GDAL has no HDF4 driver, so tiles are read with pyhdf
(``pyhdf.SD``) and georeferenced from the MODIS tile grid:

- CRS: sinusoidal on a sphere, ``+proj=sinu +R=6371007.181 +units=m``;
- 36 × 18 tiles of 1111950.5197 m (= 20015109.3558 m × 2 / 36), numbered
  h = 0…35 west→east and v = 0…17 north→south from the grid's upper-left
  corner (x, y) = (−20015109.356, 10007554.677);
- tile (h, v) spans x ∈ [x0 + h·W, x0 + (h+1)·W], y ∈ [y0 − (v+1)·W, y0 − v·W];
  with N × N pixels (2400 for 500 m products) pixel (row i, column j) has its
  centre at x = x0 + h·W + (j + ½)·W/N, y = y0 − v·W − (i + ½)·W/N.

The tile's ``StructMetadata.0`` (the HDF-EOS GridStructure: XDim, YDim,
UpperLeftPointMtrs, LowerRightMtrs, Projection=GCTP_SNSOID) is parsed and must
agree with the h/v position of the file name to 1 m; its XDim/YDim give N.

Decoding follows the MODIS convention (not CF's): physical = scale_factor ×
(DN − add_offset), after masking DN outside ``valid_range`` and DN equal to
``_FillValue``. Product-specific fill codes (MOD15A2H 249–255, MOD17A3HGF
32761–32767) lie outside the valid ranges and are masked by them; callers that
need the codes read the raw DN (``decode=False``).

Writing (:func:`write_tile`): the same layout, for the demo source's synthetic tiles and the tests'
fakes; the SDS names, types, fill values, valid ranges and scale factors of each product are in
:data:`PRODUCTS`.

References: MODIS Land Grid (https://modis-land.gsfc.nasa.gov/MODLAND_grid.html);
HDF-EOS2 Grid StructMetadata (HDF-EOS Library User's Guide, vol. 1).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from ..errors import NepflowError

#: The MODIS sinusoidal CRS (sphere of radius 6371007.181 m).
SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
R_SPHERE = 6371007.181
X_ORIGIN = -20015109.355798
Y_ORIGIN = 10007554.677199
TILE_WIDTH = 2 * 20015109.355798 / 36  # 1111950.5197 m
NAME = re.compile(
    r"^(?P<short>[A-Z0-9]+)\.A(?P<year>\d{4})(?P<doy>\d{3})\.h(?P<h>\d{2})v(?P<v>\d{2})\."
    r"(?P<version>\d{3})\.(?P<production>\d{13})\.hdf$"
)


def parse_name(name: str) -> dict:
    """Fields of a MODIS tile file name (e.g. ``MOD15A2H.A2001001.h26v04.061.2021123456789.hdf``).

    Returns short (product), year, doy, date (datetime.date), h, v, version, production.
    """
    m = NAME.match(Path(name).name)
    if not m:
        raise NepflowError(f"{name}: not a MODIS tile file name; expected SHORT.AYYYYDDD.hHHvVV.VVV.PRODUCTION.hdf")
    d = m.groupdict()
    year, doy = int(d["year"]), int(d["doy"])
    return {
        "short": d["short"],
        "year": year,
        "doy": doy,
        "date": dt.date(year, 1, 1) + dt.timedelta(days=doy - 1),
        "h": int(d["h"]),
        "v": int(d["v"]),
        "version": d["version"],
        "production": d["production"],
    }


def tile_bounds(h: int, v: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of tile (h, v) in sinusoidal metres."""
    w = X_ORIGIN + h * TILE_WIDTH
    n = Y_ORIGIN - v * TILE_WIDTH
    return w, n - TILE_WIDTH, w + TILE_WIDTH, n


def tile_coords(h: int, v: int, nx: int, ny: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x ascending, y descending) of an nx × ny tile, in metres."""
    ny = ny or nx
    w, _, _, n = tile_bounds(h, v)
    dx, dy = TILE_WIDTH / nx, TILE_WIDTH / ny
    return w + (np.arange(nx) + 0.5) * dx, n - (np.arange(ny) + 0.5) * dy


def lonlat_to_sinusoidal(lon, lat):
    """Forward sinusoidal projection on the MODIS sphere: x = R λ cos φ, y = R φ (radians)."""
    lam, phi = np.deg2rad(np.asarray(lon, float)), np.deg2rad(np.asarray(lat, float))
    return R_SPHERE * lam * np.cos(phi), R_SPHERE * phi


def sinusoidal_to_lonlat(x, y):
    """Inverse of :func:`lonlat_to_sinusoidal` (degrees)."""
    phi = np.asarray(y, float) / R_SPHERE
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.asarray(x, float) / (R_SPHERE * np.cos(phi))
    return np.rad2deg(lam), np.rad2deg(phi)


def tile_of(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """(h, v) of the tile containing each lon/lat point."""
    x, y = lonlat_to_sinusoidal(lon, lat)
    h = np.floor((x - X_ORIGIN) / TILE_WIDTH).astype(int)
    v = np.floor((Y_ORIGIN - y) / TILE_WIDTH).astype(int)
    return np.clip(h, 0, 35), np.clip(v, 0, 17)


def tiles_for_bbox(bbox, step: float = 0.05) -> list[tuple[int, int]]:
    """Sorted (h, v) tiles that hold any point of a lon/lat box [W, S, E, N] (sampled every ``step`` degrees)."""
    w, s, e, n = (float(b) for b in bbox)
    lon = np.append(np.arange(w, e, step), e)
    lat = np.append(np.arange(s, n, step), n)
    lo, la = np.meshgrid(lon, lat)
    h, v = tile_of(lo.ravel(), la.ravel())
    return sorted({(int(a), int(b)) for a, b in zip(h, v)})


def sinusoidal_bounds(bbox, pad: float = 2000.0) -> tuple[float, float, float, float]:
    """Sinusoidal (W, S, E, N) bounds (m) of a lon/lat box, densified, padded by ``pad`` metres."""
    w, s, e, n = (float(b) for b in bbox)
    lon = np.linspace(w, e, 101)
    lat = np.linspace(s, n, 101)
    lo, la = np.meshgrid(lon, lat)
    x, y = lonlat_to_sinusoidal(lo, la)
    return float(x.min() - pad), float(y.min() - pad), float(x.max() + pad), float(y.max() + pad)


# ---------------------------------------------------------------- HDF4 access
def _open(path):
    from pyhdf.error import HDF4Error
    from pyhdf.SD import SD, SDC

    try:
        return SD(str(path), SDC.READ)
    except HDF4Error as exc:
        raise NepflowError(f"{path}: not a readable HDF4 file ({exc}); expected a MODIS HDF4-EOS tile") from None


def parse_struct_metadata(text: str) -> dict:
    """Grid facts from an HDF-EOS ``StructMetadata.0`` (first grid): GridName, XDim, YDim,
    UpperLeftPointMtrs, LowerRightMtrs (tuples of float), Projection, ProjParams."""
    out: dict = {}
    for key in ("GridName", "XDim", "YDim", "UpperLeftPointMtrs", "LowerRightMtrs", "Projection", "ProjParams"):
        m = re.search(rf"^\s*{key}=(.+)$", text, flags=re.M)
        if not m:
            continue
        val = m.group(1).strip()
        if val.startswith("("):
            out[key] = tuple(float(x) for x in val.strip("()").split(","))
        elif val.startswith('"'):
            out[key] = val.strip('"')
        else:
            try:
                out[key] = int(val)
            except ValueError:
                out[key] = val
    return out


def grid_info(path) -> dict:
    """h, v, nx, ny and the checked StructMetadata of a tile file.

    Remembered per file (path, size and modification time): a year's monthly FPAR mosaics each 8-day
    composite's tiles once per layer and month."""
    st = Path(path).stat()
    return copy.deepcopy(_grid_info(str(path), st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=4096)
def _grid_info(path: str, size: int, mtime_ns: int) -> dict:
    info = parse_name(Path(path).name)
    sd = _open(path)
    try:
        # this attribute's value only: pyhdf reads text attributes a character at a time (CoreMetadata.0 is long)
        struct = next((a.get() for a in map(sd.attr, range(sd.info()[1])) if a.info()[0] == "StructMetadata.0"), None)
        names = list(sd.datasets())
        shape = sd.select(names[0]).info()[2] if names else None
    finally:
        sd.end()
    ny, nx = (shape if isinstance(shape, list) else [None, None])[:2]
    if struct:
        sm = parse_struct_metadata(struct)
        nx, ny = sm.get("XDim", nx), sm.get("YDim", ny)
        if sm.get("Projection") not in (None, "GCTP_SNSOID"):
            raise NepflowError(
                f"{path}: StructMetadata.0 projection {sm['Projection']}; expected GCTP_SNSOID (sinusoidal)"
            )
        w, s, e, n = tile_bounds(info["h"], info["v"])
        ul, lr = sm.get("UpperLeftPointMtrs"), sm.get("LowerRightMtrs")
        if ul and lr and max(abs(ul[0] - w), abs(ul[1] - n), abs(lr[0] - e), abs(lr[1] - s)) > 1.0:
            raise NepflowError(
                f"{path}: StructMetadata.0 corners {ul}, {lr} do not match tile "
                f"h{info['h']:02d}v{info['v']:02d}; expected {(w, n)}, {(e, s)}"
            )
        info["struct"] = sm
    if not nx or not ny:
        raise NepflowError(f"{path}: cannot tell the tile size (no StructMetadata.0 and no SDS)")
    info.update(nx=int(nx), ny=int(ny))
    return info


#: The SDS attributes :func:`read_sds` reads: those the decoding and the outputs use. pyhdf reads text
#: attributes a character at a time, and the products' SDS carry long legends (MOD15A2H's fill-value and
#: QC documents) that a year's hundreds of reads would spend seconds on.
SDS_ATTRS = ("long_name", "units", "scale_factor", "add_offset", "valid_range", "_FillValue")


def read_sds(path, name: str, decode: bool = True) -> tuple[np.ndarray, dict]:
    """One SDS of a tile: (array, its attributes of :data:`SDS_ATTRS`).

    ``decode=True``: float64 physical values, NaN outside ``valid_range`` and at
    ``_FillValue``; value = scale_factor × (DN − add_offset). ``decode=False``:
    the raw DN in the file's integer type.
    """
    from pyhdf.error import HDF4Error

    sd = _open(path)
    try:
        if name not in sd.datasets():
            raise NepflowError(f"{path}: no dataset {name!r}; found {', '.join(sorted(sd.datasets()))}")
        sds = sd.select(name)
        try:
            dn = np.asarray(sds.get())
            attrs = {}
            for attr in map(sds.attr, range(sds.info()[4])):  # the wanted ones only: see SDS_ATTRS
                if (key := attr.info()[0]) in SDS_ATTRS:
                    attrs[key] = attr.get()
        finally:
            sds.endaccess()
    except HDF4Error as exc:
        raise NepflowError(f"{path}: cannot read {name} ({exc})") from None
    finally:
        sd.end()
    if not decode:
        return dn, attrs
    return decode_dn(dn, attrs), attrs


def decode_dn(dn: np.ndarray, attrs: dict) -> np.ndarray:
    """Physical values of MODIS DN: NaN outside valid_range or at _FillValue; scale × (DN − offset)."""
    out = dn.astype("float64")
    bad = np.zeros(dn.shape, bool)
    if "_FillValue" in attrs:
        bad |= dn == np.asarray(attrs["_FillValue"]).item()
    if "valid_range" in attrs:
        lo, hi = np.asarray(attrs["valid_range"]).ravel()[:2]
        bad |= (dn < lo) | (dn > hi)
    scale = float(attrs.get("scale_factor", 1.0))
    offset = float(attrs.get("add_offset", 0.0))
    out = scale * (out - offset)
    out[bad] = np.nan
    return out


def read_tile(path, names, decode: bool = True) -> xr.Dataset:
    """Variables ``names`` of one tile as a dataset on its sinusoidal x/y with a CRS."""
    info = grid_info(path)
    x, y = tile_coords(info["h"], info["v"], info["nx"], info["ny"])
    data = {}
    for name in names:
        arr, attrs = read_sds(path, name, decode)
        if arr.shape != (info["ny"], info["nx"]):
            raise NepflowError(f"{path}: {name} has shape {arr.shape}; expected {(info['ny'], info['nx'])}")
        keep = {
            k: (v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v)
            for k, v in attrs.items()
            if k in ("long_name", "units", "scale_factor", "add_offset", "valid_range", "_FillValue")
        }
        if decode:
            keep = {
                f"modis_{k}" if k in ("scale_factor", "add_offset", "valid_range", "_FillValue") else k: v
                for k, v in keep.items()
            }
        data[name] = (("y", "x"), arr, keep)
    ds = xr.Dataset(data, coords={"y": y, "x": x})
    return _georef(ds)


@functools.lru_cache(maxsize=1)
def _spatial_ref() -> xr.DataArray:
    """The sinusoidal CRS as rioxarray writes it (the ``spatial_ref`` coordinate), built once: a year's
    monthly FPAR mosaics a hundred composites, and rioxarray's write_crs costs tens of milliseconds."""
    return xr.Dataset().rio.write_crs(SINUSOIDAL)["spatial_ref"]


def _georef(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` on the sinusoidal grid: its CRS (as ``ds.rio.write_crs(SINUSOIDAL)`` gives it) and coordinate attributes."""
    ds = ds.assign_coords(spatial_ref=_spatial_ref().copy())
    for v in ds.data_vars.values():
        v.encoding["grid_mapping"] = "spatial_ref"
    ds["x"].attrs.update(standard_name="projection_x_coordinate", units="m", axis="X")
    ds["y"].attrs.update(standard_name="projection_y_coordinate", units="m", axis="Y")
    return ds


def mosaic_layout(infos: list[dict], bounds=None):
    """Pixel layout of a mosaic of tiles: (x, y, placements) where placements map each
    tile (h, v) to (row slice in mosaic, col slice in mosaic, row slice in tile, col slice in tile).

    All tiles must have the same pixel size. ``bounds`` (W, S, E, N, sinusoidal m)
    crops the mosaic to the pixels whose centres fall inside.
    """
    sizes = {(i["nx"], i["ny"]) for i in infos}
    if len(sizes) != 1:
        raise NepflowError(f"MODIS tiles of different sizes {sorted(sizes)} cannot be mosaicked")
    nx, ny = sizes.pop()
    hs = sorted({i["h"] for i in infos})
    vs = sorted({i["v"] for i in infos})
    h0, v0 = hs[0], vs[0]
    cols = (hs[-1] - h0 + 1) * nx
    rows = (vs[-1] - v0 + 1) * ny
    dx, dy = TILE_WIDTH / nx, TILE_WIDTH / ny
    x = X_ORIGIN + h0 * TILE_WIDTH + (np.arange(cols) + 0.5) * dx
    y = Y_ORIGIN - v0 * TILE_WIDTH - (np.arange(rows) + 0.5) * dy
    c0, c1, r0, r1 = 0, cols, 0, rows
    if bounds is not None:
        w, s, e, n = bounds
        cx = np.nonzero((x >= w) & (x <= e))[0]
        ry = np.nonzero((y >= s) & (y <= n))[0]
        if len(cx) == 0 or len(ry) == 0:
            raise NepflowError(
                f"MODIS tiles {sorted({(i['h'], i['v']) for i in infos})} do not cover the requested area {bounds}"
            )
        c0, c1, r0, r1 = int(cx[0]), int(cx[-1]) + 1, int(ry[0]), int(ry[-1]) + 1
    place = {}
    for i in infos:
        tc0 = (i["h"] - h0) * nx
        tr0 = (i["v"] - v0) * ny
        a0, a1 = max(c0, tc0), min(c1, tc0 + nx)
        b0, b1 = max(r0, tr0), min(r1, tr0 + ny)
        if a0 >= a1 or b0 >= b1:
            continue
        place[(i["h"], i["v"])] = (
            slice(b0 - r0, b1 - r0),
            slice(a0 - c0, a1 - c0),
            slice(b0 - tr0, b1 - tr0),
            slice(a0 - tc0, a1 - tc0),
        )
    return x[c0:c1], y[r0:r1], place


def mosaic(paths, name: str, decode: bool = True, bounds=None, fill=None) -> xr.DataArray:
    """Mosaic one SDS of several tiles (same product and date) onto one sinusoidal grid.

    Pixels of tiles that are missing are NaN (``decode=True``) or ``fill`` (raw
    DN; default the SDS's _FillValue). ``bounds`` crops as in :func:`mosaic_layout`.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise NepflowError(f"no MODIS tiles to mosaic for {name}")
    infos = [{**grid_info(p), "path": p} for p in paths]
    x, y, place = mosaic_layout(infos, bounds)
    out = None
    attrs = {}
    for info in infos:
        key = (info["h"], info["v"])
        if key not in place:
            continue
        arr, attrs = read_sds(info["path"], name, decode)
        if out is None:
            if decode:
                out = np.full((len(y), len(x)), np.nan)
            else:
                f = fill if fill is not None else np.asarray(attrs.get("_FillValue", 0)).item()
                out = np.full((len(y), len(x)), f, dtype=arr.dtype)
        mr, mc, tr, tc = place[key]
        out[mr, mc] = arr[tr, tc]
    if out is None:
        raise NepflowError(f"no MODIS tile overlaps the requested area for {name}")
    keep = {
        k: (v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v)
        for k, v in attrs.items()
        if k in ("long_name", "units")
    }
    da = xr.DataArray(out, coords={"y": y, "x": x}, dims=("y", "x"), name=name, attrs=keep)
    return _georef(da.to_dataset())[name]


# ---------------------------------------------------------------- writing tiles (the demo source)
#: SDS layouts of the products as LP DAAC ships them: short name -> (HDF-EOS grid name,
#: {SDS: (type, _FillValue, valid_range, scale_factor, units, long_name)}).
PRODUCTS = {
    "MOD15A2H": (
        "MOD_Grid_MOD15A2H",
        {
            "Fpar_500m": (
                "uint8",
                255,
                (0, 100),
                0.01,
                "Percent",
                "MOD15A2H MODIS/Terra Gridded 500M FPAR (8-day composite)",
            ),
            "Lai_500m": (
                "uint8",
                255,
                (0, 100),
                0.1,
                "m^2/m^2",
                "MOD15A2H MODIS/Terra Gridded 500M Leaf Area Index LAI (8-day composite)",
            ),
            "FparLai_QC": ("uint8", 255, (0, 254), None, "class-flag", "Quality for FPAR and LAI"),
        },
    ),
    "MCD12Q1": (
        "MCD12Q1",
        {
            "LC_Type1": (
                "uint8",
                255,
                (1, 17),
                None,
                "class-flag",
                "Land Cover Type 1: Annual International Geosphere-Biosphere Programme (IGBP) classification",
            ),
            "QC": ("uint8", 255, (0, 10), None, "class-flag", "Product quality flags"),
        },
    ),
    "MOD16A2GF": (
        "MOD_Grid_MOD16A2",
        {
            "ET_500m": (
                "int16",
                32767,
                (-32767, 32700),
                0.1,
                "kg/m^2/8day",
                "MODIS Gridded 500m 8-day Composite Evapotranspiration (ET)",
            ),
            "ET_QC_500m": ("uint8", 255, (0, 254), None, "class-flag", "Quality control flags for ET/LE"),
        },
    ),
    "MOD17A3HGF": (
        "MOD_Grid_MOD17A3H",
        {
            "Npp_500m": (
                "int16",
                32767,
                (-30000, 32700),
                0.0001,
                "kg C/m^2/year",
                "Net Primary Productivity gap-filled",
            ),
            "Gpp_500m": (
                "int16",
                32767,
                (-30000, 32700),
                0.0001,
                "kg C/m^2/year",
                "Gross Primary Productivity gap-filled",
            ),
        },
    ),
}


def struct_metadata(grid_name: str, h: int, v: int, nx: int, ny: int, fields: dict) -> str:
    """StructMetadata.0 text of a MODIS sinusoidal tile (ODL, as the HDF-EOS library writes it)."""
    ulx, uly = X_ORIGIN + h * TILE_WIDTH, Y_ORIGIN - v * TILE_WIDTH
    lrx, lry = ulx + TILE_WIDTH, uly - TILE_WIDTH
    dfnt = {"uint8": "DFNT_UINT8", "int16": "DFNT_INT16", "uint16": "DFNT_UINT16", "int8": "DFNT_INT8"}
    lines = [
        "GROUP=SwathStructure",
        "END_GROUP=SwathStructure",
        "GROUP=GridStructure",
        "\tGROUP=GRID_1",
        f'\t\tGridName="{grid_name}"',
        f"\t\tXDim={nx}",
        f"\t\tYDim={ny}",
        f"\t\tUpperLeftPointMtrs=({ulx:.6f},{uly:.6f})",
        f"\t\tLowerRightMtrs=({lrx:.6f},{lry:.6f})",
        "\t\tProjection=GCTP_SNSOID",
        "\t\tProjParams=(6371007.181000,0,0,0,0,0,0,0,0,0,0,0,0)",
        "\t\tSphereCode=-1",
        "\t\tGridOrigin=HDFE_GD_UL",
        "\t\tGROUP=Dimension",
        "\t\tEND_GROUP=Dimension",
        "\t\tGROUP=DataField",
    ]
    for i, (name, spec) in enumerate(fields.items(), 1):
        lines += [
            f"\t\t\tOBJECT=DataField_{i}",
            f'\t\t\t\tDataFieldName="{name}"',
            f"\t\t\t\tDataType={dfnt[spec[0]]}",
            '\t\t\t\tDimList=("YDim","XDim")',
            "\t\t\t\tCompressionType=HDFE_COMP_DEFLATE",
            "\t\t\t\tDeflateLevel=8",
            f"\t\t\tEND_OBJECT=DataField_{i}",
        ]
    lines += [
        "\t\tEND_GROUP=DataField",
        "\t\tGROUP=MergedFields",
        "\t\tEND_GROUP=MergedFields",
        "\tEND_GROUP=GRID_1",
        "END_GROUP=GridStructure",
        "GROUP=PointStructure",
        "END_GROUP=PointStructure",
        "END",
        "",
    ]
    return "\n".join(lines)


def write_tile(
    path,
    short: str,
    h: int,
    v: int,
    arrays: dict[str, np.ndarray],
    struct: bool = True,
    attrs: dict | None = None,
    staging=None,
) -> Path:
    """Write an HDF4-EOS MODIS tile with pyhdf: the SDS names, types and attributes of :data:`PRODUCTS`,
    ``StructMetadata.0`` (the tile's grid; ``struct=False`` leaves it out) and ``CoreMetadata.0`` naming the
    granule (the file's name).

    ``arrays``: {SDS name: (ny, nx) array} on tile (h, v), any pixel count that divides the tile (the reader
    takes the pixel size from XDim/YDim); ``attrs``: further global text attributes. The file appears whole
    (written in a private folder, then moved) and its bytes depend only on its name and content: HDF4 records
    the name a file is created under, so it is created under its own name, relative. ``staging``: that
    folder (on ``path``'s file system, private to the caller, which removes it), for callers writing many
    tiles; default a new one beside ``path``, removed after.
    """
    from pyhdf.SD import SD, SDC

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(staging) if staging is not None else Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    (tmp / path.name).unlink(missing_ok=True)
    try:
        cwd = os.getcwd()
        os.chdir(tmp)  # only while HDF4 creates the file (the name it records); the writes go to its handle
        try:
            sd = SD(path.name, SDC.WRITE | SDC.CREATE)
        finally:
            os.chdir(cwd)
        _fill_tile(sd, path.name, short, h, v, arrays, struct, attrs or {})
        os.replace(tmp / path.name, path)
    finally:
        if staging is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            (tmp / path.name).unlink(missing_ok=True)
    return path


def _fill_tile(sd, granule: str, short: str, h: int, v: int, arrays: dict, struct: bool, attrs: dict) -> None:
    """The SDS and global attributes of :func:`write_tile`'s new file ``sd``, which it then closes."""
    from pyhdf.SD import SDC

    grid, specs = PRODUCTS[short]
    types = {"uint8": SDC.UINT8, "int16": SDC.INT16, "uint16": SDC.UINT16, "int8": SDC.INT8}
    ny, nx = next(iter(arrays.values())).shape
    try:
        for name, arr in arrays.items():
            dtype, fill, vrange, scale, units, long_name = specs[name]
            sds = sd.create(name, types[dtype], (ny, nx))
            sds.dim(0).setname(f"YDim:{grid}")
            sds.dim(1).setname(f"XDim:{grid}")
            sds.long_name = long_name
            sds.units = units
            sds.attr("valid_range").set(types[dtype], list(vrange))
            sds.attr("_FillValue").set(types[dtype], fill)
            if scale is not None:
                sds.attr("scale_factor").set(SDC.FLOAT64, scale)
                sds.attr("scale_factor_err").set(SDC.FLOAT64, 0.0)
                sds.attr("add_offset").set(SDC.FLOAT64, 0.0)
                sds.attr("add_offset_err").set(SDC.FLOAT64, 0.0)
                sds.attr("calibrated_nt").set(SDC.INT32, 21)
            sds.setcompress(SDC.COMP_DEFLATE, 1)
            sds[:] = np.asarray(arr).astype(dtype)
            sds.endaccess()
        if struct:
            fields = {k: specs[k] for k in arrays}
            sd.attr("StructMetadata.0").set(SDC.CHAR8, struct_metadata(grid, h, v, nx, ny, fields))
        sd.attr("CoreMetadata.0").set(
            SDC.CHAR8,
            f'GROUP=INVENTORYMETADATA\n  OBJECT=LOCALGRANULEID\n    VALUE="{granule}"\n'
            "  END_OBJECT=LOCALGRANULEID\nEND_GROUP=INVENTORYMETADATA\nEND\n",
        )
        for key, text in attrs.items():
            sd.attr(key).set(SDC.CHAR8, str(text))
    finally:
        sd.end()
