"""Figures: files exist, are valid and not blank, and show the data they claim."""

from __future__ import annotations

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nepflow import classify, figures, regions
from nepflow import config as nconfig


def field(values, name="nep_mean"):
    ny, nx = values.shape
    da = xr.DataArray(
        values,
        dims=("y", "x"),
        name=name,
        coords={"y": 42.5 - 0.25 * np.arange(ny), "x": 110.25 + 0.25 * np.arange(nx)},
    )
    return da.rio.write_crs("EPSG:4326")


def check_png(path, min_std=0.02):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    assert img[..., :3].std() > min_std, "figure looks blank"
    with open(path.with_suffix(".pdf"), "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_continuous_map_limits_and_units(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.normal(200, 50, (30, 50))
    v[:5, :5] = np.nan
    out = figures.map_continuous(
        field(v),
        tmp_path / "m",
        "Mean annual NEP, 2000–2020",
        "g C m-2 yr-1",
        vmin=0,
        vmax=400,
        outlines=regions.province_shapes(["Beijing"]),
        dpi=100,
    )
    assert out["clim"] == (0.0, 400.0)
    check_png(tmp_path / "m.png")
    auto = figures.map_continuous(field(v), tmp_path / "a", "t", "u", diverging=True, dpi=80)
    lo, hi = np.nanpercentile(v, [2, 98])
    assert auto["clim"] == pytest.approx((-max(abs(lo), abs(hi)), max(abs(lo), abs(hi))))


def test_class_map_legend_matches_flags(tmp_path):
    slope = field(np.linspace(-3, 3, 600).reshape(20, 30), "ols_slope")
    p = field(np.tile([0.01, 0.5], 300).reshape(20, 30), "ols_p")
    cls = classify.trend_classes(slope, p).rio.write_crs("EPSG:4326")
    out = figures.map_classes(cls, tmp_path / "c", "Trend of NEP", dpi=100)
    assert out["labels"] == [n.replace("_", " ") for n in cls.attrs["flag_meanings"].split()]
    assert out["classes"] == out["labels"] and out["percent"] is None
    check_png(tmp_path / "c.png")


def test_timeseries_fit_in_legend(tmp_path):
    years = np.arange(2000, 2021)
    df = pd.DataFrame(
        {
            "year": np.tile(years, 2),
            "region": ["all"] * 21 + ["Hebei"] * 21,
            "nep": np.tile(200 + 3.0 * (years - 2000), 2),
            "npp": 450.0,
            "rh": 250.0,
            "gpp": 900.0,
        }
    )
    out = figures.timeseries(df, tmp_path / "ts", "Regional mean NEP", dpi=100)
    assert out["fits"]["nep"][0] == pytest.approx(3.0)
    check_png(tmp_path / "ts.png", min_std=0.01)
    sm = figures.timeseries_small_multiples(df, tmp_path / "sm", "NEP per province", dpi=100)
    assert list(sm["fits"]) == ["Hebei"]


# ------------------------------------------------------------------ the demo run's figures show its analysis files
#: figure -> (analysis file, variable) it claims to show (the captions say the same), and its colour limits:
#: fixed (lo, hi), "diverging" (± the larger of |2nd|, |98th| percentile), "centred" (2nd–98th percentile
#: widened to include 0 and at least 10 % of the range on each side of it) or "cv" (0 to the 98th percentile).
MAP_SOURCES = {
    "nep_mean": ("stability", "nep_mean", "centred"),
    "ols_slope": ("trend", "ols_slope", "diverging"),
    "sen_slope": ("trend", "sen_slope", "diverging"),
    "hurst": ("hurst", "hurst", (0.0, 1.0)),
    "cv": ("stability", "cv", "cv"),
    **{f"corr_{f}": ("correlation", f"r_{f}", (-1.0, 1.0)) for f in ("pr", "tas", "sund")},
    **{f"pcorr_{f}": ("correlation", f"pr_{f}", (-1.0, 1.0)) for f in ("pr", "tas", "sund")},
}
STIPPLE_SOURCES = {
    "ols_slope": ("trend", "ols_p"),
    "sen_slope": ("trend", "mk_p"),
    **{f"corr_{f}": ("correlation", f"p_r_{f}") for f in ("pr", "tas", "sund")},
    **{f"pcorr_{f}": ("correlation", f"p_pr_{f}") for f in ("pr", "tas", "sund")},
}
CLASS_MAPS = ["trend_class", "cv_class", "hurst_class", "future_class", "future_sig_class"]


@pytest.fixture(scope="module")
def drawn(tiny_run, tmp_path_factory):
    """Re-draw the tiny run's figures (low dpi) exactly as rule `figures` does, keeping what each function drew."""
    import importlib.util
    from types import SimpleNamespace

    from workflow import ROOT

    run = tiny_run / "results" / "tiny"
    spec = importlib.util.spec_from_file_location("figures_entry", ROOT / "scripts" / "figures.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    years = list(range(2000, 2021))
    inputs = {k: str(run / "analysis" / f"{k}.nc") for k in ("trend", "hurst", "stability", "correlation", "classes")}
    inputs.update(grid=str(run / "grid.nc"), carbon=[str(run / "carbon" / f"{y}.nc") for y in years])
    out = tmp_path_factory.mktemp("figs")
    smk = SimpleNamespace(
        input=inputs,
        output={"figures": str(out)},
        log=[],
        params={"figures": {"dpi": 40}, "classes": nconfig.defaults("classes"), "years": years},
    )
    return run, entry.main(smk)


def test_every_run_figure_is_redrawn(drawn):
    run, done = drawn
    assert sorted(done) == sorted(p.stem for p in (run / "figures").glob("*.png"))
    for name in done:
        assert (run / "figures" / f"{name}.pdf").exists()


@pytest.mark.parametrize("name", sorted(MAP_SOURCES))
def test_map_shows_its_analysis_variable(drawn, name):
    run, done = drawn
    fname, var, limits = MAP_SOURCES[name]
    with xr.open_dataset(run / "analysis" / f"{fname}.nc") as ds:
        src = ds[var].values.astype("float64")
        pvals = ds[STIPPLE_SOURCES[name][1]].values if name in STIPPLE_SOURCES else None
    got = done[name]
    assert got["factor"] == 1 and got["note"] == ""  # the demo's small grid: drawn cell for cell
    np.testing.assert_array_equal(np.isnan(got["data"]), np.isnan(src))
    np.testing.assert_allclose(got["data"], src, rtol=0, atol=0, equal_nan=True)
    fin = src[np.isfinite(src)]
    if limits == "diverging":
        m = np.abs(np.percentile(fin, [2, 98])).max()
        limits = (-m, m)
    elif limits == "centred":
        lo, hi = np.percentile(fin, [2, 98])
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        limits = (min(lo, -0.1 * (hi - lo)), max(hi, 0.1 * (hi - lo)))
    elif limits == "cv":
        limits = (0.0, np.percentile(fin, 98))
    assert got["clim"] == pytest.approx(limits, rel=1e-12)
    if pvals is not None:
        assert got["stippled"] == int(np.sum((pvals < 0.05) & np.isfinite(src))) > 0
    assert got["projection"] == "Albers equal-area conic"


@pytest.mark.parametrize("name", CLASS_MAPS)
def test_class_map_shows_classes_nc_with_named_legend(drawn, name):
    run, done = drawn
    with xr.open_dataset(run / "analysis" / "classes.nc") as ds:
        da = ds[name].load()
    codes = da.values.astype("float64")
    codes[codes < 1] = np.nan
    got = done[name]
    assert got["factor"] == 1
    np.testing.assert_array_equal(got["data"], codes)
    meanings = [m.replace("_", " ") for m in da.attrs["flag_meanings"].split()]
    assert got["classes"] == meanings
    assert [lab.split("\n")[0].split(":")[0] for lab in got["labels"]] == meanings
    assert len(set(got["colours"])) == len(meanings)
    # the legend's area shares are the area table's (region "all")
    table = pd.read_csv(run / "tables" / "area_stats.csv")
    want = table[(table.classification == name) & (table.region == "all")].set_index("class").percent
    for meaning, share, label in zip(da.attrs["flag_meanings"].split(), got["percent"], got["labels"]):
        assert share == pytest.approx(want[meaning], abs=1e-4)
        assert label.split("\n")[0].endswith(f": {share:.1f} %")


def test_timeseries_show_area_weighted_means_and_their_trends(drawn):
    run, done = drawn
    with xr.open_dataset(run / "grid.nc") as g:
        region, area = g["region"].values, g["pixel_area"].values.astype("float64")
        names = [n.replace("_", " ") for n in g["region"].attrs["flag_meanings"].split()]
    years = np.arange(2000, 2021)
    means = {v: [] for v in ("nep", "npp", "rh")}
    per_prov = {n: [] for n in names}
    for y in years:
        with xr.open_dataset(run / "carbon" / f"{y}.nc") as c:
            for v in means:
                x = c[v].values.astype("float64")
                ok = (region > 0) & np.isfinite(x)
                means[v].append((x[ok] * area[ok]).sum() / area[ok].sum())
            x = c["nep"].values.astype("float64")
            for k, n in enumerate(names, start=1):
                ok = (region == k) & np.isfinite(x)
                per_prov[n].append((x[ok] * area[ok]).sum() / area[ok].sum())
    ts = done["timeseries"]
    for v, m in means.items():
        np.testing.assert_allclose(ts["data"][v], m, rtol=1e-6)  # series sums the areas in float32
        slope = np.polyfit(years, m, 1)[0]
        assert ts["fits"][v][0] == pytest.approx(slope, rel=1e-5)
    for n, m in per_prov.items():
        assert done["timeseries_provinces"]["fits"][n][0] == pytest.approx(np.polyfit(years, m, 1)[0], rel=1e-5)


def test_units_and_p_text():
    assert figures.units_label("g C m-2 yr-1") == "g C m$^{−2}$ yr$^{−1}$"
    assert figures.units_label("km2") == "km$^{2}$"
    # shown units come from the variables table; carbon masses read "g C"
    assert (figures.FLUX_UNITS, figures.TREND_UNITS) == ("g C m-2 yr-1", "g C m-2 yr-2")
    from nepflow import variables

    assert [variables.shown_units(n) for n in ("rh", "nep_std", "hurst", "r_tas", "pr_annual")] == [
        "g C m-2 yr-1",
        "g C m-2 yr-1",
        "1",
        "1",
        "mm yr-1",
    ]
    assert figures.p_text(0.0004) == "p < 0.001" and figures.p_text(0.0123) == "p = 0.012"


def test_undefined_grey_outside_white(tmp_path):
    v = np.full((20, 30), 100.0)
    inside = np.zeros_like(v, bool)
    inside[5:15, 5:25] = True
    v[~inside] = np.nan
    v[8:10, 8:10] = np.nan  # undefined inside the region
    out = figures.map_continuous(field(v), tmp_path / "u", "t", "1", cmap="viridis", inside=inside, dpi=60)
    img = mpimg.imread(tmp_path / "u.png")[..., :3]
    grey = np.array(matplotlib.colors.to_rgb(figures.UNDEFINED_COLOUR))
    assert (np.abs(img - grey).sum(axis=-1) < 0.02).any()  # undefined cells drawn grey
    assert (img.sum(axis=-1) > 2.97).mean() > 0.2  # outside white
    assert out["clim"][0] < 100 < out["clim"][1] or out["clim"] == (100.0, 101.0)


def test_projected_grid_drawn_in_its_own_crs(tmp_path):
    x = 400_000 + 5_000 * np.arange(40)
    y = 4_400_000 - 5_000 * np.arange(30)
    da = xr.DataArray(
        np.random.default_rng(2).normal(size=(30, 40)), dims=("y", "x"), coords={"y": y, "x": x}, name="ols_slope"
    ).rio.write_crs("EPSG:32650")
    out = figures.map_continuous(
        da, tmp_path / "p", "t", "g C m-2 yr-2", diverging=True, dpi=100, outlines=regions.province_shapes(["Beijing"])
    )
    assert "UTM zone 50N" in out["projection"]
    check_png(tmp_path / "p.png", min_std=0.01)


# ------------------------------------------------------------------ display resolution: large grids drawn at 1:k
def test_display_factor_from_the_figure_size():
    width, height = figures.map_axes_pixels(100)  # default margins: 0.775 × 6.5 in by 0.77 × 5.0 in
    assert (width, height) == pytest.approx((503.75, 385.0))
    assert figures.display_factor((385, 503), 100) == 1  # a cell per pixel
    assert figures.display_factor((770, 1007), 100) == 1  # two: still drawn cell for cell
    assert figures.display_factor((771, 100), 100) == 2  # just over two along y
    assert figures.display_factor((100, 5 * 1008), 100) == 6  # 10.005 cells per pixel along x
    assert figures.display_factor((1800, 2600), 150) == 2  # 500 m North China at the benchmark's dpi
    assert figures.display_factor((825, 1250), 300) == 1  # 1 km North China at 300 dpi


def test_block_mean_ignores_nan_and_pads_the_edge():
    v = np.arange(20, dtype="float64").reshape(4, 5)
    v[0, 0] = np.nan
    v[2:, 2:4] = np.nan  # a whole block without a value
    got = figures.block_mean(v, 2)
    want = np.array(
        [[(1 + 5 + 6) / 3, (2 + 3 + 7 + 8) / 4, (4 + 9) / 2], [(10 + 11 + 15 + 16) / 4, np.nan, (14 + 19) / 2]]
    )
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, want, rtol=1e-7)
    np.testing.assert_array_equal(figures.block_sum(np.ones((5, 3)), 2), [[4, 2], [4, 2], [2, 1]])


def test_block_mode_and_share_on_a_planted_pattern():
    codes = np.full((6, 6), np.nan)
    codes[:3, :3] = 2  # block (0, 0): all class 2
    codes[:3, 3:] = [[1, 1, 5], [5, 5, 1], [np.nan, np.nan, 4]]  # 3 × 1, 3 × 5, a 4: tie -> the first value, 1
    codes[3:, :3] = [[4, np.nan, np.nan], [np.nan] * 3, [np.nan] * 3]  # one pixel with a class
    got = figures.block_mode(codes, [1, 2, 3, 4, 5], 3)  # block (1, 1): no class
    np.testing.assert_array_equal(got, [[2, 1], [4, np.nan]])
    sig = np.zeros((6, 6), bool)
    sig[:3, :3] = np.eye(3, dtype=bool)  # 3 of 9
    sig[:3, 3:] = [[True, True, False], [True, True, False], [True, False, False]]  # 4 of the 7 with a value
    share = figures.block_share(sig, np.isfinite(codes), 3)  # (the fifth has no value)
    np.testing.assert_allclose(share, [[3 / 9, 4 / 7], [0.0, np.nan]])
    np.testing.assert_allclose(figures.block_centres(np.array([10.0, 9.0, 8.0, 7.0, 6.0]), 2), [9.5, 7.5, 5.5])


def big_field(ny=620, nx=900, name="ols_slope"):
    """A ny × nx lon/lat map of 0.01° cells: slope = column index (a planted east–west gradient), NaN in the
    first 7 rows; at 40 dpi (axes 201.5 × 154 px) it is drawn at 1:3."""
    v = np.tile(np.arange(nx, dtype="float32"), (ny, 1))
    v[:7] = np.nan
    da = xr.DataArray(
        v, dims=("y", "x"), name=name, coords={"y": 42.0 - 0.01 * np.arange(ny), "x": 110.0 + 0.01 * np.arange(nx)}
    )
    return da.rio.write_crs("EPSG:4326")


def test_large_continuous_map_drawn_at_display_resolution_numbers_from_full(tmp_path):
    da = big_field()
    p = da.copy(data=np.where(np.arange(900) % 3 < 2, 0.01, 0.5)[None, :].repeat(620, 0).astype("float32"))
    out = figures.map_continuous(da, tmp_path / "big", "t", "g C m-2 yr-2", stipple=p < 0.05, dpi=40)
    assert out["factor"] == 3 == figures.display_factor(da.shape, 40)
    assert out["data"].shape == (207, 300)
    # block means of the column index: 3j + 1; rows 0–5 NaN (two rows of blocks), row 6 NaN ignored in the third
    assert np.isnan(out["data"][:2]).all() and np.isfinite(out["data"][2:]).all()
    np.testing.assert_array_equal(out["data"][2:], np.tile(3 * np.arange(300) + 1.0, (205, 1)))
    fin = da.values[np.isfinite(da.values)]
    assert out["clim"] == pytest.approx(tuple(np.percentile(fin, [2, 98])))  # the full grid's percentiles
    assert out["stippled"] == 2 * 300 * (620 - 7)  # significant pixels at full resolution
    assert out["note"] == "drawn at 1:3 (3 × 3 block means)" and (tmp_path / "big.pdf").exists()


def test_large_class_map_legend_shares_from_full_resolution(tmp_path):
    ny, nx = 620, 900
    codes = np.ones((ny, nx), "int8")
    codes[:, 1::3] = 2  # one column in three: a minority everywhere
    codes[:10] = -1  # nodata
    da = xr.DataArray(
        codes,
        dims=("y", "x"),
        name="trend_class",
        coords=big_field().coords,
        attrs={"flag_values": [1, 2], "flag_meanings": "up down"},
    )
    area = np.linspace(1.0, 2.0, ny)[:, None].repeat(nx, 1)  # pixel area grows southwards
    out = figures.map_classes(da, tmp_path / "cls", "t", pixel_area=area, dpi=40)
    assert out["factor"] == 3 and out["data"].shape == (207, 300) and out["note"].startswith("drawn at 1:3 ")
    assert np.isnan(out["data"][:3]).all()  # rows 0–8; row 9 is nodata in the fourth block
    np.testing.assert_array_equal(out["data"][3:], 1.0)  # the mode hides class 2 in the drawing ...
    defined = codes > 0
    want = [100 * area[defined & (codes == c)].sum() / area[defined].sum() for c in (1, 2)]
    assert out["percent"] == pytest.approx(want, rel=1e-12)  # ... not in the legend: 2/3 and 1/3 of the area
    assert out["percent"] == pytest.approx([200 / 3, 100 / 3])
    assert out["labels"] == ["up: 66.7 %", "down: 33.3 %"]


def test_class_shares_weight_by_pixel_area_inside_the_region():
    codes = np.array([[1, 1, np.nan], [2, 3, 1]])
    area = np.array([[1.0, 2.0, 9.0], [3.0, 4.0, 10.0]])
    inside = np.array([[True, True, True], [True, True, False]])
    assert figures.class_shares(codes, [1, 2, 3], area, inside) == pytest.approx([30.0, 30.0, 40.0])
    assert figures.class_shares(codes, [1, 2, 3, 4], area) == pytest.approx([65.0, 15.0, 20.0, 0.0])


@pytest.mark.parametrize("shape, factor", [((620, 900), 3), ((1240, 1800), 5), ((2480, 3600), 9)])
def test_drawn_size_bounded_by_the_figure_not_the_grid(tmp_path, shape, factor):
    """The drawn array (and so matplotlib's mesh) stays within 2 cells per axes pixel however large the grid."""
    ny, nx = shape
    da = xr.DataArray(
        np.zeros(shape, "float32"),
        dims=("y", "x"),
        name="hurst",
        coords={"y": 42.0 - 0.01 * np.arange(ny), "x": 110.0 + 0.01 * np.arange(nx)},
    )
    out = figures.map_continuous(da.rio.write_crs("EPSG:4326"), tmp_path / "m", "t", "1", dpi=40)
    width, height = figures.map_axes_pixels(40)
    assert out["data"].shape[0] <= 2 * height + 1 and out["data"].shape[1] <= 2 * width + 1
    assert out["data"].nbytes <= 4 * (2 * height + 1) * (2 * width + 1) < 0.6e6
    assert out["factor"] == factor  # ceil(nx / (2 × 201.5 px))


# ------------------------------------------------------------------ furniture a journal asks for
@pytest.mark.parametrize(
    "hole, expected", [(True, ("lower right", "upper right")), (False, ("lower left", "upper left"))]
)
def test_scale_bar_and_north_arrow_never_cover_the_region(tmp_path, hole, expected):
    """A region filling its whole box leaves no empty corner: the map grows at the bottom and the top to make room;
    with empty corners (holes in the lower and upper right) they go there. Either way no cell reaches into them."""
    import matplotlib.pyplot as plt

    v = np.full((24, 40), 100.0)
    if hole:
        v[-8:, -16:] = np.nan  # rows run north to south
        v[:10, -8:] = np.nan
    da = field(v)
    out = figures.map_continuous(da, tmp_path / "full", "t", "u", dpi=60)
    assert (out["scale_bar"], out["north_arrow"]) == expected
    fig, ax = plt.subplots(figsize=figures.MAP_FIGSIZE)
    frame = figures.MapFrame(da)
    placed = figures._frame(ax, frame, v, None, "t")
    occupied = np.isfinite(v)
    assert not figures._cells_in(ax, frame, occupied, figures._box(placed["scale_bar"], figures._scale_box(ax)))
    assert not figures._cells_in(ax, frame, occupied, figures._box(placed["north_arrow"], figures.ARROW_BOX))
    # the check itself sees cells: the whole map's box holds them all
    assert figures._cells_in(ax, frame, occupied, (0, 0, 1, 1))
    plt.close(fig)


def test_ols_band_is_the_95_percent_interval_of_the_fitted_mean():
    rng = np.random.default_rng(3)
    years = np.arange(2000, 2021, dtype="float64")
    vals = 200 + 2.0 * (years - 2000) + rng.normal(0, 10, years.size)
    fit, lo, hi = figures.ols_band(years, vals)
    coef, cov = np.polyfit(years, vals, 1, cov=True)  # cov scaled by the residual variance, n - 2 dof
    design = np.stack([years, np.ones_like(years)], axis=1)
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, cov, design))
    t = __import__("scipy.stats", fromlist=["t"]).t.ppf(0.975, years.size - 2)
    np.testing.assert_allclose(fit, np.polyval(coef, years), rtol=1e-9)
    np.testing.assert_allclose(hi - fit, t * se, rtol=1e-6)
    np.testing.assert_allclose(fit - lo, t * se, rtol=1e-6)
    assert np.isnan(figures.ols_band(years[:2], vals[:2])[0]).all()


def test_minus_signs_and_every_province_panel_labelled(tmp_path):
    assert figures.signed(-1.5) == "−1.50" and figures.signed(2.0) == "+2.00"
    years = np.arange(2000, 2021)
    provinces = ["Beijing", "Tianjin", "Hebei", "Shanxi", "Shandong"]
    df = pd.DataFrame(
        {
            "year": np.tile(years, 6),
            "region": np.repeat(["all", *provinces], 21),
            "nep": np.tile(200 - 1.0 * (years - 2000), 6),
            "npp": 450.0,
            "rh": 250.0,
        }
    )
    sm = figures.timeseries_small_multiples(df, tmp_path / "sm", "NEP per province", dpi=60)
    assert sm["labelled"] == [True] * 5  # 2 x 3 panels, one hidden: every shown panel has its years and values
    assert set(sm["bands"]) == set(provinces)
    ts = figures.timeseries(df, tmp_path / "ts", "t", dpi=60)
    assert all(np.all(ts["bands"][v][1] <= ts["bands"][v][2]) for v in ("nep", "npp", "rh"))


def test_dots_follow_the_config_p_or_q():
    """classes.trend.p / classes.correlation.p choose the p or the Benjamini-Hochberg q map for the dots, as
    for the class maps, and the dots' label says which."""
    rng = np.random.default_rng(1)
    shape = (6, 7)
    p = {n: field(rng.uniform(0, 0.1, shape), n) for n in ("ols_p", "mk_p", "p_r_pr", "p_pr_pr")}
    qname = {"ols_p": "ols_q", "mk_p": "mk_q", "p_r_pr": "q_r_pr", "p_pr_pr": "q_pr_pr"}
    q = {qname[n]: field(np.minimum(1, v.values * 3), qname[n]) for n, v in p.items()}
    trend = xr.Dataset({k: v for k, v in {**p, **q}.items() if k.startswith(("ols", "mk"))})
    corr = xr.Dataset(
        {
            "r_pr": field(rng.uniform(-1, 1, shape), "r_pr"),
            "pr_pr": field(rng.uniform(-1, 1, shape), "pr_pr"),
            **{k: v for k, v in {**p, **q}.items() if k.startswith(("p_", "q_"))},
        }
    )
    analysis = {"trend": trend, "correlation": corr}
    by_p = figures.stipples(analysis, nconfig.defaults("classes", {}))
    by_q = figures.stipples(
        analysis, nconfig.defaults("classes", {"trend": {"p": "q", "alpha": 0.1}, "correlation": {"p": "q"}})
    )
    assert set(by_p) == {"ols_slope", "sen_slope", "corr_pr", "pcorr_pr"}
    for name, (pv, qv, alpha) in {
        "ols_slope": ("ols_p", "ols_q", 0.1),
        "sen_slope": ("mk_p", "mk_q", 0.1),
        "corr_pr": ("p_r_pr", "q_r_pr", 0.05),
        "pcorr_pr": ("p_pr_pr", "q_pr_pr", 0.05),
    }.items():
        src = trend if name.endswith("slope") else corr
        np.testing.assert_array_equal(by_p[name][0].values, src[pv].values < 0.05)
        np.testing.assert_array_equal(by_q[name][0].values, src[qv].values < alpha)
        assert "p < 0.05" in by_p[name][1] and f"q < {alpha}" in by_q[name][1]
    assert not np.array_equal(by_p["ols_slope"][0].values, by_q["ols_slope"][0].values)


def test_class_legends_say_the_bands_and_the_persistence_test():
    plain = figures.class_descriptions(nconfig.defaults("classes", {}))
    assert plain["trend_class"]["no_change"] == "slope = 0" and plain["hurst_class"]["random"] == "H = 0.5"
    assert plain["future_class"]["persistent_increase"] == "slope > 0, H > 0.5"
    d = figures.class_descriptions(
        nconfig.defaults(
            "classes",
            {"trend": {"no_change_slope": 0.5}, "hurst": {"random_band": 0.05, "require_significance": True, "p": "q"}},
        )
    )
    assert d["trend_class"]["no_change"] == "|slope| ≤ 0.5"
    assert d["trend_class"]["significant_increase"] == "slope > 0.5, p < 0.05"
    assert d["hurst_class"]["random"].startswith("|H − 0.5| ≤ 0.05, or H above it without hurst_q < 0.05")
    assert d["hurst_class"]["weak_persistence"] == "0.55 < H ≤ 0.65, hurst_q < 0.05"
    assert d["hurst_class"]["weak_anti_persistence"] == "0.35 < H < 0.45"
    assert d["future_class"]["persistent_decrease"] == "slope < −0.5, H > 0.55, hurst_q < 0.05"
    assert d["future_sig_class"]["persistent_significant_increase"] == "slope > 0.5, p < 0.05, H > 0.55, hurst_q < 0.05"
